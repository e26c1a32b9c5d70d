import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ExitCode } from "../../lab/errors.ts";
import { compareRuns } from "../../reports/compare.ts";
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

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "meshlab-compare-"));
  // Same latency model, different seeds: what repeated runs of one build look like.
  await writeSampleRun(join(root, "base"), { seconds: 60, rate: 40, seed: 1, phases: PHASES });
  await writeSampleRun(join(root, "rerun"), { seconds: 60, rate: 40, seed: 2, phases: PHASES });
  // 40 % slower in every request.
  await writeSampleRun(join(root, "slower"), { seconds: 60, rate: 40, seed: 3, medianMs: 21, phases: PHASES });
  await writeSampleRun(join(root, "faster"), { seconds: 60, rate: 40, seed: 4, medianMs: 10, phases: PHASES });
  // Only the failover phase suffers (a fault from 35 s to 60 s).
  await writeSampleRun(join(root, "failover-regression"), {
    seconds: 60,
    rate: 40,
    seed: 5,
    phases: PHASES,
    faults: [{ kind: "partition", target: "syd-2.centrelink", startMs: 35000, endMs: 60000, outcome: "healed" }],
    faultFactor: 3,
  });
  for (const n of ["base", "rerun", "slower", "faster", "failover-regression"]) runs[n] = await loadRun(join(root, n));
}, 120_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));

const row = (cmp: ReturnType<typeof compareRuns>, scope: string, p: number) => cmp.rows.find((r) => r.scope === scope && r.percentile === p);

describe("compareRuns", { timeout: 30_000 }, () => {
  it("calls two runs of the same build the same: differences stay within the noise", () => {
    const cmp = compareRuns(runs.base as RunData, [runs.rerun as RunData]);
    expect(cmp.verdict).toBe("same");
    expect(cmp.rows.filter((r) => r.verdict === "worse" || r.verdict === "better")).toEqual([]);
    // The interval brackets the observed difference and is not degenerate.
    const p50 = row(cmp, "all", 50);
    expect(p50?.ci[0]).toBeLessThan(p50?.ci[1] as number);
  });

  it("calls a uniformly slower run worse, at every percentile it has the samples for", () => {
    const cmp = compareRuns(runs.base as RunData, [runs.slower as RunData]);
    expect(cmp.verdict).toBe("worse");
    for (const p of [50, 90]) expect(row(cmp, "all", p)?.verdict).toBe("worse");
    expect(row(cmp, "all", 50)?.relative).toBeGreaterThan(0.2);
    expect(row(cmp, "all", 50)?.ci[0]).toBeGreaterThan(0);
  });

  it("calls a faster run better", () => {
    const cmp = compareRuns(runs.base as RunData, [runs.faster as RunData]);
    expect(cmp.verdict).toBe("better");
    expect(row(cmp, "all", 50)?.verdict).toBe("better");
  });

  it("localises a regression to the phase it happened in", () => {
    const cmp = compareRuns(runs.base as RunData, [runs["failover-regression"] as RunData]);
    expect(cmp.verdict).toBe("worse");
    expect(row(cmp, "during-failover", 90)?.verdict).toBe("worse");
    expect(["same", "unknown"]).toContain(row(cmp, "before", 50)?.verdict);
    expect(row(cmp, "before", 90)?.verdict).toBe("same");
  });

  it("gives no verdict where a percentile has too few samples behind it", () => {
    const cmp = compareRuns(runs.base as RunData, [runs.slower as RunData]);
    // 2,400 samples: fewer than 10 beyond p99.9 and p99.99.
    expect(row(cmp, "all", 99.9)?.verdict).toBe("unknown");
    expect(row(cmp, "all", 99.99)?.note).toMatch(/too few samples/);
  });

  it("is reproducible: the bootstrap is seeded", () => {
    const a = compareRuns(runs.base as RunData, [runs.rerun as RunData]);
    const b = compareRuns(runs.base as RunData, [runs.rerun as RunData]);
    expect(a.rows).toEqual(b.rows);
  });

  it("renders HTML overlays and a Markdown delta table", () => {
    const all = [runs.base, runs.slower, runs.rerun] as RunData[];
    const cmp = compareRuns(all[0] as RunData, all.slice(1));
    const html = renderCompare(all, cmp);
    expect(html).toContain('id="nines-clearance"');
    expect(html.match(/<path class="series"/g)?.length).toBe(6);
    expect(html).not.toMatch(/<script|src="http|href="http/);
    const md = compareMarkdown(cmp);
    expect(md).toMatch(/^## meshlab compare: ❌ worse than baseline/);
    expect(md).toMatch(/\| slower \| during-failover \| 50 % \| [\d.]+ \| [\d.]+ \| \+[\d.]+ \| \+[\d.]+ % \| \[\+[\d.]+, \+[\d.]+\] \| ❌ worse \|/);
    expect(md).toContain("block bootstrap");
  });
});

describe("./meshlab compare", { timeout: 60_000 }, () => {
  const cli = (args: string[]) =>
    spawnSync(process.execPath, ["--disable-warning=ExperimentalWarning", join(ROOT, "lab/cli.ts"), ...args], { encoding: "utf8" });

  it("exits 4 with --fail-if-worse when a candidate is worse, and writes compare.html and compare.md", () => {
    const out = join(root, "cmp-out");
    const r = cli(["compare", join(root, "base"), join(root, "slower", "result.json"), "--fail-if-worse", "--out", out]);
    expect(r.status, r.stderr).toBe(ExitCode.worseThanBaseline);
    expect(r.stdout).toMatch(/worse than baseline/);
    expect(existsSync(join(out, "compare.html"))).toBe(true);
    expect(readFileSync(join(out, "compare.md"), "utf8")).toBe(r.stdout);
  });

  it("exits 0 when nothing is worse beyond the noise, and without --fail-if-worse", () => {
    const out = join(root, "cmp-out2");
    expect(cli(["compare", join(root, "base"), join(root, "rerun"), "--fail-if-worse", "--out", out]).status).toBe(0);
    expect(cli(["compare", join(root, "base"), join(root, "slower"), "--out", out]).status).toBe(0);
  });

  it("refuses bad input with exit 2", () => {
    expect(cli(["compare", join(root, "base")]).status).toBe(ExitCode.badInput);
    expect(cli(["compare", join(root, "base"), join(root, "nope")]).status).toBe(ExitCode.badInput);
    expect(cli(["compare", join(root, "base"), join(root, "rerun"), "--metric", "nope"]).status).toBe(ExitCode.badInput);
    expect(cli(["compare", join(root, "base"), join(root, "rerun"), "--min-effect", "lots"]).status).toBe(ExitCode.badInput);
  });

  it("./meshlab report writes report.html, junit.xml and summary.md", () => {
    const r = cli(["report", join(root, "rerun")]);
    expect(r.status, r.stderr).toBe(0);
    for (const f of ["report.html", "junit.xml", "summary.md", "clearance.phases.hlog"]) expect(existsSync(join(root, "rerun", f))).toBe(true);
  });
});
