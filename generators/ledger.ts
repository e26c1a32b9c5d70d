/**
 * The ledger records every clearance request from the ATO side: when it was meant to be sent, when it was sent,
 * acknowledged and completed (every completion, so duplicates show), plus responses nobody asked for. Times are
 * microseconds on the run's monotonic clock. The checkers in reports/ read only this history.
 */
export interface LedgerEntry {
  eventId: string;
  seq: number;
  key: string;
  intendedUs: number;
  sentUs?: number;
  ackedUs?: number;
  partition?: number;
  offset?: string;
  /** A final produce error: the request never reached Kafka. */
  error?: string;
  /** Every completion of this request, in arrival order; more than one is a duplicate delivery. */
  completedUs: number[];
  /** The `processing-id` of each completion: two distinct ids mean the business logic ran twice. */
  processingIds?: string[];
  /** Region of each completion (where the response was consumed). */
  completedIn?: string[];
  /** Region whose brokers acknowledged the request. */
  ackedIn?: string;
  /** Times the request was sent again to another region after its own failed (failover). */
  resent?: number;
  outcome?: string;
  /** The registry id of the schema the request was encoded with (a schema rollout changes it mid-run). */
  schemaId?: number;
  /**
   * With a decision budget (`workload.ato.budgetMs`): how the ATO tax engine decided, when, and the outcome it
   * decided provisionally (generators/reconciliation.ts). A provisional or pending decision is reconciled by the
   * first completion; `discrepancy` says the final outcome contradicted the provisional one.
   */
  decision?: "final" | "provisional" | "pending";
  decidedUs?: number;
  provisionalOutcome?: string;
  discrepancy?: boolean;
}

export interface UnexpectedResponse {
  eventId: string | undefined;
  atUs: number;
  reason: string;
  where: string;
}

export interface History {
  entries: LedgerEntry[];
  unexpected: UnexpectedResponse[];
}

export class Ledger {
  readonly #byId = new Map<string, LedgerEntry>();
  readonly #unexpected: UnexpectedResponse[] = [];
  /** Set once `takeSettled` has let entries go: an unknown event id may then be a late or duplicate completion. */
  #released = false;

  intend(e: { eventId: string; seq: number; key: string; intendedUs: number; schemaId?: number }): LedgerEntry {
    const entry: LedgerEntry = { ...e, completedUs: [] };
    this.#byId.set(e.eventId, entry);
    return entry;
  }

  get(eventId: string): LedgerEntry | undefined {
    return this.#byId.get(eventId);
  }

  /** Records a response; returns the entry when it answered a known request, else notes it as unexpected. */
  complete(
    eventId: string | undefined,
    atUs: number,
    where: string,
    outcome?: string,
    meta: { processingId?: string; region?: string } = {},
  ): LedgerEntry | undefined {
    const entry = eventId ? this.#byId.get(eventId) : undefined;
    if (!entry) {
      const reason = !eventId
        ? "response has no event-id header"
        : this.#released
          ? "no request with this event id in memory (a completion or duplicate later than the ledger's window, or unknown)"
          : "no request with this event id";
      this.#unexpected.push({ eventId, atUs, where, reason });
      return undefined;
    }
    entry.completedUs.push(atUs);
    if (meta.processingId !== undefined) entry.processingIds = [...(entry.processingIds ?? []), meta.processingId];
    if (meta.region !== undefined) entry.completedIn = [...(entry.completedIn ?? []), meta.region];
    if (outcome && entry.outcome === undefined) entry.outcome = outcome;
    return entry;
  }

  unexpected(u: UnexpectedResponse): void {
    this.#unexpected.push(u);
  }

  get size(): number {
    return this.#byId.size;
  }

  /** Acknowledged requests that have no completion yet (what a drain waits for). */
  outstanding(): number {
    let n = 0;
    for (const e of this.#byId.values()) if (e.ackedUs !== undefined && e.completedUs.length === 0) n++;
    return n;
  }

  /**
   * Lets go of the oldest requests, in send order, so a long run's ledger stays small: a request leaves once it
   * settled (completed, or failed) at least `graceUs` ago, so a quick duplicate still finds it, or, settled or
   * not, once it was intended more than `windowUs` ago. Stops at the first request that must stay, which keeps
   * the released entries in send order for the per-key order check.
   */
  takeSettled(nowUs: number, graceUs: number, windowUs: number): LedgerEntry[] {
    const out: LedgerEntry[] = [];
    for (const [id, e] of this.#byId) {
      const settledAt = e.completedUs[0] ?? (e.error !== undefined ? (e.ackedUs ?? e.sentUs ?? e.intendedUs) : undefined);
      const settled = settledAt !== undefined && settledAt <= nowUs - graceUs;
      if (!settled && e.intendedUs > nowUs - windowUs) break;
      out.push(e);
      this.#byId.delete(id);
    }
    if (out.length) this.#released = true;
    return out;
  }

  /** Unexpected responses recorded so far, handed over once (the streaming checker takes them as they come). */
  takeUnexpected(): UnexpectedResponse[] {
    return this.#unexpected.splice(0);
  }

  history(): History {
    return { entries: [...this.#byId.values()].sort((a, b) => a.seq - b.seq), unexpected: [...this.#unexpected] };
  }
}
