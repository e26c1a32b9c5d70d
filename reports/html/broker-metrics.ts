import { type BrokerMetricsResult, regionTicks, type RegionTick } from "../broker-metrics.ts";
import type { RunData } from "../run-data.ts";
import { type Band, esc, fmtNum, lineChart, type Series, timeTicks } from "./svg.ts";

type Figure = [figure: string, label: string, color: string];
type ChartDef = { id: string; title: string; yLabel: string; yMinMax?: number; figures: Figure[] };
const chart = (id: string, title: string, yLabel: string, figures: Figure[], yMinMax?: number): ChartDef => ({ id, title, yLabel, figures, ...(yMinMax ? { yMinMax } : {}) });

/** The broker metrics charts, drawn under the latency timeline on the same time axis, as data. */
const CHARTS: ChartDef[] = [
  chart("broker-partitions", "partitions: under-replicated (summed over leaders), offline, active controllers (JMX, per region)", "partitions / controllers", [
    ["underReplicated", "under-replicated", "#c62828"],
    ["offlinePartitions", "offline", "#000000"],
    ["activeControllers", "active controllers", "#2e7d32"],
  ]),
  chart("broker-isr", "ISR shrinks and expands per second (summed over brokers)", "per second", [["isrShrinksPerSec", "ISR shrinks", "#c62828"], ["isrExpandsPerSec", "ISR expands", "#1565c0"]]),
  chart("broker-requests", "request total time p99 of the slowest broker (Kafka's own histogram, which decays over minutes)", "ms", [
    ["produceP99Ms", "Produce", "#ef6c00"],
    ["fetchConsumerP99Ms", "Fetch (consumer)", "#1565c0"],
    ["fetchFollowerP99Ms", "Fetch (follower)", "#6a1b9a"],
  ]),
  chart("broker-idle", "request handler idle ratio of the busiest broker (per second; 0 = saturated)", "idle ratio", [["handlerIdleRatio", "idle ratio", "#2e7d32"]], 1),
  chart("mm2-latency", "MirrorMaker 2 replication latency (MirrorSourceConnector, by target region)", "ms", [["replicationLatencyMaxMs", "max", "#c62828"], ["replicationLatencyAvgMs", "avg", "#1565c0"]]),
];

const DASHES = [undefined, "6 3", "2 2", "8 3 2 3"];

function chartSeries(ticks: readonly RegionTick[], figures: Figure[]): Series[] {
  const regions = [...new Set(ticks.map((t) => t.region))].sort();
  const out: Series[] = [];
  for (const [figure, label, color] of figures)
    regions.forEach((region, i) => {
      const points = ticks.filter((t) => t.region === region && t.figures[figure] !== undefined).map((t) => [t.tMs, t.figures[figure] as number] as const);
      if (!points.length) return;
      const dash = DASHES[i % DASHES.length];
      out.push({ name: regions.length > 1 ? `${label} @${region}` : label, color, points, ...(dash ? { dash } : {}) });
    });
  return out;
}

/** The charts of a run with `metrics.ndjson`, shaded with its phases and faults; charts with no figure are left out. */
export function brokerMetricsCharts(run: RunData, x0: number, x1: number, bands: Band[]): string {
  const ticks = regionTicks(run.brokerMetrics ?? []);
  if (!ticks.length) return "";
  const charts = CHARTS.map((c) => ({ c, series: chartSeries(ticks, c.figures) }))
    .filter(({ series }) => series.length)
    .map(({ c, series }) => lineChart({ id: c.id, title: c.title, xDomain: [x0, x1], xTicks: timeTicks(x0, x1), yLabel: c.yLabel, series, bands, ...(c.yMinMax ? { yMinMax: c.yMinMax } : {}) }));
  return [`<h3>What the brokers were doing (JMX, once a second)</h3>`, ...charts].join("");
}

const COLUMNS: [figure: string, head: string, take: "min" | "max" | "range"][] = [
  ["underReplicated", "under-replicated max", "max"],
  ["offlinePartitions", "offline max", "max"],
  ["activeControllers", "active controllers", "range"],
  ["isrShrinksPerSec", "ISR shrinks/s max", "max"],
  ["produceP99Ms", "Produce p99 max (ms)", "max"],
  ["fetchConsumerP99Ms", "Fetch p99 max (ms)", "max"],
  ["handlerIdleRatio", "idle ratio min", "min"],
  ["replicationLatencyMaxMs", "MM2 latency max (ms)", "max"],
];

/** result.json's per-scope summary as a table: one row per scope (run, phase, fault) and region. */
export function brokerMetricsTable(m: BrokerMetricsResult | undefined): string {
  if (!m) return "";
  const rows = m.scopes.flatMap((s) =>
    Object.entries(s.regions).map(([region, figs]) => {
      const cell = ([f, , take]: (typeof COLUMNS)[number]) => {
        const r = figs[f];
        if (!r) return "";
        return take === "range" ? (r.min === r.max ? fmtNum(r.min) : `${fmtNum(r.min)}–${fmtNum(r.max)}`) : fmtNum(r[take]);
      };
      return `<tr><td>${esc(s.scope)}</td><td>${esc(region)}</td>${COLUMNS.map((c) => `<td>${cell(c)}</td>`).join("")}</tr>`;
    }),
  );
  const head = ["scope", "region", ...COLUMNS.map((c) => c[1])].map((h) => `<th>${esc(h)}</th>`).join("");
  return `<table class="num" id="broker-metrics"><thead><tr>${head}</tr></thead><tbody>${rows.join("")}</tbody></table><p>${m.samples} samples in ${esc(m.file)}; ${m.gaps} reads of a running JVM went unanswered (paused or too busy to answer within the second).</p>`;
}
