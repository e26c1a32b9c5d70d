import type { LedgerEntry } from "../generators/ledger.ts";
import type { SvidRenewal } from "../topology/spire/watch.ts";
import { HIGHEST_US, type LatencySummary, newHistogram, summarize } from "./hdr.ts";

/** Workloads whose clients carry the clearance flow: their renewals re-make a producer or a consumer. */
export const FLOW_WORKLOADS = ["ato-tax-service", "ato-tax-engine", "centrelink-engine"];

export interface WindowFigures {
  requests: number;
  completed: number;
  /** Acknowledged, never completed. */
  lost: number;
  /** Final produce errors. */
  errors: number;
  latencyMs: LatencySummary;
}

/** What SVID rotation did to the flow: requests intended close to a renewal of a flow workload against the rest. */
export interface RotationLatency {
  /** Renewals of flow workloads inside the measured window. */
  renewals: number;
  /** A request is near a renewal when intended from 1 s before it (the watch sees a file up to 1 s late) to `windowMs` after. */
  windowMs: number;
  near: WindowFigures;
  away: WindowFigures;
}

/**
 * Splits the measured requests (intended from `fromMs` on) by whether they were intended near a renewal of a flow
 * workload, and summarises each side (first completion, from the intended time, as every latency in the lab).
 */
export function rotationLatency(
  entries: readonly LedgerEntry[],
  renewals: readonly SvidRenewal[],
  toRunMs: (us: number) => number,
  o: { fromMs: number; windowMs?: number },
): RotationLatency {
  const windowMs = o.windowMs ?? 5_000;
  const times = renewals.filter((r) => FLOW_WORKLOADS.includes(r.workload) && r.atMs >= o.fromMs).map((r) => r.atMs);
  const near = (atMs: number) => times.some((t) => atMs >= t - 1_000 && atMs < t + windowMs);
  const sides = { near: tally(), away: tally() };
  for (const e of entries) {
    const at = toRunMs(e.intendedUs);
    if (at >= o.fromMs) add(near(at) ? sides.near : sides.away, e);
  }
  return { renewals: times.length, windowMs, near: figures(sides.near), away: figures(sides.away) };
}

const tally = () => ({ requests: 0, completed: 0, lost: 0, errors: 0, h: newHistogram() });

function add(t: ReturnType<typeof tally>, e: LedgerEntry): void {
  t.requests++;
  if (e.error !== undefined) t.errors++;
  const done = e.completedUs[0];
  if (done === undefined) {
    if (e.ackedUs !== undefined) t.lost++;
    return;
  }
  t.completed++;
  t.h.recordValue(Math.min(Math.max(Math.round(done - e.intendedUs), 1), HIGHEST_US));
}

const figures = ({ h, ...counts }: ReturnType<typeof tally>): WindowFigures => ({ ...counts, latencyMs: summarize(h) });

/** The rotation table of report.html and summary.md: requests near a renewal against the rest. */
export const ROTATION_COLUMNS = ["requests intended", "count", "completed", "errors", "lost", "p50 (ms)", "p99 (ms)", "max (ms)"];

export function rotationRows(r: RotationLatency): string[][] {
  const row = (label: string, w: WindowFigures) => [label, w.requests, w.completed, w.errors, w.lost, w.latencyMs.p50, w.latencyMs.p99, w.latencyMs.max].map(String);
  return [row(`near an SVID renewal (-1 s..+${r.windowMs / 1000} s)`, r.near), row("otherwise", r.away)];
}
