/**
 * Open-model arrival schedules: request i has an intended send time fixed in advance, whatever the system under
 * test does. Latency is measured from that time, so a stalled producer cannot hide its stall (coordinated
 * omission).
 */
export type RateSpec =
  | { kind: "constant"; perSecond: number }
  /** Linear ramp from `from` to `to` requests/s over `overMs`, then constant at `to`. */
  | { kind: "ramp"; from: number; to: number; overMs: number };

/** Intended time (ms from the start of load) of the i-th request, i = 0, 1, 2 ... */
export function intendedAtMs(rate: RateSpec, i: number): number {
  if (rate.kind === "constant") return (i * 1000) / rate.perSecond;
  if (rate.overMs <= 0) return (i * 1000) / rate.to; // an instant ramp is the final rate
  // Requests by time t (ms) during the ramp: N(t) = a t + b t^2 / 2, with a, b per ms.
  const a = rate.from / 1000;
  const b = (rate.to - rate.from) / 1000 / rate.overMs;
  const nRamp = a * rate.overMs + (b * rate.overMs * rate.overMs) / 2;
  if (i >= nRamp) return rate.overMs + ((i - nRamp) * 1000) / rate.to;
  if (b === 0) return i / a;
  return (-a + Math.sqrt(a * a + 2 * b * i)) / b;
}

/** How many requests the schedule holds within `durationMs`. */
export function requestsWithin(rate: RateSpec, durationMs: number): number {
  let lo = 0;
  let hi = 1;
  while (intendedAtMs(rate, hi) < durationMs) hi *= 2;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    if (intendedAtMs(rate, mid) < durationMs) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The rate (requests/s) in force at time t. */
export function rateAt(rate: RateSpec, tMs: number): number {
  if (rate.kind === "constant") return rate.perSecond;
  if (tMs >= rate.overMs || rate.overMs <= 0) return rate.to;
  return rate.from + ((rate.to - rate.from) * tMs) / rate.overMs;
}
