import { describe, expect, it } from "vitest";
import type { LedgerEntry } from "../../generators/ledger.ts";
import { duplicatesAfter, recovery, recoveryPoint } from "../../reports/failover.ts";
import { closePhases, lagSummary, phaseResults } from "../../reports/timeline.ts";

/** Ledger times are µs on the run clock; these tests use toRunMs = us / 1000, so 1 s = 1_000_000 µs. */
const toRunMs = (us: number) => us / 1000;
const ms = (n: number) => n * 1000;

let seq = 0;
const entry = (o: { intendedMs: number; completedMs?: number[]; ackedMs?: number; ackedIn?: string; id?: string; processings?: string[]; resent?: number }): LedgerEntry => ({
  eventId: o.id ?? `e${seq}`,
  seq: seq++,
  key: "k",
  intendedUs: ms(o.intendedMs),
  sentUs: ms(o.intendedMs),
  ...(o.ackedMs !== undefined ? { ackedUs: ms(o.ackedMs) } : { ackedUs: ms(o.intendedMs + 1) }),
  ...(o.ackedIn ? { ackedIn: o.ackedIn } : {}),
  completedUs: (o.completedMs ?? []).map(ms),
  ...(o.processings ? { processingIds: o.processings } : {}),
  ...(o.resent ? { resent: o.resent } : {}),
});

describe("recovery (RTO) after a kill at 10 s", () => {
  // 10 requests/s from 0 to 30 s. Before the kill: 20 ms. Intended 10-16 s: stuck until the failover at 16 s.
  // From 16 s on: 500 ms, then from 18 s on: 50 ms.
  const entries: LedgerEntry[] = [];
  for (let t = 0; t < 30_000; t += 100) {
    const latency = t < 10_000 ? 20 : t < 16_000 ? 16_000 - t : t < 18_000 ? 500 : 50;
    entries.push(entry({ intendedMs: t, completedMs: [t + latency] }));
  }
  const r = recovery(entries, 10_000, toRunMs, { sloMs: 300 });

  it("times the first completion of a request intended after the kill", () => {
    expect(r.firstCompletionMs).toBe(6_000); // the request intended at 10.0 s completed at 16.0 s
  });

  it("finds when p99 came back within the SLO for five windows in a row", () => {
    expect(r.withinSloMs).toBe(8_000); // the window of requests intended from 18 s
    expect(r.windows[0]).toMatchObject({ startMs: 10_000, requests: 10 });
    expect(r.windows[7]?.p99Ms).toBe(500);
    expect(r.windows[8]?.p99Ms).toBe(50);
  });

  it("counts a request that never completed as an unbounded latency, and says null when the SLO never came back", () => {
    const stuck = [entry({ intendedMs: 10_500 }), ...entries.filter((e) => e.intendedUs < ms(10_500))];
    const s = recovery(stuck, 10_000, toRunMs, { sloMs: 300 });
    expect(s.windows[0]?.p99Ms).toBeNull();
    expect(s.withinSloMs).toBeNull();
  });

  it("ignores requests from `untilMs` on (the failback is another story)", () => {
    const cut = recovery(entries, 10_000, toRunMs, { sloMs: 300, untilMs: 20_000 });
    expect(cut.windows).toHaveLength(10);
  });
});

describe("recovery point (RPO)", () => {
  const replicated = new Set(["r1", "r2"]);
  const entries = [
    entry({ id: "r1", intendedMs: 1, ackedMs: 2, ackedIn: "syd", completedMs: [5] }),
    entry({ id: "r2", intendedMs: 1, ackedMs: 3, ackedIn: "syd", completedMs: [6] }),
    entry({ id: "s1", intendedMs: 1, ackedMs: 9, ackedIn: "syd", completedMs: [40] }), // stranded, processed after failback
    entry({ id: "s2", intendedMs: 1, ackedMs: 9, ackedIn: "syd" }), // stranded, never processed
    entry({ id: "s3", intendedMs: 1, ackedMs: 9, ackedIn: "syd", completedMs: [12] }), // stranded but completed before failback
    entry({ id: "m1", intendedMs: 11, ackedMs: 13, ackedIn: "mel", completedMs: [14], resent: 1 }),
    entry({ id: "late", intendedMs: 9, ackedMs: 11, ackedIn: "syd", completedMs: [30] }), // acked after the kill
  ];
  const r = recoveryPoint(entries, { region: "syd", killUs: ms(10), failbackUs: ms(20), replicated });

  it("counts what the lost region acknowledged and had not replicated, and what became of it", () => {
    expect(r).toMatchObject({ ackedBeforeKill: 5, stranded: 3, strandedProcessedAfterFailback: 1, strandedLost: 1, resent: 1 });
    expect(r.evidence).toEqual({ stranded: ["s1", "s2", "s3"], strandedLost: ["s2"] });
  });
});

describe("duplicates after the failover", () => {
  it("counts dropped copies and repeated completions from the kill on, and every second processing", () => {
    const entries = [
      entry({ intendedMs: 1, completedMs: [2, 3] }), // repeat before the kill: not counted
      entry({ intendedMs: 5, completedMs: [6, 12, 13], processings: ["a", "a", "a"] }),
      entry({ intendedMs: 5, completedMs: [6, 12], processings: ["a", "b"] }),
    ];
    expect(duplicatesAfter(entries, [4, 10, 11], 10, toRunMs)).toEqual({ droppedByIdempotentConsumer: 2, repeatedCompletions: 3, reachedBusinessLogic: 1 });
  });
});

describe("phases", () => {
  it("closes each phase where the next starts and reports latency by intended time", () => {
    const phases = closePhases(
      [
        { name: "after", startMs: 2_000 },
        { name: "before", startMs: 0 },
      ],
      3_000,
    );
    expect(phases).toEqual([
      { name: "before", startMs: 0, endMs: 2_000 },
      { name: "after", startMs: 2_000, endMs: 3_000 },
    ]);
    const entries = [entry({ intendedMs: 100, completedMs: [110] }), entry({ intendedMs: 1_900, completedMs: [2_900] }), entry({ intendedMs: 2_100 })];
    const [before, after] = phaseResults(entries, phases, toRunMs);
    expect(before).toMatchObject({ requests: 2, completed: 2, lost: 0 });
    expect(before?.latencyMs.clearance.max).toBeCloseTo(1_000, 0);
    expect(after).toMatchObject({ requests: 1, completed: 0, lost: 1 });
    expect(after?.latencyMs.clearance.count).toBe(0);
    expect(before?.replicationLagMs).toBeUndefined();
    const withLag = phaseResults(entries, phases, toRunMs, [
      { flow: "syd->mel", atMs: 500, lagMs: 40 },
      { flow: "syd->mel", atMs: 2_500, lagMs: 9_000 },
    ]);
    expect(withLag[0]?.replicationLagMs?.["syd->mel"]?.max).toBeCloseTo(40, 0);
    expect(withLag[1]?.replicationLagMs?.["syd->mel"]?.max).toBeCloseTo(9_000, -1);
  });

  it("summarises replication lag per flow", () => {
    const s = lagSummary([
      { flow: "syd->mel", lagMs: 100 },
      { flow: "syd->mel", lagMs: 300 },
      { flow: "mel->syd", lagMs: 50 },
    ]);
    expect(Object.keys(s)).toEqual(["mel->syd", "syd->mel"]);
    expect(s["syd->mel"]).toMatchObject({ count: 2 });
    expect(s["syd->mel"]?.max).toBeCloseTo(300, 0);
  });
});
