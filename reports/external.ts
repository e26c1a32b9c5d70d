import { readFileSync, statSync } from "node:fs";
import { basename } from "node:path";
import type * as hdr from "hdr-histogram-js";
import { BadInputError } from "../lab/errors.ts";
import { HIGHEST_US } from "./hdr.ts";
import { decodeHistogram, forEachInterval, histogramFromCounts, scratchCounts, type Sparse, sparseOf } from "./hlog.ts";
import { figuresOnlyResult, loadMetric, type MetricData, type RunData } from "./run-data.ts";

/**
 * Latency figures from outside the lab, to compare a run with: an HdrHistogram interval log (`.hlog`, any
 * histogram layout, intervals kept, so its spread within the log can be resampled) or a percentile distribution
 * (`.hgrm`, one histogram: nothing to resample). Values are converted from `unit` into the lab's layout
 * (microseconds, 3 significant digits), so they add and compare bucket by bucket with a lab run; the conversion
 * keeps HdrHistogram's precision (within 0.1 %).
 */
export const UNITS = { ns: 0.001, us: 1, ms: 1000, s: 1_000_000 } as const;
export type Unit = keyof typeof UNITS;

export const isExternalFile = (path: string): boolean => /\.(hlog|hgrm)$/.test(path) && statSync(path, { throwIfNoEntry: false })?.isFile() === true;

export function parseUnit(raw: string | undefined): Unit | undefined {
  if (raw === undefined) return undefined;
  const u = raw === "µs" ? "us" : raw;
  if (!(u in UNITS)) throw new BadInputError(`--unit ${raw}: not a unit`, [], "use --unit ns, us, ms or s: the unit the file's values are in");
  return u as Unit;
}

/** Loads an external `.hlog` or `.hgrm` as a run holding one metric (`metric`, the one being compared). */
export function loadExternal(file: string, unit: Unit | undefined, metric: string): RunData {
  if (!unit)
    throw new BadInputError(`${file}: an external ${file.endsWith(".hgrm") ? ".hgrm" : ".hlog"} needs its value unit`, [], "add --unit ns|us|ms|s (a lab run's .hlog is in us, its .hgrm in ms)");
  const text = readFileSync(file, "utf8");
  const m = file.endsWith(".hgrm") ? hgrmMetric(metric, text, file, UNITS[unit]) : hlogMetric(metric, text, file, UNITS[unit]);
  const kind = file.endsWith(".hgrm") ? "percentile distribution (.hgrm, no intervals)" : `interval log (.hlog, ${m.intervals.length} intervals)`;
  const result = figuresOnlyResult(basename(file), new Date(statSync(file).mtimeMs).toISOString(), [], `external ${kind}, values in ${unit}: latency only, no counts or verdicts`);
  return { dir: file, label: basename(file), result, partial: true, metrics: { [metric]: m }, throughput: [], lag: [] };
}

interface Layout {
  countsArrayLength: number;
  getCountAtIndex(i: number): number;
  valueFromIndex(i: number): number;
}

const labLayout = histogramFromCounts(scratchCounts()) as unknown as { countsArrayIndex(v: number): number };

/** A value in the file's unit, into the lab's bucket (clamped at the lab's 1 h ceiling, as the lab records). */
const labIndex = (value: number, toUs: number): number => labLayout.countsArrayIndex(Math.min(Math.round(value * toUs), HIGHEST_US));

/** Re-buckets a histogram of any layout into the lab's, scaling its values to microseconds. */
function toLab(h: hdr.Histogram, toUs: number): Sparse {
  const j = h as unknown as Layout;
  const counts = scratchCounts();
  for (let i = 0; i < j.countsArrayLength; i++) {
    const c = j.getCountAtIndex(i);
    if (c > 0) counts[labIndex(j.valueFromIndex(i), toUs)] = (counts[labIndex(j.valueFromIndex(i), toUs)] as number) + c;
  }
  return sparseOf(counts);
}

function hlogMetric(name: string, text: string, file: string, toUs: number): MetricData {
  let n = 0;
  forEachInterval(text, () => n++);
  if (!n) throw new BadInputError(`${file}: no interval lines`, [], "is it an HdrHistogram interval log (HistogramLogWriter output)? A percentile file ends in .hgrm");
  try {
    return loadMetric(name, text, [], (encoded) => toLab(decodeHistogram(encoded), toUs));
  } catch (e) {
    throw new BadInputError(`${file}: an interval could not be decoded`, [(e as Error).message], "the log must hold compressed V2 histograms, as HdrHistogram's HistogramLogWriter writes them");
  }
}

/**
 * A `.hgrm` (HdrHistogram's outputPercentileDistribution): each row's value carries the samples its cumulative
 * count added since the previous row. That is the distribution at the file's percentile steps, which is all it holds.
 */
function hgrmMetric(name: string, text: string, file: string, toUs: number): MetricData {
  const counts = scratchCounts();
  const problems: string[] = [];
  let before = 0;
  text.split("\n").forEach((line, i) => {
    const t = line.trim();
    if (!t || t.startsWith("#") || /^Value\b/.test(t)) return;
    const [value, , total] = t.split(/\s+/).map(Number);
    if (value === undefined || total === undefined || !Number.isFinite(value) || !Number.isFinite(total) || total < before) {
      problems.push(`line ${i + 1}: "${t.slice(0, 60)}" is not "Value Percentile TotalCount 1/(1-Percentile)" with a rising TotalCount`);
      return;
    }
    counts[labIndex(value, toUs)] = (counts[labIndex(value, toUs)] as number) + (total - before);
    before = total;
  });
  if (problems.length || !before) throw new BadInputError(`${file}: not a percentile distribution`, problems.slice(0, 10), "pass a .hgrm written by HdrHistogram's outputPercentileDistribution");
  return { name, intervals: [], total: histogramFromCounts(counts), blocks: { all: [sparseOf(counts)] } };
}
