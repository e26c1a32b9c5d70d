/**
 * Drift: does a figure (p99 latency, consumer lag) trend upwards over a long run? A least-squares line is fitted
 * through per-block values (the run cut into equal time blocks, each summarised by its median), and the slope gets
 * a 95 % confidence interval from Student's t. Blocks rather than raw 1 s intervals, because neighbouring
 * intervals are correlated (a GC pause, a rebalance) and would make the interval far too narrow.
 */

export interface DriftFit {
  what: string;
  unit: string;
  /** Number of blocks the fit used. */
  n: number;
  /** Slope in unit per hour, with its 95 % interval. */
  slopePerHour: number;
  ci: [number, number];
  /** The fitted value at the start and the end of the run. */
  from: number;
  to: number;
  /** upward: the whole interval is above zero and the rise over the run is at least `minRise` of the start. */
  verdict: "upward" | "downward" | "flat" | "unknown";
}

/** Two-sided 95 % quantiles of Student's t for 1..30 degrees of freedom; beyond that the normal 1.96 is close. */
const T975 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086,
  2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];
export const t975 = (df: number): number => (df >= 1 && df <= 30 ? (T975[df - 1] as number) : 1.96 + 2.5 / df);

export function linearFit(xs: readonly number[], ys: readonly number[]): { slope: number; intercept: number; se: number } {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxx = 0;
  let sxy = 0;
  for (let i = 0; i < n; i++) {
    sxx += ((xs[i] as number) - mx) ** 2;
    sxy += ((xs[i] as number) - mx) * ((ys[i] as number) - my);
  }
  const slope = sxx ? sxy / sxx : 0;
  const intercept = my - slope * mx;
  let sse = 0;
  for (let i = 0; i < n; i++) sse += ((ys[i] as number) - (intercept + slope * (xs[i] as number))) ** 2;
  const se = n > 2 && sxx ? Math.sqrt(sse / (n - 2) / sxx) : Number.POSITIVE_INFINITY;
  return { slope, intercept, se };
}

const median = (v: number[]): number => {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

/**
 * Fits the trend of a time series (`points` as [ms, value]) over `blocks` equal time blocks. Needs at least 6
 * blocks with data; fewer gives `unknown`. `minRise` (default 10 %) keeps a statistically clear but negligible
 * slope on a long run from raising an alarm.
 */
export function fitDrift(what: string, unit: string, points: readonly (readonly [number, number])[], opts: { blocks?: number; minRise?: number } = {}): DriftFit {
  const valid = points.filter(([, v]) => Number.isFinite(v));
  const unknown: DriftFit = { what, unit, n: 0, slopePerHour: 0, ci: [Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY], from: 0, to: 0, verdict: "unknown" };
  if (valid.length < 6) return unknown;
  const t0 = (valid[0] as readonly [number, number])[0];
  const t1 = (valid[valid.length - 1] as readonly [number, number])[0];
  const nb = Math.min(opts.blocks ?? 24, valid.length);
  const buckets: number[][] = Array.from({ length: nb }, () => []);
  for (const [t, v] of valid) buckets[Math.min(nb - 1, Math.floor(((t - t0) / (t1 - t0 || 1)) * nb))]?.push(v);
  const xs: number[] = [];
  const ys: number[] = [];
  buckets.forEach((b, i) => {
    if (!b.length) return;
    xs.push((t0 + ((i + 0.5) * (t1 - t0)) / nb) / 3_600_000);
    ys.push(median(b));
  });
  if (xs.length < 6) return { ...unknown, n: xs.length };
  const { slope, intercept, se } = linearFit(xs, ys);
  const half = t975(xs.length - 2) * se;
  const ci: [number, number] = [slope - half, slope + half];
  const from = intercept + slope * (t0 / 3_600_000);
  const to = intercept + slope * (t1 / 3_600_000);
  const rise = to - from;
  const scale = Math.max(Math.abs(from), Math.abs(median(ys)), 1e-9);
  const minRise = opts.minRise ?? 0.1;
  const verdict = ci[0] > 0 && rise >= minRise * scale ? "upward" : ci[1] < 0 && -rise >= minRise * scale ? "downward" : "flat";
  return { what, unit, n: xs.length, slopePerHour: slope, ci, from, to, verdict };
}

export const describeDrift = (d: DriftFit): string =>
  d.verdict === "unknown"
    ? `${d.what}: not enough data for a trend (${d.n} block(s))`
    : `${d.what}: ${d.verdict} (slope ${sig(d.slopePerHour)} ${d.unit}/h, 95 % interval [${sig(d.ci[0])}, ${sig(d.ci[1])}]; fitted ${sig(d.from)} -> ${sig(d.to)} ${d.unit} over ${d.n} blocks)`;

const sig = (v: number): string => (Number.isFinite(v) ? Number(v.toPrecision(3)).toString() : String(v));
