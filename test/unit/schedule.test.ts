import { describe, expect, it } from "vitest";
import { intendedAtMs, type RateSpec, rateAt, requestsWithin } from "../../generators/schedule.ts";

describe("constant rate", () => {
  const rate: RateSpec = { kind: "constant", perSecond: 50 };

  it("spaces requests 1000/rate ms apart, starting at 0", () => {
    expect([0, 1, 2, 49, 50, 1499].map((i) => intendedAtMs(rate, i))).toEqual([0, 20, 40, 980, 1000, 29_980]);
  });

  it("handles fractional rates", () => {
    expect(intendedAtMs({ kind: "constant", perSecond: 0.5 }, 3)).toBe(6000);
    expect(intendedAtMs({ kind: "constant", perSecond: 3 }, 1)).toBeCloseTo(333.333, 3);
  });

  it("holds rate x duration requests in a duration (a request at exactly the end is excluded)", () => {
    expect(requestsWithin(rate, 30_000)).toBe(1500);
    expect(requestsWithin(rate, 1000)).toBe(50);
    expect(requestsWithin(rate, 1001)).toBe(51);
    expect(requestsWithin({ kind: "constant", perSecond: 1000 }, 60_000)).toBe(60_000);
  });

  it("holds no request in a zero duration and one in any positive duration", () => {
    expect(requestsWithin(rate, 0)).toBe(0);
    expect(requestsWithin(rate, 1)).toBe(1);
  });

  it("reports the same rate at every time", () => {
    expect(rateAt(rate, 0)).toBe(50);
    expect(rateAt(rate, 1e9)).toBe(50);
  });
});

describe("ramp", () => {
  const ramp: RateSpec = { kind: "ramp", from: 10, to: 100, overMs: 10_000 };

  it("starts at time 0 and keeps intended times strictly increasing through and after the ramp", () => {
    expect(intendedAtMs(ramp, 0)).toBe(0);
    let prev = -1;
    for (let i = 0; i < 1200; i++) {
      const t = intendedAtMs(ramp, i);
      expect(t).toBeGreaterThan(prev);
      prev = t;
    }
  });

  it("holds (from + to) / 2 x duration requests within the ramp", () => {
    expect(requestsWithin(ramp, 10_000)).toBe(((10 + 100) / 2) * 10);
    expect(requestsWithin({ kind: "ramp", from: 0, to: 100, overMs: 10_000 }, 10_000)).toBe(500);
    expect(requestsWithin({ kind: "ramp", from: 100, to: 10, overMs: 10_000 }, 10_000)).toBe(550);
  });

  it("places the request that completes the ramp's integral exactly at the end of the ramp", () => {
    expect(intendedAtMs(ramp, 550)).toBeCloseTo(10_000, 9);
  });

  it("matches the integral of the rate at points inside the ramp", () => {
    // N(t) = from t + (to - from) t^2 / (2 overMs), t in seconds: at 5 s, 10*5 + 90*25/20 = 162.5.
    expect(requestsWithin(ramp, 5000)).toBe(163);
    expect(intendedAtMs(ramp, 162)).toBeLessThan(5000);
    expect(intendedAtMs(ramp, 163)).toBeGreaterThan(5000);
  });

  it("spaces requests 1000/to ms apart after the ramp", () => {
    for (let i = 551; i < 600; i++) expect(intendedAtMs(ramp, i) - intendedAtMs(ramp, i - 1)).toBeCloseTo(10, 9);
    expect(requestsWithin(ramp, 20_000)).toBe(550 + 1000);
  });

  it("spaces requests closer together as the rate rises", () => {
    const gapAt = (i: number) => intendedAtMs(ramp, i + 1) - intendedAtMs(ramp, i);
    expect(gapAt(0)).toBeGreaterThan(gapAt(100));
    expect(gapAt(100)).toBeGreaterThan(gapAt(500));
    // The first gap is close to 1000/from.
    expect(gapAt(0)).toBeGreaterThan(90);
    expect(gapAt(0)).toBeLessThan(100);
  });

  it("behaves like a constant rate when from equals to", () => {
    const flat: RateSpec = { kind: "ramp", from: 20, to: 20, overMs: 5000 };
    for (const i of [0, 1, 50, 99, 100, 150]) expect(intendedAtMs(flat, i)).toBeCloseTo(i * 50, 9);
    expect(requestsWithin(flat, 10_000)).toBe(200);
  });

  it("reports the interpolated rate during the ramp and `to` after it", () => {
    expect(rateAt(ramp, 0)).toBe(10);
    expect(rateAt(ramp, 5000)).toBe(55);
    expect(rateAt(ramp, 9999)).toBeCloseTo(99.991, 3);
    expect(rateAt(ramp, 10_000)).toBe(100);
    expect(rateAt(ramp, 60_000)).toBe(100);
  });

  it("treats a ramp over 0 ms as a constant rate of `to`", () => {
    const instant: RateSpec = { kind: "ramp", from: 10, to: 20, overMs: 0 };
    expect(intendedAtMs(instant, 1)).toBe(50);
    expect(requestsWithin(instant, 1000)).toBe(20);
  });
});
