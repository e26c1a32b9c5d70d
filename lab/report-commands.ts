import { mkdirSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { primaryMetric } from "../reports/analysis.ts";
import { compareSets, type RunSet } from "../reports/compare.ts";
import { isExternalFile, loadExternal, parseUnit, type Unit } from "../reports/external.ts";
import { mergeIntervalLogs, readLogFile } from "../reports/hlog.ts";
import { renderCompare } from "../reports/html/compare.ts";
import { compareMarkdown } from "../reports/markdown.ts";
import { loadReference } from "../reports/reference.ts";
import { loadRun, type RunData, repeatedRuns, runDirOf } from "../reports/run-data.ts";
import { writeRunReports } from "../reports/write.ts";
import type { Command } from "./cli.ts";
import { BadInputError, ExitCode } from "./errors.ts";
import { info } from "./log.ts";

const number = (flag: string, raw: unknown, min: number, max: number): number | undefined => {
  if (raw === undefined) return undefined;
  const n = Number(String(raw).replace(/%$/, "")) / (String(raw).endsWith("%") ? 100 : 1);
  if (!Number.isFinite(n) || n < min || n > max) throw new BadInputError(`--${flag} ${raw}: expected a number in [${min}, ${max}]`, [], "see --help");
  return n;
};

/** The sides of a comparison as arguments: a baseline set and candidate sets (each set one or more paths). */
interface Side {
  label: string;
  args: string[];
}

function compareSides(baseline: string[] | undefined, candidate: string[] | undefined, pos: string[]): Side[] {
  const usage = "usage: ./meshlab compare --baseline <run>... --candidate <run>...  or  ./meshlab compare <baseline> <candidate>...";
  if (baseline || candidate) {
    if (pos.length) throw new BadInputError(`compare: ${pos.join(" ")}: give every run after --baseline or --candidate`, [], usage);
    if (!baseline?.length || !candidate?.length) throw new BadInputError("compare: needs both --baseline and --candidate", [], usage);
    return [
      { label: "baseline", args: baseline },
      { label: "candidate", args: candidate },
    ];
  }
  if (pos.length < 2) throw new BadInputError("compare: needs a baseline and at least one candidate", [], usage);
  return pos.map((p) => ({ label: "", args: [p] }));
}

/**
 * Loads every side. Lab runs first, so the compared metric is known (the first run's primary one, unless --metric
 * says) before external files are read into it. Labels are made unique across sides.
 */
async function loadSides(sides: Side[], unit: Unit | undefined, metric: string | undefined): Promise<RunSet[]> {
  const paths = sides.map((s) => s.args.flatMap((a) => (isExternalFile(a) ? [a] : (repeatedRuns(a) ?? [a]))));
  const labRuns = new Map<string, RunData>();
  for (const p of paths.flat()) if (!isExternalFile(p)) labRuns.set(p, await loadRun(p, runLabel(p)));
  const m = metric ?? [...labRuns.values()].map((r) => primaryMetric(r)?.name).find(Boolean) ?? "clearance";
  const seen = new Map<string, number>();
  return sides.map((s, i) => {
    const runs = (paths[i] as string[]).map((p) => labRuns.get(p) ?? loadExternal(p, unit, m));
    for (const r of runs) {
      const n = seen.get(r.label) ?? 0;
      seen.set(r.label, n + 1);
      if (n) r.label = `${r.label} (${n + 1})`;
    }
    return { label: s.label || (runs[0] as RunData).label, runs };
  });
}

/** rep-N runs are named with their set's directory (`nightly/rep-2`); others by their own directory. */
const runLabel = (p: string): string => {
  const dir = runDirOf(p);
  return /^rep-\d+$/.test(basename(dir)) ? `${basename(dirname(resolve(dir)))}/${basename(dir)}` : basename(dir);
};

/** The report commands: everything here reads run directories only, never a live mesh. */
export const reportCommands: Record<string, Command> = {
  report: {
    summary: "render a run directory into report.html (and junit.xml, summary.md)",
    usage: "./meshlab report <run-dir|result.json> [--out FILE] [--reference seed|FILE]",
    help: `Renders one self-contained HTML file from a run's files (result.json, *.hlog, ledger.ndjson, lag.ndjson):
percentile distribution on the nines axis with the SLO lines, latency over time with phases and faults shaded,
throughput and lag, counts with their evidence ids, the resolved spec, versions and machine. It opens offline.
Also writes junit.xml (one test case per SLO check and checker) and summary.md (for a CI job summary), and
<metric>.phases.hlog (intervals tagged by phase) when the run has phases. A run whose runner died (no result.json)
still renders from its interval logs.

  --out FILE         where to write the HTML (default <run-dir>/report.html)
  --reference R      draw published figures on the nines chart: "seed" (the seed's clearance p95 142 ms,
                     p99 238 ms) or a JSON file of percentile -> ms, e.g. {"95": 142, "99": 238}`,
    options: { out: { type: "string" }, reference: { type: "string" } },
    async run(v, pos) {
      if (pos.length !== 1) throw new BadInputError("report: which run directory?", [], "usage: ./meshlab report <run-dir|result.json>");
      const dir = runDirOf(pos[0] as string);
      const reference = v.reference === undefined ? undefined : loadReference(v.reference as string);
      const w = await writeRunReports(dir, v.out ? resolve(v.out as string) : undefined, reference);
      for (const f of [w.html, w.junit, w.markdown, ...w.taggedLogs]) info(`wrote ${f}`);
      return ExitCode.ok;
    },
  },

  compare: {
    summary: "compare runs or sets of runs: overlays, deltas per percentile and phase, a verdict that survives run-to-run noise",
    usage:
      "./meshlab compare --baseline <run>... --candidate <run>... | <baseline> <candidate>... [--unit ns|us|ms|s] [--reference seed|FILE] [--metric NAME] [--out DIR] [--fail-if-worse] [--min-effect 5%] [--resamples N] [--noise-floor X]",
    help: `Compares a baseline with one or more candidates, per percentile, over the whole run and per phase, and says
whether the candidate is worse, better or the same beyond run-to-run noise (README: "Comparing runs").

  --baseline RUN...   the baseline set: several runs of one build (a run directory, its result.json, a
                      directory of repeated runs rep-1..N as ./meshlab run --repeat writes, or an external
                      .hlog/.hgrm file)
  --candidate RUN...  the candidate set, the same kinds
  <baseline> <candidate>...   the older form: one run a side, each candidate on its own

With 2 or more runs a side the spread BETWEEN runs is estimated (per run one value per percentile; Mann-Whitney U
test with 4+ runs a side, else the runs must not overlap and differ beyond the lab's noise floor). With one run a
side run-to-run noise is not estimated, and only a change beyond the noise floor gets a verdict.

  --unit U          the value unit of external .hlog/.hgrm files (ns, us, ms, s); a lab run's .hlog is in us
  --reference R     draw published figures on the nines chart: "seed" (p95 142 ms, p99 238 ms) or a JSON file
                    of percentile -> ms, e.g. {"95": 142, "99": 238}
  --metric NAME     latency metric to compare (default clearance)
  --out DIR         where to write compare.html and compare.md (default: the current directory)
  --fail-if-worse   exit 4 when a candidate is worse than the baseline (a CI gate)
  --min-effect X    smallest relative change a U test verdict counts (default 5%)
  --resamples N     bootstrap resamples (default 1000)
  --noise-floor X   the ratio between runs of one build that counts as noise (default: the lab's measured
                    floor, NOISE_FLOOR_RATIO); measure your machine's with node bench/noise-floor.ts

Exit codes: 0 compared (or not worse), 2 bad input, 4 worse than baseline (with --fail-if-worse).`,
    options: {
      baseline: { type: "string", multiple: true },
      candidate: { type: "string", multiple: true },
      unit: { type: "string" },
      reference: { type: "string" },
      metric: { type: "string" },
      out: { type: "string" },
      "fail-if-worse": { type: "boolean" },
      "min-effect": { type: "string" },
      resamples: { type: "string" },
      "noise-floor": { type: "string" },
    },
    lists: ["baseline", "candidate"],
    async run(v, pos) {
      const sides = compareSides(v.baseline as string[] | undefined, v.candidate as string[] | undefined, pos);
      const minEffect = number("min-effect", v["min-effect"], 0, 10);
      const resamples = number("resamples", v.resamples, 100, 100_000);
      const noiseFloor = number("noise-floor", v["noise-floor"], 1, 1000);
      const unit = parseUnit(v.unit as string | undefined);
      const reference = v.reference === undefined ? undefined : loadReference(v.reference as string);
      const metric = v.metric as string | undefined;
      const sets = await loadSides(sides, unit, metric);
      const runs = sets.flatMap((s) => s.runs);
      if (metric && !runs.some((r) => r.metrics[metric]))
        throw new BadInputError(`compare: no run has a ${metric} interval log`, [], `metrics here: ${[...new Set(runs.flatMap((r) => Object.keys(r.metrics)))].join(", ")}`);
      const [baseline, ...candidates] = sets as [RunSet, ...RunSet[]];
      const cmp = compareSets(baseline, candidates, {
        ...(metric ? { metric } : {}),
        ...(minEffect !== undefined ? { minEffect } : {}),
        ...(resamples !== undefined ? { resamples } : {}),
        ...(noiseFloor !== undefined ? { noiseFloor } : {}),
      });
      const out = resolve((v.out as string | undefined) ?? ".");
      mkdirSync(out, { recursive: true });
      const md = compareMarkdown(cmp);
      writeFileSync(join(out, "compare.md"), md);
      writeFileSync(join(out, "compare.html"), renderCompare(sets, cmp, reference));
      process.stdout.write(md);
      info(`wrote ${join(out, "compare.html")} and compare.md`);
      return v["fail-if-worse"] && cmp.verdict === "worse" ? ExitCode.worseThanBaseline : ExitCode.ok;
    },
  },

  "merge-hlog": {
    summary: "merge the interval logs of several generator processes exactly",
    usage: "./meshlab merge-hlog <a.hlog> <b.hlog>... --out FILE",
    help: `Adds the interval histograms of several HdrHistogram interval logs (e.g. one per generator process) bucket
by bucket on a common 1 s grid of absolute time, keeping tags apart. Nothing is re-binned or lost.`,
    options: { out: { type: "string" } },
    async run(v, pos) {
      if (pos.length < 1 || !v.out) throw new BadInputError("merge-hlog: needs input logs and --out", [], "usage: ./meshlab merge-hlog a.hlog b.hlog --out merged.hlog");
      const contents = pos.map((f) => {
        try {
          return readLogFile(f);
        } catch (e) {
          throw new BadInputError(`merge-hlog: cannot read ${f}`, [(e as Error).message], "pass existing .hlog files");
        }
      });
      writeFileSync(resolve(v.out as string), mergeIntervalLogs(contents));
      info(`wrote ${resolve(v.out as string)}`);
      return ExitCode.ok;
    },
  },
};
