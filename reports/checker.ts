import type { History, LedgerEntry } from "../generators/ledger.ts";

/** Jepsen-style verdict: `unknown` when the history cannot decide (e.g. nothing was acknowledged). */
export type Validity = "valid" | "invalid" | "unknown";

export interface Counts {
  intended: number;
  sent: number;
  acked: number;
  completed: number;
  lost: number;
  /** Completed (delivered to the ATO tax engine) more than once, whatever the cause; the ledger keeps the first. */
  duplicated: number;
  /** The business logic ran more than once for one event (distinct processing ids): what idempotence must prevent. */
  businessDuplicates: number;
  errors: number;
  unexpected: number;
  /** Sent but neither acknowledged nor failed when the run ended (e.g. interrupted). */
  inFlight: number;
}

/** Evidence is capped so result.json stays readable; the counts are always exact. */
export const EVIDENCE_LIMIT = 100;

export interface CheckResult {
  valid: Validity;
  counts: Counts;
  evidence: {
    lost: string[];
    duplicated: { eventId: string; times: number }[];
    businessDuplicates: { eventId: string; processings: number }[];
    errors: { eventId: string; error: string }[];
    unexpected: { eventId: string | undefined; reason: string; where: string }[];
    /** Same key, completed in a different order than sent: [earlier request, later request]. */
    outOfOrder: { key: string; first: string; second: string }[];
  };
  outOfOrderCount: number;
}

/**
 * Checks a clearance history: every acknowledged request must be processed exactly once. Lost = acknowledged and
 * never completed; duplicated = completed more than once (a delivery duplicate, which the tax engine drops);
 * businessDuplicates = processed by the business logic more than once (distinct processing ids); errors = final
 * produce failures; unexpected = responses to no known request. Per-key order is checked on first completions
 * (requests of one taxpayer share a partition). Valid = nothing lost, no business duplicate, nothing unexpected.
 */
export function checkClearances(history: History): CheckResult {
  const { entries, unexpected } = history;
  const lost: string[] = [];
  const duplicated: { eventId: string; times: number }[] = [];
  const businessDuplicates: { eventId: string; processings: number }[] = [];
  const errors: { eventId: string; error: string }[] = [];
  const counts: Counts = { intended: entries.length, sent: 0, acked: 0, completed: 0, lost: 0, duplicated: 0, businessDuplicates: 0, errors: 0, unexpected: unexpected.length, inFlight: 0 };

  for (const e of entries) {
    if (e.sentUs !== undefined) counts.sent++;
    if (e.error !== undefined) {
      counts.errors++;
      if (errors.length < EVIDENCE_LIMIT) errors.push({ eventId: e.eventId, error: e.error });
    }
    if (e.ackedUs !== undefined) counts.acked++;
    else if (e.sentUs !== undefined && e.error === undefined) counts.inFlight++;
    if (e.completedUs.length > 0) counts.completed++;
    if (e.completedUs.length > 1) {
      counts.duplicated++;
      if (duplicated.length < EVIDENCE_LIMIT) duplicated.push({ eventId: e.eventId, times: e.completedUs.length });
    }
    const processings = new Set(e.processingIds ?? []).size;
    if (processings > 1) {
      counts.businessDuplicates++;
      if (businessDuplicates.length < EVIDENCE_LIMIT) businessDuplicates.push({ eventId: e.eventId, processings });
    }
    if (e.ackedUs !== undefined && e.completedUs.length === 0) {
      counts.lost++;
      if (lost.length < EVIDENCE_LIMIT) lost.push(e.eventId);
    }
  }

  const { pairs, count: outOfOrderCount } = outOfOrderPairs(entries);
  const valid: Validity = counts.acked === 0 ? "unknown" : counts.lost === 0 && counts.businessDuplicates === 0 && counts.unexpected === 0 ? "valid" : "invalid";
  return {
    valid,
    counts,
    evidence: {
      lost,
      duplicated,
      businessDuplicates,
      errors,
      unexpected: unexpected.slice(0, EVIDENCE_LIMIT).map(({ eventId, reason, where }) => ({ eventId, reason, where })),
      outOfOrder: pairs,
    },
    outOfOrderCount,
  };
}

/** Adjacent requests of one key (in send order) whose first completions arrived the other way round. */
export function outOfOrderPairs(entries: readonly LedgerEntry[]): { pairs: { key: string; first: string; second: string }[]; count: number } {
  const lastByKey = new Map<string, LedgerEntry>();
  const pairs: { key: string; first: string; second: string }[] = [];
  let count = 0;
  for (const e of [...entries].sort((a, b) => a.seq - b.seq)) {
    const done = e.completedUs[0];
    if (done === undefined) continue;
    const prev = lastByKey.get(e.key);
    if (prev && (prev.completedUs[0] as number) > done) {
      count++;
      if (pairs.length < EVIDENCE_LIMIT) pairs.push({ key: e.key, first: prev.eventId, second: e.eventId });
    }
    lastByKey.set(e.key, e);
  }
  return { pairs, count };
}
