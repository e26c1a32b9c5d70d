/**
 * Open-model arrival schedules: request i has an intended send time fixed in advance, whatever the system under
 * test does. Latency is measured from that time, so a stalled producer cannot hide its stall (coordinated
 * omission). The rate curve comes from a load profile (generators/profiles.ts).
 */
import { expandRate, type RateSegment, type RateSpec, segmentRateAt } from "./profiles.ts";

export type { RateSpec } from "./profiles.ts";

/** Long enough for any test or run that does not say how long it measures (diurnal curves are cut here). */
const HORIZON_MS = 7 * 86_400_000;

interface Piece extends RateSegment {
  /** Requests intended before the segment starts (a real number: the integral of the rate). */
  before: number;
  /** Requests intended within it (Infinity for the last one when its rate is above 0). */
  count: number;
}

/**
 * A compiled schedule: the profile's rate curve, preceded by `warmupMs` at its first rate, with the request count
 * integrated per segment so the i-th intended time is a binary search and a square root.
 */
export class Schedule {
  readonly pieces: Piece[];
  readonly warmupMs: number;

  constructor(rate: RateSpec, o: { durationMs?: number; warmupMs?: number } = {}) {
    const durationMs = o.durationMs ?? HORIZON_MS;
    this.warmupMs = o.warmupMs ?? 0;
    const segs = expandRate(rate, durationMs).map((s) => ({ ...s, startMs: s.startMs + this.warmupMs, endMs: s.endMs + this.warmupMs }));
    const first = segs[0] as RateSegment;
    if (this.warmupMs > 0) segs.unshift({ startMs: 0, endMs: this.warmupMs, from: first.from, to: first.from });
    let before = 0;
    this.pieces = segs.map((s) => {
      const len = s.endMs - s.startMs;
      const count = Number.isFinite(len) ? ((s.from + s.to) / 2) * (len / 1000) : s.from > 0 ? Number.POSITIVE_INFINITY : 0;
      const p = { ...s, before, count };
      before += count;
      return p;
    });
  }

  /** Intended time (ms from the start of load) of the i-th request, i = 0, 1, 2 ...; Infinity past the last. */
  intendedAtMs(i: number): number {
    const ps = this.pieces;
    let lo = 0;
    let hi = ps.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((ps[mid] as Piece).before <= i) lo = mid;
      else hi = mid - 1;
    }
    // Skip empty pieces (a rate of 0) and land in the one that holds request i.
    while (lo < ps.length && (ps[lo] as Piece).before + (ps[lo] as Piece).count <= i) lo++;
    const p = ps[lo];
    if (!p) return Number.POSITIVE_INFINITY;
    const x = i - p.before;
    if (p.from === p.to || !Number.isFinite(p.endMs)) return p.startMs + (x * 1000) / p.from;
    // Requests by s seconds into the piece: N(s) = a s + b s^2 / 2 (in seconds: exact for whole-number rates).
    const a = p.from;
    const b = (p.to - p.from) / ((p.endMs - p.startMs) / 1000);
    return p.startMs + ((-a + Math.sqrt(Math.max(0, a * a + 2 * b * x))) / b) * 1000;
  }

  /** How many requests the schedule holds within `durationMs` of load (a request at exactly the end is excluded). */
  requestsWithin(durationMs: number): number {
    let k = Math.max(0, Math.ceil(this.#integral(durationMs)));
    while (k > 0 && this.intendedAtMs(k - 1) >= durationMs) k--;
    while (this.intendedAtMs(k) < durationMs) k++;
    return k;
  }

  /** The rate (requests/s) in force at time t of load. */
  rateAt(tMs: number): number {
    const p = this.pieces.findLast((x) => x.startMs <= tMs) ?? (this.pieces[0] as Piece);
    return segmentRateAt(p, Math.min(tMs, p.endMs));
  }

  #integral(tMs: number): number {
    const p = this.pieces.findLast((x) => x.startMs <= tMs);
    if (!p) return 0;
    const s = Math.min(tMs, p.endMs) - p.startMs;
    return p.before + ((p.from + segmentRateAt(p, p.startMs + s)) / 2) * (s / 1000);
  }
}

/** Intended time (ms from the start of the profile) of the i-th request, i = 0, 1, 2 ... */
export function intendedAtMs(rate: RateSpec, i: number): number {
  return new Schedule(rate).intendedAtMs(i);
}

/** How many requests the profile holds within `durationMs`. */
export function requestsWithin(rate: RateSpec, durationMs: number): number {
  return new Schedule(rate, { durationMs }).requestsWithin(durationMs);
}

/** The rate (requests/s) in force at time t. */
export function rateAt(rate: RateSpec, tMs: number): number {
  return new Schedule(rate).rateAt(tMs);
}
