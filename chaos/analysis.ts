import { existsSync, readFileSync } from "node:fs";
import type { LedgerEntry } from "../generators/ledger.ts";
import { type AssignmentEvent, type Available, type Consumption, type Rebalance, rebalancesOf, type Stall, stallsOf, type WindowLatency, windowLatency } from "./history.ts";
import type { FaultRecord } from "./schedule.ts";
import { type StepFigures, upgradeStepFigures } from "./upgrade.ts";

/** What the consumer group went through in a run with faults; all times in ms relative to the run's `startedAt`. */
export interface GroupAnalysis {
  rebalances: Rebalance[];
  stalls: Stall[];
  longestStallMs: number;
  /** Clearance latency (first completion minus intended send time) of the requests intended before, during and after the faults. */
  clearanceMs: { before: WindowLatency; during: WindowLatency; after: WindowLatency };
  window: { faultStartMs: number | null; faultEndMs: number | null };
}

/** Reads the engines' NDJSON histories, moving epoch ms onto the run's clock. Torn last lines (a kill) are skipped. */
export function readEngineHistory(files: readonly string[], startedAtEpochMs: number): { assignments: AssignmentEvent[]; consumed: Consumption[] } {
  const assignments: AssignmentEvent[] = [];
  const consumed: Consumption[] = [];
  for (const f of files) {
    if (!existsSync(f)) continue;
    const instance = /([^/]+)\.events\.ndjson$/.exec(f)?.[1] ?? f;
    for (const line of readFileSync(f, "utf8").split("\n")) {
      if (!line) continue;
      let e: { ms: number; type: string; p?: number; o?: number; partitions?: number[]; lost?: boolean };
      try {
        e = JSON.parse(line);
      } catch {
        continue;
      }
      const atMs = e.ms - startedAtEpochMs;
      if (e.type === "consumed" && e.p !== undefined && e.o !== undefined) consumed.push({ partition: e.p, offset: e.o, atMs });
      else if (e.type === "assigned" || e.type === "revoked") assignments.push({ atMs, instance, type: e.type, partitions: e.partitions ?? [], ...(e.lost ? { lost: true } : {}) });
    }
  }
  return { assignments, consumed };
}

/**
 * Rebalances, per-partition stalls and windowed clearance latency of a run. `usToRunMs` maps the ledger's
 * monotonic µs onto the run's clock; `endMs` is when observation ended (after the drain).
 */
export function analyseGroup(opts: {
  entries: readonly LedgerEntry[];
  engines: { assignments: AssignmentEvent[]; consumed: Consumption[] };
  partitions: number;
  usToRunMs: (us: number) => number;
  faults: readonly FaultRecord[];
  endMs: number;
  /** Requests intended before this (the warm-up) are left out of the latency windows, as out of the histograms. */
  measureFromMs?: number;
}): GroupAnalysis {
  const { entries, engines, partitions, usToRunMs, faults, endMs } = opts;
  const measureFromMs = opts.measureFromMs ?? Number.NEGATIVE_INFINITY;
  const available: Available[] = [];
  for (const e of entries)
    if (e.ackedUs !== undefined && e.partition !== undefined && e.offset !== undefined) available.push({ partition: e.partition, offset: Number(e.offset), atMs: usToRunMs(e.ackedUs) });
  const stalls = stallsOf(available, engines.consumed, partitions, endMs);
  const injected = faults.filter((f) => f.outcome !== "not-injected" && !f.outcome.startsWith("inject-failed"));
  const faultStartMs = injected.length ? Math.min(...injected.map((f) => f.startMs)) : null;
  const faultEndMs = injected.length ? Math.max(...injected.map((f) => f.endMs ?? endMs)) : null;
  const buckets: Record<"before" | "during" | "after", number[]> = { before: [], during: [], after: [] };
  for (const e of entries) {
    const first = e.completedUs[0];
    if (first === undefined) continue;
    const at = usToRunMs(e.intendedUs);
    if (at < measureFromMs) continue;
    const b = faultStartMs === null || at < faultStartMs ? "before" : faultEndMs !== null && at >= faultEndMs ? "after" : "during";
    buckets[b].push((first - e.intendedUs) / 1000);
  }
  return {
    rebalances: rebalancesOf(engines.assignments, partitions),
    stalls,
    longestStallMs: Math.round(Math.max(0, ...stalls.map((s) => s.longestMs))),
    clearanceMs: { before: windowLatency(buckets.before), during: windowLatency(buckets.during), after: windowLatency(buckets.after) },
    window: { faultStartMs, faultEndMs },
  };
}

/** What happened to the requests intended while one fault lasted (from injection to the end of its heal). */
export interface FaultRequests {
  intended: number;
  /** Failed at the source: never reached Kafka (e.g. the tax service could not sign, having no valid SVID). */
  failed: number;
  completed: number;
}

/**
 * Each fault of the timeline with the requests intended during it (and, for a rolling upgrade, what they saw during
 * each node's turn); `usToRunMs` maps ledger µs onto the run's clock.
 */
export function withRequests(
  faults: FaultRecord[],
  entries: readonly LedgerEntry[],
  usToRunMs: (us: number) => number,
): (FaultRecord & { requests: FaultRequests; upgradeSteps?: StepFigures[] })[] {
  return faults.map((f) => {
    const requests: FaultRequests = { intended: 0, failed: 0, completed: 0 };
    const end = f.endMs ?? Number.POSITIVE_INFINITY;
    for (const e of entries) {
      const at = usToRunMs(e.intendedUs);
      if (at < f.startMs || at > end) continue;
      requests.intended++;
      if (e.error !== undefined) requests.failed++;
      else if (e.completedUs.length) requests.completed++;
    }
    return { ...f, requests, ...(f.kind === "rolling-upgrade" ? { upgradeSteps: upgradeStepFigures(f, entries, usToRunMs) } : {}) };
  });
}
