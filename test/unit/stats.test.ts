import { describe, expect, it } from "vitest";
import { mannWhitneyU, median, normalCdf, quantile, relativeSpread, runBootstrap, seededRandom } from "../../reports/stats.ts";

describe("Mann-Whitney U (two-sided)", () => {
  it("gives 2/70 for 4 runs entirely above 4 others: the smallest p four a side can give", () => {
    const t = mannWhitneyU([5, 6, 7, 8], [1, 2, 3, 4]);
    expect(t.u).toBe(16);
    expect(t.p).toBeCloseTo(2 / 70, 12);
    expect(t.minP).toBeCloseTo(2 / 70, 12);
    expect(t.exact).toBe(true);
  });

  it("can never go below 1/3 with two runs a side, nor below 0.1 with three", () => {
    expect(mannWhitneyU([3, 4], [1, 2]).p).toBeCloseTo(1 / 3, 12);
    expect(mannWhitneyU([3, 4], [1, 2]).minP).toBeCloseTo(1 / 3, 12);
    expect(mannWhitneyU([4, 5, 6], [1, 2, 3]).p).toBeCloseTo(0.1, 12);
  });

  it("counts the splits at least as extreme as the observed one: interleaved 4 + 4 gives 48/70", () => {
    // U = 6 against a mean of 8; U <= 6 or U >= 10 in 2 x (1+1+2+3+5+5+7) = 48 of the 70 splits.
    const t = mannWhitneyU([1, 3, 5, 7], [2, 4, 6, 8]);
    expect(t.u).toBe(6);
    expect(t.p).toBeCloseTo(48 / 70, 12);
  });

  it("handles ties with mid-ranks: identical samples give p = 1", () => {
    expect(mannWhitneyU([5, 5, 5], [5, 5, 5]).p).toBe(1);
    expect(mannWhitneyU([1, 2, 3], [1, 2, 3]).p).toBe(1);
    expect(mannWhitneyU([1, 1, 2], [2, 3, 3]).u).toBe(0.5);
  });

  it("uses the normal approximation beyond 200,000 splits (12 + 12), with the continuity correction", () => {
    const x = Array.from({ length: 12 }, (_, i) => 100 + i);
    const y = Array.from({ length: 12 }, (_, i) => i);
    const t = mannWhitneyU(x, y);
    expect(t.exact).toBe(false);
    // U = 144, mean 72, sd = sqrt(12 * 12 * 25 / 12) = 17.32; z = 71.5 / 17.32 = 4.128.
    expect(t.p).toBeCloseTo(2 * (1 - normalCdf(71.5 / Math.sqrt(300))), 10);
    expect(t.p).toBeGreaterThan(3e-5);
    expect(t.p).toBeLessThan(4e-5);
  });

  it("has nothing to test with an empty side: p = 1", () => {
    expect(mannWhitneyU([], [1, 2]).p).toBe(1);
  });
});

describe("summaries", () => {
  it("normalCdf matches the table: 1.96 -> 0.975, 0 -> 0.5, -1 -> 0.1587", () => {
    expect(normalCdf(1.96)).toBeCloseTo(0.975, 4);
    expect(normalCdf(0)).toBeCloseTo(0.5, 7);
    expect(normalCdf(-1)).toBeCloseTo(0.158655, 5);
  });

  it("median, quantile and the benchstat-style spread", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
    expect(quantile([0, 10], 0.25)).toBe(2.5);
    expect(relativeSpread([90, 100, 110])).toBeCloseTo(0.1, 12);
    expect(relativeSpread([100, 100, 150])).toBeCloseTo(0.5, 12);
  });
});

describe("bootstrap over runs", () => {
  it("gives a zero-width interval at the true difference when every run of a side agrees", () => {
    expect(runBootstrap([10, 10, 10], [25, 25], 200, seededRandom(1))).toEqual([15, 15]);
  });

  it("brackets zero for overlapping sides and the observed shift for separated ones", () => {
    const [lo, hi] = runBootstrap([10, 12, 14, 16], [11, 13, 15, 17], 2000, seededRandom(7));
    expect(lo).toBeLessThan(0);
    expect(hi).toBeGreaterThan(0);
    const [a, b] = runBootstrap([10, 11, 12, 13], [20, 21, 22, 23], 2000, seededRandom(7));
    expect(a).toBeGreaterThanOrEqual(7);
    expect(b).toBeLessThanOrEqual(13);
  });

  it("is reproducible with the same seed and differs with another", () => {
    const xs = [10, 14, 11, 19, 13];
    const ys = [12, 18, 15, 11, 20];
    expect(runBootstrap(xs, ys, 500, seededRandom(3))).toEqual(runBootstrap(xs, ys, 500, seededRandom(3)));
    const seq = (s: number) => Array.from({ length: 5 }, seededRandom(s));
    expect(seq(3)).not.toEqual(seq(4));
  });
});
