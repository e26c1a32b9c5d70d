import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BadInputError } from "../../lab/errors.ts";
import { compareRuns } from "../../reports/compare.ts";
import { renderCompare } from "../../reports/html/compare.ts";
import { renderReport } from "../../reports/html/report.ts";
import { ninesX } from "../../reports/html/svg.ts";
import { loadReference, SEED_REFERENCE } from "../../reports/reference.ts";
import { loadRun, type RunData } from "../../reports/run-data.ts";
import { writeSampleRun } from "../fixtures/sample-run.ts";

let root: string;
let run: RunData;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "meshlab-reference-"));
  await writeSampleRun(join(root, "run"), { seconds: 20, rate: 40, seed: 1 });
  run = await loadRun(join(root, "run"));
}, 60_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** The reference dots of a page: [data-x, data-y] per dot. */
const dots = (html: string): [number, number][] =>
  [...html.matchAll(/<g class="dot" data-series="reference: [^"]+" data-x="([\d.]+)" data-y="([\d.]+)">/g)].map((m) => [Number(m[1]), Number(m[2])]);

describe("--reference", () => {
  it("seed is the seed's published clearance figures: p95 142 ms, p99 238 ms", () => {
    expect(loadReference("seed")).toBe(SEED_REFERENCE);
    expect(SEED_REFERENCE.points).toEqual([
      [95, 142],
      [99, 238],
    ]);
  });

  it("reads a file of percentile -> ms, ordered by percentile", () => {
    const f = join(root, "prod.json");
    writeFileSync(f, JSON.stringify({ "99.9": 410, "50": 61, "99": 238 }));
    expect(loadReference(f)).toEqual({ label: "prod", points: [[50, 61], [99, 238], [99.9, 410]] });
  });

  it("reports every problem of a file at once, with its key and a hint", () => {
    const f = join(root, "bad.json");
    writeFileSync(f, JSON.stringify({ p95: 142, "100": 3, "99": "238ms", "50": -1 }));
    try {
      loadReference(f);
      throw new Error("no error");
    } catch (e) {
      expect(e).toBeInstanceOf(BadInputError);
      const b = e as BadInputError;
      expect(b.problems).toHaveLength(4);
      const all = b.problems.join("\n");
      for (const p of ['key "p95": not a percentile', 'key "100": not a percentile', '"99": "238ms" is not a latency in ms', '"50": -1 is not a latency in ms']) expect(all).toContain(p);
      expect(b.hint).toContain('{"95": 142, "99": 238}');
    }
    expect(() => loadReference(join(root, "missing.json"))).toThrow(/cannot read it/);
  });
});

describe("the reference on the nines chart", () => {
  it("draws the seed's two points at 95 % and 99 % on report.html's primary nines chart only", () => {
    const html = renderReport(run, SEED_REFERENCE);
    const d = dots(html);
    expect(d).toHaveLength(2);
    expect(d[0]?.[0]).toBeCloseTo(ninesX(95), 9);
    expect(d[0]?.[1]).toBe(142);
    expect(d[1]?.[0]).toBeCloseTo(ninesX(99), 9);
    expect(d[1]?.[1]).toBe(238);
    const clearance = html.slice(html.indexOf('id="nines-clearance"'), html.indexOf('id="nines-produceAck"'));
    expect(dots(clearance)).toHaveLength(2);
    expect(clearance).toContain('data-series="reference: seed (published: p95 142 ms, p99 238 ms)"');
    // The y axis reaches the reference even though every sample is far below it.
    expect(clearance).toMatch(/class="ytick">2[05]0</);
  });

  it("draws nothing without a reference, and the same points on compare.html", () => {
    expect(dots(renderReport(run))).toEqual([]);
    const cmp = compareRuns(run, [run]);
    expect(dots(renderCompare([{ label: "a", runs: [run] }, { label: "b", runs: [run] }], cmp, SEED_REFERENCE))).toHaveLength(2);
    expect(dots(renderCompare([{ label: "a", runs: [run] }, { label: "b", runs: [run] }], cmp))).toEqual([]);
  });
});
