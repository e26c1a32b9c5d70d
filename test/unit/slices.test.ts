import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as hdr from "hdr-histogram-js";
import { describe, expect, it } from "vitest";
import type { LedgerEntry } from "../../generators/ledger.ts";
import { mergeWorkers } from "../../generators/produce-workers.ts";
import { parseLedgerLine } from "../../generators/produce-worker.ts";
import { Schedule } from "../../generators/schedule.ts";
import { mergeSlices, ScheduleSlice } from "../../generators/slices.ts";
import { newHistogram } from "../../reports/hdr.ts";

const slicesOf = (schedule: Schedule, total: number, workers: number) => Array.from({ length: workers }, (_, k) => new ScheduleSlice(schedule, total, workers, k));

describe("ScheduleSlice", () => {
  const ramp = new Schedule({ kind: "ramp", from: 100, to: 900, overMs: 4_000 }, { durationMs: 6_000, warmupMs: 1_000 });
  const total = ramp.requestsWithin(7_000);

  it("gives every request of the schedule to exactly one worker, for any number of workers", () => {
    for (const workers of [1, 2, 3, 7, total + 2]) {
      const seen = new Array<number>(total).fill(0);
      for (const s of slicesOf(ramp, total, workers)) for (let j = 0; j < s.count; j++) seen[s.seqAt(j)] = (seen[s.seqAt(j)] as number) + 1;
      expect(seen.every((n) => n === 1), `${workers} workers`).toBe(true);
    }
  });

  it("keeps each request's intended time exactly as the schedule has it", () => {
    for (const s of slicesOf(ramp, total, 3)) for (let j = 0; j < s.count; j += 17) expect(s.intendedAtMs(j)).toBe(ramp.intendedAtMs(s.seqAt(j)));
  });

  it("splits the rate evenly at every moment of a profile (each worker's share of every second within one request)", () => {
    const workers = 4;
    const perSecond = (s: ScheduleSlice) => {
      const bins = new Array<number>(7).fill(0);
      for (let j = 0; j < s.count; j++) bins[Math.floor(s.intendedAtMs(j) / 1000)] = (bins[Math.floor(s.intendedAtMs(j) / 1000)] as number) + 1;
      return bins;
    };
    const all = slicesOf(ramp, total, workers).map(perSecond);
    for (let sec = 0; sec < 7; sec++) {
      const counts = all.map((b) => b[sec] as number);
      expect(Math.max(...counts) - Math.min(...counts), `second ${sec}: ${counts}`).toBeLessThanOrEqual(1);
    }
  });

  it("keeps a worker's own requests in time order", () => {
    const s = new ScheduleSlice(ramp, total, 3, 2);
    for (let j = 1; j < s.count; j++) expect(s.intendedAtMs(j)).toBeGreaterThan(s.intendedAtMs(j - 1));
  });

  it("refuses a worker index outside the workers, or no workers", () => {
    expect(() => new ScheduleSlice(ramp, total, 2, 2)).toThrow(/worker index 2: expected 0..1/);
    expect(() => new ScheduleSlice(ramp, total, 0, 0)).toThrow(/workers: expected an integer >= 1/);
  });
});

const entry = (seq: number, eventId = `e${seq}`): LedgerEntry => ({ eventId, seq, key: "k", intendedUs: seq * 10, completedUs: [] });

describe("mergeSlices", () => {
  it("puts the workers' ledgers back in sequence order and finds nothing wrong when each request is there once", () => {
    const m = mergeSlices([[entry(0), entry(3), entry(6)], [entry(4), entry(1)], [entry(2), entry(5)]], 7);
    expect(m.entries.map((e) => e.seq)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect([m.missing, m.doubled, m.duplicateEventIds]).toEqual([[], [], []]);
  });

  it("names the requests no worker recorded, those recorded twice, and reused event ids", () => {
    const m = mergeSlices([[entry(0), entry(2)], [entry(2, "again"), entry(3, "e0"), entry(9)]], 5);
    expect(m.missing).toEqual([1, 4]);
    expect(m.doubled).toEqual([2, 9]);
    expect(m.duplicateEventIds).toEqual(["e0"]);
    expect(m.entries.map((e) => e.seq)).toEqual([0, 2, 3]);
  });
});

describe("a worker's ledger line", () => {
  it("reads back an acknowledged request, a failed one and an unsettled one", () => {
    expect(parseLedgerLine("7\tid-7\t123456782\t7000\t7050\t9100\t3\t42\t")).toEqual({
      eventId: "id-7",
      seq: 7,
      key: "123456782",
      intendedUs: 7000,
      sentUs: 7050,
      ackedUs: 9100,
      partition: 3,
      offset: "42",
      completedUs: [],
    });
    expect(parseLedgerLine("8\tid-8\tk\t8000\t8001\t\t\t\tdelivery failed: Broker: Not enough in-sync replicas")).toMatchObject({ seq: 8, error: "delivery failed: Broker: Not enough in-sync replicas" });
    expect(parseLedgerLine("9\tid-9\tk\t9000\t9001\t\t\t\t")).not.toHaveProperty("ackedUs");
  });
});

/** An interval log as a worker writes it: one histogram per whole second from `startMs`. */
function workerLog(startMs: number, seconds: number[][]): string {
  let out = "";
  const w = new hdr.HistogramLogWriter((t) => (out += t));
  w.outputStartTime(startMs);
  w.outputLegend();
  for (const [k, values] of seconds.entries()) {
    const h = newHistogram();
    for (const v of values) h.recordValue(v);
    w.outputIntervalHistogram(h, k, k + 1, 1000);
  }
  return out;
}

describe("mergeWorkers", () => {
  it("merges the workers' files into one ledger and one log whose percentiles are those of all their latencies together", () => {
    const dir = mkdtempSync(join(tmpdir(), "meshlab-slices-"));
    const start = 1_765_000_000_000;
    // Worker 0 owns seq 0, 2, 4; worker 1 owns 1, 3. Latencies (µs) as each measured them on its own clock.
    const lat = [[1200, 5000, 900], [3000, 70_000]];
    for (const k of [0, 1]) {
      const seqs = lat[k]?.map((_, j) => k + 2 * j) ?? [];
      writeFileSync(join(dir, `worker-${k}.ledger.tsv`), seqs.map((q, j) => `${q}\te${q}\tk\t${q * 100}\t${q * 100}\t${q * 100 + (lat[k]?.[j] as number)}\t0\t${q}\t\n`).join(""));
      writeFileSync(join(dir, `worker-${k}.result.json`), JSON.stringify({ index: k, requests: seqs.length, acked: seqs.length, failed: 0, unsettled: 0, lastAckUs: 80_000, maxBehindUs: 0, cpuUserMs: 1, cpuSystemMs: 1, eventLoopUtilization: 0.5 }));
      const byK = k === 0 ? [[1200, 5000], [900]] : [[3000], [70_000]];
      mkdirSync(join(dir, `worker-${k}`));
      writeFileSync(join(dir, `worker-${k}`, "produceAck.hlog"), workerLog(start, byK));
    }
    const run = mergeWorkers(dir, 2);
    expect(run.ledger.entries.map((e) => e.seq)).toEqual([0, 1, 2, 3, 4]);
    expect(run.ledger.missing).toEqual([]);
    expect([run.requests, run.acked]).toEqual([5, 5]);
    const all = newHistogram();
    for (const v of lat.flat()) all.recordValue(v);
    expect(run.produceAck.count).toBe(5);
    expect(run.produceAck.p50).toBe(all.getValueAtPercentile(50) / 1000);
    expect(run.produceAck.max).toBeCloseTo(70, 0);
  });
});
