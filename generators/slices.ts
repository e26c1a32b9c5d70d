/**
 * Several generator workers share one open-model schedule: worker k of n owns requests k, k+n, k+2n ... (an
 * interleaved slice), so each offers 1/n of the rate at every moment of any profile, and the union of the slices
 * is the schedule, each request exactly once. Each worker keeps its own ledger and interval log on its own clock;
 * `mergeSlices` puts the ledgers back together by sequence number and proves nothing was lost or counted twice.
 */
import type { LedgerEntry } from "./ledger.ts";
import type { Schedule } from "./schedule.ts";

/** One worker's share of a schedule of `total` requests. */
export class ScheduleSlice {
  readonly schedule: Schedule;
  readonly total: number;
  readonly workers: number;
  readonly index: number;

  constructor(schedule: Schedule, total: number, workers: number, index: number) {
    if (!Number.isInteger(workers) || workers < 1) throw new RangeError(`workers: expected an integer >= 1, got ${workers}`);
    if (!Number.isInteger(index) || index < 0 || index >= workers) throw new RangeError(`worker index ${index}: expected 0..${workers - 1}`);
    this.schedule = schedule;
    this.total = total;
    this.workers = workers;
    this.index = index;
  }

  /** Requests this worker owns. */
  get count(): number {
    return this.total > this.index ? Math.floor((this.total - this.index - 1) / this.workers) + 1 : 0;
  }

  /** The schedule's sequence number of this worker's j-th request. */
  seqAt(j: number): number {
    return this.index + j * this.workers;
  }

  /** Intended time (ms from the start of load) of this worker's j-th request: the schedule's, unchanged. */
  intendedAtMs(j: number): number {
    return this.schedule.intendedAtMs(this.seqAt(j));
  }
}

/** The ledgers of all workers as one, in sequence order, with what the merge found wrong (both empty when exact). */
export interface MergedLedger {
  entries: LedgerEntry[];
  /** Sequence numbers of the schedule no worker recorded. */
  missing: number[];
  /** Sequence numbers recorded more than once (by one worker or by several). */
  doubled: number[];
  /** Event ids used by more than one request. */
  duplicateEventIds: string[];
}

/** Merges per-worker ledgers of a schedule of `total` requests (seq 0 .. total-1). */
export function mergeSlices(parts: readonly (readonly LedgerEntry[])[], total: number): MergedLedger {
  const bySeq: (LedgerEntry | undefined)[] = new Array(total);
  const doubled: number[] = [];
  const ids = new Set<string>();
  const duplicateEventIds: string[] = [];
  for (const part of parts)
    for (const e of part) {
      if (e.seq < 0 || e.seq >= total || bySeq[e.seq] !== undefined) doubled.push(e.seq);
      else bySeq[e.seq] = e;
      if (ids.has(e.eventId)) duplicateEventIds.push(e.eventId);
      ids.add(e.eventId);
    }
  const missing: number[] = [];
  const entries: LedgerEntry[] = [];
  for (let i = 0; i < total; i++) {
    const e = bySeq[i];
    if (e) entries.push(e);
    else missing.push(i);
  }
  return { entries, missing, doubled, duplicateEventIds };
}
