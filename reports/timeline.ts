import type { LedgerEntry } from "../generators/ledger.ts";
import { HIGHEST_US, type LatencySummary, newHistogram, summarize } from "./hdr.ts";

/** A named stretch of a run (before, during and after a failover ...); times in run milliseconds. */
export interface Phase {
  name: string;
  startMs: number;
  endMs: number;
}

export interface PhaseResult extends Phase {
  /** Requests intended within the phase. */
  requests: number;
  completed: number;
  /** Acknowledged within the phase's requests but never completed. */
  lost: number;
  latencyMs: { clearance: LatencySummary };
  /** MirrorMaker 2 replication lag per flow, of the probes sent within the phase. */
  replicationLagMs?: Record<string, LatencySummary>;
}

/** Closes a list of phase starts into phases: each ends where the next begins, the last at `endMs`. */
export function closePhases(starts: { name: string; startMs: number }[], endMs: number): Phase[] {
  const sorted = [...starts].sort((a, b) => a.startMs - b.startMs);
  return sorted.map((p, i) => ({ name: p.name, startMs: p.startMs, endMs: sorted[i + 1]?.startMs ?? Math.max(endMs, p.startMs) }));
}

/**
 * Clearance latency per phase, by the time each request was intended (coordinated omission stays corrected: a
 * request intended in a blackout counts there, however late it completes). Uses the first completion.
 */
export function phaseResults(
  entries: readonly LedgerEntry[],
  phases: Phase[],
  toRunMs: (us: number) => number,
  lag?: readonly { flow: string; atMs: number; lagMs: number }[],
): PhaseResult[] {
  return phases.map((p) => {
    const h = newHistogram();
    let requests = 0;
    let completed = 0;
    let lost = 0;
    for (const e of entries) {
      const at = toRunMs(e.intendedUs);
      if (at < p.startMs || at >= p.endMs) continue;
      requests++;
      const done = e.completedUs[0];
      if (done === undefined) {
        if (e.ackedUs !== undefined) lost++;
        continue;
      }
      completed++;
      h.recordValue(Math.min(Math.max(Math.round(done - e.intendedUs), 1), HIGHEST_US));
    }
    const phaseLag = lag?.filter((l) => l.atMs >= p.startMs && l.atMs < p.endMs);
    return { ...p, requests, completed, lost, latencyMs: { clearance: summarize(h) }, ...(phaseLag ? { replicationLagMs: lagSummary(phaseLag) } : {}) };
  });
}

/** Replication lag per flow, from the probe samples (ms). */
export function lagSummary(samples: readonly { flow: string; lagMs: number }[]): Record<string, LatencySummary> {
  const byFlow = new Map<string, ReturnType<typeof newHistogram>>();
  for (const s of samples) {
    const h = byFlow.get(s.flow) ?? newHistogram();
    byFlow.set(s.flow, h);
    h.recordValue(Math.min(Math.max(Math.round(s.lagMs * 1000), 1), HIGHEST_US));
  }
  return Object.fromEntries([...byFlow].sort(([a], [b]) => a.localeCompare(b)).map(([f, h]) => [f, summarize(h)]));
}
