import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LatencyRecorder } from "../../reports/hdr.ts";
import { mergeIntervalLogs, tagIntervalLog } from "../../reports/hlog.ts";
import { HDRHISTOGRAM_VERSION, type HdrJava, histogramLogProcessor, installHdrHistogramJava } from "../../reports/java/hdrhistogram.ts";
import { loadRun } from "../../reports/run-data.ts";
import { writeSampleRun } from "../fixtures/sample-run.ts";

/** HdrHistogram's own Java tool, from Maven Central, reads the lab's interval logs and agrees on the figures. */
let root: string;
let java: HdrJava;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "meshlab-hdrjava-"));
  java = await installHdrHistogramJava();
  await writeSampleRun(join(root, "run"), {
    seconds: 40,
    rate: 50,
    phases: [
      { name: "before", startMs: 2000, endMs: 22000 },
      { name: "during-failover", startMs: 22000, endMs: 42000 },
    ],
    faults: [{ kind: "partition", target: "syd-2.centrelink", startMs: 25000, endMs: 30000, outcome: "healed" }],
  });
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** The percentile lines of an .hgrm (`value percentile count 1/(1-p)`), as numbers. */
function hgrmRows(text: string): { value: number; percentile: number; count: number }[] {
  return text
    .split("\n")
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length >= 3 && /^\d/.test(f[0] as string) && /^[01]\.\d+$/.test(f[1] as string))
    .map((f) => ({ value: Number(f[0]), percentile: Number(f[1]), count: Number(f[2]) }));
}

/** The value at a percentile, read off an .hgrm the way one reads it: the first row at or above it. */
const at = (rows: ReturnType<typeof hgrmRows>, p: number): number => (rows.find((r) => r.percentile >= p / 100) ?? rows[rows.length - 1])?.value ?? Number.NaN;

async function processLog(file: string, extra: string[] = []): Promise<string> {
  const out = join(root, `out-${Math.random().toString(36).slice(2)}`);
  // Values are µs; a ratio of 1000 prints ms, as the lab's .hgrm does.
  await histogramLogProcessor(java, ["-i", file, "-o", out, "-outputValueUnitRatio", "1000", ...extra]);
  return readFileSync(`${out}.hgrm`, "utf8");
}

describe(`HdrHistogram ${HDRHISTOGRAM_VERSION} HistogramLogProcessor (Java)`, () => {
  it("reads a run's interval log and finds the same count and percentiles as the lab", async () => {
    const hgrm = await processLog(join(root, "run", "clearance.hlog"));
    const rows = hgrmRows(hgrm);
    expect(hgrm).toMatch(/Total count\s+=\s+2000\]/);
    const run = await loadRun(join(root, "run"));
    const total = run.metrics.clearance?.total;
    if (!total) throw new Error("no clearance histogram");
    // Row for row, the same distribution as the lab's own rendering of the run (both print 5 ticks per half
    // distance, values in ms to 3 decimals).
    const ours = hgrmRows(total.outputPercentileDistribution(5, 1000));
    expect(rows.length).toBeGreaterThan(50);
    expect(rows).toEqual(ours);
    for (const p of [50, 90, 99]) expect(at(rows, p)).toBeGreaterThanOrEqual(total.getValueAtPercentile(p) / 1000);
  });

  it("selects a phase from the phase-tagged log (-tag)", async () => {
    const tagged = join(root, "tagged.hlog");
    writeFileSync(tagged, tagIntervalLog(readFileSync(join(root, "run", "clearance.hlog"), "utf8"), [{ name: "during-failover", startMs: 22000, endMs: 42000 }]));
    const hgrm = await processLog(tagged, ["-tag", "during-failover"]);
    expect(hgrm).toMatch(/Total count\s+=\s+1000\]/);
    const list = await histogramLogProcessor(java, ["-i", tagged, "-listtags"]);
    expect(list).toContain("during-failover");
  });

  it("reads a log merged from several processes, with every value", async () => {
    const logs = [0, 1, 2].map((p) => {
      const r = new LatencyRecorder(join(root), [`proc${p}`], 1_700_000_000_000 + p * 1000);
      for (let s = 0; s < 5; s++) {
        for (let i = 1; i <= 100; i++) r.record(`proc${p}`, i * 100 * (p + 1));
        r.flush(1_700_000_000_000 + p * 1000 + (s + 1) * 1000);
      }
      return readFileSync(join(root, `proc${p}.hlog`), "utf8");
    });
    const merged = join(root, "merged.hlog");
    writeFileSync(merged, mergeIntervalLogs(logs));
    const rows = hgrmRows(await processLog(merged));
    expect(rows[rows.length - 1]?.count).toBe(1500);
    expect(rows[rows.length - 1]?.value).toBeCloseTo(30, 1);
  });
});
