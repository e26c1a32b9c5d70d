import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { LedgerEntry } from "../generators/ledger.ts";
import { EVIDENCE_LIMIT } from "./checker.ts";

/** Recovery time after a region is lost, from the recorded history (run milliseconds). */
export interface Recovery {
  /** From the kill until the first request intended after it completed (null: none did). */
  firstCompletionMs: number | null;
  /**
   * From the kill until clearance latency was back within the SLO: the start of the first 1 s window (by intended
   * time) from which `stableWindows` windows in a row all have a p99 within the limit (null: it never was).
   */
  withinSloMs: number | null;
  /** The windows after the kill: intended-time start, requests, p99 (ms; null when one of them never completed). */
  windows: { startMs: number; requests: number; p99Ms: number | null }[];
}

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;

export function recovery(
  entries: readonly LedgerEntry[],
  killMs: number,
  toRunMs: (us: number) => number,
  opts: { sloMs: number; windowMs?: number; stableWindows?: number; untilMs?: number },
): Recovery {
  const windowMs = opts.windowMs ?? 1000;
  const stable = opts.stableWindows ?? 5;
  let firstCompletionMs: number | null = null;
  const buckets = new Map<number, number[]>();
  for (const e of entries) {
    const intended = toRunMs(e.intendedUs);
    if (intended < killMs || (opts.untilMs !== undefined && intended >= opts.untilMs)) continue;
    const done = e.completedUs[0];
    if (done !== undefined) {
      const at = toRunMs(done) - killMs;
      if (firstCompletionMs === null || at < firstCompletionMs) firstCompletionMs = at;
    }
    const b = Math.floor((intended - killMs) / windowMs);
    const list = buckets.get(b) ?? [];
    list.push(done === undefined ? Number.POSITIVE_INFINITY : (done - e.intendedUs) / 1000);
    buckets.set(b, list);
  }
  const last = Math.max(-1, ...buckets.keys());
  const windows: Recovery["windows"] = [];
  for (let b = 0; b <= last; b++) {
    const list = (buckets.get(b) ?? []).sort((x, y) => x - y);
    const p99 = list.length ? percentile(list, 99) : null;
    windows.push({ startMs: killMs + b * windowMs, requests: list.length, p99Ms: p99 === null || !Number.isFinite(p99) ? null : Math.round(p99 * 10) / 10 });
  }
  const ok = (w: Recovery["windows"][number] | undefined) => !!w && w.requests > 0 && w.p99Ms !== null && w.p99Ms <= opts.sloMs;
  let withinSloMs: number | null = null;
  for (let b = 0; b < windows.length; b++) {
    const run = windows.slice(b, b + stable);
    // Near the end of the load fewer windows remain; all of them must be good, and at least one.
    if (run.length > 0 && run.every(ok) && (run.length === stable || b + run.length === windows.length)) {
      withinSloMs = b * windowMs;
      break;
    }
  }
  return { firstCompletionMs, withinSloMs, windows };
}

/** What the lost region still held: acknowledged there, not yet replicated when it went. */
export interface RecoveryPoint {
  /** Acknowledged by the lost region before the kill. */
  ackedBeforeKill: number;
  /** Of those, not replicated to the other region at failover. */
  stranded: number;
  /** Stranded and processed once the region was back (after failback started). */
  strandedProcessedAfterFailback: number;
  /** Stranded and never processed, after the final drain. */
  strandedLost: number;
  /** Sent to the lost region, unacknowledged at the kill, and sent again to the other region. */
  resent: number;
  evidence: { stranded: string[]; strandedLost: string[] };
}

export function recoveryPoint(
  entries: readonly LedgerEntry[],
  opts: { region: string; killUs: number; failbackUs: number | null; replicated: ReadonlySet<string> },
): RecoveryPoint {
  const r: RecoveryPoint = { ackedBeforeKill: 0, stranded: 0, strandedProcessedAfterFailback: 0, strandedLost: 0, resent: 0, evidence: { stranded: [], strandedLost: [] } };
  for (const e of entries) {
    if (e.resent) r.resent++;
    if (e.ackedIn !== opts.region || e.ackedUs === undefined || e.ackedUs >= opts.killUs) continue;
    r.ackedBeforeKill++;
    if (opts.replicated.has(e.eventId)) continue;
    r.stranded++;
    if (r.evidence.stranded.length < EVIDENCE_LIMIT) r.evidence.stranded.push(e.eventId);
    const done = e.completedUs[0];
    if (done === undefined) {
      r.strandedLost++;
      if (r.evidence.strandedLost.length < EVIDENCE_LIMIT) r.evidence.strandedLost.push(e.eventId);
    } else if (opts.failbackUs !== null && done >= opts.failbackUs) r.strandedProcessedAfterFailback++;
  }
  return r;
}

/** Duplicates after the failover: copies the idempotent consumers dropped, and completions the tax engine saw twice. */
export function duplicatesAfter(
  entries: readonly LedgerEntry[],
  droppedAtMs: readonly number[],
  killMs: number,
  toRunMs: (us: number) => number,
): { droppedByIdempotentConsumer: number; repeatedCompletions: number; reachedBusinessLogic: number } {
  let repeatedCompletions = 0;
  let reachedBusinessLogic = 0;
  for (const e of entries) {
    repeatedCompletions += e.completedUs.slice(1).filter((us) => toRunMs(us) >= killMs).length;
    if (new Set(e.processingIds ?? []).size > 1) reachedBusinessLogic++;
  }
  return { droppedByIdempotentConsumer: droppedAtMs.filter((t) => t >= killMs).length, repeatedCompletions, reachedBusinessLogic };
}

/** Times (run ms) of one engine event (e.g. `duplicate-dropped`) across every Centrelink engine log of a run. */
export function engineEventTimes(runDir: string, event: string, startedAtEpochMs: number): number[] {
  const out: number[] = [];
  for (const f of readdirSync(runDir).filter((x) => /^centrelink-.*\.log$/.test(x))) {
    for (const line of readFileSync(join(runDir, f), "utf8").split("\n")) {
      if (!line.includes(`"event":"${event}"`)) continue;
      try {
        out.push(Date.parse((JSON.parse(line) as { t: string }).t) - startedAtEpochMs);
      } catch {}
    }
  }
  return out.sort((a, b) => a - b);
}
