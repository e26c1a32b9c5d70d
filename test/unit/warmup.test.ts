import { describe, expect, it } from "vitest";
import { SteadyWarmup } from "../../generators/warmup.ts";

/** Feeds one sample a second (backlogs[k] at k+1 s) and returns the decisions. */
const run = (w: SteadyWarmup, backlogs: number[]) => backlogs.map((b, k) => w.observe((k + 1) * 1000, b));

describe("SteadyWarmup", () => {
  it("ends at the fixed warm-up when the flow is already caught up", () => {
    const w = new SteadyWarmup({ fixedMs: 3_000, maxMs: 30_000, rate: 50 });
    expect(run(w, [3, 2, 4])).toEqual(["continue", "continue", "steady"]);
    expect(w.report(true)).toEqual({ fixedMs: 3_000, maxMs: 30_000, tookMs: 3_000, steady: true, backlog: 4, steadyBelow: 50 });
  });

  it("extends the warm-up until three samples in a row are within one second of the rate", () => {
    const w = new SteadyWarmup({ fixedMs: 2_000, maxMs: 30_000, rate: 50 });
    expect(run(w, [400, 300, 120, 20, 30, 51, 10, 5, 50])).toEqual(["continue", "continue", "continue", "continue", "continue", "continue", "continue", "continue", "steady"]);
  });

  it("times out at the bound with the backlog it had, and never before the fixed part", () => {
    const w = new SteadyWarmup({ fixedMs: 2_000, maxMs: 4_000, rate: 10 });
    expect(run(w, [900, 950, 990, 1_200])).toEqual(["continue", "continue", "continue", "timeout"]);
    expect(w.report(false)).toMatchObject({ steady: false, backlog: 1_200, tookMs: 4_000, steadyBelow: 10 });
  });

  it("counts a backlog of one as near zero at very low rates, and a bound below the fixed part as the fixed part", () => {
    const w = new SteadyWarmup({ fixedMs: 2_000, maxMs: 1_000, rate: 1 });
    expect(w.steadyBelow).toBe(1);
    expect(w.maxMs).toBe(2_000);
    // Two samples near zero are not yet three in a row when the bound (the fixed part) is reached.
    expect(run(w, [1, 1])).toEqual(["continue", "timeout"]);
  });
});
