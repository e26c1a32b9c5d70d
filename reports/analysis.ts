import { type DriftFit, fitDrift } from "./drift.ts";
import { blockPercentiles, everyBlock, scratchCounts } from "./hlog.ts";
import type { MetricData, RunData } from "./run-data.ts";

/** The percentiles every report and comparison shows. */
export const REPORT_PERCENTILES = [50, 90, 99, 99.9, 99.99] as const;

export const pctLabel = (p: number): string => `p${String(p).replace(".", "")}`;
export const pctName = (p: number): string => `${p} %`;

/** The metric a run is judged by: the clearance round trip when present, else the first one recorded. */
export function primaryMetric(run: RunData): MetricData | undefined {
  return run.metrics.clearance ?? Object.values(run.metrics)[0];
}

/** Exact percentiles (ms) of one scope ("all" or a phase name) of a metric, from its blocks. */
export function scopePercentiles(m: MetricData, scope: string): { count: number; values: Record<string, number>; max: number } | undefined {
  const blocks = m.blocks[scope];
  if (!blocks?.length) return undefined;
  const count = blocks.reduce((n, b) => n + b.total, 0);
  const v = blockPercentiles(blocks, everyBlock(blocks), [...REPORT_PERCENTILES, 100], scratchCounts());
  const values: Record<string, number> = {};
  REPORT_PERCENTILES.forEach((p, i) => {
    values[pctLabel(p)] = v[i] as number;
  });
  return { count, values, max: v[REPORT_PERCENTILES.length] as number };
}

/** Below this much measured time a trend says nothing (one GC pause tilts the line), so no drift is fitted. */
export const DRIFT_MIN_SPAN_MS = 10 * 60_000;

/**
 * Trends a soak cares about: p99 of the primary metric, and consumer lag (or, without lag samples, the backlog).
 * Empty for runs shorter than DRIFT_MIN_SPAN_MS.
 */
export function runDrifts(run: RunData): DriftFit[] {
  const out: DriftFit[] = [];
  const m0 = primaryMetric(run);
  const span = m0?.intervals.length ? (m0.intervals[m0.intervals.length - 1]?.endMs ?? 0) - (m0.intervals[0]?.startMs ?? 0) : 0;
  if (span < DRIFT_MIN_SPAN_MS) return out;
  const m = primaryMetric(run);
  if (m) out.push(fitDrift(`${m.name} p99`, "ms", m.intervals.filter((i) => i.count > 0).map((i) => [(i.startMs + i.endMs) / 2, i.p99])));
  if (run.lag.length) {
    const byT = new Map<number, number>();
    for (const s of run.lag) byT.set(s.tMs, (byT.get(s.tMs) ?? 0) + s.lag);
    out.push(fitDrift("consumer lag", "records", [...byT].sort((a, b) => a[0] - b[0])));
  } else if (run.throughput.length) {
    const from = run.result.trafficStartMs ?? 0;
    out.push(fitDrift("backlog (acked, not completed)", "requests", run.throughput.filter((b) => b.tMs >= from).map((b) => [b.tMs, b.backlog])));
  }
  return out;
}
