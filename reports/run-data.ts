import { closeSync, createReadStream, existsSync, openSync, readdirSync, readFileSync, readSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { createInterface } from "node:readline";
import type * as hdr from "hdr-histogram-js";
import { BadInputError } from "../lab/errors.ts";
import type { Counts } from "./checker.ts";
import { addInto, decodeSparse, forEachInterval, histogramFromCounts, type PhaseWindow, phaseAt, type Sparse, scratchCounts, sparseOf, sparsePercentiles } from "./hlog.ts";
import type { MetricsSample } from "../topology/metrics/sampler.ts";
import type { RunResult } from "./result.ts";

/** A phase of the run (issue 3 adds these to result.json); times in ms relative to `startedAt`. */
export interface Phase extends PhaseWindow {
  latencyMs?: Record<string, unknown>;
}

/** A fault window (the chaos library adds these to result.json); `endMs` null = never healed. */
export interface Fault {
  kind: string;
  target: string;
  startMs: number;
  endMs: number | null;
  outcome: string;
  details?: Record<string, unknown>;
}

/** result.json as the reports read it: the walking skeleton's fields plus the optional ones later issues add. */
export type ResultFile = Omit<RunResult, "phases"> & {
  phases?: Phase[];
  faults?: Fault[];
};

/** One interval of one metric: exact figures from its histogram, ms; times relative to `startedAt`. */
export interface IntervalStats {
  startMs: number;
  endMs: number;
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface MetricData {
  name: string;
  intervals: IntervalStats[];
  /** All intervals added up (equals the run's .hgrm; also available when the runner died before writing it). */
  total: hdr.Histogram;
  /** Contiguous blocks of intervals as sparse histograms, per scope ("all" and each phase): what compare resamples. */
  blocks: Record<string, Sparse[]>;
}

/** Requests per one-second bin, from the ledger; `backlog` = acknowledged and not yet completed at the bin's end. */
export interface ThroughputBin {
  tMs: number;
  intended: number;
  sent: number;
  acked: number;
  completed: number;
  backlog: number;
}

/** A consumer-group lag sample (`lag.ndjson`), when the run recorded one. */
export interface LagSample {
  tMs: number;
  group: string;
  lag: number;
}

export interface RunData {
  dir: string;
  label: string;
  result: ResultFile;
  /** True when result.json was missing (the runner died): figures come from the interval logs alone. */
  partial: boolean;
  metrics: Record<string, MetricData>;
  throughput: ThroughputBin[];
  lag: LagSample[];
  /** Broker, controller and MirrorMaker JMX samples (`metrics.ndjson`), when the run recorded them. */
  brokerMetrics?: MetricsSample[];
}

/** How many contiguous blocks a scope is cut into for the bootstrap (fewer when it has fewer intervals). */
export const BLOCKS_PER_SCOPE = 30;

/** Accepts a run directory or a path to its result.json. */
export function runDirOf(arg: string): string {
  if (!existsSync(arg)) throw new BadInputError(`${arg} does not exist`, [], "pass a run directory (runs/<scenario>-<time>) or its result.json");
  return statSync(arg).isDirectory() ? arg : dirname(arg);
}

/** A directory of repeated runs (`rep-1` .. `rep-N`, as `run --repeat` writes), in order; undefined for anything else. */
export function repeatedRuns(dir: string): string[] | undefined {
  if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory() || existsSync(join(dir, "result.json"))) return undefined;
  const reps = readdirSync(dir)
    .filter((f) => /^rep-\d+$/.test(f) && statSync(join(dir, f)).isDirectory())
    .sort((a, b) => Number(a.slice(4)) - Number(b.slice(4)));
  return reps.length ? reps.map((r) => join(dir, r)) : undefined;
}

/**
 * Loads a run from its files only: result.json, the `.hlog` interval logs, `ledger.ndjson` and `lag.ndjson`.
 * A run whose runner died has no result.json; it still loads from what was flushed so far (`partial`).
 */
export async function loadRun(arg: string, label?: string): Promise<RunData> {
  const dir = runDirOf(arg);
  const resultFile = join(dir, "result.json");
  const hlogs = readdirSync(dir).filter((f) => f.endsWith(".hlog") && !f.endsWith(".phases.hlog"));
  if (!existsSync(resultFile) && hlogs.length === 0)
    throw new BadInputError(`${dir} holds no result.json and no interval logs`, [], "is this a meshlab run directory?");
  let result: ResultFile;
  let partial = false;
  if (existsSync(resultFile)) {
    try {
      result = JSON.parse(readFileSync(resultFile, "utf8")) as ResultFile;
    } catch (e) {
      throw new BadInputError(`${resultFile} is not valid JSON`, [(e as Error).message], "was the file cut short? the interval logs are still readable");
    }
  } else {
    result = partialResult(dir, hlogs);
    partial = true;
  }
  const phases = result.phases ?? [];
  const metrics: Record<string, MetricData> = {};
  for (const f of result.files?.hlog?.length ? result.files.hlog : hlogs) {
    const file = join(dir, f);
    if (existsSync(file)) metrics[basename(f, ".hlog")] = loadMetric(basename(f, ".hlog"), readFileSync(file, "utf8"), phases);
  }
  const ledgerFile = join(dir, result.files?.ledger ?? "ledger.ndjson");
  const throughput = existsSync(ledgerFile) ? await binLedger(ledgerFile, ledgerOriginUs(result, ledgerFile)) : [];
  return { dir, label: label ?? basename(dir), result, partial, metrics, throughput, lag: readNdjson<LagSample>(join(dir, "lag.ndjson")),
    brokerMetrics: readNdjson<MetricsSample>(join(dir, "metrics.ndjson")),
  };
}

/**
 * One metric from its interval log: per-interval figures, the total, and contiguous blocks per scope. `decode`
 * turns an interval's encoded histogram into the lab's layout (an external log in another unit or layout is
 * converted there).
 */
export function loadMetric(name: string, content: string, phases: readonly PhaseWindow[], decode: (encoded: string) => Sparse = decodeSparse): MetricData {
  // First pass: interval times only (nothing decoded), to cut each scope into blocks of contiguous intervals.
  const member: { scope: string; block: number }[][] = [];
  const scopes: Record<string, number[]> = { all: [] };
  forEachInterval(content, (i) => {
    const k = member.push([]) - 1;
    scopes.all?.push(k);
    const phase = phaseAt(phases, i.startMs, i.endMs);
    if (!phase) return;
    scopes[phase] ??= [];
    scopes[phase]?.push(k);
  });
  for (const [scope, ks] of Object.entries(scopes)) {
    const n = Math.min(BLOCKS_PER_SCOPE, ks.length);
    ks.forEach((k, j) => {
      member[k]?.push({ scope, block: Math.floor((j * n) / ks.length) });
    });
  }
  // Second pass: decode each interval once, straight into sparse form, and add it where it belongs.
  const total = scratchCounts();
  const dense: Record<string, Float64Array[]> = {};
  const intervals: IntervalStats[] = [];
  let k = 0;
  forEachInterval(content, (i) => {
    const s = decode(i.encoded);
    addInto(total, s);
    const [p50, p90, p99, max] = sparsePercentiles(s, [50, 90, 99, 100]) as [number, number, number, number];
    intervals.push({ startMs: i.startMs, endMs: i.endMs, count: s.total, p50, p90, p99, max });
    for (const m of member[k] ?? []) {
      dense[m.scope] ??= [];
      const list = dense[m.scope] as Float64Array[];
      list[m.block] ??= scratchCounts();
      addInto(list[m.block] as Float64Array, s);
    }
    k++;
  });
  const blocks = Object.fromEntries(Object.entries(dense).map(([scope, list]) => [scope, list.map(sparseOf)]));
  return { name, intervals, total: histogramFromCounts(total), blocks };
}

/** Where the ledger's monotonic clock stood at `startedAt`: recorded by newer runs, estimated for older ones. */
function ledgerOriginUs(result: ResultFile, ledgerFile: string): number {
  if (result.monotonicOriginUs !== undefined) return result.monotonicOriginUs;
  // Older runs: the first request is intended when traffic starts (within a few ms of trafficStartMs).
  const fd = openSync(ledgerFile, "r");
  const head = Buffer.alloc(64 * 1024);
  const n = readSync(fd, head, 0, head.length, 0);
  closeSync(fd);
  const first = head.subarray(0, n).toString("utf8").split("\n")[0];
  const intendedUs = first ? (JSON.parse(first) as { intendedUs: number }).intendedUs : 0;
  return intendedUs - (result.trafficStartMs ?? 0) * 1000;
}

/** Streams the ledger into one-second bins, so a soak's ledger is never held in memory. */
export async function binLedger(file: string, originUs: number): Promise<ThroughputBin[]> {
  const bins: ThroughputBin[] = [];
  const bin = (us: number | undefined, field: "intended" | "sent" | "acked" | "completed") => {
    if (us === undefined) return;
    const s = Math.max(0, Math.floor((us - originUs) / 1e6));
    while (bins.length <= s) bins.push({ tMs: bins.length * 1000, intended: 0, sent: 0, acked: 0, completed: 0, backlog: 0 });
    (bins[s] as ThroughputBin)[field]++;
  };
  const lines = createInterface({ input: createReadStream(file, "utf8"), crlfDelay: Number.POSITIVE_INFINITY });
  for await (const line of lines) {
    if (!line) continue;
    const e = JSON.parse(line) as { intendedUs: number; sentUs?: number; ackedUs?: number; completedUs?: number[] };
    bin(e.intendedUs, "intended");
    bin(e.sentUs, "sent");
    bin(e.ackedUs, "acked");
    bin(e.completedUs?.[0], "completed");
  }
  let backlog = 0;
  for (const b of bins) {
    backlog += b.acked - b.completed;
    b.backlog = Math.max(0, backlog);
  }
  return bins;
}

/** A stretch of the run where the mesh fell behind the intended rate. */
export interface BehindSpan {
  startMs: number;
  endMs: number;
  /** The most work outstanding in the span (intended, not completed), in seconds of the intended rate. */
  peakSeconds: number;
}

/**
 * Where the mesh fell behind: seconds at whose end more than `thresholdSeconds` of the intended rate was intended
 * and not yet completed (by the ledger's bins), merged into spans. Normal latency keeps well under a second of work
 * outstanding; a stalled or saturated mesh piles it up.
 */
export function behindSpans(bins: ThroughputBin[], thresholdSeconds = 1): BehindSpan[] {
  const spans: BehindSpan[] = [];
  let intended = 0;
  let completed = 0;
  let open: BehindSpan | undefined;
  // After the load stops (the drain), work outstanding is measured in seconds of the last rate offered.
  let rate = 1;
  for (const b of bins) {
    intended += b.intended;
    completed += b.completed;
    if (b.intended > 0) rate = b.intended;
    const outstanding = (intended - completed) / rate;
    if (outstanding > thresholdSeconds && intended - completed > 1) {
      if (!open) {
        open = { startMs: b.tMs, endMs: b.tMs + 1000, peakSeconds: 0 };
        spans.push(open);
      }
      open.endMs = b.tMs + 1000;
      open.peakSeconds = Math.max(open.peakSeconds, outstanding);
    } else open = undefined;
  }
  return spans;
}

/** The lines of a sampler's `.ndjson` file (lag, broker metrics); none when the run recorded none. */
export function readNdjson<T>(file: string): T[] {
  if (!existsSync(file)) return [];
  const out: T[] = [];
  for (const line of readFileSync(file, "utf8").split("\n")) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line) as T);
    } catch {
      // A crash can cut the last line short; everything before it still counts.
    }
  }
  return out;
}

const ZERO_COUNTS: Counts = { intended: 0, sent: 0, acked: 0, completed: 0, lost: 0, duplicated: 0, businessDuplicates: 0, errors: 0, unexpected: 0, inFlight: 0 };

/** What a run directory without result.json can still tell: its interval logs, its StartTime, and no verdicts. */
function partialResult(dir: string, hlogs: string[]): ResultFile {
  const header = forEachInterval(readFileSync(join(dir, hlogs[0] as string), "utf8"), () => {});
  const startedAt = new Date(header.startTimeMs ?? statSync(dir).mtimeMs).toISOString();
  return figuresOnlyResult(basename(dir), startedAt, hlogs, "no result.json: the runner did not finish (crashed or killed); figures below are what its interval logs hold");
}

/** A result file with no verdicts, for latency figures without a run behind them (a dead runner, an external log). */
export function figuresOnlyResult(scenario: string, startedAt: string, hlogs: string[], why: string): ResultFile {
  const empty = { count: 0, p50: 0, p95: 0, p99: 0, p999: 0, max: 0 };
  return {
    resultFormat: 1,
    scenario,
    status: "failed",
    spec: null,
    startedAt,
    durationMs: 0,
    trafficStartMs: null,
    counts: { ...ZERO_COUNTS },
    latencyMs: { clearance: empty, produceAck: empty },
    slo: { passed: false, checks: [] },
    checker: { valid: "unknown", evidence: { lost: [], duplicated: [], businessDuplicates: [], errors: [], unexpected: [], outOfOrder: [] }, outOfOrderCount: 0 },
    versions: {},
    machine: { hostname: "unknown", cpus: 0, cpuModel: "unknown", memoryGiB: 0, kernel: "unknown", node: "unknown" },
    files: { hgrm: [], hlog: hlogs, ledger: "ledger.ndjson", logs: [] },
    error: { message: why },
  };
}
