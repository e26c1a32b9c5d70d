import { appendFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as hdr from "hdr-histogram-js";

/** Latency percentiles in milliseconds, as they appear in result.json. */
export interface LatencySummary {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  p999: number;
  max: number;
}

/** Values are recorded in microseconds; reports show milliseconds. */
export const US_PER_MS = 1000;
/** One hour, in microseconds: anything slower is clamped (and still counted). */
export const HIGHEST_US = 3_600_000_000;

export const LAB_LOWEST_VALUE = 1;
export const LAB_SIGNIFICANT_DIGITS = 3;

export const newHistogram = (): hdr.Histogram =>
  hdr.build({
    bitBucketSize: 64,
    lowestDiscernibleValue: LAB_LOWEST_VALUE,
    highestTrackableValue: HIGHEST_US,
    numberOfSignificantValueDigits: LAB_SIGNIFICANT_DIGITS,
    useWebAssembly: false,
  });

const round3 = (v: number): number => Math.round(v * 1000) / 1000;

/**
 * Percentiles in ms. HdrHistogram reports a percentile as the top of its bucket, which can exceed the exact
 * recorded max by up to the precision (0.1 %); percentiles are capped at the max so p99.9 <= max always holds.
 */
export function summarize(h: hdr.Histogram): LatencySummary {
  if (!h.totalCount) return { count: 0, p50: 0, p95: 0, p99: 0, p999: 0, max: 0 };
  const max = round3(h.maxValue / US_PER_MS);
  const at = (p: number) => Math.min(round3(h.getValueAtPercentile(p) / US_PER_MS), max);
  return { count: h.totalCount, p50: at(50), p95: at(95), p99: at(99), p999: at(99.9), max };
}

/**
 * Keeps a cumulative and an interval histogram per metric. Each `flush()` appends the interval histograms to
 * `<metric>.hlog` in the HdrHistogram interval-log format and starts new intervals, so a long run holds only one
 * interval in memory and a crash loses at most the current interval. `finish()` writes `<metric>.hgrm`.
 */
export class LatencyRecorder {
  readonly dir: string;
  readonly #metrics = new Map<string, { total: hdr.Histogram; interval: hdr.Histogram; log: hdr.HistogramLogWriter; file: string }>();
  readonly #startMs: number;
  #intervalStartMs: number;

  constructor(dir: string, metrics: readonly string[], startWallMs: number) {
    this.dir = dir;
    this.#startMs = startWallMs;
    this.#intervalStartMs = startWallMs;
    for (const m of metrics) {
      const file = join(dir, `${m}.hlog`);
      writeFileSync(file, "");
      const log = new hdr.HistogramLogWriter((text) => appendFileSync(file, text));
      log.outputComment(`meshlab ${m} latency, values in microseconds`);
      log.outputLogFormatVersion();
      log.outputStartTime(startWallMs);
      log.baseTime = startWallMs;
      log.outputLegend();
      this.#metrics.set(m, { total: newHistogram(), interval: newHistogram(), log, file });
    }
  }

  #get(metric: string) {
    const m = this.#metrics.get(metric);
    if (!m) throw new Error(`LatencyRecorder: unknown metric ${metric}`);
    return m;
  }

  /** Records one latency in microseconds (clamped to [1, HIGHEST_US]). */
  record(metric: string, us: number): void {
    const m = this.#get(metric);
    const v = Math.min(Math.max(Math.round(us), 1), HIGHEST_US);
    m.total.recordValue(v);
    m.interval.recordValue(v);
  }

  /** Appends the current interval of every metric to its log and starts the next one. */
  flush(nowWallMs: number): void {
    for (const m of this.#metrics.values()) {
      m.interval.startTimeStampMsec = this.#intervalStartMs;
      m.interval.endTimeStampMsec = nowWallMs;
      m.log.outputIntervalHistogram(m.interval, (this.#intervalStartMs - this.#startMs) / 1000, (nowWallMs - this.#startMs) / 1000, US_PER_MS);
      m.interval.reset();
    }
    this.#intervalStartMs = nowWallMs;
  }

  summary(metric: string): LatencySummary {
    return summarize(this.#get(metric).total);
  }

  histogram(metric: string): hdr.Histogram {
    return this.#get(metric).total;
  }

  /** Flushes the last interval and writes each metric's percentile distribution (`.hgrm`, in milliseconds). */
  finish(nowWallMs: number): Record<string, LatencySummary> {
    this.flush(nowWallMs);
    const out: Record<string, LatencySummary> = {};
    for (const [name, m] of this.#metrics) {
      writeFileSync(join(this.dir, `${name}.hgrm`), m.total.outputPercentileDistribution(5, US_PER_MS));
      out[name] = summarize(m.total);
    }
    return out;
  }
}

/** Reads an interval log back into its interval histograms (used by tests and reports). */
export function readIntervalLog(content: string): hdr.Histogram[] {
  const reader = new hdr.HistogramLogReader(content, 64, false);
  const out: hdr.Histogram[] = [];
  for (let h = reader.nextIntervalHistogram(); h; h = reader.nextIntervalHistogram()) out.push(h);
  return out;
}
