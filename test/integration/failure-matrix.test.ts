import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runSuite, type SuiteEntry } from "../../lab/suite.ts";
import { failureMatrix } from "../../scenarios/failure-matrix.ts";
import { tempDir } from "./helpers.ts";

/**
 * A suite on real components: the failure matrix's poison-pill row (24 s at 20/s, the pills at 12-20 s; every row's scenario has its
 * own integration test), run through runSuite into its own directory, tabulated from the run's result.json.
 */
describe("a suite run", () => {
  it("runs its row's scenario on a fresh mesh and writes the table with the observed figures and the verdict", async () => {
    const row = failureMatrix.rows.find((r) => r.scenario === "poison-pill");
    expect(row).toBeDefined();
    const out = join(tempDir("suite"), "out");
    const code = await runSuite({ ...failureMatrix, rows: [row as NonNullable<typeof row>] }, { out, durationMs: 24_000, perSecond: 20 });
    const result = JSON.parse(readFileSync(join(out, "result.json"), "utf8")) as { status: string; rows: SuiteEntry[] };
    const run = JSON.parse(readFileSync(join(out, "poison-pill", "result.json"), "utf8")) as { slo: { passed: boolean }; counts: { lost: number } };
    expect(result.status).toBe("completed");
    expect(result.rows).toHaveLength(1);
    const [entry] = result.rows;
    expect(entry?.status).toBe("completed");
    expect(entry?.faults).toContain("poison-pill");
    expect(entry?.observed).toContain("counts.pillsMissingFromDlq <= 0: 0");
    expect(entry?.passed).toBe(run.slo.passed);
    expect(code).toBe(run.slo.passed ? 0 : 1);
    expect(readFileSync(join(out, "suite.md"), "utf8")).toContain("| poison pill on a topic: consumer cannot deserialize |");
  });
});
