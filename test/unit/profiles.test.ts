import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { describeRate, expandRate, parseTraceCsv, peakRate, rateCheck, rateProblems, type RateSpec } from "../../generators/profiles.ts";
import { Schedule } from "../../generators/schedule.ts";
import { parseWorkload } from "../../generators/workload.ts";
import type { Problems } from "../../lab/validate.ts";

/** Requests intended in each second of load: what the generator offers, second by second. */
function perSecond(rate: RateSpec, seconds: number, warmupMs = 0): number[] {
  const s = new Schedule(rate, { durationMs: seconds * 1000 - warmupMs, warmupMs });
  const out = new Array<number>(seconds).fill(0);
  for (let i = 0; ; i++) {
    const t = s.intendedAtMs(i);
    if (t >= seconds * 1000) break;
    out[Math.floor(t / 1000)] = (out[Math.floor(t / 1000)] as number) + 1;
  }
  return out;
}

function parsed(rate: unknown): RateSpec {
  const problems: Problems = [];
  const r = rateCheck(rate, "rate", problems);
  expect(problems).toEqual([]);
  return r as RateSpec;
}

function problemsOf(rate: unknown): Problems {
  const problems: Problems = [];
  rateCheck(rate, "rate", problems);
  return problems;
}

describe("profile expansion: requests per second", () => {
  it("seed-steady offers 42,000/s, and --scale 0.002 makes it 84/s", () => {
    expect(perSecond(parsed({ kind: "seed-steady" }), 2)).toEqual([42_000, 42_000]);
    expect(perSecond(parsed({ kind: "seed-steady", scale: 0.002 }), 3)).toEqual([84, 84, 84]);
  });

  it("seed-eofy ramps from steady to 115,000/s, holds, and comes back, in fifths of the window", () => {
    const r = parsed({ kind: "seed-eofy", scale: 0.001 }); // 42 -> 115/s
    const s = perSecond(r, 50);
    expect(s.slice(0, 10)).toEqual(new Array(10).fill(42));
    expect(s.slice(20, 30)).toEqual(new Array(10).fill(115));
    expect(s.slice(40, 50)).toEqual(new Array(10).fill(42));
    // The ramps rise and fall monotonically between the two levels.
    for (let i = 11; i < 20; i++) expect(s[i]).toBeGreaterThanOrEqual(s[i - 1] as number);
    for (let i = 31; i < 40; i++) expect(s[i]).toBeLessThanOrEqual(s[i - 1] as number);
    expect(peakRate(r, 50_000)).toBeCloseTo(115, 9);
    // Total: 20 s steady, 10 s held, two 10 s ramps at the mean of both.
    expect(new Schedule(r, { durationMs: 50_000 }).requestsWithin(50_000)).toBe(20 * 42 + 10 * 115 + 2 * 10 * ((42 + 115) / 2));
  });

  it("seed-eofy takes explicit ramp and hold durations", () => {
    const segs = expandRate(parsed({ kind: "seed-eofy", rampMs: "5s", holdMs: "20s" }), 60_000);
    expect(segs.map((x) => [x.startMs, x.endMs, x.from, x.to])).toEqual([
      [0, 15_000, 42_000, 42_000],
      [15_000, 20_000, 42_000, 115_000],
      [20_000, 40_000, 115_000, 115_000],
      [40_000, 45_000, 115_000, 42_000],
      [45_000, Number.POSITIVE_INFINITY, 42_000, 42_000],
    ]);
  });

  it("step holds each level for stepMs, evenly from `from` to `to`, then holds `to`", () => {
    expect(perSecond(parsed({ kind: "step", from: 10, to: 40, steps: 4, stepMs: "2s" }), 10)).toEqual([10, 10, 20, 20, 30, 30, 40, 40, 40, 40]);
  });

  it("spike jumps from base to peak at atMs for forMs (instant by default), and ramps when rampMs is set", () => {
    expect(perSecond(parsed({ kind: "spike", base: 5, peak: 50, atMs: "2s", forMs: "2s" }), 6)).toEqual([5, 5, 50, 50, 5, 5]);
    const ramped = perSecond(parsed({ kind: "spike", base: 0, peak: 100, atMs: "1s", forMs: "1s", rampMs: "2s" }), 6);
    expect(ramped).toEqual([0, 25, 75, 100, 75, 25]);
  });

  it("diurnal follows a cosine from max at peakAtMs to min half a period later", () => {
    const r = parsed({ kind: "diurnal", min: 10, max: 110, periodMs: "40s", peakAtMs: "0s" });
    const s = perSecond(r, 40);
    expect(s[0]).toBeGreaterThan(105);
    expect(s[19]).toBeLessThan(15);
    expect(s[39]).toBeGreaterThan(105);
    // A whole period offers the mean rate on average: (min + max) / 2 per second.
    expect(s.reduce((a, b) => a + b, 0)).toBeGreaterThan(60 * 40 - 40);
    expect(s.reduce((a, b) => a + b, 0)).toBeLessThan(60 * 40 + 40);
  });

  it("stages (k6 ramping-arrival-rate) ramp linearly from startRate to each target", () => {
    const r = parsed({ kind: "stages", startRate: 0, stages: [{ duration: "2s", target: 20 }, { duration: "2s", target: 20 }, { duration: "1s", target: 0 }] });
    expect(perSecond(r, 6)).toEqual([5, 15, 20, 20, 10, 0]);
  });

  it("replay runs second k at trace[k] and offers nothing after the trace", () => {
    expect(perSecond(parsed({ kind: "replay", trace: [3, 0, 7, 1] }), 6)).toEqual([3, 0, 7, 1, 0, 0]);
    expect(perSecond(parsed({ kind: "replay", trace: [100, 300], scale: 0.5 }), 3)).toEqual([50, 150, 0]);
    const s = new Schedule(parsed({ kind: "replay", trace: [2] }));
    expect(s.requestsWithin(1e9)).toBe(2);
    expect(s.intendedAtMs(2)).toBe(Number.POSITIVE_INFINITY);
  });

  it("scale multiplies every kind's rates", () => {
    const base = { kind: "step", from: 1000, to: 3000, steps: 3, stepMs: "1s" };
    expect(perSecond(parsed({ ...base, scale: 0.01 }), 3)).toEqual([10, 20, 30]);
  });

  it("warm-up runs at the profile's first rate before the profile starts", () => {
    const r = parsed({ kind: "step", from: 10, to: 20, steps: 2, stepMs: "1s" });
    expect(perSecond(r, 5, 2000)).toEqual([10, 10, 10, 20, 20]);
    expect(new Schedule(r, { warmupMs: 2000 }).rateAt(500)).toBe(10);
    expect(new Schedule(r, { warmupMs: 2000 }).rateAt(3500)).toBe(20);
  });

  it("keeps intended times strictly increasing across every segment boundary", () => {
    const s = new Schedule(parsed({ kind: "seed-eofy", scale: 0.002 }), { durationMs: 20_000, warmupMs: 3000 });
    let prev = -1;
    const n = s.requestsWithin(23_000);
    for (let i = 0; i < n; i++) {
      const t = s.intendedAtMs(i);
      expect(t).toBeGreaterThan(prev);
      prev = t;
    }
  });
});

describe("profile validation", () => {
  it("lists every kind for an unknown one", () => {
    expect(problemsOf({ kind: "burst" })).toEqual([
      'rate.kind: "burst" is not one of "constant", "ramp", "stages", "step", "spike", "diurnal", "replay", "seed-steady", "seed-eofy"',
    ]);
  });

  it("reports each bad field with its path", () => {
    expect(problemsOf({ kind: "spike", base: -1, peak: 10, atMs: "soon", forMs: "1s", scale: 0 })).toEqual([
      "rate.base: -1 is below the minimum 0",
      'rate.atMs: "soon" is not a duration (examples: 500ms, 30s, 5m, 1h)',
      "rate.scale: 0 is below the minimum 0.000001",
    ]);
    expect(problemsOf({ kind: "stages", stages: [{ duration: "1s" }] })).toEqual(["rate.stages[0].target: required"]);
    expect(problemsOf({ kind: "diurnal", min: 5, max: 1 })).toEqual(["rate: min is above max"]);
    expect(problemsOf({ kind: "replay" })).toEqual(["rate: needs file (a CSV of per-second rates) or trace (a list of rates)"]);
  });

  it("reads a replay trace from a CSV file (header, comments and a time column allowed)", () => {
    const dir = mkdtempSync(join(tmpdir(), "meshlab-trace-"));
    const file = join(dir, "export.csv");
    writeFileSync(file, "# exported\nsecond,events_per_s\n0,120\n1,80.5\n\n2,0\n");
    expect(parsed({ kind: "replay", file })).toEqual({ kind: "replay", file, trace: [120, 80.5, 0], scale: 1 });
    expect(problemsOf({ kind: "replay", file: join(dir, "missing.csv") })[0]).toMatch(/^rate\.file: cannot read .*missing\.csv/);
  });

  it("names the line of a bad rate in a trace", () => {
    const problems: Problems = [];
    expect(parseTraceCsv("rate\n5\nlots\n-2\n7", "t.csv", problems)).toEqual([5, 7]);
    expect(problems).toEqual(['t.csv:3: "lots" is not a rate', "t.csv:4: rate -2 is negative"]);
  });

  it("cross-checks a profile against the run's duration", () => {
    expect(rateProblems(parsed({ kind: "replay", trace: [1, 2] }), 5000, "workload.rate")).toEqual([
      "workload.rate: the trace covers 2 s, the run measures 5 s (shorten --duration or extend the trace)",
    ]);
    expect(rateProblems(parsed({ kind: "seed-eofy", rampMs: "20s", holdMs: "30s" }), 60_000, "workload.rate")).toEqual([
      "workload.rate: ramp up, hold and ramp down take longer than the run's 60 s",
    ]);
    expect(rateProblems(parsed({ kind: "seed-eofy", scale: 10 }), 60_000, "r")).toEqual(["r: peaks at 1150000/s, above 1,000,000/s (lower scale)"]);
    expect(() => parseWorkload({ durationMs: "10s", rate: { kind: "replay", trace: [1] } })).toThrow(/invalid workload/);
  });

  it("describes a profile for the log", () => {
    expect(describeRate(parsed({ kind: "seed-eofy", scale: 0.002 }), 50_000)).toBe("seed-eofy x0.002 (84 -> 230/s peak)");
    expect(describeRate(parsed({ kind: "constant", perSecond: 50 }), 50_000)).toBe("constant (50/s)");
  });
});
