import { basename } from "node:path";
import { METRIC_READS } from "../topology/metrics/mbeans.ts";
import type { MetricsSample, MetricsSampler } from "../topology/metrics/sampler.ts";
import { readNdjson } from "./run-data.ts";

/**
 * What the brokers were doing, from `metrics.ndjson` (topology/metrics/): each region's figures per second, and
 * their range per scope of the run (the whole run, each phase, each fault) for result.json. Pure functions of
 * the samples, so a report and a result summary say the same.
 */

/** One region's figures at one sampling moment (every JVM of a round shares its `tMs`). */
export interface RegionTick {
  tMs: number;
  region: string;
  figures: Record<string, number>;
}

/** A stretch of the run to summarise: `run`, `phase <name>`, `fault <kind> <target>`. */
export interface MetricsScope {
  scope: string;
  startMs: number;
  endMs: number;
}

export interface ScopeMetrics extends MetricsScope {
  /** Sampling moments within the scope (per region, the most of any region). */
  ticks: number;
  /** Per region, per figure: its least and greatest value within the scope (figures never answered are absent). */
  regions: Record<string, Record<string, { min: number; max: number }>>;
}

/** The `brokerMetrics` block of result.json. */
export interface BrokerMetricsResult {
  file: string;
  /** Samples written (one per JVM per second), and reads of a live JVM that got no answer (a paused or busy JVM). */
  samples: number;
  gaps: number;
  scopes: ScopeMetrics[];
}

const combine: Record<string, (vs: number[]) => number> = {
  sum: (vs) => vs.reduce((a, b) => a + b, 0),
  max: (vs) => Math.max(...vs),
  min: (vs) => Math.min(...vs),
  mean: (vs) => vs.reduce((a, b) => a + b, 0) / vs.length,
};

/** The samples of each sampling moment added up per region, each figure by its rule (`across` in the catalogue). */
export function regionTicks(samples: readonly MetricsSample[]): RegionTick[] {
  const groups = new Map<string, MetricsSample[]>();
  for (const s of samples) {
    const key = `${s.region}\u0000${s.tMs}`;
    groups.set(key, [...(groups.get(key) ?? []), s]);
  }
  const ticks: RegionTick[] = [];
  for (const group of groups.values()) {
    const first = group[0] as MetricsSample;
    const figures: Record<string, number> = {};
    for (const r of METRIC_READS) {
      const vs = group.map((s) => s[r.name]).filter((v): v is number => typeof v === "number");
      if (vs.length) figures[r.name] = Math.round((combine[r.across] as (vs: number[]) => number)(vs) * 1000) / 1000;
    }
    ticks.push({ tMs: first.tMs, region: first.region, figures });
  }
  return ticks.sort((a, b) => a.tMs - b.tMs || a.region.localeCompare(b.region));
}

/** Each scope's range of every region figure. */
export function summariseMetrics(samples: readonly MetricsSample[], scopes: readonly MetricsScope[]): ScopeMetrics[] {
  const ticks = regionTicks(samples);
  return scopes.map((sc) => {
    const within = ticks.filter((t) => t.tMs >= sc.startMs && t.tMs < sc.endMs);
    const regions: ScopeMetrics["regions"] = {};
    const perRegion = new Map<string, number>();
    for (const t of within) {
      perRegion.set(t.region, (perRegion.get(t.region) ?? 0) + 1);
      regions[t.region] ??= {};
      const r = regions[t.region] as Record<string, { min: number; max: number }>;
      for (const [name, v] of Object.entries(t.figures)) {
        const range = r[name];
        r[name] = range ? { min: Math.min(range.min, v), max: Math.max(range.max, v) } : { min: v, max: v };
      }
    }
    return { ...sc, ticks: Math.max(0, ...perRegion.values()), regions };
  });
}

/** The scopes of a run: the whole of it, its phases and its faults (a fault never healed lasts to the end). */
export function runScopes(endMs: number, phases: readonly { name: string; startMs: number; endMs: number }[], faults: readonly { kind: string; target: string; startMs: number; endMs: number | null }[]): MetricsScope[] {
  return [
    { scope: "run", startMs: 0, endMs },
    ...phases.map((p) => ({ scope: `phase ${p.name}`, startMs: p.startMs, endMs: p.endMs })),
    ...faults.map((f) => ({ scope: `fault ${f.kind} ${f.target}`, startMs: f.startMs, endMs: f.endMs ?? endMs })),
  ];
}

/** result.json's `brokerMetrics`, read back from the sampler's file as any report would. */
export function brokerMetricsResult(sampler: Pick<MetricsSampler, "file" | "samples" | "gaps">, scopes: readonly MetricsScope[]): BrokerMetricsResult {
  return { file: basename(sampler.file), samples: sampler.samples, gaps: sampler.gaps, scopes: summariseMetrics(readNdjson<MetricsSample>(sampler.file), scopes) };
}
