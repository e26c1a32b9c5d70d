/**
 * Pure functions over what a run recorded: the Centrelink engines' assignment history and per-record consumption,
 * and the ledger. They turn it into rebalances, consumption stalls and latency per time window, so the figures of
 * the heartbeat-incident scenario are computed (and unit-tested) without a broker. Times are ms on the run's clock.
 */

/** One rebalance callback of one group member: partitions it got, or gave up (`lost`: without an orderly revoke). */
export interface AssignmentEvent {
  atMs: number;
  instance: string;
  type: "assigned" | "revoked";
  partitions: number[];
  lost?: boolean;
}

export interface Rebalance {
  startMs: number;
  endMs: number;
  durationMs: number;
  /** Members whose assignment changed. */
  instances: string[];
  /** Partitions taken away during it (eager: all of them; cooperative: only the moving ones). */
  revoked: number;
  /** Some member lost its partitions (session expired) instead of revoking them in an orderly way. */
  lost: boolean;
}

/**
 * Groups the members' assignment changes into group rebalances. A rebalance starts with the first change while
 * every partition had an owner, and ends when every partition has an owner again; rebalances less than
 * `mergeGapMs` apart count as one (a cooperative rebalance takes two rounds, an eager one several callbacks). A
 * member that died without a callback still owns its partitions here until another member is assigned them, so
 * the stall figures, not the rebalance durations, show such gaps.
 */
export function rebalancesOf(events: readonly AssignmentEvent[], partitions: number, mergeGapMs = 1_000): Rebalance[] {
  const owner = new Map<number, string>();
  const raw: Rebalance[] = [];
  let cur: { startMs: number; instances: Set<string>; revoked: number; lost: boolean } | undefined;
  for (const e of [...events].sort((a, b) => a.atMs - b.atMs)) {
    cur ??= { startMs: e.atMs, instances: new Set(), revoked: 0, lost: false };
    cur.instances.add(e.instance);
    if (e.type === "assigned") for (const p of e.partitions) owner.set(p, e.instance);
    else {
      cur.revoked += e.partitions.length;
      cur.lost ||= !!e.lost;
      for (const p of e.partitions) if (owner.get(p) === e.instance) owner.delete(p);
    }
    if (owner.size >= partitions) {
      raw.push({ startMs: cur.startMs, endMs: e.atMs, durationMs: e.atMs - cur.startMs, instances: [...cur.instances].sort(), revoked: cur.revoked, lost: cur.lost });
      cur = undefined;
    }
  }
  const merged: Rebalance[] = [];
  for (const r of raw) {
    const last = merged.at(-1);
    if (last && r.startMs - last.endMs <= mergeGapMs) {
      last.endMs = r.endMs;
      last.durationMs = last.endMs - last.startMs;
      last.instances = [...new Set([...last.instances, ...r.instances])].sort();
      last.revoked += r.revoked;
      last.lost ||= r.lost;
    } else merged.push({ ...r });
  }
  // A rebalance still open at the end of the history never completed: it is reported up to its last event.
  if (cur) {
    const lastAt = events.reduce((m, e) => Math.max(m, e.atMs), cur.startMs);
    merged.push({ startMs: cur.startMs, endMs: lastAt, durationMs: lastAt - cur.startMs, instances: [...cur.instances].sort(), revoked: cur.revoked, lost: cur.lost });
  }
  return merged;
}

/** A record became consumable (acknowledged by the brokers) at `atMs`. */
export interface Available {
  partition: number;
  offset: number;
  atMs: number;
}
/** A record was handed to a Centrelink engine at `atMs` (again, after a rebalance, if it was redelivered). */
export interface Consumption {
  partition: number;
  offset: number;
  atMs: number;
}

export interface Stall {
  partition: number;
  /** The longest time no record of this partition was consumed while at least one was waiting. */
  longestMs: number;
  fromMs: number | null;
  toMs: number | null;
}

/**
 * The longest consumption stall of every partition: the longest interval without a consumption on the partition
 * during which some record of it was available and not yet consumed. A record never consumed waits until `endMs`.
 */
export function stallsOf(available: readonly Available[], consumed: readonly Consumption[], partitions: number, endMs: number): Stall[] {
  const out: Stall[] = [];
  for (let p = 0; p < partitions; p++) {
    const first = new Map<number, number>();
    const times: number[] = [];
    for (const c of consumed)
      if (c.partition === p) {
        times.push(c.atMs);
        const f = first.get(c.offset);
        if (f === undefined || c.atMs < f) first.set(c.offset, c.atMs);
      }
    times.sort((a, b) => a - b);
    // Records ordered by when they were first consumed, with the earliest availability among those still waiting.
    const items = available
      .filter((a) => a.partition === p)
      .map((a) => ({ avail: a.atMs, fc: first.get(a.offset) ?? Number.POSITIVE_INFINITY }))
      .sort((a, b) => a.fc - b.fc);
    const suffixMin = new Array<number>(items.length + 1).fill(Number.POSITIVE_INFINITY);
    for (let i = items.length - 1; i >= 0; i--) suffixMin[i] = Math.min(items[i]?.avail ?? Number.POSITIVE_INFINITY, suffixMin[i + 1] ?? Number.POSITIVE_INFINITY);
    let best: Stall = { partition: p, longestMs: 0, fromMs: null, toMs: null };
    let idx = 0;
    let prev = Number.NEGATIVE_INFINITY;
    for (const next of [...times, endMs]) {
      while (idx < items.length && (items[idx]?.fc ?? 0) <= prev) idx++;
      const waitingSince = Math.max(prev, suffixMin[idx] ?? Number.POSITIVE_INFINITY);
      if (waitingSince < next && next - waitingSince > best.longestMs) best = { partition: p, longestMs: next - waitingSince, fromMs: waitingSince, toMs: next };
      prev = next;
    }
    out.push(best);
  }
  return out;
}

export interface WindowLatency {
  count: number;
  p95: number | null;
  p99: number | null;
  max: number | null;
}

/** Exact nearest-rank percentiles of the values (ms), e.g. clearance latencies of the requests intended in a window. */
export function windowLatency(values: readonly number[]): WindowLatency {
  if (values.length === 0) return { count: 0, p95: null, p99: null, max: null };
  const v = [...values].sort((a, b) => a - b);
  const rank = (q: number) => v[Math.min(v.length - 1, Math.ceil(q * v.length) - 1)] ?? null;
  const r = (x: number | null) => (x === null ? null : Math.round(x * 10) / 10);
  return { count: v.length, p95: r(rank(0.95)), p99: r(rank(0.99)), max: r(v[v.length - 1] ?? null) };
}
