import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as hdr from "hdr-histogram-js";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LatencyRecorder, newHistogram } from "../../reports/hdr.ts";
import { blockPercentiles, decodeHistogram, decodeSparse, everyBlock, forEachInterval, histogramFromCounts, sparsePercentiles, mergeIntervalLogs, phaseAt, scratchCounts, tagIntervalLog, toSparse } from "../../reports/hlog.ts";

const T0 = 1_700_000_000_000;
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "meshlab-hlog-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Writes an interval log the way a run does: `perSecond[i]` values recorded in second i, in µs. */
function writeLog(name: string, startMs: number, perSecond: number[][]): string {
  const r = new LatencyRecorder(dir, [name], startMs);
  perSecond.forEach((values, i) => {
    for (const v of values) r.record(name, v);
    r.flush(startMs + (i + 1) * 1000);
  });
  return readFileSync(join(dir, `${name}.hlog`), "utf8");
}

/** All intervals of a log as read by hdr-histogram-js's own HistogramLogReader. */
function readWithLibrary(content: string): hdr.Histogram[] {
  const reader = new hdr.HistogramLogReader(content, 64, false);
  const out: hdr.Histogram[] = [];
  for (let h = reader.nextIntervalHistogram(); h; h = reader.nextIntervalHistogram()) out.push(h);
  return out;
}

const ramp = (from: number, n: number, step: number): number[] => Array.from({ length: n }, (_, i) => from + i * step);

describe("interval logs", () => {
  it("are read back by forEachInterval with times relative to StartTime, like HdrHistogram's reader", () => {
    const log = writeLog("a", T0, [ramp(1000, 10, 100), [], ramp(50_000, 5, 1)]);
    const seen: { startMs: number; endMs: number; count: number }[] = [];
    const header = forEachInterval(log, (i) => seen.push({ startMs: i.startMs, endMs: i.endMs, count: decodeSparse(i.encoded).total }));
    expect(header.startTimeMs).toBe(T0);
    expect(seen).toEqual([
      { startMs: 0, endMs: 1000, count: 10 },
      { startMs: 1000, endMs: 2000, count: 0 },
      { startMs: 2000, endMs: 3000, count: 5 },
    ]);
    const lib = readWithLibrary(log);
    expect(lib.map((h) => [h.startTimeStampMsec, h.endTimeStampMsec, h.totalCount])).toEqual([
      [T0, T0 + 1000, 10],
      [T0 + 1000, T0 + 2000, 0],
      [T0 + 2000, T0 + 3000, 5],
    ]);
  });

  it("tagged by phase round-trip through hdr-histogram-js's log reader with every histogram intact", () => {
    const log = writeLog("a", T0, [ramp(1000, 10, 100), ramp(2000, 20, 10), ramp(3000, 30, 1), ramp(9000, 3, 7)]);
    const phases = [
      { name: "before", startMs: 0, endMs: 2000 },
      { name: "during-failover", startMs: 2000, endMs: 3000 },
    ];
    const tagged = tagIntervalLog(log, phases);
    expect(hdr.listTags(tagged).sort()).toEqual(["NO TAG", "before", "during-failover"]);
    const original = readWithLibrary(log);
    const back = readWithLibrary(tagged);
    expect(back.map((h) => h.tag)).toEqual(["before", "before", "during-failover", "NO TAG"]);
    back.forEach((h, i) => {
      const o = original[i] as hdr.Histogram;
      expect([h.startTimeStampMsec, h.endTimeStampMsec, h.totalCount, h.maxValue, h.minNonZeroValue]).toEqual([
        o.startTimeStampMsec,
        o.endTimeStampMsec,
        o.totalCount,
        o.maxValue,
        o.minNonZeroValue,
      ]);
      expect(h.outputPercentileDistribution()).toBe(o.outputPercentileDistribution());
    });
  });

  it("from several generator processes merge exactly: the merged log holds every value of every process", () => {
    // Three processes whose logs start at different wall times; intervals meet on the common 1 s grid.
    const a = writeLog("a", T0, [ramp(1000, 100, 37), ramp(5000, 50, 91)]);
    const b = writeLog("b", T0 + 1000, [ramp(700, 80, 13), ramp(100_000, 3, 1)]);
    const c = writeLog("c", T0, [[], ramp(42_000, 7, 1000)]);
    const merged = mergeIntervalLogs([a, b, c]);
    const intervals = readWithLibrary(merged);
    expect(intervals.map((h) => [h.startTimeStampMsec - T0, h.totalCount])).toEqual([
      [0, 100],
      [1000, 50 + 80 + 7],
      [2000, 3],
    ]);
    const all = newHistogram();
    for (const v of [...ramp(1000, 100, 37), ...ramp(5000, 50, 91), ...ramp(700, 80, 13), ...ramp(100_000, 3, 1), ...ramp(42_000, 7, 1000)]) all.recordValue(v);
    const sum = newHistogram();
    for (const h of intervals) sum.add(h);
    // Bucket for bucket the same counts (the encoded format keeps buckets, not the exact max, so compare those).
    expect(toSparse(sum)).toEqual(toSparse(all));
    expect(sum.totalCount).toBe(all.totalCount);
    for (const p of [50, 90, 99, 99.9, 100]) expect(sum.getValueAtPercentile(p)).toBe(all.getValueAtPercentile(p));
  });

  it("keeps tags apart when merging", () => {
    const a = tagIntervalLog(writeLog("a", T0, [ramp(1000, 4, 1), ramp(2000, 4, 1)]), [{ name: "x", startMs: 0, endMs: 1000 }]);
    const b = tagIntervalLog(writeLog("b", T0, [ramp(1000, 6, 1), ramp(2000, 6, 1)]), [{ name: "x", startMs: 0, endMs: 1000 }]);
    const merged = readWithLibrary(mergeIntervalLogs([a, b]));
    expect(merged.map((h) => [h.tag, h.startTimeStampMsec - T0, h.totalCount])).toEqual([
      ["x", 0, 10],
      ["NO TAG", 1000, 10],
    ]);
  });

  it("assigns an interval to the phase holding its midpoint", () => {
    const phases = [
      { name: "a", startMs: 0, endMs: 1500 },
      { name: "b", startMs: 1500, endMs: 3000 },
    ];
    expect(phaseAt(phases, 0, 1000)).toBe("a");
    expect(phaseAt(phases, 1000, 2000)).toBe("b");
    expect(phaseAt(phases, 3000, 4000)).toBeUndefined();
  });
});

describe("decodeSparse", () => {
  it("reads the same buckets as HdrHistogram's decoder, and sums back into an identical histogram", () => {
    const values = [...ramp(1, 3000, 1), ...ramp(10_000, 500, 977), 3_599_999_999, 42];
    const log = writeLog("a", T0, [values, [], [7]]);
    forEachInterval(log, (i) => {
      const mine = decodeSparse(i.encoded);
      const theirs = decodeHistogram(i.encoded);
      expect(mine).toEqual(toSparse(theirs));
      const counts = scratchCounts();
      for (let j = 0; j < mine.idx.length; j++) counts[mine.idx[j] as number] = mine.cnt[j] as number;
      const back = histogramFromCounts(counts);
      for (const p of [1, 50, 99, 99.99, 100]) {
        expect(back.getValueAtPercentile(p)).toBe(theirs.getValueAtPercentile(p));
        if (theirs.totalCount) expect(sparsePercentiles(mine, [p])[0]).toBe(theirs.getValueAtPercentile(p) / 1000);
      }
    });
  });
});

describe("blockPercentiles", () => {
  it("gives exactly HdrHistogram's getValueAtPercentile of the summed blocks", () => {
    const blocks = [ramp(1000, 500, 17), ramp(30_000, 200, 411), ramp(250, 1000, 3)].map((vs) => {
      const h = newHistogram();
      for (const v of vs) h.recordValue(v);
      return h;
    });
    const sum = newHistogram();
    for (const h of blocks) sum.add(h);
    const ps = [0.1, 50, 90, 99, 99.9, 99.99, 100];
    const sparse = blocks.map(toSparse);
    const got = blockPercentiles(sparse, everyBlock(sparse), ps, scratchCounts());
    expect(got).toEqual(ps.map((p) => sum.getValueAtPercentile(p) / 1000));
  });

  it("counts a block picked twice twice (what the bootstrap relies on)", () => {
    const h = newHistogram();
    h.recordValue(1000);
    const g = newHistogram();
    g.recordValue(9000);
    const sparse = [toSparse(h), toSparse(g)];
    expect(blockPercentiles(sparse, [0, 1], [50], scratchCounts())).toEqual([1]);
    expect(blockPercentiles(sparse, [1, 1, 0], [50], scratchCounts())[0]).toBeCloseTo(9, 1);
    expect(blockPercentiles(sparse, [], [50], scratchCounts())).toEqual([Number.NaN]);
  });
});
