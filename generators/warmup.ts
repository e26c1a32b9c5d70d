/**
 * Warm-up until steady: after the fixed warm-up, load keeps coming at the first rate until the flow is caught up
 * (the backlog, requests intended and not yet completed, at most one second of the rate for three one-second
 * samples in a row: a multi-second backlog is start-up, a backlog of a fraction of a second is latency), bounded
 * by a maximum; only then does the measured window start. A mesh that never catches up
 * fails the run with the backlog it had, rather than letting start-up effects into the measured window.
 */

/** What result.json says about the warm-up. */
export interface WarmupReport {
  /** The fixed part (workload.warmupMs) and the bound (workload.warmupMaxMs). */
  fixedMs: number;
  maxMs: number;
  /** How long the warm-up took in the end (fixed part included). */
  tookMs: number;
  steady: boolean;
  /** Backlog at the last sample, and what counted as near zero. */
  backlog: number;
  steadyBelow: number;
}

export type WarmupDecision = "continue" | "steady" | "timeout";

export class SteadyWarmup {
  readonly fixedMs: number;
  readonly maxMs: number;
  readonly steadyBelow: number;
  readonly #needed: number;
  #inARow = 0;
  #last = { atMs: 0, backlog: 0 };

  /** `rate`: the first rate (requests/s); `samples`: one-second samples in a row that must be near zero. */
  constructor(o: { fixedMs: number; maxMs: number; rate: number; samples?: number }) {
    this.fixedMs = o.fixedMs;
    this.maxMs = Math.max(o.maxMs, o.fixedMs);
    this.steadyBelow = Math.max(1, Math.floor(o.rate));
    this.#needed = o.samples ?? 3;
  }

  /** One sample, `atMs` from the start of load (taken about once a second). */
  observe(atMs: number, backlog: number): WarmupDecision {
    this.#last = { atMs, backlog };
    this.#inARow = backlog <= this.steadyBelow ? this.#inARow + 1 : 0;
    if (atMs < this.fixedMs) return "continue";
    if (this.#inARow >= this.#needed) return "steady";
    return atMs >= this.maxMs ? "timeout" : "continue";
  }

  report(steady: boolean): WarmupReport {
    return { fixedMs: this.fixedMs, maxMs: this.maxMs, tookMs: Math.round(this.#last.atMs), steady, backlog: this.#last.backlog, steadyBelow: this.steadyBelow };
  }
}
