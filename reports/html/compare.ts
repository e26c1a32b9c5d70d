import { pctName } from "../analysis.ts";
import type { Comparison, RunSet } from "../compare.ts";
import { withSpread } from "../markdown.ts";
import type { Reference } from "../reference.ts";
import type { RunData } from "../run-data.ts";
import { ninesChart, page, runBands, sloLines, timelineEnd } from "./report.ts";
import { esc, fmtNum, lineChart, timeTicks } from "./svg.ts";

const RUN_COLORS = ["#1565c0", "#ef6c00", "#2e7d32", "#6a1b9a", "#c62828", "#00838f"];

/**
 * The comparison page: every run's percentile distribution on one nines chart (one colour per side, so a set's
 * spread shows as a bundle of lines), their p99 over time on one timeline (aligned on when traffic started; the
 * baseline's phases and faults shaded), and the delta table. The baseline set comes first.
 */
export function renderCompare(sets: readonly RunSet[], cmp: Comparison, reference?: Reference): string {
  const metric = cmp.metric;
  const colorOf = new Map<RunData, string>();
  sets.forEach((s, i) => {
    for (const r of s.runs) colorOf.set(r, RUN_COLORS[i % RUN_COLORS.length] as string);
  });
  const runs = sets.flatMap((s) => s.runs);
  const withMetric = runs.filter((r) => r.metrics[metric]);
  const color = (i: number) => colorOf.get(withMetric[i] as RunData) ?? "#555";
  const base = runs[0] as RunData;
  const parts: string[] = [];
  const cls = cmp.verdict === "worse" ? "fail" : cmp.verdict === "better" ? "pass" : "warn";
  parts.push(
    `<header><h1>compare: ${esc(metric)} <span class="badge ${cls}">${esc(cmp.verdict === "same" ? "no difference beyond noise" : cmp.verdict)}</span></h1><p>baseline <b>${esc(cmp.baseline)}</b> (${cmp.baselineRuns.length} run(s)); candidates ${cmp.candidates.map((c) => `<b>${esc(c)}</b> (${cmp.candidateRuns[c]?.length ?? 0} run(s))`).join(", ")}</p><p>${esc(cmp.method)}.</p>${cmp.noiseEstimated ? "" : `<p class="warn"><b>Run-to-run noise is not estimated</b> (one run on a side): only a change beyond the lab's noise floor (x${cmp.noiseFloor}) gets a verdict.</p>`}${cmp.notes.map((n) => `<p class="warn">${esc(n)}.</p>`).join("")}</header>`,
  );
  parts.push(
    "<section><h2>Percentile distributions</h2>",
    ninesChart(
      `nines-${metric}`,
      `${metric}: latency by percentile`,
      withMetric.map((r, i) => ({ name: r.label, color: color(i), m: r.metrics[metric] as NonNullable<RunData["metrics"][string]> })),
      sloLines(base, metric),
      reference,
    ),
    "</section>",
  );
  const shift = (r: RunData) => r.result.trafficStartMs ?? 0;
  const x1 = Math.max(...runs.map((r) => timelineEnd(r) - shift(r)), 1000);
  parts.push(
    "<section><h2>p99 over time (aligned on traffic start)</h2>",
    lineChart({
      id: `timeline-${metric}`,
      title: `${metric}: p99 per interval`,
      xDomain: [0, x1],
      xTicks: timeTicks(0, x1),
      yLabel: "latency (ms)",
      series: withMetric.map((r, i) => ({
        name: r.label,
        color: color(i),
        points: (r.metrics[metric]?.intervals ?? []).filter((iv) => iv.count > 0).map((iv) => [(iv.startMs + iv.endMs) / 2 - shift(r), iv.p99] as const),
      })),
      bands: runBands(base).map((b) => ({ ...b, start: b.start - shift(base), end: b.end - shift(base) })),
    }),
    "</section>",
  );
  const rows = cmp.rows
    .map(
      (r) =>
        `<tr><td>${esc(r.candidate)}</td><td>${esc(r.scope)}</td><td>${pctName(r.percentile)}</td><td>${withSpread(r.baseline, r.spread[0], r.baselineRuns.length)}</td><td>${withSpread(r.value, r.spread[1], r.candidateRuns.length)}</td><td>${fmtNum(r.delta)}</td><td>${Number.isFinite(r.relative) ? `${(r.relative * 100).toFixed(1)} %` : "n/a"}</td><td>${Number.isFinite(r.ci[0]) ? `[${fmtNum(r.ci[0])}, ${fmtNum(r.ci[1])}]` : "n/a"}</td><td>${r.p === null ? "n/a" : r.p.toFixed(3)}</td><td>${r.baselineRuns.map(fmtNum).join(", ")} | ${r.candidateRuns.map(fmtNum).join(", ")}</td><td class="verdict-${r.verdict}">${esc(r.verdict)}${r.note ? ` (${esc(r.note)})` : ""}</td></tr>`,
    )
    .join("");
  parts.push(
    `<section><h2>Deltas per percentile and phase</h2><table class="num"><thead><tr><th>candidate</th><th>phase</th><th>percentile</th><th>baseline ms</th><th>candidate ms</th><th>delta ms</th><th>delta</th><th>95 % interval of delta</th><th>p (U test)</th><th>per run: baseline | candidate</th><th>verdict</th></tr></thead><tbody>${rows}</tbody></table></section>`,
  );
  parts.push(
    `<section><h2>Counts</h2><table class="num"><thead><tr><th>run</th><th>status</th><th>completed</th><th>lost</th><th>duplicated</th><th>SLO</th></tr></thead><tbody>${runs
      .map(
        (r) =>
          `<tr><td>${esc(r.label)}</td><td>${esc(r.result.status)}</td><td>${r.result.counts.completed}</td><td>${r.result.counts.lost}</td><td>${r.result.counts.duplicated}</td><td>${r.result.slo?.passed ? "passed" : "breached"}</td></tr>`,
      )
      .join("")}</tbody></table></section>`,
  );
  return page(`compare ${cmp.baseline} vs ${cmp.candidates.join(", ")}`, parts.join("\n"));
}
