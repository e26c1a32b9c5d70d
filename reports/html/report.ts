import { ALERT_COLUMNS, alertRow } from "../../lab/alerts.ts";
import { ROTATION_COLUMNS, rotationRows } from "../rotation.ts";
import { type DriftFit, describeDrift } from "../drift.ts";
import { type DeadLetterResult, deadLetterRows } from "../dead-letters.ts";
import { evolutionOf, evolutionRows } from "../schema-evolution.ts";
import { reconciliationRows } from "../reconciliation.ts";
import { DRIFT_MIN_SPAN_MS, pctLabel, pctName, primaryMetric, REPORT_PERCENTILES, runDrifts, scopePercentiles } from "../analysis.ts";
import { behindSpans, type Fault, type MetricData, type RunData } from "../run-data.ts";
import type { StepFigures } from "../../chaos/upgrade.ts";
import { crashCause, failedOf, securityOf } from "../result.ts";
import { type Reference, referenceSeries } from "../reference.ts";
import { brokerMetricsCharts, brokerMetricsTable } from "./broker-metrics.ts";
import { PAGE_STYLE } from "./style.ts";
import { type Band, esc, fmtNum, type HLine, lineChart, NINES_TICKS, ninesX, timeTicks } from "./svg.ts";

const PHASE_COLORS = ["rgba(70,130,180,0.10)", "rgba(60,179,113,0.12)", "rgba(218,165,32,0.12)", "rgba(147,112,219,0.12)"];
const FAULT_COLOR = "rgba(220,20,60,0.18)";
const BEHIND_COLOR = "rgba(198,40,40,0.10)";
const TURN_COLOR = "rgba(239,108,0,0.16)";

/** Phases and faults of a run as shaded bands of its timeline. */
export function runBands(run: RunData): Band[] {
  const bands: Band[] = (run.result.phases ?? []).map((p, i) => ({
    kind: "phase",
    label: p.name,
    start: p.startMs,
    end: p.endMs,
    color: PHASE_COLORS[i % PHASE_COLORS.length] as string,
  }));
  const end = timelineEnd(run);
  for (const f of run.result.faults ?? [])
    bands.push({ kind: "fault", label: `${f.kind} ${f.target} (${f.outcome})`, start: f.startMs, end: f.endMs ?? end, color: FAULT_COLOR });
  // A rolling upgrade's turns, one band per node, over the fault's own.
  for (const f of (run.result.faults ?? []) as (Fault & { upgradeSteps?: StepFigures[] })[])
    for (const s of f.upgradeSteps ?? []) bands.push({ kind: "fault", label: `${s.node} upgrading`, start: s.fromMs, end: s.toMs, color: TURN_COLOR });
  return bands;
}

/**
 * Where the timeline starts: when traffic started (stand-up time says nothing about the system under test), or
 * earlier if a phase or fault does. Labels stay in time since the run started, as result.json has them.
 */
export function timelineStart(run: RunData): number {
  let start = run.result.trafficStartMs ?? 0;
  for (const b of runBands(run)) start = Math.min(start, b.start);
  return Math.max(0, Math.floor(start / 1000) * 1000);
}

export function timelineEnd(run: RunData): number {
  let end = run.result.durationMs || 0;
  for (const m of Object.values(run.metrics)) end = Math.max(end, m.intervals[m.intervals.length - 1]?.endMs ?? 0);
  return Math.max(end, (run.throughput.length || 0) * 1000, 1000);
}

/** SLO limits on a metric's percentiles, as reference lines: `latencyMs.clearance.p99 <= 300`. */
export function sloLines(run: RunData, metric: string): (HLine & { percentile: number })[] {
  const out: (HLine & { percentile: number })[] = [];
  for (const c of run.result.slo?.checks ?? []) {
    const m = /^latencyMs\.([^.]+)\.p(\d+)\s*<=?\s/.exec(c.name);
    if (!m || m[1] !== metric) continue;
    const digits = m[2] as string;
    const percentile = digits === "50" || digits.length === 2 ? Number(digits) : Number(`${digits.slice(0, 2)}.${digits.slice(2)}`);
    out.push({ y: c.limit, label: `SLO p${percentile} ${/\s<\s/.test(c.name) ? "<" : "<="} ${c.limit} ms`, color: c.passed ? "#2e7d32" : "#c62828", percentile });
  }
  return out;
}

/** Points of a metric's percentile distribution on the nines axis (0 % to 99.99 %), in ms. */
export function ninesPoints(m: MetricData): [number, number][] {
  const h = m.total;
  if (!h.totalCount) return [];
  const max = h.maxValue / 1000;
  const pts: [number, number][] = [];
  for (let x = 0; x <= 4.0001; x += 0.02) {
    const p = (1 - 10 ** -x) * 100;
    pts.push([x, Math.min(h.getValueAtPercentile(p) / 1000, max)]);
  }
  return pts;
}

/** A metric's distribution on the nines axis, with SLO lines and, when given, published reference figures. */
export function ninesChart(id: string, title: string, series: { name: string; color: string; m: MetricData }[], hlines: HLine[], reference?: Reference): string {
  return lineChart({
    id,
    title,
    xDomain: [0, ninesX(99.99)],
    xTicks: NINES_TICKS,
    yLabel: "latency (ms)",
    series: [...series.map((s) => ({ name: s.name, color: s.color, points: ninesPoints(s.m), width: 2 })), ...(reference ? [referenceSeries(reference)] : [])],
    hlines,
  });
}

function latencyTimeline(run: RunData, m: MetricData, x0: number, x1: number): string {
  const pts = (f: "p50" | "p99" | "max") => m.intervals.filter((i) => i.count > 0).map((i) => [(i.startMs + i.endMs) / 2, i[f]] as const);
  return lineChart({
    id: `timeline-${m.name}`,
    title: `${m.name}: latency per interval (p50, p99, max)`,
    xDomain: [x0, x1],
    xTicks: timeTicks(x0, x1),
    yLabel: "latency (ms)",
    series: [
      { name: "max", color: "#9e9e9e", points: pts("max"), width: 1 },
      { name: "p99", color: "#ef6c00", points: pts("p99") },
      { name: "p50", color: "#1565c0", points: pts("p50") },
    ],
    bands: runBands(run),
    hlines: sloLines(run, m.name).filter((l) => l.percentile === 99),
  });
}

function throughputChart(run: RunData, x0: number, x1: number): string {
  const t = run.throughput;
  const at = (f: "intended" | "sent" | "acked" | "completed") => t.map((b) => [b.tMs + 500, b[f]] as const);
  return lineChart({
    id: "throughput",
    title: "throughput: intended rate beside achieved (requests per second, from the ledger; red: the mesh fell behind)",
    xDomain: [x0, x1],
    xTicks: timeTicks(x0, x1),
    yLabel: "per second",
    series: [
      { name: "intended", color: "#9e9e9e", points: at("intended"), dash: "4 3" },
      { name: "sent", color: "#1565c0", points: at("sent") },
      { name: "acked", color: "#6a1b9a", points: at("acked"), width: 1 },
      { name: "completed", color: "#2e7d32", points: at("completed") },
    ],
    bands: [
      ...runBands(run),
      ...behindSpans(t).map((b) => ({ kind: "behind" as const, label: `behind (${b.peakSeconds.toFixed(1)} s of work outstanding)`, start: b.startMs, end: b.endMs, color: BEHIND_COLOR })),
    ],
  });
}

function lagChart(run: RunData, x0: number, x1: number): string {
  if (run.lag.length) {
    const groups = [...new Set(run.lag.map((s) => s.group))];
    const colors = ["#c62828", "#1565c0", "#2e7d32", "#6a1b9a"];
    return lineChart({
      id: "lag",
      title: "consumer lag (records, sampled from the group's committed offsets)",
      xDomain: [x0, x1],
      xTicks: timeTicks(x0, x1),
      yLabel: "records",
      series: groups.map((g, i) => ({
        name: g,
        color: colors[i % colors.length] as string,
        points: run.lag.filter((s) => s.group === g).map((s) => [s.tMs, s.lag] as const),
      })),
      bands: runBands(run),
    });
  }
  return lineChart({
    id: "lag",
    title: "backlog: acknowledged, not yet completed (requests, from the ledger)",
    xDomain: [x0, x1],
    xTicks: timeTicks(x0, x1),
    yLabel: "requests",
    series: [{ name: "backlog", color: "#c62828", points: run.throughput.map((b) => [b.tMs + 1000, b.backlog] as const) }],
    bands: runBands(run),
  });
}

const table = (head: string[], rows: string[][], cls = ""): string =>
  `<table${cls ? ` class="${cls}"` : ""}><thead><tr>${head.map((h) => `<th>${h}</th>`).join("")}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join("")}</tr>`)
    .join("")}</tbody></table>`;

function percentileTable(run: RunData): string {
  const rows: string[][] = [];
  const scopes = ["all", ...(run.result.phases ?? []).map((p) => p.name)];
  for (const m of Object.values(run.metrics))
    for (const scope of scopes) {
      const s = scopePercentiles(m, scope);
      if (!s) continue;
      rows.push([esc(m.name), esc(scope), String(s.count), ...REPORT_PERCENTILES.map((p) => fmtNum(s.values[pctLabel(p)] ?? Number.NaN)), fmtNum(s.max)]);
    }
  return table(["metric", "phase", "count", ...REPORT_PERCENTILES.map(pctName), "max"], rows, "num");
}

/** A time on the run's timeline: seconds for short runs, h:mm:ss once past an hour. */
const clock = (ms: number): string => {
  if (ms < 3_600_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.floor(ms / 1000);
  return `${Math.floor(s / 3600)}:${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
};

function worstIntervals(m: MetricData): string {
  const worst = [...m.intervals]
    .filter((i) => i.count > 0)
    .sort((a, b) => b.p99 - a.p99)
    .slice(0, 10);
  return table(
    ["interval start", "length (s)", "count", "p50", "p90", "p99", "max"],
    worst.map((i) => [clock(i.startMs), ((i.endMs - i.startMs) / 1000).toFixed(2), String(i.count), fmtNum(i.p50), fmtNum(i.p90), fmtNum(i.p99), fmtNum(i.max)]),
    "num",
  );
}

function countsTable(run: RunData): string {
  const c = run.result.counts;
  const ev = run.result.checker.evidence;
  const ids = (id: string, n: number, items: string[]) =>
    items.length
      ? `<details class="evidence" id="evidence-${id}"><summary>${n}</summary><ol>${items.map((x) => `<li><code>${x}</code></li>`).join("")}</ol>${n > items.length ? `<p>first ${items.length} of ${n}; every id is in ledger.ndjson</p>` : ""}</details>`
      : String(n);
  const dlq = (c as unknown as Record<string, unknown>).dlq;
  const rows: string[][] = [
    ["intended", String(c.intended)],
    ["sent", String(c.sent)],
    ["acked", String(c.acked)],
    ["completed", String(c.completed)],
    ["lost (acked, never completed)", ids("lost", c.lost, ev.lost.map(esc))],
    ["duplicated (completed more than once)", ids("duplicated", c.duplicated, ev.duplicated.map((d) => `${esc(d.eventId)} x${d.times}`))],
    [
      "business duplicates (processed more than once)",
      c.businessDuplicates === undefined ? "not recorded" : ids("business-duplicates", c.businessDuplicates, (ev.businessDuplicates ?? []).map((d) => `${esc(d.eventId)} x${d.processings}`)),
    ],
    ["DLQ (dead-lettered)", typeof dlq === "number" ? String(dlq) : "not recorded by this scenario"],
    ["produce errors", ids("errors", c.errors, ev.errors.map((e) => `${esc(e.eventId)}: ${esc(e.error)}`))],
    ["unexpected responses", ids("unexpected", c.unexpected, ev.unexpected.map((u) => `${esc(u.eventId ?? "(no id)")}: ${esc(u.reason)} at ${esc(u.where)}`))],
    ["in flight at the end", String(c.inFlight)],
    ["per-key order inversions", ids("order", run.result.checker.outOfOrderCount, ev.outOfOrder.map((o) => `${esc(o.key)}: ${esc(o.first)} then ${esc(o.second)}`))],
  ];
  return table(["count", "value"], rows, "counts");
}

function deadLetterTable(d: DeadLetterResult): string {
  const rows = deadLetterRows(d).map((x) => [
    esc(x.row),
    x.ids.length ? `<details class="evidence"><summary>${esc(x.value)}</summary><ol>${x.ids.map((i) => `<li><code>${esc(i)}</code></li>`).join("")}</ol></details>` : esc(x.value),
  ]);
  return table(["", ""], rows, "counts");
}

function sloTable(run: RunData): string {
  const checks = run.result.slo?.checks ?? [];
  if (!checks.length) return "<p>No SLO checks recorded.</p>";
  return table(
    ["check", "actual", "verdict"],
    checks.map((c) => [esc(c.name), c.actual === null ? "no data" : fmtNum(c.actual), c.passed ? '<span class="pass">passed</span>' : '<span class="fail">FAILED</span>']),
  );
}

function driftTable(drifts: DriftFit[]): string {
  if (!drifts.length) return `<p>Runs shorter than ${DRIFT_MIN_SPAN_MS / 60_000} minutes get no trend fit.</p>`;
  return `<ul class="drift">${drifts.map((d) => `<li class="${d.verdict}">${esc(describeDrift(d))}</li>`).join("")}</ul>`;
}

function faultTable(run: RunData): string {
  const faults = run.result.faults ?? [];
  const phases = run.result.phases ?? [];
  const parts: string[] = [];
  if (phases.length)
    parts.push(table(["phase", "from (s)", "to (s)"], phases.map((p) => [esc(p.name), (p.startMs / 1000).toFixed(1), (p.endMs / 1000).toFixed(1)]), "num"));
  if (faults.length)
    parts.push(
      table(
        ["fault", "target", "from (s)", "to (s)", "outcome", "requests failed"],
        faults.map((f) => [esc(f.kind), esc(f.target), (f.startMs / 1000).toFixed(1), f.endMs === null ? "never healed" : (f.endMs / 1000).toFixed(1), esc(f.outcome), failedOf(f)]),
        "num",
      ),
    );
  const crashes = run.result.crashes ?? [];
  if (crashes.length)
    parts.push(
      "<h3>Crashed processes</h3>",
      table(["process", "at (s)", "exit", "what it died of"], crashes.map((c) => [esc(c.name), (c.atMs / 1000).toFixed(1), esc(c.signal ?? `code ${c.code}`), esc(crashCause(c.tail))])),
    );
  for (const f of faults as (Fault & { upgradeSteps?: StepFigures[] })[]) if (f.upgradeSteps?.length) parts.push(upgradeTable(f, f.upgradeSteps));
  const alerts = run.result.alerts ?? [];
  if (alerts.length) parts.push("<h3>Alerts</h3>", table(ALERT_COLUMNS, alerts.map((a) => alertRow(a).map((c) => esc(c)))));
  else if (run.result.alerts) parts.push("<p>No alert fired.</p>");
  const rot = run.result.svidRotation?.latency;
  if (rot?.renewals)
    parts.push(`<h3>SVID rotation</h3><p>${rot.renewals} renewals of the flow's SVIDs while it was measured; its clients were made again on each.</p>`, table(ROTATION_COLUMNS, rotationRows(rot).map((r) => r.map((c) => esc(c))), "num"));
  return parts.join("") || "<p>No phases or faults in this run.</p>";
}

/** A rolling upgrade's turn of each node: unavailability, leadership moves, and what the flow saw meanwhile. */
function upgradeTable(f: Fault, steps: StepFigures[]): string {
  const d = f.details ?? {};
  const fin = d.finalised as { releaseVersion?: string; after?: Record<string, string> } | undefined;
  return [
    `<h3>Rolling upgrade ${esc(d.from)} → ${esc(d.to)}</h3>`,
    table(
      ["node", "from (s)", "to (s)", "unavailable (s)", "controlled shutdown (s)", "leaders moved", "leaders after", "requests", "produce errors", "lost", "p50 (ms)", "p99 (ms)", "max (ms)"],
      steps.map((s) => [esc(s.node), (s.fromMs / 1000).toFixed(1), (s.toMs / 1000).toFixed(1), (s.unavailableMs / 1000).toFixed(1), ((s.stopMs ?? 0) / 1000).toFixed(1), String(s.leadersBefore), String(s.leadersAfter), String(s.intended), String(s.produceErrors), String(s.lost), ...(s.intended ? [s.latencyMs.p50, s.latencyMs.p99, s.latencyMs.max].map(fmtNum) : ["no traffic", "", ""])]),
      "num",
    ),
    fin ? `<p>Finalised: <code>kafka-features upgrade --release-version ${esc(fin.releaseVersion)}</code>; metadata.version now ${esc(fin.after?.["metadata.version"] ?? "unknown")}.</p>` : "<p>Not finalised.</p>",
  ].join("");
}

const kv = (o: Record<string, unknown>): string => table(["", ""], Object.entries(o).map(([k, v]) => [esc(k), esc(typeof v === "object" ? JSON.stringify(v) : v)]));

/**
 * The whole report: one self-contained HTML page (inline CSS and SVG, no script, no network). A reference (e.g. the
 * seed's published p95 and p99) is drawn on the primary metric's nines chart.
 */
export function renderReport(run: RunData, reference?: Reference): string {
  const r = run.result;
  const x0 = timelineStart(run);
  const x1 = timelineEnd(run);
  const primary = primaryMetric(run);
  const drifts = runDrifts(run);
  const verdict = run.partial ? "partial (runner did not finish)" : r.slo?.passed ? "SLO passed" : "SLO BREACHED";
  const verdictCls = run.partial ? "warn" : r.slo?.passed ? "pass" : "fail";
  const sections: string[] = [];
  sections.push(
    `<header><h1>${esc(r.scenario)} <span class="badge ${verdictCls}">${esc(verdict)}</span></h1><p>${esc(r.status)}, started ${esc(r.startedAt)}, ${(r.durationMs / 1000).toFixed(1)} s${r.trafficStartMs !== null ? `, traffic from ${(r.trafficStartMs / 1000).toFixed(1)} s` : ""}; checker: <b>${esc(r.checker.valid)}</b>; security: ${esc(securityOf(r))}</p>${r.error ? `<p class="fail">error: ${esc(r.error.component ? `${r.error.component}: ` : "")}${esc(r.error.message)}</p>` : ""}</header>`,
  );
  sections.push("<section><h2>Percentile distribution</h2>");
  for (const m of Object.values(run.metrics))
    sections.push(
      ninesChart(`nines-${m.name}`, `${m.name}: latency by percentile`, [{ name: m.name, color: "#1565c0", m }], sloLines(run, m.name), m === primary ? reference : undefined),
    );
  sections.push(percentileTable(run), "</section>");
  sections.push("<section><h2>Latency over time</h2>");
  for (const m of Object.values(run.metrics)) sections.push(latencyTimeline(run, m, x0, x1));
  sections.push(brokerMetricsCharts(run, x0, x1, runBands(run)), brokerMetricsTable(r.brokerMetrics));
  if (primary) sections.push(`<h3>Worst intervals of ${esc(primary.name)} (by p99, exact)</h3>`, worstIntervals(primary));
  sections.push("</section>");
  sections.push("<section><h2>Throughput and lag</h2>", run.throughput.length ? throughputChart(run, x0, x1) : "<p>No ledger in this run directory.</p>");
  sections.push(run.lag.length || run.throughput.length ? lagChart(run, x0, x1) : "", "</section>");
  sections.push("<section><h2>Phases and faults</h2>", faultTable(run), "</section>");
  sections.push("<section><h2>Counts</h2><p>Click a count to see its event ids.</p>", countsTable(run), "<h3>SLO</h3>", sloTable(run), "</section>");
  if (r.deadLetters) sections.push("<section><h2>Dead letters</h2>", deadLetterTable(r.deadLetters), "</section>");
  const recon = reconciliationRows(r.reconciliation);
  if (recon.length) sections.push("<section><h2>Decisions past the budget and reconciliation</h2>", table(["", ""], recon.map((x) => [esc(x.row), esc(x.value)]), "counts"), "</section>");
  const evolution = evolutionRows(evolutionOf(r.scenarioResult));
  if (evolution.length) sections.push("<section><h2>Schema evolution</h2>", table(["", ""], evolution.map((x) => [esc(x.row), esc(x.value)]), "counts"), "</section>");
  sections.push("<section><h2>Drift</h2>", driftTable(drifts), "</section>");
  sections.push(
    "<section><h2>Spec, versions, machine</h2>",
    "<h3>Versions</h3>",
    kv(r.versions ?? {}),
    "<h3>Machine</h3>",
    kv(r.machine ?? {}),
    `<details><summary>Resolved spec (topology, workload, SLO)</summary><pre>${esc(JSON.stringify(r.spec, null, 2))}</pre></details>`,
    "</section>",
  );
  return page(`${r.scenario} ${r.startedAt}`, sections.join("\n"));
}

export function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>${esc(title)}</title><style>${PAGE_STYLE}</style></head>
<body><main>
${body}
<footer>meshlab report, rendered from result files only</footer>
</main></body></html>
`;
}
