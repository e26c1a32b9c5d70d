import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { HIGHEST_US, LatencyRecorder, newHistogram, readIntervalLog, summarize } from "../../reports/hdr.ts";

/** True when `actual` is within HDR's 3-significant-digit precision (0.1%) of `expected`. */
const withinPrecision = (actual: number, expected: number): boolean => Math.abs(actual - expected) <= expected * 0.001;

const T0 = 1_700_000_000_000;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "meshlab-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Records 1..100 ms in the first second, 50 values around 200 ms in the second, and one 750 ms value in the third. */
function recordThreeIntervals(r: LatencyRecorder): void {
  for (let i = 1; i <= 100; i++) r.record("clearance", i * 1000);
  r.record("produceAck", 2500);
  r.flush(T0 + 1000);
  for (let i = 1; i <= 50; i++) r.record("clearance", 200_000 + i);
  r.record("produceAck", 4000);
  r.record("produceAck", 6000);
  r.flush(T0 + 2000);
  r.record("clearance", 750_000);
}

describe("LatencyRecorder", () => {
  it("creates one .hlog per metric up front and writes a .hgrm per metric on finish", () => {
    const r = new LatencyRecorder(dir, ["clearance", "produceAck"], T0);
    expect(readdirSync(dir).sort()).toEqual(["clearance.hlog", "produceAck.hlog"]);
    recordThreeIntervals(r);
    r.finish(T0 + 3000);
    expect(readdirSync(dir).sort()).toEqual(["clearance.hgrm", "clearance.hlog", "produceAck.hgrm", "produceAck.hlog"]);
  });

  it("writes a percentile distribution in milliseconds with the usual header and summary lines", () => {
    const r = new LatencyRecorder(dir, ["clearance", "produceAck"], T0);
    recordThreeIntervals(r);
    r.finish(T0 + 3000);
    const hgrm = readFileSync(join(dir, "clearance.hgrm"), "utf8");
    expect(hgrm).toMatch(/Value\s+Percentile\s+TotalCount/);
    expect(hgrm).toMatch(/^#\[Mean\s+=/m);
    expect(hgrm).toMatch(/Total count\s+=\s+151\]/);
    // The max line is in milliseconds (750 ms), not microseconds.
    expect(hgrm).toMatch(/#\[Max\s+=\s+750\.000,/);
  });

  it("writes an interval log that reads back as one histogram per flush, holding every recorded value", () => {
    const r = new LatencyRecorder(dir, ["clearance", "produceAck"], T0);
    recordThreeIntervals(r);
    r.finish(T0 + 3000);

    const log = readFileSync(join(dir, "clearance.hlog"), "utf8");
    expect(log).toMatch(/^#meshlab clearance latency, values in microseconds$/m);
    expect(log).toMatch(/^#\[StartTime: 1700000000\.000 /m);
    const intervals = readIntervalLog(log);
    expect(intervals.map((h) => h.totalCount)).toEqual([100, 50, 1]);
    expect(intervals.reduce((s, h) => s + h.totalCount, 0)).toBe(151);
    const mergedMax = Math.max(...intervals.map((h) => h.maxValue));
    expect(withinPrecision(mergedMax, 750_000)).toBe(true);
    expect(withinPrecision(intervals[0]?.maxValue ?? 0, 100_000)).toBe(true);

    const ack = readIntervalLog(readFileSync(join(dir, "produceAck.hlog"), "utf8"));
    expect(ack.map((h) => h.totalCount)).toEqual([1, 2, 0]);
    expect(withinPrecision(Math.max(...ack.map((h) => h.maxValue)), 6000)).toBe(true);
  });

  it("stamps each interval with its own start and end time", () => {
    const r = new LatencyRecorder(dir, ["clearance"], T0);
    r.record("clearance", 10);
    r.flush(T0 + 1000);
    r.record("clearance", 10);
    r.finish(T0 + 2500);
    const intervals = readIntervalLog(readFileSync(join(dir, "clearance.hlog"), "utf8"));
    expect(intervals.map((h) => [h.startTimeStampMsec - T0, h.endTimeStampMsec - T0])).toEqual([
      [0, 1000],
      [1000, 2500],
    ]);
  });

  it("summarizes the cumulative histogram in milliseconds within HDR precision", () => {
    const r = new LatencyRecorder(dir, ["clearance", "produceAck"], T0);
    recordThreeIntervals(r);
    const s = r.summary("clearance");
    expect(s.count).toBe(151);
    // 151 values: 1..100 ms, 50 x ~200 ms, 750 ms. The 76th is 76 ms; the 150th (99th percentile) is ~200 ms.
    expect(withinPrecision(s.p50, 76)).toBe(true);
    expect(withinPrecision(s.p99, 200.05)).toBe(true);
    expect(s.max).toBe(750);
    const done = r.finish(T0 + 3000);
    expect(done.clearance).toEqual(s);
    expect(done.produceAck?.count).toBe(3);
    expect(withinPrecision(done.produceAck?.max ?? 0, 6)).toBe(true);
  });

  it("clamps values above HIGHEST_US (and below 1 us) but still counts them", () => {
    const r = new LatencyRecorder(dir, ["clearance"], T0);
    r.record("clearance", HIGHEST_US * 10);
    r.record("clearance", 0);
    r.record("clearance", -5);
    const s = r.summary("clearance");
    expect(s.count).toBe(3);
    expect(s.max).toBe(HIGHEST_US / 1000);
    expect(r.histogram("clearance").minNonZeroValue).toBe(1);
    r.finish(T0 + 1000);
    const intervals = readIntervalLog(readFileSync(join(dir, "clearance.hlog"), "utf8"));
    expect(intervals.map((h) => h.totalCount)).toEqual([3]);
  });

  it("rounds fractional microseconds to whole ones", () => {
    const r = new LatencyRecorder(dir, ["clearance"], T0);
    r.record("clearance", 1500.4);
    expect(r.histogram("clearance").maxValue).toBe(1500);
  });

  it("throws on a metric it was not created with", () => {
    const r = new LatencyRecorder(dir, ["clearance"], T0);
    expect(() => r.record("nope", 1)).toThrow("LatencyRecorder: unknown metric nope");
    expect(() => r.summary("nope")).toThrow(/unknown metric/);
  });
});

describe("summarize", () => {
  it("summarizes an empty histogram to zeros", () => {
    expect(summarize(newHistogram())).toEqual({ count: 0, p50: 0, p95: 0, p99: 0, p999: 0, max: 0 });
  });

  it("converts microseconds to milliseconds, rounded to 3 decimals", () => {
    const h = newHistogram();
    for (let i = 1; i <= 1000; i++) h.recordValue(i * 100); // 0.1 ms .. 100 ms
    const s = summarize(h);
    expect(s.count).toBe(1000);
    expect(withinPrecision(s.p50, 50)).toBe(true);
    expect(withinPrecision(s.p95, 95)).toBe(true);
    expect(withinPrecision(s.p99, 99)).toBe(true);
    expect(withinPrecision(s.p999, 99.9)).toBe(true);
    expect(s.max).toBe(100);
    for (const v of [s.p50, s.p95, s.p99, s.p999, s.max]) expect(Math.round(v * 1000) / 1000).toBe(v);
  });

  it("keeps the percentiles in order", () => {
    const h = newHistogram();
    for (let i = 0; i < 10_000; i++) h.recordValue(1 + ((i * 7919) % 500_000));
    const s = summarize(h);
    expect(s.p50).toBeLessThanOrEqual(s.p95);
    expect(s.p95).toBeLessThanOrEqual(s.p99);
    expect(s.p99).toBeLessThanOrEqual(s.p999);
  });
});

describe("summarize caps percentiles at the recorded max", () => {
  it("never reports a percentile above max, though HDR rounds a percentile up to its bucket's top", () => {
    const h = newHistogram();
    h.recordValue(5000); // 5 ms: its bucket's top is 5.003 ms
    const s = summarize(h);
    expect(s.max).toBe(5);
    expect(s.p50).toBe(5);
    expect(s.p999).toBe(5);
  });
});
