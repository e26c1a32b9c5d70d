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
  /** The actual must stay strictly below `max` (k6's `p(95)<300`); by default it may equal it. */
  strict?: boolean;
}

/**
 * A scenario's SLO: a list of checks (above), or k6's threshold syntax keyed by metric, or both:
 * `{ "thresholds": { "clearance": ["p(95)<300", "p(99)<300"], "counts.lost": ["count==0"] }, "checks": [...] }`.
 * Thresholds become checks (`p(95)<300` on clearance is `latencyMs.clearance.p95 < 300`), so reports, junit.xml
 * and summary.md show them like any other.
 */
export type SloSpec = SloCheckSpec[] | { thresholds?: Record<string, unknown>; checks?: SloCheckSpec[] };

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
  const problems = checkProblems(checks, "slo", latencyMetrics, countNames);
  if (problems.length) throw new BadInputError("invalid SLO", problems, sloHint(latencyMetrics, countNames));
}

const sloHint = (latencyMetrics: readonly string[], countNames: readonly string[]): string =>
  `checks: latencyMs.<${latencyMetrics.join("|")}>.<p50|p95|p99|p999|max> or counts.<${countNames.join("|")}>; thresholds: { "<${latencyMetrics.join("|")}>": ["p(95)<300", "max<=1000"], "counts.<name>": ["count==0"] }`;

function checkProblems(checks: readonly SloCheckSpec[], path: string, latencyMetrics: readonly string[], countNames: readonly string[]): string[] {
  const problems: string[] = [];
  checks.forEach((c, i) => {
    const [root, a, b, ...rest] = String(c.metric).split(".");
    const ok =
      (root === "latencyMs" && a !== undefined && latencyMetrics.includes(a) && b !== undefined && LATENCY_FIELDS.has(b) && rest.length === 0) ||
      (root === "counts" && a !== undefined && countNames.includes(a) && b === undefined);
    if (!ok) problems.push(`${path}[${i}].metric: "${c.metric}" is not a result metric`);
    if (!Number.isFinite(c.max)) problems.push(`${path}[${i}].max: must be a number`);
  });
  return problems;
}

/**
 * Resolves a scenario's SLO (either form) into checks, strictly: unknown keys, malformed thresholds and unknown
 * metrics are all reported at once, each with its path and what would be accepted.
 */
export function parseSlo(raw: unknown, latencyMetrics: readonly string[], countNames: readonly string[]): SloCheckSpec[] {
  if (Array.isArray(raw)) {
    validateSlo(raw as SloCheckSpec[], latencyMetrics, countNames);
    return raw as SloCheckSpec[];
  }
  const problems: string[] = [];
  if (typeof raw !== "object" || raw === null) throw new BadInputError("invalid SLO", [`slo: expected a list of checks or { "thresholds": {...} }, got ${JSON.stringify(raw)}`], sloHint(latencyMetrics, countNames));
  const o = raw as Record<string, unknown>;
  for (const k of Object.keys(o)) if (k !== "thresholds" && k !== "checks") problems.push(`slo.${k}: unknown key (expected thresholds, checks)`);
  const checks: SloCheckSpec[] = [];
  if (o.checks !== undefined) {
    if (Array.isArray(o.checks)) {
      problems.push(...checkProblems(o.checks as SloCheckSpec[], "slo.checks", latencyMetrics, countNames));
      checks.push(...(o.checks as SloCheckSpec[]));
    } else problems.push("slo.checks: expected a list of { metric, max }");
  }
  if (o.thresholds !== undefined) checks.push(...parseThresholds(o.thresholds, latencyMetrics, countNames, problems));
  if (!problems.length && !checks.length) problems.push("slo: no thresholds and no checks (leave slo out for the default)");
  if (problems.length) throw new BadInputError("invalid SLO", problems, sloHint(latencyMetrics, countNames));
  return checks;
}

/** k6 aggregations the lab records per latency metric, and the result field each reads. */
const LATENCY_AGGREGATIONS: Record<string, string> = { "p(50)": "p50", med: "p50", "p(95)": "p95", "p(99)": "p99", "p(99.9)": "p999", max: "max" };

const THRESHOLD = /^\s*([a-z][a-z0-9.]*(?:\(\s*[\d.]+\s*\))?)\s*(<=|<|===|==|>=|>|!=)\s*(\S+)\s*$/;

function parseThresholds(raw: unknown, latencyMetrics: readonly string[], countNames: readonly string[], problems: string[]): SloCheckSpec[] {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    problems.push(`slo.thresholds: expected an object of metric -> ["expression", ...], e.g. { "clearance": ["p(95)<300"] }`);
    return [];
  }
  const out: SloCheckSpec[] = [];
  for (const [key, list] of Object.entries(raw)) {
    const path = `slo.thresholds.${key}`;
    const isCount = key.startsWith("counts.") && countNames.includes(key.slice(7));
    if (!isCount && !latencyMetrics.includes(key)) {
      problems.push(`${path}: unknown metric "${key}" (latency: ${latencyMetrics.join(", ")}; counts: ${countNames.map((c) => `counts.${c}`).join(", ")})`);
      continue;
    }
    if (!Array.isArray(list)) {
      problems.push(`${path}: expected a list of expressions, e.g. ["${isCount ? "count==0" : "p(95)<300"}"]`);
      continue;
    }
    list.forEach((expr, i) => {
      const c = parseThreshold(expr, key, isCount, `${path}[${i}]`, problems);
      if (c) out.push(c);
    });
  }
  return out;
}

/** One k6 expression on one metric, e.g. `p(99)<300` on clearance or `count==0` on counts.lost. */
function parseThreshold(expr: unknown, key: string, isCount: boolean, path: string, problems: string[]): SloCheckSpec | undefined {
  if (typeof expr !== "string") {
    problems.push(`${path}: ${JSON.stringify(expr)} is not an expression string (k6's object form with abortOnFail is not supported)`);
    return undefined;
  }
  const m = THRESHOLD.exec(expr);
  if (!m) {
    problems.push(`${path}: "${expr}" is not <aggregation><operator><number>, e.g. ${isCount ? '"count==0"' : '"p(95)<300"'}`);
    return undefined;
  }
  const [, rawAgg, op, rawValue] = m as unknown as [string, string, string, string];
  const agg = rawAgg.replace(/\s+/g, "");
  const value = Number(rawValue);
  const bad = (why: string) => void problems.push(`${path}: "${expr}": ${why}`);
  const field = isCount ? (agg === "count" ? "" : undefined) : LATENCY_AGGREGATIONS[agg];
  if (field === undefined)
    return bad(isCount ? `a count takes "count", not "${agg}"` : `"${agg}" is not recorded per run; use ${Object.keys(LATENCY_AGGREGATIONS).join(", ")}`);
  if (!Number.isFinite(value) || value < 0) return bad(`"${rawValue}" is not a number >= 0${isCount ? "" : " (milliseconds)"}`);
  if (op === ">" || op === ">=" || op === "!=") return bad(`an SLO check is an upper limit (the figure must not exceed it); use < or <=`);
  if ((op === "==" || op === "===") && !(isCount && value === 0)) return bad("== is only taken as count==0 (a count is never below 0); use < or <=");
  const metric = isCount ? key : `latencyMs.${key}.${field}`;
  return op === "<" ? { metric, max: value, strict: true } : { metric, max: value };
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
    const name = `${c.metric} ${c.strict ? "<" : "<="} ${c.max}`;
    return { name, limit: c.max, actual, passed: actual !== null && (c.strict ? actual < c.max : actual <= c.max) };
  });
  return { passed: out.every((c) => c.passed), checks: out };
}
