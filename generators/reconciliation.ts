/**
 * The ATO tax engine's 100 ms budget (the seed's "consumer timeout" row), as a state machine per request:
 *
 *   awaiting --response within the budget--> final
 *   awaiting --budget passes--> provisional (cache knows the taxpayer) | pending (cold cache)
 *   provisional | pending --response--> reconciled (a discrepancy when the final outcome differs from the provisional one)
 *
 * Provisional decisions come from an eligibility cache the engine keeps from earlier responses, in one of two modes:
 * `debt-status` remembers whether each taxpayer had a Centrelink debt and decides as Centrelink would with this
 * assessment's balance (a refund to a debtor is held); `last-outcome` remembers only the taxpayer's last outcome,
 * which is wrong whenever a debtor's balance changes sign. A taxpayer the cache has never heard of gets no
 * provisional outcome ("pending": nothing is released, nothing can be wrong) and is counted apart. Pure: times are
 * passed in (µs), so tests drive it without a clock.
 */
export type Outcome = "CLEARED" | "DEBT_HOLD";

export type DecisionKind = "final" | "provisional" | "pending";

export const CACHE_MODES = ["debt-status", "last-outcome"] as const;
export type CacheMode = (typeof CACHE_MODES)[number];

/** A decision the engine made, at `atUs`: final (the response came in time) or from the cache (past the budget). */
export interface Decision {
  eventId: string;
  kind: DecisionKind;
  /** The outcome decided: the response's (final), the cache's (provisional), none (pending). */
  outcome?: Outcome;
  atUs: number;
}

/** A late response settling an earlier provisional or pending decision. */
export interface Reconciliation {
  eventId: string;
  kind: "provisional" | "pending";
  provisional?: Outcome;
  final: Outcome;
  /** A provisional outcome the final one contradicts. A pending decision claimed nothing, so it is never one. */
  discrepancy: boolean;
  /** From the provisional decision to the response. */
  lagUs: number;
}

interface Awaiting {
  key: string;
  balanceCents: number;
  deadlineUs: number;
  decided?: Decision;
}

/** What the engine learnt of each taxpayer from responses: the last outcome and whether they had a debt. */
export class EligibilityCache {
  readonly mode: CacheMode;
  readonly #seen = new Map<string, { outcome: Outcome; debtor: boolean }>();
  constructor(mode: CacheMode = "debt-status") {
    this.mode = mode;
  }
  learn(key: string, outcome: Outcome, debtor: boolean): void {
    this.#seen.set(key, { outcome, debtor });
  }
  /** The provisional outcome for a request of `key` with this balance (positive: a refund); undefined on a miss. */
  lookup(key: string, balanceCents: number): Outcome | undefined {
    const s = this.#seen.get(key);
    if (!s) return undefined;
    if (this.mode === "last-outcome") return s.outcome;
    return s.debtor && balanceCents > 0 ? "DEBT_HOLD" : "CLEARED";
  }
  get size(): number {
    return this.#seen.size;
  }
}

export class Reconciler {
  readonly budgetUs: number;
  readonly cache: EligibilityCache;
  readonly #open = new Map<string, Awaiting>();

  constructor(budgetMs: number, cache: EligibilityCache) {
    this.budgetUs = budgetMs * 1000;
    this.cache = cache;
  }

  /** Starts a request's budget at `atUs` (when it was sent). A second call for the same request is ignored. */
  sent(eventId: string, key: string, balanceCents: number, atUs: number): void {
    if (!this.#open.has(eventId)) this.#open.set(eventId, { key, balanceCents, deadlineUs: atUs + this.budgetUs });
  }

  /**
   * How long until a request's budget passes (0 when it has), or undefined when it is no longer awaiting a
   * decision. A timer may fire a fraction of a millisecond before the deadline on another clock: it waits again.
   */
  remainingUs(eventId: string, atUs: number): number | undefined {
    const a = this.#open.get(eventId);
    if (!a || a.decided) return undefined;
    return Math.max(0, a.deadlineUs - atUs);
  }

  /**
   * The budget of a request passed at `atUs`: a provisional decision from the cache, or pending on a cold cache.
   * Undefined when the request is no longer awaiting (answered in time, or decided already), or its deadline is
   * still ahead (a timer that fired early).
   */
  expire(eventId: string, atUs: number): Decision | undefined {
    const a = this.#open.get(eventId);
    if (!a || a.decided || atUs < a.deadlineUs) return undefined;
    const cached = this.cache.lookup(a.key, a.balanceCents);
    a.decided = cached ? { eventId, kind: "provisional", outcome: cached, atUs } : { eventId, kind: "pending", atUs };
    return a.decided;
  }

  /**
   * A response arrived at `atUs`. In time: the final decision. After a provisional or pending decision: its
   * reconciliation. A response to a request this reconciler does not know (a duplicate, another run's) is neither.
   * Every response teaches the cache.
   */
  responded(eventId: string, key: string, outcome: Outcome, debtor: boolean, atUs: number): { decision?: Decision; reconciled?: Reconciliation } {
    this.cache.learn(key, outcome, debtor);
    const a = this.#open.get(eventId);
    if (!a) return {};
    this.#open.delete(eventId);
    const d = a.decided;
    if (!d) return { decision: { eventId, kind: "final", outcome, atUs } };
    const kind = d.kind === "pending" ? "pending" : "provisional";
    return {
      reconciled: { eventId, kind, ...(d.outcome ? { provisional: d.outcome } : {}), final: outcome, discrepancy: d.outcome !== undefined && d.outcome !== outcome, lagUs: atUs - d.atUs },
    };
  }

  /** Requests still awaiting a response (decided provisionally or not at all). */
  get open(): number {
    return this.#open.size;
  }
}
