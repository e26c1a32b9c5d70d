import { setTimeout as sleepTimer } from "node:timers/promises";
import { describeSelector, type FaultSpec } from "./spec.ts";

/** Time for the scheduler, in ms on the run's clock (0 = the run's `startedAt`). Injected so tests need no waiting. */
export interface ChaosClock {
  now(): number;
  /** Resolves after `ms`, or as soon as `signal` aborts (never rejects). */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

export const realClock = (originMs = performance.now()): ChaosClock => ({
  now: () => performance.now() - originMs,
  sleep: (ms, signal) => (ms <= 0 || signal.aborted ? Promise.resolve() : sleepTimer(ms, undefined, { signal }).catch(() => {})),
});

/** An injected fault: what it hit, and how to undo it. `heal` must be safe to call after the target died. */
export interface Injection {
  target: string;
  details?: Record<string, unknown>;
  heal(): Promise<Record<string, unknown> | undefined>;
}

export type Injector = (fault: FaultSpec) => Promise<Injection>;

/** One line of the run's fault timeline in result.json (times in ms relative to the run's `startedAt`). */
export interface FaultRecord {
  kind: string;
  name?: string;
  target: string;
  startMs: number;
  endMs: number | null;
  /** `healed`, `healed-early` (the run ended or was aborted first), `not-injected`, `inject-failed: ...`, `heal-failed: ...`. */
  outcome: string;
  details?: Record<string, unknown>;
  /** The requests intended while the fault lasted (added by the runner from the ledger: chaos/analysis.ts). */
  requests?: { intended: number; failed: number; completed: number };
}

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/**
 * Runs a fault list against a started mesh: each fault is injected at its `at` and healed after its `duration`.
 * Heal always runs: when the fault's time is up, when `stop()` is called (end of run, abort, Ctrl-C, a crashed
 * scenario body), and when the injection itself failed half-way. Every injection and heal lands on the timeline.
 */
export class FaultSchedule {
  readonly #faults: FaultSpec[];
  readonly #inject: Injector;
  readonly #clock: ChaosClock;
  readonly #stop = new AbortController();
  readonly #timeline: FaultRecord[] = [];
  #tasks: Promise<void>[] = [];
  #startedAt: number | undefined;

  readonly #onChange: (r: FaultRecord) => void;

  /** `onChange` hears of every injection and heal (the runner prints them). */
  constructor(faults: FaultSpec[], inject: Injector, clock: ChaosClock, onChange: (r: FaultRecord) => void = () => {}) {
    this.#faults = faults;
    this.#inject = inject;
    this.#clock = clock;
    this.#onChange = onChange;
  }

  /** Starts the schedule now (fault `at` times count from here); returns when every fault was healed or skipped. */
  start(signal?: AbortSignal): Promise<void> {
    if (this.#startedAt !== undefined) throw new Error("FaultSchedule.start called twice");
    this.#startedAt = this.#clock.now();
    if (signal) {
      if (signal.aborted) this.#stop.abort();
      else signal.addEventListener("abort", () => this.#stop.abort(), { once: true });
    }
    this.#tasks = this.#faults.map((f) => this.#run(f, this.#startedAt ?? 0));
    return Promise.all(this.#tasks).then(() => {});
  }

  async #run(f: FaultSpec, origin: number): Promise<void> {
    const stop = this.#stop.signal;
    await this.#clock.sleep(origin + f.at - this.#clock.now(), stop);
    const rec: FaultRecord = { kind: f.kind, ...(f.name ? { name: f.name } : {}), target: describeSelector(f.target), startMs: Math.round(this.#clock.now()), endMs: null, outcome: "active" };
    this.#timeline.push(rec);
    if (stop.aborted) {
      rec.outcome = "not-injected";
      rec.endMs = rec.startMs;
      return;
    }
    let injection: Injection | undefined;
    try {
      injection = await this.#inject(f);
      rec.target = injection.target;
      if (injection.details) rec.details = { ...injection.details };
      this.#onChange({ ...rec });
      await this.#clock.sleep(origin + f.at + f.duration - this.#clock.now(), stop);
    } catch (e) {
      rec.outcome = `inject-failed: ${message(e)}`;
    } finally {
      if (injection) {
        const early = stop.aborted && this.#clock.now() < origin + f.at + f.duration;
        try {
          const more = await injection.heal();
          if (more) rec.details = { ...rec.details, ...more };
          rec.outcome = early ? "healed-early" : "healed";
        } catch (e) {
          rec.outcome = `heal-failed: ${message(e)}`;
        }
      }
      rec.endMs = Math.round(this.#clock.now());
      this.#onChange({ ...rec });
    }
  }

  /** Heals every active fault, skips the ones not yet injected, and waits until all of that is done. Idempotent. */
  async stop(): Promise<void> {
    this.#stop.abort();
    await Promise.allSettled(this.#tasks);
  }

  /** The timeline so far, in injection order. */
  timeline(): FaultRecord[] {
    return this.#timeline.map((r) => ({ ...r }));
  }

  /** Faults injected and not healed yet. */
  active(): FaultRecord[] {
    return this.#timeline.filter((r) => r.outcome === "active").map((r) => ({ ...r }));
  }
}
