import { EVIDENCE_LIMIT } from "./checker.ts";

/** A record as read back from a topic: where it sits, its key, and the event it carries. */
export interface ReadRecord {
  partition: number;
  offset: number;
  key: string;
  eventId: string;
}

export interface OrderCheck {
  records: number;
  keys: number;
  /** Adjacent records of one key whose send order (ledger seq) runs backwards in the log. */
  inversions: number;
  /** Events expected in the topic (acknowledged at the source) that are not there. */
  missing: number;
  /** Events present more than once (MirrorMaker 2 is at-least-once). */
  duplicates: number;
  evidence: { inversions: { key: string; first: string; second: string }[]; missing: string[]; duplicates: string[] };
}

/**
 * Per-key order of a topic against the order the events were sent (the ledger's seq): read in log order per
 * partition, each key's events must have increasing seq. Keys share a partition, so this holds end to end only if
 * every hop (producer, replication) kept the partition order. Records of unknown events are ignored.
 */
export function checkOrder(records: readonly ReadRecord[], seqOf: ReadonlyMap<string, number>, expected: ReadonlySet<string>): OrderCheck {
  const sorted = [...records].sort((a, b) => a.partition - b.partition || a.offset - b.offset);
  const last = new Map<string, { seq: number; eventId: string }>();
  const seen = new Set<string>();
  const r: OrderCheck = { records: 0, keys: 0, inversions: 0, missing: 0, duplicates: 0, evidence: { inversions: [], missing: [], duplicates: [] } };
  for (const rec of sorted) {
    const seq = seqOf.get(rec.eventId);
    if (seq === undefined) continue;
    r.records++;
    if (seen.has(rec.eventId)) {
      r.duplicates++;
      if (r.evidence.duplicates.length < EVIDENCE_LIMIT) r.evidence.duplicates.push(rec.eventId);
      continue; // a redelivered copy repeats an earlier position; order is judged on first copies
    }
    seen.add(rec.eventId);
    const prev = last.get(rec.key);
    if (prev && prev.seq > seq) {
      r.inversions++;
      if (r.evidence.inversions.length < EVIDENCE_LIMIT) r.evidence.inversions.push({ key: rec.key, first: prev.eventId, second: rec.eventId });
    }
    last.set(rec.key, { seq, eventId: rec.eventId });
  }
  r.keys = last.size;
  for (const id of expected)
    if (!seen.has(id)) {
      r.missing++;
      if (r.evidence.missing.length < EVIDENCE_LIMIT) r.evidence.missing.push(id);
    }
  return r;
}
