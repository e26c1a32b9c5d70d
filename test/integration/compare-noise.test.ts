import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { cacheRoot } from "../../lab/install.ts";
import { NOISE_FLOOR_RATIO } from "../../reports/compare.ts";
import type { RunResult } from "../../reports/result.ts";
import { alive, meshlab, recordedPids, tempDir } from "./helpers.ts";

const stateDir = join(cacheRoot(), "state", "runs");

/**
 * The A/A case on real components: four runs of one scenario and build (`run --repeat 4`, a fresh mesh each), split
 * two against two, must come out "same" with the spread between runs estimated. The sides alternate (1, 3 against
 * 2, 4): the machine's load drifts over the minutes the set takes, and alternating keeps that drift from looking
 * like a difference between the sides.
 */
describe("compare: an A/A comparison of repeated runs", () => {
  it("run --repeat 4 writes rep-1..4 on fresh meshes; compare 2 + 2 says no difference beyond noise", { timeout: 1_500_000 }, async () => {
    const root = tempDir("compare-noise");
    const set = join(root, "aa");
    const run = meshlab(["run", "clearance-smoke", "--repeat", "4", "--duration", "8s", "--rate", "20", "--out", set]);
    await run.waitFor(/offering \d+ clearance requests/, 300_000);
    const pids = recordedPids(stateDir, run.pid);
    const code = await run.exited;
    // An infrastructure failure stops the set (exit 3): say so with the runner's output, not with a missing file.
    expect([0, 1], run.output()).toContain(code);
    const results = [1, 2, 3, 4].map((i) => JSON.parse(readFileSync(join(set, `rep-${i}`, "result.json"), "utf8")) as RunResult);
    // The exit code is the worst of the four (an SLO breach on two busy cores is the machine's, not the lab's).
    expect(code, run.output()).toBe(results.every((r) => r.slo.passed) ? 0 : 1);
    for (const r of results) {
      expect(r.status).toBe("completed");
      expect(r.counts).toMatchObject({ intended: 360, completed: 360, lost: 0, duplicated: 0 });
      expect(r.latencyMs.clearance.count).toBe(160);
    }
    // Four stand-ups, not one mesh reused: each run started its traffic after its own stand-up.
    expect(run.output().match(/traffic starts [\d.]+ s after the command/g)).toHaveLength(4);
    expect(run.output()).toContain(`./meshlab compare --baseline ${set} --candidate <other set>`);
    expect(pids.filter(alive)).toEqual([]);

    const out = join(root, "cmp");
    const rep = (i: number) => join(set, `rep-${i}`);
    const cmp = meshlab(["compare", "--baseline", rep(1), rep(3), "--candidate", rep(2), rep(4), "--fail-if-worse", "--out", out]);
    const cmpCode = await cmp.exited;
    const md = readFileSync(join(out, "compare.md"), "utf8");
    expect(cmpCode, cmp.output()).toBe(0);
    expect(md).toMatch(/^## meshlab compare: = no difference beyond noise/);
    expect(md).toContain("- baseline `baseline` (2 runs): `aa/rep-1`, `aa/rep-3`");
    // p50 is judged (80 samples beyond it in each run) from both runs of each side, not from one run's intervals.
    const p50 = md.split("\n").find((l) => l.startsWith("| candidate | all | 50 % |")) as string;
    expect(p50, md).toMatch(new RegExp(`= same \\(within noise\\) \\(n = 2\\+2: a U test cannot reach p < 0.05 \\(best p = 0.33\\); counts only when the runs do not overlap and the change exceeds the noise floor \\(x${NOISE_FLOOR_RATIO}\\)\\)`));
    expect(md).not.toContain("Run-to-run noise is not estimated");
    expect(existsSync(join(out, "compare.html"))).toBe(true);
  });
});
