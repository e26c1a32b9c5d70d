import type { History, LedgerEntry, UnexpectedResponse } from "../generators/ledger.ts";

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
  /** Schema-mismatch row (when the workload breaks payloads): payloads the producer got wrong. */
  mismatched?: number;
  /** Records in the DLQ after the run (dead letters of every reason). */
  dlq?: number;
  /** Mismatched payloads not in the DLQ exactly once (missing or duplicated there). */
  dlqViolations?: number;
  /** Mismatched payloads found on the assessment topic, where any consumer could read them. */
  mismatchesReachingConsumers?: number;
  /** Poison-pill row (a `poison-pill` fault): pills written, and pills not found in the DLQ by their offset. */
  poisonPills?: number;
  pillsMissingFromDlq?: number;
  /** Forged-signature row: forged events written, and those not in the DLQ with reason `signature`. */
  forged?: number;
  forgedMissingFromDlq?: number;
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
  const c = new ClearanceChecker();
  for (const e of [...history.entries].sort((a, b) => a.seq - b.seq)) c.observe(e);
  for (const u of history.unexpected) c.unexpected(u);
  return c.result();
}

/**
 * The same check, fed one settled request at a time (in send order), so a soak can stream its ledger to disk and
 * forget what it checked: memory holds the counts, the capped evidence and one entry per key.
 */
export class ClearanceChecker {
  readonly #counts: Counts = { intended: 0, sent: 0, acked: 0, completed: 0, lost: 0, duplicated: 0, businessDuplicates: 0, errors: 0, unexpected: 0, inFlight: 0 };
  readonly #evidence: CheckResult["evidence"] = { lost: [], duplicated: [], businessDuplicates: [], errors: [], unexpected: [], outOfOrder: [] };
  /** Per key, the first completion time and event id of the latest request seen. */
  readonly #lastByKey = new Map<string, { done: number; eventId: string }>();
  #outOfOrder = 0;

  observe(e: LedgerEntry): void {
    const counts = this.#counts;
    const ev = this.#evidence;
    counts.intended++;
    if (e.sentUs !== undefined) counts.sent++;
    if (e.error !== undefined) {
      counts.errors++;
      if (ev.errors.length < EVIDENCE_LIMIT) ev.errors.push({ eventId: e.eventId, error: e.error });
    }
    if (e.ackedUs !== undefined) counts.acked++;
    else if (e.sentUs !== undefined && e.error === undefined) counts.inFlight++;
    if (e.completedUs.length > 0) counts.completed++;
    if (e.completedUs.length > 1) {
      counts.duplicated++;
      if (ev.duplicated.length < EVIDENCE_LIMIT) ev.duplicated.push({ eventId: e.eventId, times: e.completedUs.length });
    }
    const processings = new Set(e.processingIds ?? []).size;
    if (processings > 1) {
      counts.businessDuplicates++;
      if (ev.businessDuplicates.length < EVIDENCE_LIMIT) ev.businessDuplicates.push({ eventId: e.eventId, processings });
    }
    if (e.ackedUs !== undefined && e.completedUs.length === 0) {
      counts.lost++;
      if (ev.lost.length < EVIDENCE_LIMIT) ev.lost.push(e.eventId);
    }
    const done = e.completedUs[0];
    if (done === undefined) return;
    const prev = this.#lastByKey.get(e.key);
    if (prev !== undefined && prev.done > done) {
      this.#outOfOrder++;
      if (ev.outOfOrder.length < EVIDENCE_LIMIT) ev.outOfOrder.push({ key: e.key, first: prev.eventId, second: e.eventId });
    }
    this.#lastByKey.set(e.key, { done, eventId: e.eventId });
  }

  unexpected(u: UnexpectedResponse): void {
    this.#counts.unexpected++;
    if (this.#evidence.unexpected.length < EVIDENCE_LIMIT) this.#evidence.unexpected.push({ eventId: u.eventId, reason: u.reason, where: u.where });
  }

  result(): CheckResult {
    const counts = { ...this.#counts };
    const valid: Validity = counts.acked === 0 ? "unknown" : counts.lost === 0 && counts.businessDuplicates === 0 && counts.unexpected === 0 ? "valid" : "invalid";
    const ev = this.#evidence;
    return {
      valid,
      counts,
      evidence: { lost: [...ev.lost], duplicated: [...ev.duplicated], businessDuplicates: [...ev.businessDuplicates], errors: [...ev.errors], unexpected: [...ev.unexpected], outOfOrder: [...ev.outOfOrder] },
      outOfOrderCount: this.#outOfOrder,
    };
  }
}

/** Adjacent requests of one key (in send order) whose first completions arrived the other way round. */
export function outOfOrderPairs(entries: readonly LedgerEntry[]): { pairs: { key: string; first: string; second: string }[]; count: number } {
  const r = checkClearances({ entries: [...entries], unexpected: [] });
  return { pairs: r.evidence.outOfOrder, count: r.outOfOrderCount };
}
