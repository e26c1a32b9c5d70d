import { closeSync, openSync, writeSync } from "node:fs";
import type { Ledger } from "../generators/ledger.ts";
import { type CheckResult, ClearanceChecker } from "./checker.ts";

/** How long a settled request stays in memory, so a duplicate arriving soon after still counts as a duplicate. */
export const LEDGER_GRACE_MS = 30_000;
/** After this long a request leaves memory settled or not (a lost request is reported as lost when it does). */
export const LEDGER_WINDOW_MS = 5 * 60_000;

/**
 * Streams a run's ledger to `ledger.ndjson` while the run goes, checking each request as it leaves memory, so
 * memory stays flat however long the run is and a crash leaves every released request on disk. `drain()` is
 * called once a second; `finish()` releases and checks the rest and returns the same CheckResult as checking the
 * whole history at once (for completions within the ledger's window).
 */
export class LedgerStream {
  readonly #fd: number;
  readonly #checker = new ClearanceChecker();
  readonly #graceUs: number;
  readonly #windowUs: number;
  #written = 0;

  constructor(file: string, opts: { graceMs?: number; windowMs?: number } = {}) {
    this.#fd = openSync(file, "w");
    this.#graceUs = (opts.graceMs ?? LEDGER_GRACE_MS) * 1000;
    this.#windowUs = (opts.windowMs ?? LEDGER_WINDOW_MS) * 1000;
  }

  get written(): number {
    return this.#written;
  }

  /** Releases what may leave memory: appends it to the file and checks it. */
  drain(ledger: Ledger, nowUs: number): void {
    this.#release(ledger, ledger.takeSettled(nowUs, this.#graceUs, this.#windowUs));
  }

  /** Releases everything left (the run is over) and returns the verdict over the whole run. */
  finish(ledger: Ledger | undefined): CheckResult {
    if (ledger) this.#release(ledger, ledger.takeSettled(Number.POSITIVE_INFINITY, 0, 0));
    closeSync(this.#fd);
    return this.#checker.result();
  }

  #release(ledger: Ledger, entries: ReturnType<Ledger["takeSettled"]>): void {
    for (const u of ledger.takeUnexpected()) this.#checker.unexpected(u);
    if (!entries.length) return;
    for (const e of entries) this.#checker.observe(e);
    writeSync(this.#fd, `${entries.map((e) => JSON.stringify(e)).join("\n")}\n`);
    this.#written += entries.length;
  }
}
