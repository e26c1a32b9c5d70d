import { describe, expect, it } from "vitest";
import { type AssignmentEvent, rebalancesOf, stallsOf, windowLatency } from "../../chaos/history.ts";

const a = (atMs: number, instance: string, type: "assigned" | "revoked", partitions: number[], lost = false): AssignmentEvent => ({
  atMs,
  instance,
  type,
  partitions,
  ...(lost ? { lost } : {}),
});

describe("rebalances from the members' assignment history", () => {
  it("see an eager rebalance as everything revoked until everything is assigned again", () => {
    const events = [
      a(0, "c1", "assigned", [0, 1]),
      a(5, "c2", "assigned", [2, 3]),
      // c1 loses its session: an eager rebalance revokes everything from everyone.
      a(10_000, "c1", "revoked", [0, 1], true),
      a(10_200, "c2", "revoked", [2, 3]),
      a(14_000, "c2", "assigned", [0, 1, 2, 3]),
    ];
    expect(rebalancesOf(events, 4)).toEqual([
      { startMs: 0, endMs: 5, durationMs: 5, instances: ["c1", "c2"], revoked: 0, lost: false },
      { startMs: 10_000, endMs: 14_000, durationMs: 4_000, instances: ["c1", "c2"], revoked: 4, lost: true },
    ]);
  });

  it("merge the two rounds of a cooperative rebalance and count only the moved partitions", () => {
    const events = [
      a(0, "c1", "assigned", [0, 1, 2, 3]),
      a(20_000, "c1", "revoked", [2, 3]),
      a(20_400, "c2", "assigned", []),
      a(20_900, "c2", "assigned", [2, 3]),
    ];
    const [, coop] = rebalancesOf(events, 4);
    expect(coop).toEqual({ startMs: 20_000, endMs: 20_900, durationMs: 900, instances: ["c1", "c2"], revoked: 2, lost: false });
  });

  it("treat a partition assigned elsewhere as moved, even if its old owner died without a callback", () => {
    const events = [a(0, "c1", "assigned", [0, 1]), a(0, "c2", "assigned", [2, 3]), a(30_000, "c1", "assigned", [2, 3])];
    const r = rebalancesOf(events, 4);
    expect(r).toHaveLength(2);
    expect(r[1]).toMatchObject({ startMs: 30_000, durationMs: 0, instances: ["c1"] });
  });

  it("report a rebalance still open at the end up to its last event", () => {
    const r = rebalancesOf([a(0, "c1", "assigned", [0, 1]), a(5_000, "c1", "revoked", [0, 1], true)], 2);
    expect(r[1]).toEqual({ startMs: 5_000, endMs: 5_000, durationMs: 0, instances: ["c1"], revoked: 2, lost: true });
  });
});

describe("consumption stalls", () => {
  it("measure the longest gap on a partition while records were waiting", () => {
    // Partition 0: records every 100 ms, consumed 10 ms later, except a stall between 1 s and 6 s.
    const available = Array.from({ length: 20 }, (_, i) => ({ partition: 0, offset: i, atMs: i * 100 }));
    const consumed = available.map((r) => ({ partition: 0, offset: r.offset, atMs: r.atMs < 1_000 ? r.atMs + 10 : Math.max(6_000, r.atMs + 10) }));
    const [p0] = stallsOf(available, consumed, 1, 10_000);
    // The record of 1.0 s waited from 1.0 s to 6.0 s.
    expect(p0).toEqual({ partition: 0, longestMs: 5_000, fromMs: 1_000, toMs: 6_000 });
  });

  it("do not count idle time when nothing was waiting", () => {
    const available = [
      { partition: 0, offset: 0, atMs: 0 },
      { partition: 0, offset: 1, atMs: 10_000 },
    ];
    const consumed = [
      { partition: 0, offset: 0, atMs: 5 },
      { partition: 0, offset: 1, atMs: 10_020 },
    ];
    expect(stallsOf(available, consumed, 1, 20_000)[0]?.longestMs).toBe(20);
  });

  it("count a redelivery after a rebalance as consumption, and a never-consumed record up to the end", () => {
    const available = [
      { partition: 1, offset: 0, atMs: 0 },
      { partition: 1, offset: 1, atMs: 100 },
    ];
    const consumed = [
      { partition: 1, offset: 0, atMs: 10 },
      { partition: 1, offset: 0, atMs: 3_000 }, // redelivered after a rebalance
    ];
    const [p0, p1] = stallsOf(available, consumed, 2, 8_000);
    expect(p0).toEqual({ partition: 0, longestMs: 0, fromMs: null, toMs: null });
    expect(p1).toEqual({ partition: 1, longestMs: 5_000, fromMs: 3_000, toMs: 8_000 });
  });
});

describe("window latency", () => {
  it("gives nearest-rank percentiles and the max", () => {
    const v = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(windowLatency(v)).toEqual({ count: 100, p95: 95, p99: 99, max: 100 });
    expect(windowLatency([])).toEqual({ count: 0, p95: null, p99: null, max: null });
  });
});
