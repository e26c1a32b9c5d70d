import { describe, expect, it } from "vitest";
import { type History, Ledger, type LedgerEntry } from "../../generators/ledger.ts";
import { checkClearances, EVIDENCE_LIMIT, outOfOrderPairs } from "../../reports/checker.ts";

/** A request that went all the way: sent, acknowledged and completed once. */
function cleared(ledger: Ledger, id: string, seq: number, key = `k${seq}`, completedUs = 1000 + seq * 10): LedgerEntry {
  const e = ledger.intend({ eventId: id, seq, key, intendedUs: seq * 10 });
  e.sentUs = seq * 10 + 1;
  e.ackedUs = seq * 10 + 2;
  ledger.complete(id, completedUs, "ato-1", "CLEARED");
  return e;
}

/** Sent and acknowledged, never completed. */
function acked(ledger: Ledger, id: string, seq: number, key = `k${seq}`): LedgerEntry {
  const e = ledger.intend({ eventId: id, seq, key, intendedUs: seq * 10 });
  e.sentUs = seq * 10 + 1;
  e.ackedUs = seq * 10 + 2;
  return e;
}

const entry = (over: Partial<LedgerEntry> & { eventId: string; seq: number }): LedgerEntry => ({
  key: `k${over.seq}`,
  intendedUs: 0,
  completedUs: [],
  ...over,
});

describe("Ledger", () => {
  it("records every completion of a known request and keeps the first outcome", () => {
    const ledger = new Ledger();
    acked(ledger, "e1", 0);
    expect(ledger.outstanding()).toBe(1);
    expect(ledger.complete("e1", 500, "ato-1", "CLEARED")?.eventId).toBe("e1");
    expect(ledger.complete("e1", 700, "ato-2", "DEBT_HOLD")?.eventId).toBe("e1");
    expect(ledger.get("e1")?.completedUs).toEqual([500, 700]);
    expect(ledger.get("e1")?.outcome).toBe("CLEARED");
    expect(ledger.outstanding()).toBe(0);
  });

  it("notes a response for an unknown event id, or with no id, as unexpected", () => {
    const ledger = new Ledger();
    expect(ledger.complete("ghost", 1, "ato-1")).toBeUndefined();
    expect(ledger.complete(undefined, 2, "ato-2")).toBeUndefined();
    expect(ledger.history().unexpected).toEqual([
      { eventId: "ghost", atUs: 1, where: "ato-1", reason: "no request with this event id" },
      { eventId: undefined, atUs: 2, where: "ato-2", reason: "response has no event-id header" },
    ]);
  });

  it("returns the history sorted by seq, whatever the order of intent", () => {
    const ledger = new Ledger();
    for (const seq of [3, 1, 2, 0]) ledger.intend({ eventId: `e${seq}`, seq, key: "k", intendedUs: seq });
    expect(ledger.size).toBe(4);
    expect(ledger.history().entries.map((e) => e.seq)).toEqual([0, 1, 2, 3]);
  });

  it("counts as outstanding only acknowledged requests without a completion", () => {
    const ledger = new Ledger();
    ledger.intend({ eventId: "intended-only", seq: 0, key: "k", intendedUs: 0 });
    acked(ledger, "waiting", 1);
    cleared(ledger, "done", 2);
    expect(ledger.outstanding()).toBe(1);
  });
});

describe("checkClearances", () => {
  it("calls a history where every acknowledged request completed once valid", () => {
    const ledger = new Ledger();
    for (let i = 0; i < 5; i++) cleared(ledger, `e${i}`, i);
    const r = checkClearances(ledger.history());
    expect(r.valid).toBe("valid");
    expect(r.counts).toEqual({ intended: 5, sent: 5, acked: 5, completed: 5, lost: 0, duplicated: 0, businessDuplicates: 0, errors: 0, unexpected: 0, inFlight: 0 });
    expect(r.evidence).toEqual({ lost: [], duplicated: [], businessDuplicates: [], errors: [], unexpected: [], outOfOrder: [] });
    expect(r.outOfOrderCount).toBe(0);
  });

  it("counts an acknowledged request with no completion as lost and names it", () => {
    const ledger = new Ledger();
    cleared(ledger, "e0", 0);
    acked(ledger, "e1", 1);
    cleared(ledger, "e2", 2);
    acked(ledger, "e3", 3);
    const r = checkClearances(ledger.history());
    expect(r.valid).toBe("invalid");
    expect(r.counts.lost).toBe(2);
    expect(r.counts.completed).toBe(2);
    expect(r.evidence.lost).toEqual(["e1", "e3"]);
  });

  it("counts a request completed twice or more as duplicated, with the number of completions", () => {
    const ledger = new Ledger();
    cleared(ledger, "e0", 0);
    ledger.complete("e0", 5000, "ato-2");
    cleared(ledger, "e1", 1);
    ledger.complete("e1", 6000, "ato-1");
    ledger.complete("e1", 7000, "ato-3");
    const r = checkClearances(ledger.history());
    // A delivery duplicate is dropped by the idempotent tax engine; only a second processing breaks the history.
    expect(r.valid).toBe("valid");
    expect(r.counts.businessDuplicates).toBe(0);
    expect(r.counts.duplicated).toBe(2);
    expect(r.counts.completed).toBe(2);
    expect(r.counts.lost).toBe(0);
    expect(r.evidence.duplicated).toEqual([
      { eventId: "e0", times: 2 },
      { eventId: "e1", times: 3 },
    ]);
  });

  it("tells a duplicate delivery of one processing from a second run of the business logic", () => {
    const ledger = new Ledger();
    const e0 = ledger.intend({ eventId: "e0", seq: 0, key: "k", intendedUs: 0 });
    e0.sentUs = 1;
    e0.ackedUs = 2;
    ledger.complete("e0", 10, "0@1", "CLEARED", { processingId: "p1", region: "syd" });
    ledger.complete("e0", 20, "0@1", "CLEARED", { processingId: "p1", region: "mel" }); // replicated copy
    const e1 = ledger.intend({ eventId: "e1", seq: 1, key: "k", intendedUs: 5 });
    e1.sentUs = 6;
    e1.ackedUs = 7;
    ledger.complete("e1", 30, "0@2", "CLEARED", { processingId: "p2", region: "syd" });
    ledger.complete("e1", 40, "0@3", "CLEARED", { processingId: "p3", region: "mel" }); // processed again
    const r = checkClearances(ledger.history());
    expect(r.counts.duplicated).toBe(2);
    expect(r.counts.businessDuplicates).toBe(1);
    expect(r.evidence.businessDuplicates).toEqual([{ eventId: "e1", processings: 2 }]);
    expect(r.valid).toBe("invalid");
  });

  it("counts produce errors with their message, and does not count them as lost or in flight", () => {
    const ledger = new Ledger();
    cleared(ledger, "e0", 0);
    const failed = ledger.intend({ eventId: "e1", seq: 1, key: "k1", intendedUs: 10 });
    failed.sentUs = 11;
    failed.error = "Local: Message timed out";
    const r = checkClearances(ledger.history());
    expect(r.counts.errors).toBe(1);
    expect(r.counts.lost).toBe(0);
    expect(r.counts.inFlight).toBe(0);
    expect(r.counts.sent).toBe(2);
    expect(r.evidence.errors).toEqual([{ eventId: "e1", error: "Local: Message timed out" }]);
    // A request that never reached Kafka does not make the history invalid.
    expect(r.valid).toBe("valid");
  });

  it("counts responses to unknown requests and responses without an id as unexpected, making the history invalid", () => {
    const ledger = new Ledger();
    cleared(ledger, "e0", 0);
    ledger.complete("nobody-asked", 900, "ato-1");
    ledger.complete(undefined, 901, "ato-2");
    const r = checkClearances(ledger.history());
    expect(r.valid).toBe("invalid");
    expect(r.counts.unexpected).toBe(2);
    expect(r.counts.lost).toBe(0);
    expect(r.evidence.unexpected).toEqual([
      { eventId: "nobody-asked", reason: "no request with this event id", where: "ato-1" },
      { eventId: undefined, reason: "response has no event-id header", where: "ato-2" },
    ]);
  });

  it("counts requests sent but neither acknowledged nor failed as in flight, not lost", () => {
    const ledger = new Ledger();
    cleared(ledger, "e0", 0);
    const pending = ledger.intend({ eventId: "e1", seq: 1, key: "k1", intendedUs: 10 });
    pending.sentUs = 11;
    ledger.intend({ eventId: "e2", seq: 2, key: "k2", intendedUs: 20 });
    const r = checkClearances(ledger.history());
    expect(r.counts).toMatchObject({ intended: 3, sent: 2, acked: 1, inFlight: 1, lost: 0 });
    expect(r.valid).toBe("valid");
  });

  it('is "unknown" when nothing was acknowledged, even with unexpected responses', () => {
    const ledger = new Ledger();
    const e = ledger.intend({ eventId: "e0", seq: 0, key: "k", intendedUs: 0 });
    e.sentUs = 1;
    ledger.complete("stray", 5, "ato-1");
    const r = checkClearances(ledger.history());
    expect(r.valid).toBe("unknown");
    expect(r.counts.unexpected).toBe(1);
    expect(checkClearances({ entries: [], unexpected: [] }).valid).toBe("unknown");
  });

  it("caps the evidence at EVIDENCE_LIMIT while keeping the counts exact", () => {
    const ledger = new Ledger();
    for (let i = 0; i < 150; i++) acked(ledger, `lost-${i}`, i);
    for (let i = 150; i < 280; i++) {
      cleared(ledger, `dup-${i}`, i);
      ledger.complete(`dup-${i}`, 99_999, "ato-2");
    }
    for (let i = 0; i < 120; i++) ledger.complete(`ghost-${i}`, i, "ato-1");
    const history = ledger.history();
    for (let i = 280; i < 400; i++) history.entries.push(entry({ eventId: `err-${i}`, seq: i, sentUs: 1, error: "boom" }));
    const r = checkClearances(history);
    expect(EVIDENCE_LIMIT).toBe(100);
    expect(r.counts).toMatchObject({ lost: 150, duplicated: 130, unexpected: 120, errors: 120 });
    expect(r.evidence.lost).toHaveLength(EVIDENCE_LIMIT);
    expect(r.evidence.lost[0]).toBe("lost-0");
    expect(r.evidence.lost[99]).toBe("lost-99");
    expect(r.evidence.duplicated).toHaveLength(EVIDENCE_LIMIT);
    expect(r.evidence.unexpected).toHaveLength(EVIDENCE_LIMIT);
    expect(r.evidence.errors).toHaveLength(EVIDENCE_LIMIT);
  });

  it("reports per-key order inversions from the history", () => {
    const ledger = new Ledger();
    cleared(ledger, "a1", 1, "alice", 2000);
    cleared(ledger, "a2", 2, "alice", 1500);
    const r = checkClearances(ledger.history());
    expect(r.outOfOrderCount).toBe(1);
    expect(r.evidence.outOfOrder).toEqual([{ key: "alice", first: "a1", second: "a2" }]);
    // Order inversions are reported but do not by themselves make the history invalid.
    expect(r.valid).toBe("valid");
  });
});

describe("outOfOrderPairs", () => {
  it("finds a later request of the same key that completed before an earlier one", () => {
    const entries = [
      entry({ eventId: "first", seq: 1, key: "tfn-1", completedUs: [300] }),
      entry({ eventId: "second", seq: 2, key: "tfn-1", completedUs: [200] }),
    ];
    expect(outOfOrderPairs(entries)).toEqual({ pairs: [{ key: "tfn-1", first: "first", second: "second" }], count: 1 });
  });

  it("judges by send order (seq), not by the order of the array", () => {
    const entries = [
      entry({ eventId: "second", seq: 2, key: "tfn-1", completedUs: [200] }),
      entry({ eventId: "first", seq: 1, key: "tfn-1", completedUs: [300] }),
    ];
    expect(outOfOrderPairs(entries).pairs).toEqual([{ key: "tfn-1", first: "first", second: "second" }]);
  });

  it("never pairs requests of different keys", () => {
    const entries = [entry({ eventId: "a", seq: 1, key: "tfn-1", completedUs: [300] }), entry({ eventId: "b", seq: 2, key: "tfn-2", completedUs: [100] })];
    expect(outOfOrderPairs(entries)).toEqual({ pairs: [], count: 0 });
  });

  it("accepts completions in send order, including ties", () => {
    const entries = [
      entry({ eventId: "a", seq: 1, key: "k", completedUs: [100] }),
      entry({ eventId: "b", seq: 2, key: "k", completedUs: [100] }),
      entry({ eventId: "c", seq: 3, key: "k", completedUs: [250] }),
    ];
    expect(outOfOrderPairs(entries).count).toBe(0);
  });

  it("uses first completions only, so a late duplicate is not an inversion", () => {
    const entries = [
      entry({ eventId: "a", seq: 1, key: "k", completedUs: [100, 900] }),
      entry({ eventId: "b", seq: 2, key: "k", completedUs: [200] }),
    ];
    expect(outOfOrderPairs(entries).count).toBe(0);
  });

  it("skips requests that never completed and compares the neighbours around them", () => {
    const entries = [
      entry({ eventId: "a", seq: 1, key: "k", completedUs: [500] }),
      entry({ eventId: "lost", seq: 2, key: "k" }),
      entry({ eventId: "c", seq: 3, key: "k", completedUs: [400] }),
    ];
    expect(outOfOrderPairs(entries).pairs).toEqual([{ key: "k", first: "a", second: "c" }]);
  });

  it("compares adjacent requests only: one early completion among many is one inversion", () => {
    const entries = [
      entry({ eventId: "a", seq: 1, key: "k", completedUs: [100] }),
      entry({ eventId: "b", seq: 2, key: "k", completedUs: [200] }),
      entry({ eventId: "c", seq: 3, key: "k", completedUs: [50] }),
      entry({ eventId: "d", seq: 4, key: "k", completedUs: [300] }),
    ];
    expect(outOfOrderPairs(entries)).toEqual({ pairs: [{ key: "k", first: "b", second: "c" }], count: 1 });
  });

  it("caps the pairs at EVIDENCE_LIMIT while counting every inversion", () => {
    const entries: LedgerEntry[] = [];
    for (let k = 0; k < 130; k++) {
      entries.push(entry({ eventId: `k${k}-1`, seq: 2 * k, key: `k${k}`, completedUs: [1000] }));
      entries.push(entry({ eventId: `k${k}-2`, seq: 2 * k + 1, key: `k${k}`, completedUs: [500] }));
    }
    const { pairs, count } = outOfOrderPairs(entries);
    expect(count).toBe(130);
    expect(pairs).toHaveLength(EVIDENCE_LIMIT);
  });

  it("does not reorder the caller's array", () => {
    const entries = [entry({ eventId: "b", seq: 2, key: "k", completedUs: [1] }), entry({ eventId: "a", seq: 1, key: "k", completedUs: [2] })];
    const history: History = { entries, unexpected: [] };
    outOfOrderPairs(history.entries);
    expect(history.entries.map((e) => e.eventId)).toEqual(["b", "a"]);
  });
});
