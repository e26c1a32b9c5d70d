import { readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import type { Check } from "../lab/validate.ts";

/** A latency range in milliseconds, drawn uniformly. */
export interface LatencyRange {
  min: number;
  max: number;
}

/**
 * A dependency's latency as data: most calls take `base`, a `share` of them (0..1) take `slow.range`.
 * Written in a spec as `{ "base": "1-5ms", "slow": { "share": 0.05, "range": "150-600ms" } }`.
 */
export interface DependencyLatency {
  base: LatencyRange;
  slow?: { share: number; range: LatencyRange };
}

const RANGE = /^(\d+(?:\.\d+)?)(?:-(\d+(?:\.\d+)?))?(ms|s)$/;

/** Parses `"150-600ms"`, `"2ms"` or `"0.1-1s"` into milliseconds; undefined when it is none of those. */
export function parseRange(text: string): LatencyRange | undefined {
  const m = RANGE.exec(text.trim());
  if (!m) return undefined;
  const unit = m[3] === "s" ? 1000 : 1;
  const min = Number(m[1]) * unit;
  const max = m[2] === undefined ? min : Number(m[2]) * unit;
  return { min, max };
}

/** A spec check for a latency range (`"1-5ms"`), naming the path and the form it wants. */
export const rangeCheck: Check<LatencyRange> = (v, path, problems) => {
  const r = typeof v === "string" ? parseRange(v) : undefined;
  if (!r) return void problems.push(`${path}: ${JSON.stringify(v)} is not a latency range; write "1-5ms", "150-600ms" or "2ms"`);
  if (r.min > r.max) return void problems.push(`${path}: ${JSON.stringify(v)} has its lower bound above its upper bound`);
  return r;
};

/** One call's latency in ms: from the slow range with probability `slow.share`, else from `base`. */
export function drawLatencyMs(d: DependencyLatency, random: () => number): number {
  const slow = d.slow && d.slow.share > 0 && random() < d.slow.share;
  const r = slow && d.slow ? d.slow.range : d.base;
  return r.min + random() * (r.max - r.min);
}

/**
 * The `slow-dependency` fault as the engines see it: a small JSON file the injector writes (atomically) and the
 * heal removes. While it exists, lookups take its distribution instead of the workload's. Engines are separate
 * processes; a file in the run directory is the one channel they and the lab both have without a new service.
 */
export class DependencyFault {
  readonly file: string;
  #seenMtimeMs = -1;
  #current: Partial<DependencyLatency> | undefined;

  constructor(file: string) {
    this.file = file;
  }

  /** Writes the fault's part of the distribution (its `slow` share and range; the base stays the workload's). */
  static inject(file: string, d: Partial<DependencyLatency>): void {
    writeFileSync(`${file}.tmp`, JSON.stringify(d));
    renameSync(`${file}.tmp`, file);
  }

  static heal(file: string): void {
    rmSync(file, { force: true });
  }

  /** The distribution in force: the fault's while it is injected, else `normal`. Reads the file only when it changed. */
  current(normal: DependencyLatency): DependencyLatency {
    let mtime = 0;
    try {
      mtime = statSync(this.file).mtimeMs;
    } catch {
      this.#seenMtimeMs = -1;
      this.#current = undefined;
      return normal;
    }
    if (mtime !== this.#seenMtimeMs) {
      this.#seenMtimeMs = mtime;
      try {
        this.#current = JSON.parse(readFileSync(this.file, "utf8")) as Partial<DependencyLatency>;
      } catch {
        this.#current = undefined; // half-read: the next call reads it again
        this.#seenMtimeMs = -1;
      }
    }
    return this.#current ? { ...normal, ...this.#current } : normal;
  }
}
