import { pctName, primaryMetric, REPORT_PERCENTILES } from "./analysis.ts";
import { blockPercentiles, everyBlock, type Sparse, scratchCounts } from "./hlog.ts";
import { type FactDifference, hostDifferences } from "../hardware/diff.ts";
import type { RunData } from "./run-data.ts";
import { mannWhitneyU, median, quantile, relativeSpread, runBootstrap, seededRandom } from "./stats.ts";

/**
 * How far apart two runs of the same build, scenario and flags came out on this machine: six back-to-back
 * `./meshlab run clearance-smoke --duration 8s --rate 20` runs (2026-12-07, load average 9 to 69 from other
 * engineers' meshes on the two cores) had clearance p50 from 120 ms to 11,534 ms, a ratio of 96.2, and p90 41.6
 * (`node bench/noise-floor.ts`; README "Comparing runs"). Rounded up to 100. With one run a side, or runs that do
 * not overlap but are too few for a U test, nothing smaller than this ratio can be told from noise here; on a
 * quieter machine, measure its own floor and pass `--noise-floor`.
 */
export const NOISE_FLOOR_RATIO = 100;

/** Significance level of the between-run test (benchstat's default). */
export const ALPHA = 0.05;

/**
 * Comparing sets of runs, with the spread BETWEEN runs taken into account (as benchstat does for repeated
 * benchmark runs). Per scope (the whole run, each phase all runs share) and percentile, each run gives one value;
 * each side is summarised by its median and spread, and:
 * - with enough runs for a Mann-Whitney U test to reach p < 0.05 (4 a side), a change counts when p < 0.05 and it
 *   exceeds `minEffect`;
 * - with 2 or 3 runs a side (no U test can reach 0.05), it counts only when the two sides' runs do not overlap
 *   AND the medians differ by more than the lab's measured noise floor (NOISE_FLOOR_RATIO);
 * - with one run on a side, run-to-run noise is not estimated: it counts only beyond the noise floor, and, when
 *   both runs have intervals, when the block bootstrap within the runs also excludes zero.
 * Percentiles a run has too few samples for (fewer than 10 beyond the percentile) are shown but get no verdict.
 */
export interface CompareOptions {
  metric?: string;
  percentiles?: readonly number[];
  resamples?: number;
  /** Smallest relative change that counts (default 0.05 = 5 %). */
  minEffect?: number;
  seed?: number;
  /** The noise floor as a ratio (default NOISE_FLOOR_RATIO). */
  noiseFloor?: number;
}

export type Verdict = "worse" | "better" | "same" | "unknown";

/** One side of a comparison: one run, or several runs of the same build. */
export interface RunSet {
  label: string;
  runs: RunData[];
}

/** How a row's verdict was reached. */
export type NoiseMethod = "u-test" | "runs-apart" | "single-run";

export interface DeltaRow {
  candidate: string;
  scope: string;
  percentile: number;
  /** Median over the baseline's runs (the value itself with one run). */
  baseline: number;
  /** Median over the candidate's runs. */
  value: number;
  delta: number;
  /** delta / baseline */
  relative: number;
  ci: [number, number];
  verdict: Verdict;
  note?: string;
  /** Every run's own value, per side: the spread a verdict rests on. */
  baselineRuns: number[];
  candidateRuns: number[];
  /** max |run - median| / median per side (benchstat's ±). */
  spread: [number, number];
  /** Two-sided Mann-Whitney U p-value (null with one run on a side). */
  p: number | null;
  method: NoiseMethod;
}

export interface Comparison {
  metric: string;
  baseline: string;
  baselineRuns: string[];
  candidates: string[];
  candidateRuns: Record<string, string[]>;
  rows: DeltaRow[];
  verdict: Verdict;
  method: string;
  /** True when every candidate and the baseline have 2 or more runs: the spread between runs was estimated. */
  noiseEstimated: boolean;
  noiseFloor: number;
  /** What the reader must know about the inputs, e.g. a run with no intervals (a .hgrm) that cannot be resampled. */
  notes: string[];
  resamples: number;
  minEffect: number;
  /** Host facts (result.json `hosts`) that differ from the baseline's, per candidate run. */
  hostDifferences: { candidate: string; differences: FactDifference[] }[];
}

/** The positional form: the first run is the baseline, every other run a candidate of its own. */
export function compareRuns(baseline: RunData, candidates: readonly RunData[], o: CompareOptions = {}): Comparison {
  return compareSets({ label: baseline.label, runs: [baseline] }, candidates.map((c) => ({ label: c.label, runs: [c] })), o);
}

interface Ctx {
  metric: string;
  percentiles: readonly number[];
  resamples: number;
  minEffect: number;
  noiseFloor: number;
  rand: () => number;
  scratch: Float64Array;
}

/** Compares each candidate set with the baseline set, per percentile, over the whole run and each shared phase. */
export function compareSets(baseline: RunSet, candidates: readonly RunSet[], o: CompareOptions = {}): Comparison {
  const first = baseline.runs[0];
  const ctx: Ctx = {
    metric: o.metric ?? (first && primaryMetric(first)?.name) ?? "clearance",
    percentiles: o.percentiles ?? REPORT_PERCENTILES,
    resamples: o.resamples ?? 1000,
    minEffect: o.minEffect ?? 0.05,
    noiseFloor: o.noiseFloor ?? NOISE_FLOOR_RATIO,
    rand: seededRandom(o.seed ?? 42),
    scratch: scratchCounts(),
  };
  const rows = candidates.flatMap((c) => compareSet(baseline, c, ctx));
  const noiseEstimated = baseline.runs.length >= 2 && candidates.every((c) => c.runs.length >= 2);
  return {
    metric: ctx.metric,
    baseline: baseline.label,
    baselineRuns: baseline.runs.map((r) => r.label),
    candidates: candidates.map((c) => c.label),
    candidateRuns: Object.fromEntries(candidates.map((c) => [c.label, c.runs.map((r) => r.label)])),
    rows,
    verdict: overallVerdict(rows),
    method: describeMethod(baseline, candidates, ctx),
    noiseEstimated,
    noiseFloor: ctx.noiseFloor,
    notes: inputNotes([baseline, ...candidates], ctx.metric),
    resamples: ctx.resamples,
    minEffect: ctx.minEffect,
    hostDifferences: candidates.flatMap((c) =>
      c.runs.map((r) => ({ candidate: r.label, differences: hostDifferences(first?.result.hosts, r.result.hosts) })),
    ),
  };
}

/** Runs whose metric has no intervals (a .hgrm): each counts as one run, and nothing within it can be resampled. */
function inputNotes(sets: readonly RunSet[], metric: string): string[] {
  return sets
    .flatMap((s) => s.runs)
    .filter((r) => r.metrics[metric] && !r.metrics[metric]?.intervals.length)
    .map((r) => `${r.label} has no intervals to resample (a percentile distribution, .hgrm): it counts as one run, with no spread of its own`);
}

function overallVerdict(rows: readonly DeltaRow[]): Verdict {
  const decided = rows.filter((r) => r.verdict !== "unknown");
  if (decided.some((r) => r.verdict === "worse")) return "worse";
  if (!decided.length) return "unknown";
  return decided.some((r) => r.verdict === "better") ? "better" : "same";
}

function describeMethod(baseline: RunSet, candidates: readonly RunSet[], c: Ctx): string {
  const sizes = `${baseline.runs.length} baseline run(s), ${candidates.map((x) => x.runs.length).join("/")} candidate run(s)`;
  const floor =
    c.noiseFloor === NOISE_FLOOR_RATIO
      ? `the lab's noise floor (x${c.noiseFloor}: runs of one build differed by up to that ratio here)`
      : `the noise floor given (x${c.noiseFloor}, --noise-floor)`;
  if (baseline.runs.length >= 2 && candidates.every((x) => x.runs.length >= 2))
    return `spread between runs (${sizes}): per run one value per percentile; Mann-Whitney U test at p < ${ALPHA} and a change beyond ${Math.round(c.minEffect * 100)} % with 4+ runs a side, else non-overlapping runs and a change beyond ${floor}; interval: bootstrap over runs (${c.resamples} resamples) of the difference of medians`;
  return `run-to-run noise NOT estimated (${sizes}): a change counts only beyond ${floor}; interval: block bootstrap within the runs (${c.resamples} resamples), which cannot see what differs between runs. Use ./meshlab run --repeat N and compare --baseline/--candidate sets`;
}

function compareSet(baseline: RunSet, cand: RunSet, c: Ctx): DeltaRow[] {
  const missing = [...baseline.runs, ...cand.runs].filter((r) => !r.metrics[c.metric]);
  if (missing.length)
    return c.percentiles.map((p) => unknownRow(cand.label, "all", p, `no ${c.metric} data in ${missing.map((r) => r.label).join(", ")}`));
  const all = [...baseline.runs, ...cand.runs];
  const phases = Object.keys(first(baseline).metrics[c.metric]?.blocks ?? {}).filter((s) => s !== "all");
  const scopes = ["all", ...phases.filter((s) => all.every((r) => r.metrics[c.metric]?.blocks[s]?.length))];
  return scopes.flatMap((scope) => compareScope(blocksOf(baseline, scope, c), blocksOf(cand, scope, c), cand.label, scope, c));
}

const first = (s: RunSet): RunData => s.runs[0] as RunData;
const blocksOf = (s: RunSet, scope: string, c: Ctx): Sparse[][] => s.runs.map((r) => r.metrics[c.metric]?.blocks[scope] ?? []);
const totalOf = (blocks: readonly Sparse[]): number => blocks.reduce((n, b) => n + b.total, 0);

function compareScope(base: Sparse[][], cand: Sparse[][], label: string, scope: string, c: Ctx): DeltaRow[] {
  const bv = base.map((b) => blockPercentiles(b, everyBlock(b), c.percentiles, c.scratch));
  const cv = cand.map((b) => blockPercentiles(b, everyBlock(b), c.percentiles, c.scratch));
  const fewest = Math.min(...[...base, ...cand].map(totalOf));
  const single = base.length === 1 && cand.length === 1 ? withinRunIntervals(base[0] as Sparse[], cand[0] as Sparse[], c) : undefined;
  return c.percentiles.map((p, k) => {
    const b = bv.map((v) => v[k] as number);
    const v = cv.map((x) => x[k] as number);
    const row = judge(b, v, c, single?.[k]);
    if (fewest * (1 - p / 100) < 10) {
      row.verdict = "unknown";
      row.note = `too few samples for ${pctName(p)} (${fewest} in the smallest run)`;
    }
    return { candidate: label, scope, percentile: p, ...row };
  });
}

type Judged = Omit<DeltaRow, "candidate" | "scope" | "percentile">;

/** The verdict for one percentile, from each side's per-run values. */
function judge(b: number[], v: number[], c: Ctx, withinRun: [number, number] | undefined): Judged {
  const mb = median(b);
  const mc = median(v);
  const delta = mc - mb;
  const relative = mb > 0 ? delta / mb : 0;
  const ratio = mb > 0 && mc > 0 ? mc / mb : 1;
  const beyondFloor = ratio > c.noiseFloor ? "worse" : 1 / ratio > c.noiseFloor ? "better" : "same";
  const base = { baseline: mb, value: mc, delta, relative, baselineRuns: b, candidateRuns: v, spread: [relativeSpread(b), relativeSpread(v)] as [number, number] };
  if (b.length < 2 || v.length < 2) {
    const nan: [number, number] = [Number.NaN, Number.NaN];
    const ci = withinRun ?? (b.length + v.length > 2 ? runBootstrap(b, v, c.resamples, c.rand) : nan);
    const excludesZero = !Number.isFinite(ci[0]) || ci[0] > 0 || ci[1] < 0;
    const note = `one run on a side: run-to-run noise not estimated; counts only beyond the noise floor (x${c.noiseFloor})${Number.isFinite(ci[0]) ? "" : "; no intervals to resample"}`;
    return { ...base, ci, p: null, method: "single-run", verdict: excludesZero ? beyondFloor : "same", note };
  }
  const u = mannWhitneyU(v, b);
  const ci = runBootstrap(b, v, c.resamples, c.rand);
  if (u.minP < ALPHA) {
    const verdict: Verdict = u.p < ALPHA && relative > c.minEffect ? "worse" : u.p < ALPHA && relative < -c.minEffect ? "better" : "same";
    return { ...base, ci, p: u.p, method: "u-test", verdict, note: `p = ${u.p.toFixed(3)}, n = ${b.length}+${v.length}` };
  }
  const apart = Math.min(...v) > Math.max(...b) ? "worse" : Math.max(...v) < Math.min(...b) ? "better" : "same";
  const verdict: Verdict = apart === beyondFloor ? apart : "same";
  const note = `n = ${b.length}+${v.length}: a U test cannot reach p < ${ALPHA} (best p = ${u.minP.toFixed(2)}); counts only when the runs do not overlap and the change exceeds the noise floor (x${c.noiseFloor})`;
  return { ...base, ci, p: u.p, method: "runs-apart", verdict, note };
}

/**
 * With one run a side, the only noise that can be estimated is within the runs: a block bootstrap of their
 * contiguous interval blocks (resampled independently per run), one 95 % interval of the difference per percentile.
 */
function withinRunIntervals(bb: Sparse[], cb: Sparse[], c: Ctx): [number, number][] | undefined {
  if (bb.length < 2 || cb.length < 2) return undefined;
  const diffs: number[][] = c.percentiles.map(() => []);
  for (let r = 0; r < c.resamples; r++) {
    const x = blockPercentiles(bb, bb.map(() => Math.floor(c.rand() * bb.length)), c.percentiles, c.scratch);
    const y = blockPercentiles(cb, cb.map(() => Math.floor(c.rand() * cb.length)), c.percentiles, c.scratch);
    c.percentiles.forEach((_, k) => {
      const d = (y[k] as number) - (x[k] as number);
      if (Number.isFinite(d)) diffs[k]?.push(d);
    });
  }
  return diffs.map((ds) => {
    ds.sort((a, z) => a - z);
    return ds.length ? [quantile(ds, 0.025), quantile(ds, 0.975)] : [Number.NaN, Number.NaN];
  });
}

function unknownRow(candidate: string, scope: string, percentile: number, note: string): DeltaRow {
  const nan = Number.NaN;
  return { candidate, scope, percentile, baseline: nan, value: nan, delta: nan, relative: nan, ci: [nan, nan], verdict: "unknown", note, baselineRuns: [], candidateRuns: [], spread: [nan, nan], p: null, method: "single-run" };
}
