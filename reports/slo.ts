import { BadInputError } from "../lab/errors.ts";
import type { Counts } from "./checker.ts";
import type { LatencySummary } from "./hdr.ts";

/**
 * One SLO check: a metric path and a limit the actual value must not exceed, e.g.
 * `{ "metric": "latencyMs.clearance.p99", "max": 300 }` or `{ "metric": "counts.lost", "max": 0 }`.
 */
export interface SloCheckSpec {
  metric: string;
  max: number;
}

export interface SloCheck {
  name: string;
  limit: number;
  actual: number | null;
  passed: boolean;
}

export interface SloResult {
  passed: boolean;
  checks: SloCheck[];
}

/** The mission's SLO: clearance p95 and p99 within 300 ms, and nothing acknowledged lost. */
export const DEFAULT_SLO: SloCheckSpec[] = [
  { metric: "latencyMs.clearance.p95", max: 300 },
  { metric: "latencyMs.clearance.p99", max: 300 },
  { metric: "counts.lost", max: 0 },
];

const LATENCY_FIELDS = new Set(["count", "p50", "p95", "p99", "p999", "max"]);

/** Checks that every metric path names something a result has; lists every bad one. */
export function validateSlo(checks: SloCheckSpec[], latencyMetrics: readonly string[], countNames: readonly string[]): void {
  const problems: string[] = [];
  checks.forEach((c, i) => {
    const [root, a, b, ...rest] = c.metric.split(".");
    const ok =
      (root === "latencyMs" && a !== undefined && latencyMetrics.includes(a) && b !== undefined && LATENCY_FIELDS.has(b) && rest.length === 0) ||
      (root === "counts" && a !== undefined && countNames.includes(a) && b === undefined);
    if (!ok) problems.push(`slo[${i}].metric: "${c.metric}" is not a result metric`);
    if (!Number.isFinite(c.max)) problems.push(`slo[${i}].max: must be a number`);
  });
  if (problems.length)
    throw new BadInputError("invalid SLO", problems, `use latencyMs.<${latencyMetrics.join("|")}>.<p50|p95|p99|p999|max> or counts.<${countNames.join("|")}>`);
}

/** Evaluates SLO checks against measured figures. A metric with no data (no samples) fails: nothing was shown. */
export function evaluateSlo(checks: SloCheckSpec[], figures: { latencyMs: Record<string, LatencySummary>; counts: Counts }): SloResult {
  const out = checks.map((c): SloCheck => {
    const [root, a, b] = c.metric.split(".") as [string, string, string | undefined];
    let actual: number | null = null;
    if (root === "latencyMs") {
      const s = figures.latencyMs[a];
      actual = s && s.count > 0 ? (s[b as keyof LatencySummary] ?? null) : null;
    } else if (root === "counts") actual = figures.counts[a as keyof Counts] ?? null;
    const name = `${c.metric} <= ${c.max}`;
    return { name, limit: c.max, actual, passed: actual !== null && actual <= c.max };
  });
  return { passed: out.every((c) => c.passed), checks: out };
}
