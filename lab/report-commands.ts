import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { compareRuns } from "../reports/compare.ts";
import { mergeIntervalLogs, readLogFile } from "../reports/hlog.ts";
import { renderCompare } from "../reports/html/compare.ts";
import { compareMarkdown } from "../reports/markdown.ts";
import { loadRun, runDirOf } from "../reports/run-data.ts";
import { writeRunReports } from "../reports/write.ts";
import type { Command } from "./cli.ts";
import { BadInputError, ExitCode } from "./errors.ts";
import { info } from "./log.ts";

const number = (flag: string, raw: string | boolean | undefined, min: number, max: number): number | undefined => {
  if (raw === undefined) return undefined;
  const n = Number(String(raw).replace(/%$/, "")) / (String(raw).endsWith("%") ? 100 : 1);
  if (!Number.isFinite(n) || n < min || n > max) throw new BadInputError(`--${flag} ${raw}: expected a number in [${min}, ${max}]`, [], "see --help");
  return n;
};

/** The report commands: everything here reads run directories only, never a live mesh. */
export const reportCommands: Record<string, Command> = {
  report: {
    summary: "render a run directory into report.html (and junit.xml, summary.md)",
    usage: "./meshlab report <run-dir|result.json> [--out FILE]",
    help: `Renders one self-contained HTML file from a run's files (result.json, *.hlog, ledger.ndjson, lag.ndjson):
percentile distribution on the nines axis with the SLO lines, latency over time with phases and faults shaded,
throughput and lag, counts with their evidence ids, the resolved spec, versions and machine. It opens offline.
Also writes junit.xml (one test case per SLO check and checker) and summary.md (for a CI job summary), and
<metric>.phases.hlog (intervals tagged by phase) when the run has phases. A run whose runner died (no result.json)
still renders from its interval logs.

  --out FILE   where to write the HTML (default <run-dir>/report.html)`,
    options: { out: { type: "string" } },
    async run(v, pos) {
      if (pos.length !== 1) throw new BadInputError("report: which run directory?", [], "usage: ./meshlab report <run-dir|result.json>");
      const dir = runDirOf(pos[0] as string);
      const w = await writeRunReports(dir, v.out ? resolve(v.out as string) : undefined);
      for (const f of [w.html, w.junit, w.markdown, ...w.taggedLogs]) info(`wrote ${f}`);
      return ExitCode.ok;
    },
  },

  compare: {
    summary: "compare runs (first = baseline): overlays, deltas per percentile and phase, a noise-aware verdict",
    usage: "./meshlab compare <baseline> <candidate>... [--metric NAME] [--out DIR] [--fail-if-worse] [--min-effect 5%] [--resamples N]",
    help: `Compares two or more runs (run directories or result.json files; the first is the baseline). Overlays their
percentile distributions and p99 over time, and tabulates the delta per percentile, over the whole run and per
phase. A delta counts only when the 95 % block-bootstrap interval of the difference excludes zero and the change
exceeds --min-effect (README: "Comparing runs"). Writes compare.html and compare.md into --out and prints the
Markdown.

  --metric NAME     latency metric to compare (default clearance)
  --out DIR         where to write compare.html and compare.md (default: the current directory)
  --fail-if-worse   exit 4 when any candidate is worse than the baseline (a CI gate)
  --min-effect X    smallest relative change that counts (default 5%)
  --resamples N     bootstrap resamples (default 1000)

Exit codes: 0 compared (or not worse), 2 bad input, 4 worse than baseline (with --fail-if-worse).`,
    options: {
      metric: { type: "string" },
      out: { type: "string" },
      "fail-if-worse": { type: "boolean" },
      "min-effect": { type: "string" },
      resamples: { type: "string" },
    },
    async run(v, pos) {
      if (pos.length < 2) throw new BadInputError("compare: needs a baseline and at least one candidate", [], "usage: ./meshlab compare <baseline> <candidate>...");
      const minEffect = number("min-effect", v["min-effect"], 0, 10);
      const resamples = number("resamples", v.resamples, 100, 100_000);
      const runs = await Promise.all(pos.map((p) => loadRun(p)));
      // Two runs can share a directory name (runs/x and ../main/runs/x): keep labels unique.
      const seen = new Map<string, number>();
      for (const r of runs) {
        const n = seen.get(r.label) ?? 0;
        seen.set(r.label, n + 1);
        if (n) r.label = `${r.label} (${n + 1})`;
      }
      const metric = v.metric as string | undefined;
      if (metric && !runs.some((r) => r.metrics[metric]))
        throw new BadInputError(`compare: no run has a ${metric} interval log`, [], `metrics here: ${[...new Set(runs.flatMap((r) => Object.keys(r.metrics)))].join(", ")}`);
      const [baseline, ...candidates] = runs as [(typeof runs)[number], ...typeof runs];
      const cmp = compareRuns(baseline, candidates, {
        ...(metric ? { metric } : {}),
        ...(minEffect !== undefined ? { minEffect } : {}),
        ...(resamples !== undefined ? { resamples } : {}),
      });
      const out = resolve((v.out as string | undefined) ?? ".");
      mkdirSync(out, { recursive: true });
      const md = compareMarkdown(cmp);
      writeFileSync(join(out, "compare.md"), md);
      writeFileSync(join(out, "compare.html"), renderCompare(runs, cmp));
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
