/**
 * Between-run statistics for `compare`: the figures benchstat computes for repeated benchmark runs (the median and
 * spread of each side, a Mann-Whitney U test), and a seeded bootstrap over runs for an interval of the difference.
 * Pure functions over small arrays of per-run values.
 */

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

/** Linear-interpolated quantile of sorted values (q in [0, 1]). */
export function quantile(sorted: readonly number[], q: number): number {
  if (!sorted.length) return Number.NaN;
  const pos = (sorted.length - 1) * q;
  const i = Math.floor(pos);
  const f = pos - i;
  return (sorted[i] as number) * (1 - f) + (sorted[Math.min(i + 1, sorted.length - 1)] as number) * f;
}

export const median = (values: readonly number[]): number => quantile([...values].sort((a, b) => a - b), 0.5);

/** How far the runs of one side stray from their median, relative to it (benchstat's "±"): max |v - median| / median. */
export function relativeSpread(values: readonly number[]): number {
  const m = median(values);
  if (!(m > 0)) return Number.NaN;
  return Math.max(...values.map((v) => Math.abs(v - m))) / m;
}

/** Mid-ranks (1-based) of the pooled values: ties share the mean of their ranks. */
function midRanks(pooled: readonly number[]): number[] {
  const order = pooled.map((v, i) => ({ v, i })).sort((a, b) => a.v - b.v);
  const ranks = new Array<number>(pooled.length);
  for (let s = 0; s < order.length; ) {
    let e = s;
    while (e + 1 < order.length && (order[e + 1] as { v: number }).v === (order[s] as { v: number }).v) e++;
    for (let k = s; k <= e; k++) ranks[(order[k] as { i: number }).i] = (s + e + 2) / 2;
    s = e + 1;
  }
  return ranks;
}

const binomial = (n: number, k: number): number => {
  let r = 1;
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
  return r;
};

/** Above this many ways to split the pooled runs, the U test uses the normal approximation. */
const EXACT_LIMIT = 200_000;

export interface UTest {
  /** U of the first sample: how many (x, y) pairs have x > y (ties count one half). */
  u: number;
  /** Two-sided p-value. */
  p: number;
  /** The smallest two-sided p-value these sample sizes can give at all (2 / C(n+m, n) without ties). */
  minP: number;
  exact: boolean;
}

/**
 * Mann-Whitney U test, two-sided. Exact (every split of the pooled mid-ranks enumerated, so ties are handled
 * exactly) while there are at most 200,000 splits, else the normal approximation with tie correction.
 */
export function mannWhitneyU(x: readonly number[], y: readonly number[]): UTest {
  const n = x.length;
  const m = y.length;
  if (!n || !m) return { u: Number.NaN, p: 1, minP: 1, exact: true };
  const ranks = midRanks([...x, ...y]);
  const rx = ranks.slice(0, n).reduce((s, r) => s + r, 0);
  const u = rx - (n * (n + 1)) / 2;
  const meanU = (n * m) / 2;
  const minP = Math.min(1, 2 / binomial(n + m, n));
  if (binomial(n + m, n) <= EXACT_LIMIT) {
    const observed = Math.abs(u - meanU);
    let extreme = 0;
    let total = 0;
    forEachSubset(n + m, n, (pick) => {
      const r = pick.reduce((s, i) => s + (ranks[i] as number), 0) - (n * (n + 1)) / 2;
      total++;
      if (Math.abs(r - meanU) >= observed - 1e-9) extreme++;
    });
    return { u, p: extreme / total, minP, exact: true };
  }
  const tieTerm = tieCorrection(ranks);
  const N = n + m;
  const sd = Math.sqrt(((n * m) / 12) * (N + 1 - tieTerm / (N * (N - 1))));
  const z = sd > 0 ? (Math.abs(u - meanU) - 0.5) / sd : 0;
  return { u, p: Math.min(1, 2 * (1 - normalCdf(Math.max(0, z)))), minP, exact: false };
}

function forEachSubset(N: number, k: number, visit: (pick: number[]) => void): void {
  const pick: number[] = [];
  const walk = (from: number) => {
    if (pick.length === k) return visit(pick);
    for (let i = from; i <= N - (k - pick.length); i++) {
      pick.push(i);
      walk(i + 1);
      pick.pop();
    }
  };
  walk(0);
}

function tieCorrection(ranks: readonly number[]): number {
  const counts = new Map<number, number>();
  for (const r of ranks) counts.set(r, (counts.get(r) ?? 0) + 1);
  let t = 0;
  for (const c of counts.values()) t += c ** 3 - c;
  return t;
}

/** Standard normal CDF (Abramowitz and Stegun 7.1.26 for erf; error below 1.5e-7). */
export function normalCdf(z: number): number {
  const t = 1 / (1 + 0.3275911 * (Math.abs(z) / Math.SQRT2));
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erf = 1 - poly * Math.exp(-(z * z) / 2);
  return z >= 0 ? (1 + erf) / 2 : (1 - erf) / 2;
}

/**
 * A bootstrap over runs: each resample draws, with replacement, as many runs as each side has, and takes the
 * difference of the medians (candidate minus baseline). Returns the 2.5 % and 97.5 % quantiles. With two runs a
 * side there are only a handful of distinct resamples: the interval is then as coarse as the data.
 */
export function runBootstrap(baseline: readonly number[], candidate: readonly number[], resamples: number, rand: () => number): [number, number] {
  if (!baseline.length || !candidate.length) return [Number.NaN, Number.NaN];
  const draw = (xs: readonly number[]) => median(xs.map(() => xs[Math.floor(rand() * xs.length)] as number));
  const diffs: number[] = [];
  for (let r = 0; r < resamples; r++) diffs.push(draw(candidate) - draw(baseline));
  diffs.sort((a, b) => a - b);
  return [quantile(diffs, 0.025), quantile(diffs, 0.975)];
}
