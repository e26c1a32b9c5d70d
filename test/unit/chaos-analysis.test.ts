import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { analyseGroup, readEngineHistory, withRequests } from "../../chaos/analysis.ts";
import { failedOf } from "../../reports/result.ts";
import type { LedgerEntry } from "../../generators/ledger.ts";

describe("the consumer-group analysis of a run", () => {
  it("reads the engines' history onto the run's clock, skipping a line torn by a kill", () => {
    const dir = mkdtempSync(join(tmpdir(), "meshlab-analysis-"));
    const file = join(dir, "centrelink-2.events.ndjson");
    writeFileSync(
      file,
      [
        JSON.stringify({ ms: 1_000_500, type: "assigned", lost: false, partitions: [0, 1] }),
        JSON.stringify({ ms: 1_000_600, type: "consumed", p: 1, o: 7 }),
        JSON.stringify({ ms: 1_002_000, type: "revoked", lost: true, partitions: [0, 1] }),
        '{"ms":1002100,"type":"cons',
      ].join("\n"),
    );
    const h = readEngineHistory([file, join(dir, "missing.events.ndjson")], 1_000_000);
    expect(h.assignments).toEqual([
      { atMs: 500, instance: "centrelink-2", type: "assigned", partitions: [0, 1] },
      { atMs: 2_000, instance: "centrelink-2", type: "revoked", partitions: [0, 1], lost: true },
    ]);
    expect(h.consumed).toEqual([{ partition: 1, offset: 7, atMs: 600 }]);
  });

  it("splits clearance latency into before, during and after the faults, leaving the warm-up out", () => {
    // One request per second from t = 0, intended at i s, acknowledged 10 ms later on partition i % 2.
    const entries: LedgerEntry[] = Array.from({ length: 30 }, (_, i) => ({
      eventId: `e${i}`,
      seq: i,
      key: "k",
      intendedUs: i * 1_000_000,
      ackedUs: i * 1_000_000 + 10_000,
      partition: i % 2,
      offset: String(Math.floor(i / 2)),
      // Requests intended during the fault (10 s to 20 s) wait until 20 s.
      completedUs: [i >= 10 && i < 20 ? 20_000_000 : i * 1_000_000 + 50_000],
    }));
    const consumed = entries.map((e) => ({ partition: e.partition ?? 0, offset: Number(e.offset), atMs: (e.completedUs[0] ?? 0) / 1000 - 20 }));
    const g = analyseGroup({
      entries,
      engines: { assignments: [], consumed },
      partitions: 2,
      usToRunMs: (us) => us / 1000,
      faults: [{ kind: "pause", target: "syd-1", startMs: 10_000, endMs: 20_000, outcome: "healed" }],
      endMs: 35_000,
      measureFromMs: 5_000,
    });
    expect(g.window).toEqual({ faultStartMs: 10_000, faultEndMs: 20_000 });
    expect(g.clearanceMs.before).toEqual({ count: 5, p95: 50, p99: 50, max: 50 });
    expect(g.clearanceMs.during).toMatchObject({ count: 10, max: 10_000 });
    expect(g.clearanceMs.after).toMatchObject({ count: 10, max: 50 });
    // Each partition waited from the ack of its first request of the fault (10.01 s, 11.01 s) to its consumption (19.98 s).
    expect(g.stalls.map((s) => Math.round(s.longestMs))).toEqual([9_970, 8_970]);
    expect(g.longestStallMs).toBe(9_970);
  });
});

describe("the requests of each fault", () => {
  const entry = (seq: number, intendedMs: number, over: Partial<LedgerEntry> = {}): LedgerEntry => ({ eventId: `e${seq}`, seq, key: "k", intendedUs: intendedMs * 1000, completedUs: [], ...over });
  const fault = (startMs: number, endMs: number | null) => ({ kind: "attestation-failure", target: "t", startMs, endMs, outcome: "healed" });

  it("counts the requests intended from injection to the end of the heal: failed at the source, completed, neither", () => {
    const entries = [
      entry(1, 900, { completedUs: [1] }), // before
      entry(2, 1_000, { error: "the SVID ... expired" }),
      entry(3, 1_500, { completedUs: [2] }),
      entry(4, 1_800), // acknowledged, not answered (yet)
      entry(5, 2_000, { error: "x" }),
      entry(6, 2_001, { error: "after" }),
    ];
    const [f] = withRequests([fault(1_000, 2_000)], entries, (us) => us / 1000);
    expect(f?.requests).toEqual({ intended: 4, failed: 2, completed: 1 });
    expect(failedOf(f as NonNullable<typeof f>)).toBe("2 of 4");
    expect(failedOf({})).toBe("");
  });

  it("runs a fault never healed to the end of the ledger, on the run's clock", () => {
    const [f] = withRequests([fault(10, null)], [entry(1, 5_000, { error: "e" }), entry(2, 9_000)], (us) => us / 1000 - 4_000);
    expect(f?.requests).toEqual({ intended: 2, failed: 1, completed: 0 });
  });
});
