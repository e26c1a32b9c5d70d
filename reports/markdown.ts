import { ALERT_COLUMNS, alertRow } from "../lab/alerts.ts";
import { ROTATION_COLUMNS, rotationRows } from "./rotation.ts";
import { failedOf } from "./result.ts";
import { deadLetterRows } from "./dead-letters.ts";
import { evolutionOf, evolutionRows } from "./schema-evolution.ts";
import { reconciliationRows } from "./reconciliation.ts";
import { securityOf } from "./result.ts";
import { pctLabel, pctName, REPORT_PERCENTILES, runDrifts, scopePercentiles } from "./analysis.ts";
import type { Comparison, DeltaRow } from "./compare.ts";
import { describeDrift } from "./drift.ts";
import { fmtNum } from "./html/svg.ts";
import type { RunData } from "./run-data.ts";

/** Escapes what would break a Markdown table cell. */
const cell = (s: unknown): string => String(s).replace(/\|/g, "\\|").replace(/\n/g, " ");

const mdTable = (head: string[], rows: string[][], align?: string[]): string =>
  [`| ${head.join(" | ")} |`, `| ${(align ?? head.map(() => "---")).join(" | ")} |`, ...rows.map((r) => `| ${r.map(cell).join(" | ")} |`)].join("\n");

/**
 * A run's summary in GitHub-flavoured Markdown, for a CI job summary (`cat summary.md >> $GITHUB_STEP_SUMMARY`):
 * verdict, SLO checks, counts, percentiles per phase, drift. Figures are the same as the HTML report's.
 */
export function runMarkdown(run: RunData, reportFile = "report.html"): string {
  const r = run.result;
  const icon = run.partial ? "⚠️" : r.slo?.passed ? "✅" : "❌";
  const out: string[] = [];
  out.push(`## ${icon} meshlab ${r.scenario}: ${run.partial ? "partial (runner did not finish)" : r.slo?.passed ? "SLO passed" : "SLO breached"}`);
  out.push("");
  out.push(`${r.status}, started ${r.startedAt}, ${(r.durationMs / 1000).toFixed(1)} s; checker **${r.checker.valid}**; security: ${securityOf(r)}. Full report: \`${reportFile}\`.`);
  if (r.error) out.push("", `> error: ${r.error.component ? `${r.error.component}: ` : ""}${r.error.message}`);
  out.push("", "### SLO", "");
  out.push(
    r.slo?.checks.length
      ? mdTable(
          ["check", "actual", ""],
          r.slo.checks.map((c) => [c.name, c.actual === null ? "no data" : fmtNum(c.actual), c.passed ? "✅" : "❌"]),
        )
      : "No SLO checks recorded.",
  );
  const c = r.counts;
  out.push("", "### Counts", "");
  out.push(
    mdTable(
      ["intended", "sent", "acked", "completed", "lost", "duplicated", "errors", "unexpected"],
      [[c.intended, c.sent, c.acked, c.completed, c.lost, c.duplicated, c.errors, c.unexpected].map(String)],
    ),
  );
  if (r.checker.evidence.lost.length) out.push("", `Lost event ids (first ${r.checker.evidence.lost.length}): ${r.checker.evidence.lost.slice(0, 10).map((x) => `\`${x}\``).join(", ")}`);
  const dl = deadLetterRows(r.deadLetters);
  if (dl.length) out.push("", "### Dead letters", "", mdTable(["", ""], dl.map((d) => [d.row, d.value])));
  const recon = reconciliationRows(r.reconciliation);
  if (recon.length) out.push("", "### Decisions past the budget and reconciliation", "", mdTable(["", ""], recon.map((d) => [d.row, d.value])));
  const evolution = evolutionRows(evolutionOf(r.scenarioResult));
  if (evolution.length) out.push("", "### Schema evolution", "", mdTable(["", ""], evolution.map((d) => [d.row, d.value])));
  out.push("", "### Latency (ms)", "");
  const rows: string[][] = [];
  for (const m of Object.values(run.metrics))
    for (const scope of ["all", ...(r.phases ?? []).map((p) => p.name)]) {
      const s = scopePercentiles(m, scope);
      if (s) rows.push([m.name, scope, String(s.count), ...REPORT_PERCENTILES.map((p) => fmtNum(s.values[pctLabel(p)] ?? Number.NaN)), fmtNum(s.max)]);
    }
  out.push(mdTable(["metric", "phase", "count", ...REPORT_PERCENTILES.map(pctName), "max"], rows));
  if (r.faults?.length) {
    out.push("", "### Faults", "");
    out.push(mdTable(["fault", "target", "from (s)", "to (s)", "outcome", "requests failed"], r.faults.map((f) => [f.kind, f.target, (f.startMs / 1000).toFixed(1), f.endMs === null ? "never healed" : (f.endMs / 1000).toFixed(1), f.outcome, failedOf(f)])));
  }
  if (r.alerts?.length) out.push("", "### Alerts", "", mdTable(ALERT_COLUMNS, r.alerts.map(alertRow)));
  if (r.svidRotation?.latency.renewals) out.push("", "### SVID rotation", "", mdTable(ROTATION_COLUMNS, rotationRows(r.svidRotation.latency)));
  const drifts = runDrifts(run);
  if (drifts.length) out.push("", "### Drift", "", ...drifts.map((d) => `- ${d.verdict === "upward" ? "❌ " : ""}${describeDrift(d)}`));
  return `${out.join("\n")}\n`;
}

const signed = (v: number): string => (Number.isFinite(v) ? `${v > 0 ? "+" : ""}${fmtNum(v)}` : "n/a");
const verdictIcon: Record<DeltaRow["verdict"], string> = { worse: "❌ worse", better: "✅ better", same: "= same (within noise)", unknown: "? no verdict" };

/** A side's value as benchstat prints it: the median, and how far its runs stray from it. */
export const withSpread = (value: number, spread: number, runs: number): string =>
  runs > 1 && Number.isFinite(spread) ? `${fmtNum(value)} ± ${Math.round(spread * 100)} %` : fmtNum(value);

/** Which runs make up each side. */
function setLines(cmp: Comparison): string[] {
  const list = (xs: readonly string[]) => xs.map((x) => `\`${x}\``).join(", ");
  return [
    `- baseline \`${cmp.baseline}\` (${cmp.baselineRuns.length} run${cmp.baselineRuns.length > 1 ? "s" : ""}): ${list(cmp.baselineRuns)}`,
    ...cmp.candidates.map((c) => `- candidate \`${c}\` (${cmp.candidateRuns[c]?.length ?? 0} run${(cmp.candidateRuns[c]?.length ?? 0) > 1 ? "s" : ""}): ${list(cmp.candidateRuns[c] ?? [])}`),
  ];
}

/** A comparison as Markdown: overall verdict, the method, the runs of each side, and a delta table per percentile and phase. */
export function compareMarkdown(cmp: Comparison): string {
  const out: string[] = [];
  out.push(`## meshlab compare: ${cmp.verdict === "worse" ? "❌ worse than baseline" : cmp.verdict === "better" ? "✅ better than baseline" : cmp.verdict === "same" ? "= no difference beyond noise" : "? no verdict"}`);
  out.push("", `Metric \`${cmp.metric}\`. Method: ${cmp.method}.`, "", ...setLines(cmp), "");
  for (const n of cmp.notes) out.push(`> ${n}.`, "");
  if (!cmp.noiseEstimated)
    out.push(`> **Run-to-run noise is not estimated**: one run on a side. Only a change beyond the lab's noise floor (x${cmp.noiseFloor}) gets a verdict.`, "");
  out.push(
    mdTable(
      ["candidate", "phase", "percentile", "baseline ms", "candidate ms", "delta ms", "delta %", "95 % interval of delta", "p", "verdict"],
      cmp.rows.map((r) => [
        r.candidate,
        r.scope,
        pctName(r.percentile),
        withSpread(r.baseline, r.spread[0], r.baselineRuns.length),
        withSpread(r.value, r.spread[1], r.candidateRuns.length),
        signed(r.delta),
        Number.isFinite(r.relative) ? `${signed(r.relative * 100)} %` : "n/a",
        Number.isFinite(r.ci[0]) ? `[${signed(r.ci[0])}, ${signed(r.ci[1])}]` : "n/a",
        r.p === null ? "n/a" : r.p.toFixed(3),
        r.note ? `${verdictIcon[r.verdict]} (${r.note})` : verdictIcon[r.verdict],
      ]),
    ),
  );
  out.push("", "Per-run values (ms), whole run:", "");
  out.push(
    mdTable(
      ["candidate", "percentile", "baseline runs", "candidate runs"],
      cmp.rows.filter((r) => r.scope === "all").map((r) => [r.candidate, pctName(r.percentile), r.baselineRuns.map(fmtNum).join(", "), r.candidateRuns.map(fmtNum).join(", ")]),
    ),
  );
  for (const h of cmp.hostDifferences ?? [])
    if (h.differences.length) {
      out.push("", `**${h.candidate} ran on different host facts than the baseline** (${h.differences.length}):`, "");
      out.push(mdTable(["host", "fact", "baseline", "candidate"], h.differences.map((d) => [d.host, d.fact, d.baseline, d.candidate])));
    }
  return `${out.join("\n")}\n`;
}
