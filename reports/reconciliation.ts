import type { LedgerEntry } from "../generators/ledger.ts";

/** Exact percentiles of a small sample, in ms (the reconciliation lags of a run). */
export interface LagSummary {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** The consumer-timeout row's figures in result.json (`reconciliation`), from the ledger alone. */
export interface ReconciliationResult {
  budgetMs: number;
  /** Requests the ATO tax engine decided, by how. `finalLate`: final, but the response came after the budget (a late timer). */
  decided: number;
  final: number;
  finalLate: number;
  provisional: number;
  /** Past the budget with a cold cache: no provisional outcome, nothing released. */
  pending: number;
  /** (provisional + pending) / decided. */
  provisionalShare: number;
  /** Provisional and pending decisions settled by their response, and those never settled. */
  reconciled: number;
  unreconciled: number;
  /** From the provisional (or pending) decision to the response that settled it. */
  lagMs: LagSummary;
  /** Provisional outcomes the final one contradicted; the rate is over every decision. */
  discrepancies: number;
  discrepancyRate: number;
  discrepancyRatePpm: number;
  /** Every discrepancy's event id, and every unreconciled one's. */
  discrepancyEventIds: string[];
  unreconciledEventIds: string[];
  /** Acknowledged requests with no decision at all (the engine never decided: a defect). */
  undecided: number;
  /**
   * Decisions of requests sent while a slow-dependency fault was active, and of the others: how many, and how many
   * were made past the budget (provisional or pending). Present when the run had such a fault.
   */
  bySlowDependency?: { during: { decided: number; pastBudget: number }; outside: { decided: number; pastBudget: number } };
}

/** Counts the row adds to result.json's `counts`, which SLO checks may name. */
export const RECONCILIATION_COUNTS = ["provisional", "pendingDecisions", "discrepancies", "discrepancyRatePpm", "unreconciled", "undecided"] as const;

function exactSummary(values: number[]): LagSummary {
  if (!values.length) return { count: 0, p50: 0, p95: 0, p99: 0, max: 0 };
  const s = [...values].sort((a, b) => a - b);
  const at = (p: number) => s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? 0;
  const r = (v: number) => Math.round(v * 1000) / 1000;
  return { count: s.length, p50: r(at(50)), p95: r(at(95)), p99: r(at(99)), max: r(s[s.length - 1] ?? 0) };
}

function splitByWindows(decided: readonly LedgerEntry[], windows: readonly { fromUs: number; toUs: number }[]): NonNullable<ReconciliationResult["bySlowDependency"]> {
  const inside = (e: LedgerEntry) => e.sentUs !== undefined && windows.some((w) => (e.sentUs as number) >= w.fromUs && (e.sentUs as number) < w.toUs);
  const tally = (list: LedgerEntry[]) => ({ decided: list.length, pastBudget: list.filter((e) => e.decision !== "final").length });
  return { during: tally(decided.filter(inside)), outside: tally(decided.filter((e) => !inside(e))) };
}

/** The figures of a run with a decision budget, pure over its ledger. */
export function reconciliationFigures(
  entries: readonly LedgerEntry[],
  budgetMs: number,
  /** The slow-dependency faults' windows, on the ledger's clock (µs). */
  slowWindowsUs: readonly { fromUs: number; toUs: number }[] = [],
): { result: ReconciliationResult; counts: Record<(typeof RECONCILIATION_COUNTS)[number], number> } {
  const decided = entries.filter((e) => e.decision !== undefined);
  const by = (k: string) => decided.filter((e) => e.decision === k);
  const late = by("final").filter((e) => e.sentUs !== undefined && e.decidedUs !== undefined && e.decidedUs - e.sentUs > budgetMs * 1000);
  const early = decided.filter((e) => e.decision !== "final");
  const settled = early.filter((e) => e.completedUs.length > 0);
  const unsettled = early.filter((e) => e.completedUs.length === 0);
  const discrepant = settled.filter((e) => e.discrepancy);
  const lags = settled.map((e) => ((e.completedUs[0] ?? 0) - (e.decidedUs ?? 0)) / 1000);
  const rate = decided.length ? discrepant.length / decided.length : 0;
  const result: ReconciliationResult = {
    budgetMs,
    decided: decided.length,
    final: by("final").length,
    finalLate: late.length,
    provisional: by("provisional").length,
    pending: by("pending").length,
    provisionalShare: decided.length ? early.length / decided.length : 0,
    reconciled: settled.length,
    unreconciled: unsettled.length,
    lagMs: exactSummary(lags),
    discrepancies: discrepant.length,
    discrepancyRate: rate,
    discrepancyRatePpm: rate * 1e6,
    discrepancyEventIds: discrepant.map((e) => e.eventId),
    unreconciledEventIds: unsettled.map((e) => e.eventId),
    undecided: entries.filter((e) => e.ackedUs !== undefined && e.decision === undefined).length,
    ...(slowWindowsUs.length ? { bySlowDependency: splitByWindows(decided, slowWindowsUs) } : {}),
  };
  return {
    result,
    counts: {
      provisional: result.provisional,
      pendingDecisions: result.pending,
      discrepancies: result.discrepancies,
      discrepancyRatePpm: result.discrepancyRatePpm,
      unreconciled: result.unreconciled,
      undecided: result.undecided,
    },
  };
}

/** The figures as the reports lay them out (HTML, Markdown and the terminal read the same rows). */
export function reconciliationRows(r: ReconciliationResult | undefined): { row: string; value: string }[] {
  if (!r) return [];
  const pct = (v: number) => `${(v * 100).toFixed(2)} %`;
  const ids = (v: string[]) => (v.length ? `: ${v.join(", ")}` : "");
  return [
    { row: "decision budget", value: `${r.budgetMs} ms` },
    { row: "decisions", value: `${r.decided}: final ${r.final} (of which after the budget ${r.finalLate}), provisional ${r.provisional}, pending (cold cache) ${r.pending}` },
    { row: "provisional share", value: `${pct(r.provisionalShare)} (provisional and pending)` },
    { row: "reconciled", value: `${r.reconciled}; unreconciled ${r.unreconciled}${ids(r.unreconciledEventIds)}` },
    { row: "reconciliation lag (ms)", value: `p50 ${r.lagMs.p50}, p95 ${r.lagMs.p95}, p99 ${r.lagMs.p99}, max ${r.lagMs.max} (${r.lagMs.count})` },
    { row: "discrepancies", value: `${r.discrepancies} (${pct(r.discrepancyRate)} of decisions, ${r.discrepancyRatePpm.toFixed(1)} ppm)${ids(r.discrepancyEventIds)}` },
    ...(r.bySlowDependency
      ? [
          {
            row: "past the budget, by when sent",
            value: `while the dependency was slowed ${r.bySlowDependency.during.pastBudget} of ${r.bySlowDependency.during.decided}; otherwise ${r.bySlowDependency.outside.pastBudget} of ${r.bySlowDependency.outside.decided}`,
          },
        ]
      : []),
    ...(r.undecided ? [{ row: "undecided (acknowledged, never decided)", value: String(r.undecided) }] : []),
  ];
}
