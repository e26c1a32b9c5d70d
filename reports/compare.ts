import { pctName, primaryMetric, REPORT_PERCENTILES } from "./analysis.ts";
import { blockPercentiles, everyBlock, scratchCounts } from "./hlog.ts";
import { type FactDifference, hostDifferences } from "../hardware/diff.ts";
import type { RunData } from "./run-data.ts";

/**
 * Comparing runs, with run-to-run noise taken into account. Each run's intervals are cut into contiguous blocks
 * (per scope: the whole run and each phase); a block bootstrap resamples the blocks of the baseline and of the
 * candidate independently, recomputes each percentile from the resampled histograms, and takes the 2.5 % and
 * 97.5 % quantiles of the candidate-minus-baseline differences. A difference counts only when that whole interval
 * lies on one side of zero AND the point difference is larger than `minEffect` (relative): a real but tiny shift is
 * not a regression. Percentiles the runs have too few samples for (fewer than 10 beyond the percentile) are shown
 * but get no verdict.
 */
export interface CompareOptions {
  metric?: string;
  percentiles?: readonly number[];
  resamples?: number;
  /** Smallest relative change that counts (default 0.05 = 5 %). */
  minEffect?: number;
  seed?: number;
}

export type Verdict = "worse" | "better" | "same" | "unknown";

export interface DeltaRow {
  candidate: string;
  scope: string;
  percentile: number;
  baseline: number;
  value: number;
  delta: number;
  /** delta / baseline */
  relative: number;
  ci: [number, number];
  verdict: Verdict;
  note?: string;
}

export interface Comparison {
  metric: string;
  baseline: string;
  candidates: string[];
  rows: DeltaRow[];
  verdict: Verdict;
  method: string;
  resamples: number;
  minEffect: number;
  /** Host facts (result.json `hosts`) that differ from the baseline's, per candidate: the runs ran on different hosts. */
  hostDifferences: { candidate: string; differences: FactDifference[] }[];
}

/** A seeded PRNG (mulberry32): the same resamples, so the same verdict, on every machine. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const quantile = (sorted: number[], q: number): number => {
  const pos = (sorted.length - 1) * q;
  const i = Math.floor(pos);
  const f = pos - i;
  return (sorted[i] as number) * (1 - f) + (sorted[Math.min(i + 1, sorted.length - 1)] as number) * f;
};

/** Compares each candidate with the baseline, per percentile, over the whole run and over each shared phase. */
export function compareRuns(baseline: RunData, candidates: readonly RunData[], o: CompareOptions = {}): Comparison {
  const metric = o.metric ?? primaryMetric(baseline)?.name ?? "clearance";
  const percentiles = o.percentiles ?? REPORT_PERCENTILES;
  const B = o.resamples ?? 1000;
  const minEffect = o.minEffect ?? 0.05;
  const rand = seededRandom(o.seed ?? 42);
  const scratch = scratchCounts();
  const base = baseline.metrics[metric];
  const rows: DeltaRow[] = [];
  for (const cand of candidates) {
    const m = cand.metrics[metric];
    if (!base || !m) {
      rows.push(...percentiles.map((p): DeltaRow => unknownRow(cand.label, "all", p, `no ${metric} interval log in ${!base ? baseline.label : cand.label}`)));
      continue;
    }
    const scopes = ["all", ...Object.keys(base.blocks).filter((s) => s !== "all" && m.blocks[s])];
    for (const scope of scopes) {
      const bb = base.blocks[scope] ?? [];
      const cb = m.blocks[scope] ?? [];
      const bv = blockPercentiles(bb, everyBlock(bb), percentiles, scratch);
      const cv = blockPercentiles(cb, everyBlock(cb), percentiles, scratch);
      const diffs: number[][] = percentiles.map(() => []);
      if (bb.length >= 2 && cb.length >= 2)
        for (let r = 0; r < B; r++) {
          const pb = bb.map(() => Math.floor(rand() * bb.length));
          const pc = cb.map(() => Math.floor(rand() * cb.length));
          const x = blockPercentiles(bb, pb, percentiles, scratch);
          const y = blockPercentiles(cb, pc, percentiles, scratch);
          percentiles.forEach((_, k) => {
            const d = (y[k] as number) - (x[k] as number);
            if (Number.isFinite(d)) diffs[k]?.push(d);
          });
        }
      const nb = bb.reduce((n, b) => n + b.total, 0);
      const nc = cb.reduce((n, b) => n + b.total, 0);
      percentiles.forEach((p, k) => {
        const b = bv[k] as number;
        const v = cv[k] as number;
        const ds = (diffs[k] as number[]).sort((a, z) => a - z);
        const enough = Math.min(nb, nc) * (1 - p / 100) >= 10;
        const ci: [number, number] = ds.length ? [quantile(ds, 0.025), quantile(ds, 0.975)] : [Number.NaN, Number.NaN];
        const delta = v - b;
        const relative = b > 0 ? delta / b : 0;
        let verdict: Verdict = "same";
        let note: string | undefined;
        if (!enough) {
          verdict = "unknown";
          note = `too few samples for ${pctName(p)} (${Math.min(nb, nc)})`;
        } else if (!ds.length) {
          verdict = "unknown";
          note = "fewer than 2 blocks: no noise estimate";
        } else if (ci[0] > 0 && relative > minEffect) verdict = "worse";
        else if (ci[1] < 0 && relative < -minEffect) verdict = "better";
        rows.push({ candidate: cand.label, scope, percentile: p, baseline: b, value: v, delta, relative, ci, verdict, ...(note ? { note } : {}) });
      });
    }
  }
  const decided = rows.filter((r) => r.verdict !== "unknown");
  const verdict: Verdict = decided.some((r) => r.verdict === "worse")
    ? "worse"
    : decided.length === 0
      ? "unknown"
      : decided.some((r) => r.verdict === "better")
        ? "better"
        : "same";
  return {
    metric,
    baseline: baseline.label,
    candidates: candidates.map((c) => c.label),
    rows,
    verdict,
    method: `block bootstrap: ${B} resamples of up to 30 contiguous interval blocks per run and scope; 95 % interval of the difference; counts only beyond ${Math.round(minEffect * 100)} %`,
    resamples: B,
    minEffect,
    hostDifferences: candidates.map((c) => ({ candidate: c.label, differences: hostDifferences(baseline.result.hosts, c.result.hosts) })),
  };
}

function unknownRow(candidate: string, scope: string, percentile: number, note: string): DeltaRow {
  return { candidate, scope, percentile, baseline: Number.NaN, value: Number.NaN, delta: Number.NaN, relative: Number.NaN, ci: [Number.NaN, Number.NaN], verdict: "unknown", note };
}
