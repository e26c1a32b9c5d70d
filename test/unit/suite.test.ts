import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BadInputError } from "../../lab/errors.ts";
import { resolveRun } from "../../lab/runner.ts";
import { renderSuite, runSuite, suiteEntry } from "../../lab/suite.ts";
import type { RunResult } from "../../reports/result.ts";
import { failureMatrix } from "../../scenarios/failure-matrix.ts";
import { scenarios } from "../../scenarios/index.ts";

const row = failureMatrix.rows[4] ?? failureMatrix.rows[0];

/** The parts of a result.json a suite reads. */
const result = (over: Partial<RunResult>): RunResult =>
  ({
    status: "completed",
    counts: { sent: 1500, lost: 0, duplicated: 0 },
    slo: { passed: true, checks: [{ name: "counts.lost <= 0", limit: 0, actual: 0, passed: true }] },
    faults: [{ kind: "poison-pill", target: "topic", startMs: 1, endMs: 2, outcome: "healed" }],
    ...over,
  }) as unknown as RunResult;

describe("the failure matrix", () => {
  it("has a row for each of the seed's six failures and the signed-events row, each a registered scenario without variants", () => {
    expect(failureMatrix.rows).toHaveLength(7);
    for (const r of failureMatrix.rows) {
      expect(scenarios[r.scenario], r.scenario).toBeDefined();
      expect(scenarios[r.scenario]?.variants, r.scenario).toBeUndefined();
    }
  });

  it("resolves every row's scenario (specs, workload, faults, SLO) as the suite does before the first starts", () => {
    for (const r of failureMatrix.rows) expect(() => resolveRun(scenarios[r.scenario] as never, {}), r.scenario).not.toThrow();
  });
});

describe("suiteEntry: a row of the table from its run's result.json", () => {
  it("passes a completed run whose SLO held, listing each check with its value and the faults injected", () => {
    const e = suiteEntry(row as never, "poison-pill", result({}), true);
    expect(e.passed).toBe(true);
    expect(e.faults).toEqual(["poison-pill"]);
    expect(e.observed).toBe("counts.lost <= 0: 0; sent 1500, lost 0, duplicated 0");
  });

  it("fails a run whose SLO was breached, and says which check", () => {
    const r = result({ slo: { passed: false, checks: [{ name: "counts.pillsMissingFromDlq <= 0", limit: 0, actual: 2, passed: false }] }, counts: { sent: 10, lost: 2, duplicated: 0 } as never });
    const e = suiteEntry(row as never, "poison-pill", r, true);
    expect(e.passed).toBe(false);
    expect(e.observed).toContain("counts.pillsMissingFromDlq <= 0: 2 BREACHED");
  });

  it("fails a run that did not complete, with its error, and leaves a row that never ran without a verdict", () => {
    const failed = suiteEntry(row as never, "poison-pill", result({ status: "failed", error: { message: "kafka syd-1: did not start" } }), true);
    expect([failed.passed, failed.observed]).toEqual([false, "failed: kafka syd-1: did not start"]);
    expect(suiteEntry(row as never, "poison-pill", undefined, false)).toMatchObject({ status: "not-run", passed: null });
    expect(suiteEntry(row as never, "poison-pill", undefined, true)).toMatchObject({ status: "no-result", passed: null });
  });

  it("renders one Markdown row per entry with its verdict, and a count of passes", () => {
    const ok = suiteEntry(row as never, "poison-pill", result({}), true);
    const notRun = suiteEntry(failureMatrix.rows[6] as never, "region-failover", undefined, false);
    const md = renderSuite(failureMatrix, [ok, notRun]);
    expect(md).toContain("| row | scenario | injected | expected recovery | observed | result |");
    expect(md).toMatch(/\| poison pill on a topic: consumer cannot deserialize \| `poison-pill` \(poison-pill\/\) \| .* \[poison-pill\] \| .* \| pass \|/);
    expect(md).toMatch(/\| region failover: region lost .* \| not-run \|/);
    expect(md).toContain("1 of 2 rows passed.");
  });
});

describe("runSuite: bad input before anything starts", () => {
  it("refuses a row whose scenario runs variants or is unknown, and creates no run directory", async () => {
    const out = join(mkdtempSync(join(tmpdir(), "meshlab-suite-")), "out");
    const suite = (scenario: string) => ({ name: "s", description: "d", rows: [{ row: "r", scenario, injected: "i", expectedRecovery: "e" }] });
    await expect(runSuite(suite("heartbeat-incident"), { out })).rejects.toThrow(BadInputError);
    await expect(runSuite(suite("no-such-scenario"), { out })).rejects.toThrow(/unknown scenario "no-such-scenario"/);
    expect(existsSync(out)).toBe(false);
  });
});
