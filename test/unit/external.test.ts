import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as hdr from "hdr-histogram-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BadInputError } from "../../lab/errors.ts";
import { scopePercentiles } from "../../reports/analysis.ts";
import { compareRuns, compareSets } from "../../reports/compare.ts";
import { loadExternal, parseUnit } from "../../reports/external.ts";
import { loadRun, type RunData } from "../../reports/run-data.ts";
import { writeSampleRun } from "../fixtures/sample-run.ts";

let root: string;
const runs: Record<string, RunData> = {};

/** An interval log as another tool writes it: nanoseconds, 2 significant digits, absolute timestamps. */
function foreignLog(file: string): void {
  let out = "";
  const w = new hdr.HistogramLogWriter((t) => (out += t));
  w.outputLogFormatVersion();
  w.outputStartTime(1_790_000_000_000);
  w.outputLegend();
  for (let k = 0; k < 10; k++) {
    const h = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000_000, numberOfSignificantValueDigits: 2, useWebAssembly: false });
    for (let ms = 1; ms <= 100; ms++) h.recordValue(ms * 1_000_000);
    w.outputIntervalHistogram(h, 1_790_000_000 + k, 1_790_000_001 + k, 1);
  }
  writeFileSync(file, out);
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "meshlab-external-"));
  for (const [name, seed, medianMs] of [["a1", 1, 15], ["a2", 2, 15], ["far1", 3, 60], ["far2", 4, 60]] as const) {
    await writeSampleRun(join(root, name), { seconds: 30, rate: 40, seed, medianMs });
    runs[name] = await loadRun(join(root, name));
  }
  foreignLog(join(root, "prod-ns.hlog"));
}, 120_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));

const p = (r: RunData, pct: "p50" | "p90" | "p99") => scopePercentiles(r.metrics.clearance as NonNullable<RunData["metrics"][string]>, "all")?.values[pct] as number;

describe("external interval logs (.hlog)", () => {
  it("reads another tool's log in ns with another layout: 1..100 ms per interval gives p50 50 ms, p99 99 ms (2 digits)", () => {
    const r = loadExternal(join(root, "prod-ns.hlog"), "ns", "clearance");
    const m = r.metrics.clearance;
    expect(m?.intervals).toHaveLength(10);
    expect(m?.total.totalCount).toBe(1000);
    expect(p(r, "p50")).toBeGreaterThanOrEqual(49.5);
    expect(p(r, "p50")).toBeLessThanOrEqual(50.5);
    expect(p(r, "p99")).toBeGreaterThanOrEqual(98);
    expect(p(r, "p99")).toBeLessThanOrEqual(100);
    expect(m?.blocks.all).toHaveLength(10);
    expect(r.result.error?.message).toMatch(/external interval log \(\.hlog, 10 intervals\), values in ns/);
  });

  it("reads a lab log in us bucket for bucket, and the same log declared in ms 1000 times slower", () => {
    const file = join(root, "a1", "clearance.hlog");
    const us = loadExternal(file, "us", "clearance");
    expect(us.metrics.clearance?.total.totalCount).toBe(runs.a1?.metrics.clearance?.total.totalCount);
    for (const pct of ["p50", "p90", "p99"] as const) expect(p(us, pct)).toBe(p(runs.a1 as RunData, pct));
    const ms = loadExternal(file, "ms", "clearance");
    expect(p(ms, "p50") / p(us, "p50")).toBeGreaterThan(999);
    expect(p(ms, "p50") / p(us, "p50")).toBeLessThan(1001);
  });

  it("compares external logs with the noise-aware method: two logs a side, 4x apart, are worse beyond a x3 floor", () => {
    const side = (names: string[]) => names.map((n) => loadExternal(join(root, n, "clearance.hlog"), "us", "clearance"));
    const cmp = compareSets({ label: "prod", runs: side(["a1", "a2"]) }, [{ label: "lab", runs: side(["far1", "far2"]) }], { noiseFloor: 3 });
    expect(cmp.noiseEstimated).toBe(true);
    expect(cmp.rows.find((r) => r.percentile === 50)?.method).toBe("runs-apart");
    expect(cmp.verdict).toBe("worse");
  });
});

describe("external percentile files (.hgrm)", () => {
  it("rebuilds the distribution from a lab .hgrm (ms): same count, p50 within 0.1 % of result.json", () => {
    const r = loadExternal(join(root, "a1", "clearance.hgrm"), "ms", "clearance");
    const lab = JSON.parse(readFileSync(join(root, "a1", "result.json"), "utf8")).latencyMs.clearance;
    expect(r.metrics.clearance?.total.totalCount).toBe(lab.count);
    expect(Math.abs(p(r, "p50") / lab.p50 - 1)).toBeLessThan(0.001);
    // The file holds the distribution only at its percentile steps: p99 lands on the next step at or above 99 %.
    expect(p(r, "p99")).toBeGreaterThanOrEqual(lab.p99 * 0.999);
    expect(p(r, "p99")).toBeLessThan(lab.p99 * 1.1);
    expect(r.metrics.clearance?.intervals).toEqual([]);
  });

  it("says a single .hgrm has no intervals to resample, and gives an interval of n/a", () => {
    const ext = loadExternal(join(root, "a1", "clearance.hgrm"), "ms", "clearance");
    const cmp = compareRuns(ext, [runs.a2 as RunData]);
    const p50 = cmp.rows.find((r) => r.percentile === 50);
    expect(p50?.note).toMatch(/no intervals to resample/);
    expect(p50?.ci.every((x) => Number.isNaN(x))).toBe(true);
    expect(p50?.verdict).toBe("same");
    expect(cmp.notes).toEqual(["clearance.hgrm has no intervals to resample (a percentile distribution, .hgrm): it counts as one run, with no spread of its own"]);
    expect(compareRuns(runs.a1 as RunData, [runs.a2 as RunData]).notes).toEqual([]);
  });
});

describe("bad external input", () => {
  const problems = (f: () => unknown): string => {
    try {
      f();
    } catch (e) {
      expect(e).toBeInstanceOf(BadInputError);
      return `${(e as BadInputError).message}\n${(e as BadInputError).hint}`;
    }
    throw new Error("no error");
  };

  it("wants the unit, and only a known one", () => {
    expect(problems(() => loadExternal(join(root, "prod-ns.hlog"), undefined, "clearance"))).toMatch(/needs its value unit[\s\S]*--unit ns\|us\|ms\|s/);
    expect(problems(() => parseUnit("minutes"))).toMatch(/--unit minutes: not a unit/);
    expect(parseUnit("µs")).toBe("us");
  });

  it("lists every malformed line of a .hgrm, and refuses a log without intervals", () => {
    const bad = join(root, "bad.hgrm");
    writeFileSync(bad, "       Value     Percentile TotalCount 1/(1-Percentile)\n\n 1.0 0.5 10 2.0\n x y z\n 2.0 0.9 5 10\n");
    const msg = problems(() => loadExternal(bad, "ms", "clearance"));
    expect(msg).toContain('line 4: "x y z"');
    expect(msg).toContain('line 5: "2.0 0.9 5 10" is not');
    const empty = join(root, "empty.hlog");
    writeFileSync(empty, "#[StartTime: 1 (seconds since epoch)]\n");
    expect(problems(() => loadExternal(empty, "us", "clearance"))).toMatch(/no interval lines/);
  });
});
