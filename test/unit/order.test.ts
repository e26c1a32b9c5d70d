import { describe, expect, it } from "vitest";
import { checkOrder } from "../../reports/order.ts";

const seqOf = new Map([
  ["a1", 1],
  ["b1", 2],
  ["a2", 3],
  ["b2", 4],
  ["a3", 5],
]);
const rec = (partition: number, offset: number, key: string, eventId: string) => ({ partition, offset, key, eventId });

describe("checkOrder: per-key order of a topic against send order", () => {
  it("accepts keys in send order, however the partitions interleave", () => {
    const r = checkOrder([rec(0, 0, "a", "a1"), rec(1, 0, "b", "b1"), rec(0, 1, "a", "a2"), rec(1, 1, "b", "b2"), rec(0, 2, "a", "a3")], seqOf, new Set(seqOf.keys()));
    expect(r).toMatchObject({ records: 5, keys: 2, inversions: 0, missing: 0, duplicates: 0 });
  });

  it("reads each partition in offset order, not in the order records were handed over", () => {
    const r = checkOrder([rec(0, 2, "a", "a3"), rec(0, 0, "a", "a1"), rec(0, 1, "a", "a2")], seqOf, new Set());
    expect(r.inversions).toBe(0);
  });

  it("reports an inversion with both event ids, a missing event and a replicated duplicate", () => {
    const r = checkOrder([rec(0, 0, "a", "a2"), rec(0, 1, "a", "a1"), rec(0, 2, "a", "a1"), rec(1, 0, "b", "b1"), rec(1, 1, "x", "unknown")], seqOf, new Set(["a1", "a2", "b1", "b2"]));
    expect(r.inversions).toBe(1);
    expect(r.evidence.inversions).toEqual([{ key: "a", first: "a2", second: "a1" }]);
    expect(r.duplicates).toBe(1);
    expect(r.evidence.duplicates).toEqual(["a1"]);
    expect(r.missing).toBe(1);
    expect(r.evidence.missing).toEqual(["b2"]);
    expect(r.records).toBe(4); // the unknown record is not counted
  });
});
