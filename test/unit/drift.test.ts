import { describe, expect, it } from "vitest";
import { DRIFT_MIN_SPAN_MS, runDrifts } from "../../reports/analysis.ts";
import { seededRandom } from "../../reports/stats.ts";
import { fitDrift, linearFit, t975 } from "../../reports/drift.ts";
import type { RunData } from "../../reports/run-data.ts";

const H = 3_600_000;
/** One point per second for `hours`, around `base` with noise, rising by `perHour`. */
function series(hours: number, base: number, perHour: number, noise: number, seed = 1): [number, number][] {
  const r = seededRandom(seed);
  return Array.from({ length: Math.round(hours * 3600) }, (_, i) => [i * 1000, base + (perHour * i) / 3600 + (r() - 0.5) * 2 * noise]);
}

describe("linearFit", () => {
  it("recovers an exact line with zero standard error", () => {
    const f = linearFit([0, 1, 2, 3], [1, 3, 5, 7]);
    expect(f.slope).toBeCloseTo(2, 12);
    expect(f.intercept).toBeCloseTo(1, 12);
    expect(f.se).toBeCloseTo(0, 12);
  });
  it("uses Student's t for few points and approaches 1.96 for many", () => {
    expect(t975(1)).toBeCloseTo(12.706, 3);
    expect(t975(10)).toBeCloseTo(2.228, 3);
    expect(t975(1000)).toBeCloseTo(1.96, 2);
  });
});

describe("fitDrift", () => {
  it("calls a noisy but level p99 flat, with an interval around zero", () => {
    const d = fitDrift("p99", "ms", series(8, 50, 0, 10));
    expect(d.verdict).toBe("flat");
    expect(d.ci[0]).toBeLessThan(0);
    expect(d.ci[1]).toBeGreaterThan(0);
  });

  it("catches a slow leak: p99 up 2 ms per hour under 10 ms of noise over 8 h", () => {
    const d = fitDrift("p99", "ms", series(8, 50, 2, 10));
    expect(d.verdict).toBe("upward");
    expect(d.ci[0]).toBeGreaterThan(0);
    expect(d.slopePerHour).toBeGreaterThan(1.5);
    expect(d.slopePerHour).toBeLessThan(2.5);
    expect(d.to - d.from).toBeGreaterThan(12);
  });

  it("does not raise an alarm for a real but negligible rise", () => {
    // 0.1 ms per hour on 50 ms: clear to the statistics with no noise, but under the 10 % minimum rise.
    const d = fitDrift("p99", "ms", series(8, 50, 0.1, 0));
    expect(d.ci[0]).toBeGreaterThan(0);
    expect(d.verdict).toBe("flat");
  });

  it("calls a falling series downward and too little data unknown", () => {
    expect(fitDrift("lag", "records", series(2, 100, -20, 5)).verdict).toBe("downward");
    expect(fitDrift("lag", "records", [[0, 1], [1, 2]]).verdict).toBe("unknown");
  });
});

describe("runDrifts", () => {
  const run = (spanMs: number, lag = false): RunData =>
    ({
      result: { trafficStartMs: 0 },
      metrics: {
        clearance: {
          name: "clearance",
          intervals: series(spanMs / H, 40, 5, 2).map(([t, v]) => ({ startMs: t, endMs: t + 1000, count: 10, p50: v / 2, p90: v, p99: v, max: v })),
        },
      },
      lag: lag ? series(spanMs / H, 100, 0, 3).map(([t, v]) => ({ tMs: t, group: "g", lag: v })) : [],
      throughput: [],
    }) as unknown as RunData;

  it("fits nothing for runs shorter than the minimum span", () => {
    expect(runDrifts(run(DRIFT_MIN_SPAN_MS - 60_000))).toEqual([]);
  });

  it("fits p99 and consumer lag on a long run", () => {
    const d = runDrifts(run(2 * H, true));
    expect(d.map((x) => [x.what, x.verdict])).toEqual([
      ["clearance p99", "upward"],
      ["consumer lag", "flat"],
    ]);
  });
});
