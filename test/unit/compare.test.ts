import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ExitCode } from "../../lab/errors.ts";
import { type Comparison, compareRuns, compareSets, type DeltaRow, NOISE_FLOOR_RATIO, type RunSet } from "../../reports/compare.ts";
import { renderCompare } from "../../reports/html/compare.ts";
import { compareMarkdown } from "../../reports/markdown.ts";
import { loadRun, type RunData } from "../../reports/run-data.ts";
import { writeSampleRun } from "../fixtures/sample-run.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const PHASES = [
  { name: "before", startMs: 2000, endMs: 32000 },
  { name: "during-failover", startMs: 32000, endMs: 62000 },
];
let root: string;
const runs: Record<string, RunData> = {};

/** n runs of one latency model, different seeds: what repeated runs of one build look like. */
const SETS = {
  base: { n: 4, seed: 1 },
  again: { n: 4, seed: 11 },
  slower: { n: 4, seed: 21, medianMs: 21 },
  faster: { n: 4, seed: 31, medianMs: 10 },
  far: { n: 2, seed: 41, medianMs: 60 },
  fault: { n: 4, seed: 51, faultFactor: 3 },
} as const;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "meshlab-compare-"));
  for (const [name, s] of Object.entries(SETS))
    for (let i = 1; i <= s.n; i++) {
      const dir = join(root, name, `rep-${i}`);
      const fault = "faultFactor" in s ? { faults: [{ kind: "partition", target: "syd-2.centrelink", startMs: 35000, endMs: 60000, outcome: "healed" }], faultFactor: s.faultFactor } : {};
      await writeSampleRun(dir, { seconds: 60, rate: 40, seed: s.seed + i, phases: PHASES, ...("medianMs" in s ? { medianMs: s.medianMs } : {}), ...fault });
      runs[`${name}-${i}`] = await loadRun(dir, `${name}-${i}`);
    }
}, 240_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));

const set = (name: keyof typeof SETS, n: number = SETS[name].n): RunSet => ({ label: name, runs: Array.from({ length: n }, (_, i) => runs[`${name}-${i + 1}`] as RunData) });
/** A floor of x3 for the logic's tests (the lab's measured default, NOISE_FLOOR_RATIO, is far wider). */
const FLOOR = { noiseFloor: 3 };
const row = (cmp: Comparison, scope: string, p: number) => cmp.rows.find((r) => r.scope === scope && r.percentile === p) as DeltaRow;

describe("compareSets: the spread between runs", { timeout: 60_000 }, () => {
  it("calls an A/A comparison (4 + 4 runs of one model) the same, by a U test", () => {
    const cmp = compareSets(set("base"), [set("again")]);
    expect(cmp.verdict).toBe("same");
    expect(cmp.noiseEstimated).toBe(true);
    const p50 = row(cmp, "all", 50);
    expect(p50.method).toBe("u-test");
    expect(p50.baselineRuns).toHaveLength(4);
    expect(p50.candidateRuns).toHaveLength(4);
    expect(p50.p).toBeGreaterThan(0.05);
    expect(p50.ci[0]).toBeLessThan(0);
    expect(p50.ci[1]).toBeGreaterThan(0);
  });

  it("calls 4 runs that are all 40 % slower worse: every candidate run above every baseline run gives p = 2/70", () => {
    const cmp = compareSets(set("base"), [set("slower")]);
    expect(cmp.verdict).toBe("worse");
    const p50 = row(cmp, "all", 50);
    expect(p50.verdict).toBe("worse");
    expect(p50.p).toBeCloseTo(2 / 70, 6);
    expect(p50.relative).toBeGreaterThan(0.25);
    expect(Math.min(...p50.candidateRuns)).toBeGreaterThan(Math.max(...p50.baselineRuns));
    expect(row(cmp, "all", 90).verdict).toBe("worse");
  });

  it("calls 4 faster runs better", () => {
    const cmp = compareSets(set("base"), [set("faster")]);
    expect(cmp.verdict).toBe("better");
    expect(row(cmp, "all", 50).verdict).toBe("better");
  });

  it("with 2 runs a side, a 40 % change is within the noise floor: same, and says why", () => {
    const cmp = compareSets(set("base", 2), [set("slower", 2)], FLOOR);
    const p50 = row(cmp, "all", 50);
    expect(p50.method).toBe("runs-apart");
    expect(p50.verdict).toBe("same");
    expect(p50.note).toMatch(/cannot reach p < 0.05 \(best p = 0.33\)/);
    expect(cmp.verdict).toBe("same");
  });

  it("with 2 runs a side, runs 4x apart (beyond the x3 floor) are worse", () => {
    const cmp = compareSets(set("base", 2), [set("far")], FLOOR);
    expect(row(cmp, "all", 50).verdict).toBe("worse");
    expect(cmp.verdict).toBe("worse");
    // The same runs against the lab's measured floor (x100) are within the noise.
    expect(compareSets(set("base", 2), [set("far")]).verdict).toBe("same");
  });

  it("localises a regression to the phase it happened in", () => {
    const cmp = compareSets(set("base"), [set("fault")]);
    expect(cmp.verdict).toBe("worse");
    expect(row(cmp, "during-failover", 90).verdict).toBe("worse");
    expect(row(cmp, "before", 90).verdict).toBe("same");
  });

  it("gives no verdict where a percentile has too few samples behind it", () => {
    const cmp = compareSets(set("base"), [set("slower")]);
    // 2,400 samples a run: fewer than 10 beyond p99.9 and p99.99.
    expect(row(cmp, "all", 99.9).verdict).toBe("unknown");
    expect(row(cmp, "all", 99.99).note).toMatch(/too few samples/);
  });

  it("is reproducible: the bootstraps are seeded", () => {
    const a = compareSets(set("base"), [set("again")]);
    const b = compareSets(set("base"), [set("again")]);
    expect(a.rows).toEqual(b.rows);
  });
});

describe("compareRuns: one run a side", { timeout: 60_000 }, () => {
  it("says run-to-run noise is not estimated, and does not call a 40 % change worse", () => {
    const cmp = compareRuns(runs["base-1"] as RunData, [runs["slower-1"] as RunData], FLOOR);
    expect(cmp.noiseEstimated).toBe(false);
    expect(cmp.method).toMatch(/run-to-run noise NOT estimated/);
    const p50 = row(cmp, "all", 50);
    expect(p50.method).toBe("single-run");
    expect(p50.verdict).toBe("same");
    expect(p50.p).toBeNull();
    // The within-run block bootstrap alone would have called it: its interval excludes zero.
    expect(p50.ci[0]).toBeGreaterThan(0);
    expect(p50.note).toMatch(/run-to-run noise not estimated; counts only beyond the noise floor \(x3\)/);
  });

  it("calls a change beyond the noise floor worse, and the same change the other way better", () => {
    expect(compareRuns(runs["base-1"] as RunData, [runs["far-1"] as RunData], FLOOR).verdict).toBe("worse");
    expect(compareRuns(runs["far-1"] as RunData, [runs["base-1"] as RunData], FLOOR).verdict).toBe("better");
    expect(compareRuns(runs["base-1"] as RunData, [runs["far-1"] as RunData]).verdict).toBe("same");
  });

  it("renders HTML overlays (one colour a side) and a Markdown delta table with every run's value", () => {
    const sets = [set("base"), set("slower")];
    const cmp = compareSets(sets[0] as RunSet, sets.slice(1));
    const html = renderCompare(sets, cmp);
    expect(html).toContain('id="nines-clearance"');
    // 8 runs on the nines chart and on the timeline.
    expect(html.match(/<path class="series"/g)?.length).toBe(16);
    const colours = [...html.matchAll(/<path class="series" data-series="[^"]+" data-points="\d+" d="[^"]+" fill="none" stroke="(#[0-9a-f]+)"/g)].map((m) => m[1]);
    expect(new Set(colours.slice(0, 4)).size).toBe(1);
    expect(colours[4]).not.toBe(colours[0]);
    expect(html).not.toMatch(/<script|src="http|href="http/);
    const md = compareMarkdown(cmp);
    expect(md).toMatch(/^## meshlab compare: ❌ worse than baseline/);
    expect(md).toContain("- baseline `base` (4 runs): `base-1`, `base-2`, `base-3`, `base-4`");
    expect(md).toMatch(/\| slower \| all \| 50 % \| [\d.]+ ± \d+ % \| [\d.]+ ± \d+ % \| \+[\d.]+ \| \+[\d.]+ % \| \[\+[\d.]+, \+[\d.]+\] \| 0.029 \| ❌ worse/);
    expect(md).not.toContain("Run-to-run noise is not estimated");
    expect(compareMarkdown(compareRuns(runs["base-1"] as RunData, [runs["again-1"] as RunData]))).toContain("Run-to-run noise is not estimated");
  });
});

// Each call is a process of its own; on two cores shared with Kafka meshes one can take 20 s.
describe("./meshlab compare", { timeout: 180_000 }, () => {
  const cli = (args: string[]) =>
    spawnSync(process.execPath, ["--disable-warning=ExperimentalWarning", join(ROOT, "lab/cli.ts"), ...args], { encoding: "utf8" });
  const reps = (name: string, n: number) => Array.from({ length: n }, (_, i) => join(root, name, `rep-${i + 1}`));

  it("compares sets (--baseline a b c d --candidate ...) and exits 4 with --fail-if-worse on a worse set", () => {
    const out = join(root, "cmp-out");
    const r = cli(["compare", "--baseline", ...reps("base", 4), "--candidate", ...reps("slower", 3), join(root, "slower", "rep-4", "result.json"), "--fail-if-worse", "--out", out]);
    expect(r.status, r.stderr).toBe(ExitCode.worseThanBaseline);
    expect(r.stdout).toMatch(/worse than baseline/);
    expect(r.stdout).toContain("- candidate `candidate` (4 runs): `slower/rep-1`, `slower/rep-2`, `slower/rep-3`, `slower/rep-4`");
    expect(existsSync(join(out, "compare.html"))).toBe(true);
    expect(readFileSync(join(out, "compare.md"), "utf8")).toBe(r.stdout);
  });

  it("takes a directory of repeated runs (rep-1..N) as a set, and exits 0 on an A/A comparison", () => {
    const r = cli(["compare", "--baseline", join(root, "base"), "--candidate", join(root, "again"), "--fail-if-worse", "--out", join(root, "cmp-aa")]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^## meshlab compare: = no difference beyond noise/);
    expect(r.stdout).toContain("(4 runs): `base/rep-1`, `base/rep-2`, `base/rep-3`, `base/rep-4`");
  });

  it("keeps the positional form: one run a side, noise not estimated, so neither 40 % nor 4x is called worse", () => {
    const out = join(root, "cmp-out2");
    // One run a side: the within-run block bootstrap runs; 200 resamples keep the test quick (the verdict rests on the floor).
    const r = cli(["compare", reps("base", 1)[0] as string, reps("slower", 1)[0] as string, "--fail-if-worse", "--resamples", "200", "--out", out]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(`Run-to-run noise is not estimated**: one run on a side. Only a change beyond the lab's noise floor (x${NOISE_FLOOR_RATIO})`);
    const far = (floor: string[]) => cli(["compare", reps("base", 1)[0] as string, reps("far", 1)[0] as string, "--fail-if-worse", "--resamples", "200", ...floor, "--out", out]).status;
    expect(far([])).toBe(0);
    expect(far(["--noise-floor", "3"])).toBe(ExitCode.worseThanBaseline);
    // A quieter machine's own floor (--noise-floor 1.2) lets the same 40 % count.
    const quiet = cli(["compare", reps("base", 1)[0] as string, reps("slower", 1)[0] as string, "--fail-if-worse", "--resamples", "200", "--noise-floor", "1.2", "--out", out]);
    expect(quiet.status, quiet.stderr).toBe(ExitCode.worseThanBaseline);
    expect(quiet.stdout).toContain("noise floor (x1.2)");
    expect(quiet.stdout).toContain("a change counts only beyond the noise floor given (x1.2, --noise-floor)");
  });

  it("refuses bad input with exit 2, saying what is wrong", () => {
    const one = reps("base", 1)[0] as string;
    expect(cli(["compare", one]).status).toBe(ExitCode.badInput);
    expect(cli(["compare", one, join(root, "nope")]).status).toBe(ExitCode.badInput);
    expect(cli(["compare", one, one, "--metric", "nope"]).status).toBe(ExitCode.badInput);
    expect(cli(["compare", one, one, "--min-effect", "lots"]).status).toBe(ExitCode.badInput);
    expect(cli(["compare", one, one, "--noise-floor", "0.5"]).stderr).toContain("--noise-floor 0.5: expected a number in [1, 1000]");
    const half = cli(["compare", "--baseline", one]);
    expect(half.status).toBe(ExitCode.badInput);
    expect(half.stderr).toContain("needs both --baseline and --candidate");
    const mixed = cli(["compare", one, "--baseline", one, "--candidate", one]);
    expect(mixed.status).toBe(ExitCode.badInput);
    expect(mixed.stderr).toContain("give every run after --baseline or --candidate");
  });

  it("./meshlab report writes report.html, junit.xml and summary.md, with the seed's figures given --reference seed", () => {
    const dir = reps("again", 1)[0] as string;
    const r = cli(["report", dir, "--reference", "seed"]);
    expect(r.status, r.stderr).toBe(0);
    for (const f of ["report.html", "junit.xml", "summary.md", "clearance.phases.hlog"]) expect(existsSync(join(dir, f))).toBe(true);
    expect(readFileSync(join(dir, "report.html"), "utf8").match(/<g class="dot" data-series="reference: seed/g)).toHaveLength(2);
  });

  it("takes external files with --unit, and refuses a bad --reference or a missing --unit with exit 2", () => {
    const hgrm = join(root, "base", "rep-1", "clearance.hgrm");
    const out = join(root, "cmp-ext");
    const ok = cli(["compare", "--baseline", hgrm, "--candidate", ...reps("again", 2), "--unit", "ms", "--reference", "seed", "--out", out]);
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toContain("- baseline `baseline` (1 run): `clearance.hgrm`");
    expect(ok.stdout).toContain("> clearance.hgrm has no intervals to resample (a percentile distribution, .hgrm): it counts as one run, with no spread of its own.");
    expect(readFileSync(join(out, "compare.html"), "utf8")).toContain('data-series="reference: seed');
    const noUnit = cli(["compare", hgrm, reps("again", 1)[0] as string, "--out", out]);
    expect(noUnit.status).toBe(ExitCode.badInput);
    expect(noUnit.stderr).toContain("needs its value unit");
    const bad = join(root, "ref.json");
    writeFileSync(bad, '{"95": "fast"}');
    const badRef = cli(["compare", hgrm, reps("again", 1)[0] as string, "--unit", "ms", "--reference", bad, "--out", out]);
    expect(badRef.status).toBe(ExitCode.badInput);
    expect(badRef.stderr).toContain('"95": "fast" is not a latency in ms');
  });
});
