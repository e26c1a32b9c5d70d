import { readFileSync } from "node:fs";
import { inflateSync } from "node:zlib";
import * as hdr from "hdr-histogram-js";
import { LAB_LOWEST_VALUE, LAB_SIGNIFICANT_DIGITS, newHistogram, US_PER_MS } from "./hdr.ts";

/** One interval line of an HdrHistogram interval log (format 1.3), times in ms relative to the log's StartTime. */
export interface LogInterval {
  tag: string | undefined;
  startMs: number;
  endMs: number;
  /** The interval's histogram, compressed and base64-encoded as in the log; decode with `decodeHistogram` or `decodeSparse`. */
  encoded: string;
  /** The line without its tag: `start,length,max,histogram`. */
  untagged: string;
}

export interface ParsedLogHeader {
  /** `#[StartTime: s ...]` in ms since the epoch, or undefined when the log has none. */
  startTimeMs: number | undefined;
  comments: string[];
}

/**
 * Walks an interval log line by line without building an array of lines or decoding anything, so a 24-hour log
 * (86,400 intervals) costs one string, and a caller decodes only what it needs. Timestamps are taken as relative to StartTime, which is
 * how the lab writes them; a log with absolute timestamps (as some tools write) is detected the same way
 * HdrHistogram's own reader does (a timestamp within a year of StartTime is absolute).
 */
export function forEachInterval(content: string, visit: (i: LogInterval) => void, header?: ParsedLogHeader): ParsedLogHeader {
  const h: ParsedLogHeader = header ?? { startTimeMs: undefined, comments: [] };
  let baseSec: number | undefined;
  let pos = 0;
  while (pos < content.length) {
    let end = content.indexOf("\n", pos);
    if (end < 0) end = content.length;
    const line = content.slice(pos, end).replace(/\r$/, "");
    pos = end + 1;
    if (!line) continue;
    if (line.startsWith("#[StartTime:")) {
      h.startTimeMs = Number.parseFloat(line.split(" ")[1] ?? "") * 1000;
      continue;
    }
    if (line.startsWith("#[BaseTime:")) {
      baseSec = Number.parseFloat(line.split(" ")[1] ?? "");
      continue;
    }
    if (line.startsWith("#")) {
      h.comments.push(line.slice(1));
      continue;
    }
    if (line.startsWith('"StartTimestamp"')) continue;
    const tokens = line.split(",");
    let tag: string | undefined;
    if (tokens[0]?.startsWith("Tag=")) tag = (tokens.shift() as string).slice(4);
    const [ts, len, , b64] = tokens;
    if (ts === undefined || len === undefined || b64 === undefined) continue;
    const tsSec = Number.parseFloat(ts);
    if (baseSec === undefined) {
      const startSec = (h.startTimeMs ?? 0) / 1000;
      baseSec = h.startTimeMs !== undefined && tsSec < startSec - 365 * 24 * 3600 ? startSec : 0;
    }
    // Relative to StartTime: absolute timestamps have StartTime subtracted; relative ones (base = StartTime) stay.
    const relSec = tsSec + baseSec - (h.startTimeMs ?? 0) / 1000;
    visit({ tag, startMs: relSec * 1000, endMs: (relSec + Number.parseFloat(len)) * 1000, encoded: b64, untagged: tokens.join(",") });
  }
  return h;
}

/** HdrHistogram's own decoder: a full histogram object (about 180 kB each with the lab's layout). */
export const decodeHistogram = (encoded: string): hdr.Histogram => hdr.decodeFromCompressedBase64(encoded, 64, false);

export const readLogFile = (file: string): string => readFileSync(file, "utf8");

/** A phase of a run, as result.json carries it (ms relative to `startedAt`). */
export interface PhaseWindow {
  name: string;
  startMs: number;
  endMs: number;
}

/** The phase an interval belongs to: the one holding its midpoint. */
export function phaseAt(phases: readonly PhaseWindow[], startMs: number, endMs: number): string | undefined {
  const mid = (startMs + endMs) / 2;
  return phases.find((p) => mid >= p.startMs && mid < p.endMs)?.name;
}

function logHeader(comment: string, startTimeMs: number): string {
  let out = "";
  const w = new hdr.HistogramLogWriter((t) => (out += t));
  w.outputComment(comment);
  w.outputLogFormatVersion();
  w.outputStartTime(startTimeMs);
  w.outputLegend();
  return out;
}

function intervalLine(h: hdr.Histogram, startMs: number, endMs: number, tag: string | undefined): string {
  let out = "";
  const w = new hdr.HistogramLogWriter((t) => (out += t));
  h.tag = tag ?? "";
  w.outputIntervalHistogram(h, startMs / 1000, endMs / 1000, US_PER_MS);
  return out;
}

/**
 * Rewrites an interval log with every interval tagged by its phase (`Tag=during-failover,...`), so HdrHistogram's
 * own tools can select a phase (`HistogramLogProcessor -tag during-failover`). Intervals outside every phase stay
 * untagged. Only the tag is written: timestamps and the encoded histogram stay exactly as they were.
 */
export function tagIntervalLog(content: string, phases: readonly PhaseWindow[]): string {
  const parts: string[] = [];
  const header = forEachInterval(content, (i) => {
    // A tag ends at the first comma, and HdrHistogram's tools split their arguments on spaces.
    const tag = phaseAt(phases, i.startMs, i.endMs)?.replace(/[,\s]/g, "_");
    parts.push(tag ? `Tag=${tag},${i.untagged}\n` : `${i.untagged}\n`);
  });
  return logHeader("meshlab interval log tagged by phase", header.startTimeMs ?? 0) + parts.join("");
}

/**
 * Merges the interval logs of several generator processes into one log, exactly: intervals are aligned to the
 * common interval grid (`intervalMs`, on absolute time, so logs with different StartTimes line up) and their
 * histograms added bucket by bucket, which loses nothing because every process uses the same histogram layout.
 * Tags are kept apart (a phase never mixes with another).
 */
export function mergeIntervalLogs(contents: readonly string[], intervalMs = 1000): string {
  const slots = new Map<string, { tag: string | undefined; slot: number; h: hdr.Histogram }>();
  let earliest = Number.POSITIVE_INFINITY;
  for (const c of contents) {
    // The StartTime line comes before the intervals, so the header is filled in by the time they are visited.
    const header: ParsedLogHeader = { startTimeMs: undefined, comments: [] };
    forEachInterval(
      c,
      (i) => {
        const slot = Math.floor((i.startMs + (header.startTimeMs ?? 0)) / intervalMs);
        const key = `${i.tag ?? ""}\u0000${slot}`;
        let s = slots.get(key);
        if (!s) {
          s = { tag: i.tag, slot, h: newHistogram() };
          slots.set(key, s);
        }
        s.h.add(decodeHistogram(i.encoded));
      },
      header,
    );
    earliest = Math.min(earliest, header.startTimeMs ?? 0);
  }
  if (!Number.isFinite(earliest)) earliest = 0;
  const startSlot = Math.floor(earliest / intervalMs);
  const origin = startSlot * intervalMs;
  const lines = [...slots.values()]
    .sort((a, b) => a.slot - b.slot || (a.tag ?? "").localeCompare(b.tag ?? ""))
    .map((s) => intervalLine(s.h, s.slot * intervalMs - origin, (s.slot + 1) * intervalMs - origin, s.tag));
  return logHeader(`meshlab merged interval log of ${contents.length} process(es)`, origin) + lines.join("");
}

/**
 * A histogram as sorted (bucket index, count) pairs: what the bootstrap resamples. All histograms of the lab share
 * one layout (`newHistogram()`), so bucket indexes are comparable and adding is exact.
 */
export interface Sparse {
  idx: Int32Array;
  cnt: Float64Array;
  total: number;
}

interface Indexed {
  countsArrayLength: number;
  getCountAtIndex(i: number): number;
  valueFromIndex(i: number): number;
  highestEquivalentValue(v: number): number;
}

const V2_COMPRESSED = 0x1c849304;
const V2_PLAIN = 0x1c849303;

/**
 * Decodes an encoded interval histogram straight into sparse form: base64, zlib, then the V2 payload of ZigZag
 * LEB128 counts (a negative word skips that many empty buckets). A 24-hour log then needs no 180 kB histogram
 * per interval. Only the lab's layout (lowest value 1, 3 significant digits) is read this way (the normalizing
 * index offset is ignored, as hdr-histogram-js's decoder does: its encoder always writes 1);
 * anything else goes through HdrHistogram's decoder, so the result is the same either way.
 */
export function decodeSparse(encoded: string): Sparse {
  const outer = Buffer.from(encoded.trim(), "base64");
  if ((outer.readInt32BE(0) & ~0xf0) !== V2_COMPRESSED) return toSparse(decodeHistogram(encoded));
  const buf = inflateSync(outer.subarray(8, 8 + outer.readInt32BE(4)));
  const payloadLength = buf.readInt32BE(4);
  if (
    (buf.readInt32BE(0) & ~0xf0) !== V2_PLAIN ||
    buf.readInt32BE(12) !== LAB_SIGNIFICANT_DIGITS ||
    Number(buf.readBigInt64BE(16)) !== LAB_LOWEST_VALUE
  )
    return toSparse(decodeHistogram(encoded));
  const idx: number[] = [];
  const cnt: number[] = [];
  let total = 0;
  let pos = 40;
  const end = 40 + payloadLength;
  let dst = 0;
  while (pos < end) {
    let v = 0;
    let mul = 1;
    for (let k = 0; k < 9; k++) {
      const b = buf[pos++] as number;
      if (k === 8) {
        v += b * mul;
        break;
      }
      v += (b & 0x7f) * mul;
      mul *= 128;
      if (!(b & 0x80)) break;
    }
    const word = v % 2 === 0 ? v / 2 : -(v + 1) / 2;
    if (word < 0) dst -= word;
    else {
      if (word > 0) {
        idx.push(dst);
        cnt.push(word);
        total += word;
      }
      dst++;
    }
  }
  return { idx: Int32Array.from(idx), cnt: Float64Array.from(cnt), total };
}

export function toSparse(h: hdr.Histogram): Sparse {
  const j = h as unknown as Indexed;
  const idx: number[] = [];
  const cnt: number[] = [];
  for (let i = 0; i < j.countsArrayLength; i++) {
    const c = j.getCountAtIndex(i);
    if (c > 0) {
      idx.push(i);
      cnt.push(c);
    }
  }
  return { idx: Int32Array.from(idx), cnt: Float64Array.from(cnt), total: h.totalCount };
}

const layout = newHistogram() as unknown as Indexed;

/** A scratch count array the size of the lab's histogram layout, for `blockPercentiles`. */
export const scratchCounts = (): Float64Array => new Float64Array(layout.countsArrayLength);

/**
 * Percentiles (ms) of the sum of the picked blocks (a block may be picked more than once), computed as
 * HdrHistogram's getValueAtPercentile does (the highest equivalent value of the bucket holding the
 * ceil(p * N)-th value), through one dense count array: fast enough for a thousand bootstrap resamples.
 */
export function blockPercentiles(blocks: readonly Sparse[], pick: readonly number[], percentiles: readonly number[], scratch: Float64Array): number[] {
  scratch.fill(0);
  let total = 0;
  let lo = Number.POSITIVE_INFINITY;
  let hi = -1;
  for (const k of pick) {
    const b = blocks[k] as Sparse;
    total += b.total;
    for (let j = 0; j < b.idx.length; j++) {
      const i = b.idx[j] as number;
      scratch[i] = (scratch[i] as number) + (b.cnt[j] as number);
      if (i < lo) lo = i;
      if (i > hi) hi = i;
    }
  }
  const out = percentiles.map(() => Number.NaN);
  if (!total) return out;
  const wants = percentiles.map((p) => Math.max(Math.ceil((Math.min(p, 100) / 100) * total), 1));
  const order = wants.map((_, i) => i).sort((a, b) => (wants[a] as number) - (wants[b] as number));
  let seen = 0;
  let w = 0;
  for (let i = lo; i <= hi && w < order.length; i++) {
    seen += scratch[i] as number;
    while (w < order.length && seen >= (wants[order[w] as number] as number)) {
      out[order[w] as number] = bucketValue(i) / US_PER_MS;
      w++;
    }
  }
  return out;
}

/** The value (µs) HdrHistogram reports for a bucket: the highest value that falls into it. */
export const bucketValue = (i: number): number => layout.highestEquivalentValue(layout.valueFromIndex(i));

/** A dense count array (`scratchCounts()`), back into an HdrHistogram of the lab's layout. */
export function histogramFromCounts(counts: Float64Array): hdr.Histogram {
  const h = newHistogram();
  for (let i = 0; i < counts.length; i++) if (counts[i]) h.recordValueWithCount(layout.valueFromIndex(i), counts[i] as number);
  return h;
}

/** Adds a sparse histogram into a dense count array. */
export function addInto(counts: Float64Array, s: Sparse): void {
  for (let j = 0; j < s.idx.length; j++) counts[s.idx[j] as number] = (counts[s.idx[j] as number] as number) + (s.cnt[j] as number);
}

/** A dense count array as a sparse histogram. */
export function sparseOf(counts: Float64Array): Sparse {
  const idx: number[] = [];
  const cnt: number[] = [];
  let total = 0;
  for (let i = 0; i < counts.length; i++)
    if (counts[i]) {
      idx.push(i);
      cnt.push(counts[i] as number);
      total += counts[i] as number;
    }
  return { idx: Int32Array.from(idx), cnt: Float64Array.from(cnt), total };
}

/** Percentiles (ms) of one sparse histogram, walking its sorted buckets once (no dense array). */
export function sparsePercentiles(s: Sparse, percentiles: readonly number[]): number[] {
  return percentiles.map((p) => {
    if (!s.total) return 0;
    const want = Math.max(Math.ceil((Math.min(p, 100) / 100) * s.total), 1);
    let seen = 0;
    for (let j = 0; j < s.idx.length; j++) {
      seen += s.cnt[j] as number;
      if (seen >= want) return bucketValue(s.idx[j] as number) / US_PER_MS;
    }
    return bucketValue(s.idx[s.idx.length - 1] as number) / US_PER_MS;
  });
}

/** Every block of a scope, once each: the scope's exact figures. */
export const everyBlock = (blocks: readonly Sparse[]): number[] => blocks.map((_, i) => i);
