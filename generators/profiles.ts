import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { arr, type Check, duration, num, obj, oneOf, optional, type Problems, str } from "../lab/validate.ts";

/**
 * Load profiles: the open-model arrival rate over time, as data. Every kind expands to the same piecewise-linear
 * rate curve (`expandRate`), which the schedule (generators/schedule.ts) turns into one intended send time per
 * request. Times are from the start of the measured window; the warm-up before it runs at the profile's first rate.
 * `scale` multiplies every rate, so the seed's shape runs on a small machine (`--scale 0.002`) and the full figure
 * on the target hosts.
 *
 * The vocabulary borrows k6's arrival-rate executors: `constant` is k6's constant-arrival-rate, `stages` its
 * ramping-arrival-rate (`startRate`, stages of `{ duration, target }`, each a linear ramp to its target).
 */
export type RateSpec = (
  | { kind: "constant"; perSecond: number }
  /** Linear ramp from `from` to `to` requests/s over `overMs`, then constant at `to`. */
  | { kind: "ramp"; from: number; to: number; overMs: number }
  /** k6 ramping-arrival-rate: from `startRate`, each stage ramps linearly to `target` over `duration`; holds the last. */
  | { kind: "stages"; startRate: number; stages: { duration: number; target: number }[] }
  /** `steps` levels evenly from `from` to `to`, each held `stepMs`; holds `to` after the last. */
  | { kind: "step"; from: number; to: number; steps: number; stepMs: number }
  /** `base`, then at `atMs` up to `peak` (over `rampMs`), held `forMs`, back to `base` (over `rampMs`). */
  | { kind: "spike"; base: number; peak: number; atMs: number; forMs: number; rampMs: number }
  /** A day's cosine between `min` and `max` with period `periodMs`, highest at `peakAtMs` (and every period after). */
  | { kind: "diurnal"; min: number; max: number; periodMs: number; peakAtMs: number }
  /** A per-second rate trace (a production traffic export): second k runs at `trace[k]`; nothing after its end. */
  | { kind: "replay"; file?: string; trace: number[] }
  /** The seed's steady load, 42,000 events/s. */
  | { kind: "seed-steady" }
  /**
   * The seed's end-of-financial-year peak: steady, ramp to 115,000/s over `rampMs`, hold `holdMs`, ramp back,
   * steady. Unset durations are a fifth of the measured window each (steady, up, hold, down, steady).
   */
  | { kind: "seed-eofy"; rampMs?: number; holdMs?: number }
) & {
  /** Multiplies every rate of the profile (default 1). */
  scale?: number;
};

export type RateKind = RateSpec["kind"];

/** Profiles that need no parameters, so a flag can name them (`--profile seed-eofy`). */
export const NAMED_PROFILES: string[] = ["seed-steady", "seed-eofy"];

/** The seed's published throughput (docs/DOMAIN: 42,000 events/s steady, 115,000 at the EOFY peak). */
export const SEED_STEADY_PER_SECOND = 42_000;
export const SEED_PEAK_PER_SECOND = 115_000;

/** One piece of the rate curve: linear from `from` to `to` requests/s between `startMs` and `endMs`. */
export interface RateSegment {
  startMs: number;
  endMs: number;
  from: number;
  to: number;
}

/** Diurnal curves are drawn as straight pieces of 1/288 of the period (5 minutes of a day), at least 1 s. */
const DIURNAL_PIECES = 288;

/**
 * The rate curve of a profile over `durationMs` of measured time, as contiguous segments from 0; the last one
 * holds its final rate to infinity (or stays at 0 after a replay's trace), so any request count is reachable.
 */
export function expandRate(rate: RateSpec, durationMs: number): RateSegment[] {
  const k = rate.scale ?? 1;
  const segs: RateSegment[] = [];
  let t = 0;
  let last = 0;
  const to = (target: number, overMs: number) => {
    if (overMs > 0) segs.push({ startMs: t, endMs: t + overMs, from: last * k, to: target * k });
    t += overMs;
    last = target;
  };
  const hold = (overMs: number) => to(last, overMs);
  switch (rate.kind) {
    case "constant":
      last = rate.perSecond;
      break;
    case "ramp":
      last = rate.overMs > 0 ? rate.from : rate.to;
      to(rate.to, rate.overMs);
      break;
    case "stages":
      last = rate.startRate;
      for (const s of rate.stages) to(s.target, s.duration);
      break;
    case "step":
      for (let i = 0; i < rate.steps; i++) {
        last = rate.steps === 1 ? rate.to : rate.from + ((rate.to - rate.from) * i) / (rate.steps - 1);
        if (i < rate.steps - 1) hold(rate.stepMs);
      }
      break;
    case "spike":
      last = rate.base;
      hold(rate.atMs);
      to(rate.peak, rate.rampMs);
      hold(rate.forMs);
      to(rate.base, rate.rampMs);
      break;
    case "diurnal": {
      const at = (ms: number) => rate.min + ((rate.max - rate.min) * (1 + Math.cos((2 * Math.PI * (ms - rate.peakAtMs)) / rate.periodMs))) / 2;
      const piece = Math.max(1000, rate.periodMs / DIURNAL_PIECES);
      const end = Number.isFinite(durationMs) ? durationMs : rate.periodMs;
      last = at(0);
      while (t < end) to(at(t + piece), piece);
      break;
    }
    case "replay":
      for (const r of rate.trace) {
        last = r;
        hold(1000);
      }
      last = 0;
      break;
    case "seed-steady":
      last = SEED_STEADY_PER_SECOND;
      break;
    case "seed-eofy": {
      if (!Number.isFinite(durationMs) && (rate.rampMs === undefined || rate.holdMs === undefined))
        throw new Error("seed-eofy without rampMs and holdMs needs a finite duration");
      const fifth = durationMs / 5;
      const ramp = rate.rampMs ?? fifth;
      const held = rate.holdMs ?? fifth;
      const steady = Math.max(0, (durationMs - 2 * ramp - held) / 2);
      last = SEED_STEADY_PER_SECOND;
      hold(Number.isFinite(steady) ? steady : 0);
      to(SEED_PEAK_PER_SECOND, ramp);
      hold(held);
      to(SEED_STEADY_PER_SECOND, ramp);
      break;
    }
  }
  segs.push({ startMs: t, endMs: Number.POSITIVE_INFINITY, from: last * k, to: last * k });
  return segs;
}

/** The first rate of a profile: what the warm-up offers. */
export function initialRate(rate: RateSpec, durationMs: number): number {
  return (expandRate(rate, durationMs)[0] as RateSegment).from;
}

/** The rate of a segment at time t within it. */
export function segmentRateAt(s: RateSegment, tMs: number): number {
  if (s.from === s.to || !Number.isFinite(s.endMs)) return s.from;
  return s.from + ((s.to - s.from) * (tMs - s.startMs)) / (s.endMs - s.startMs);
}

/** The highest rate a profile reaches within `durationMs` (what the machine must keep up with). */
export function peakRate(rate: RateSpec, durationMs: number): number {
  let peak = 0;
  for (const s of expandRate(rate, durationMs))
    if (s.startMs < durationMs || s.startMs === 0) peak = Math.max(peak, s.from, segmentRateAt(s, Math.min(s.endMs, durationMs)));
  return peak;
}

/** One line for the log: `seed-eofy x0.002 (84 -> 230/s)`. */
export function describeRate(rate: RateSpec, durationMs: number): string {
  const scale = (rate.scale ?? 1) === 1 ? "" : ` x${rate.scale}`;
  const fmt = (n: number) => (n >= 100 ? n.toFixed(0) : Number(n.toPrecision(3)).toString());
  const first = initialRate(rate, durationMs);
  const peak = peakRate(rate, durationMs);
  const range = first === peak ? `${fmt(first)}/s` : `${fmt(first)} -> ${fmt(peak)}/s peak`;
  return `${rate.kind}${scale} (${range})`;
}

/**
 * Reads a per-second rate trace: one rate per line, or `second,rate` / `time,rate` (the last column is the rate,
 * in file order); a header line and `#` comments are skipped. Problems name the file and line.
 */
export function parseTraceCsv(text: string, source: string, problems: Problems): number[] {
  const out: number[] = [];
  let header = true;
  for (const [i, line] of text.split(/\r?\n/).entries()) {
    const l = line.trim();
    if (!l || l.startsWith("#")) continue;
    const cell = (l.split(/[,;\t]/).pop() ?? "").trim();
    const n = Number(cell);
    const wasHeader = header;
    header = false;
    if (cell === "" || !Number.isFinite(n)) {
      if (!wasHeader) problems.push(`${source}:${i + 1}: ${JSON.stringify(cell)} is not a rate`);
    } else if (n < 0) problems.push(`${source}:${i + 1}: rate ${n} is negative`);
    else out.push(n);
  }
  if (!out.length && !problems.length) problems.push(`${source}: no rates (expected one per-second rate a line)`);
  return out;
}

const rateNum = num({ min: 0, max: 10_000_000 });
const scale = optional(num({ min: 0.000001, max: 1000 }), 1);
const positiveDuration: Check<number> = (v, path, problems) => {
  const ms = duration(v, path, problems);
  if (ms === 0) return void problems.push(`${path}: a ramp needs a duration above 0 (use a constant rate instead)`);
  return ms;
};

const replay: Check<RateSpec> = (v, path, problems) => {
  const r = obj({ kind: oneOf("replay"), file: optional(str(), ""), trace: optional(arr(rateNum), []), scale })(v, path, problems);
  if (!r) return undefined;
  if (r.file && (v as { trace?: unknown }).trace !== undefined) return void problems.push(`${path}: give file or trace, not both`);
  if (r.file) {
    const file = resolve(r.file);
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (e) {
      return void problems.push(`${path}.file: cannot read ${file} (${(e as Error).message})`);
    }
    r.trace = parseTraceCsv(text, `${path}.file ${r.file}`, problems);
  } else if (!r.trace.length) return void problems.push(`${path}: needs file (a CSV of per-second rates) or trace (a list of rates)`);
  if (!r.file) delete (r as { file?: string }).file;
  return r as RateSpec;
};

const checks: Record<RateKind, Check<RateSpec>> = {
  constant: obj({ kind: oneOf("constant"), perSecond: num({ min: 0.001, max: 1_000_000 }), scale }),
  ramp: obj({ kind: oneOf("ramp"), from: num({ min: 0 }), to: num({ min: 0.001 }), overMs: positiveDuration, scale }),
  stages: obj({
    kind: oneOf("stages"),
    startRate: optional(rateNum, 0),
    stages: arr(obj({ duration, target: rateNum }), { min: 1 }),
    scale,
  }),
  step: obj({ kind: oneOf("step"), from: rateNum, to: rateNum, steps: num({ integer: true, min: 1, max: 1000 }), stepMs: positiveDuration, scale }),
  spike: obj({ kind: oneOf("spike"), base: rateNum, peak: rateNum, atMs: duration, forMs: duration, rampMs: optional(duration, 0), scale }),
  diurnal: obj({ kind: oneOf("diurnal"), min: rateNum, max: rateNum, periodMs: optional(positiveDuration, 86_400_000), peakAtMs: optional(duration, 0), scale }),
  replay,
  "seed-steady": obj({ kind: oneOf("seed-steady"), scale }),
  "seed-eofy": obj({ kind: oneOf("seed-eofy"), rampMs: optional(positiveDuration, undefined as unknown as number), holdMs: optional(duration, undefined as unknown as number), scale }),
};

export const rateKinds = Object.keys(checks) as RateKind[];

/** Validates a rate spec of any kind (strict keys, every problem with its path). */
export const rateCheck: Check<RateSpec> = (v, path, problems) => {
  const kind = (v as { kind?: unknown } | null)?.kind;
  const check = checks[(typeof kind === "string" && kind in checks ? kind : "constant") as RateKind];
  if (typeof kind === "string" && !(kind in checks)) return void problems.push(`${path}.kind: ${JSON.stringify(kind)} is not one of ${rateKinds.map((k) => `"${k}"`).join(", ")}`);
  const r = check(v, path, problems);
  if (r?.kind === "seed-eofy") for (const k of ["rampMs", "holdMs"] as const) if (r[k] === undefined) delete r[k];
  if (r?.kind === "diurnal" && r.min > r.max) problems.push(`${path}: min is above max`);
  return r;
};

/** Cross-checks a profile against the measured window (a replay shorter than the run offers nothing at its end). */
export function rateProblems(rate: RateSpec, durationMs: number, path: string): string[] {
  const out: string[] = [];
  if (rate.kind === "replay" && rate.trace.length * 1000 < durationMs)
    out.push(`${path}: the trace covers ${rate.trace.length} s, the run measures ${durationMs / 1000} s (shorten --duration or extend the trace)`);
  if (rate.kind === "seed-eofy" && 2 * (rate.rampMs ?? durationMs / 5) + (rate.holdMs ?? durationMs / 5) > durationMs)
    out.push(`${path}: ramp up, hold and ramp down take longer than the run's ${durationMs / 1000} s`);
  if (peakRate(rate, durationMs) > 1_000_000) out.push(`${path}: peaks at ${peakRate(rate, durationMs).toFixed(0)}/s, above 1,000,000/s (lower scale)`);
  if (peakRate(rate, durationMs) <= 0) out.push(`${path}: offers no load within the run`);
  return out;
}
