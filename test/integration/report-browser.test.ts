import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compareRuns } from "../../reports/compare.ts";
import { renderCompare } from "../../reports/html/compare.ts";
import { loadRun } from "../../reports/run-data.ts";
import { writeRunReports } from "../../reports/write.ts";
import { launchChromium } from "../fixtures/browser.ts";
import { writeSampleRun } from "../fixtures/sample-run.ts";

/** The report as a person sees it: opened from disk in real headless Chromium. */
const FAULT = { kind: "partition", target: "syd-2.centrelink", startMs: 41_000, endMs: 56_000, outcome: "healed" };
const PHASES = [
  { name: "before", startMs: 2000, endMs: 32000 },
  { name: "during-failover", startMs: 32000, endMs: 62000 },
  { name: "after-failover", startMs: 62000, endMs: 92000 },
];

let root: string;
let browser: Browser;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "meshlab-browser-"));
  await writeSampleRun(join(root, "run"), { seconds: 90, rate: 40, lose: 3, duplicate: 2, phases: PHASES, faults: [FAULT], faultFactor: 10, brokerMetrics: true });
  await writeRunReports(join(root, "run"));
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  rmSync(root, { recursive: true, force: true });
});

/** Opens a file and records console errors, page errors and every network request. */
async function open(file: string): Promise<{ page: Page; errors: string[]; requests: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  const errors: string[] = [];
  const requests: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") errors.push(`${m.type()}: ${m.text()}`);
  });
  page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
  page.on("request", (r) => requests.push(r.url()));
  await page.goto(pathToFileURL(file).href, { waitUntil: "load" });
  return { page, errors, requests };
}

describe("report.html in Chromium", () => {
  it("loads offline: no console errors, and nothing fetched but the file itself", async () => {
    const file = join(root, "run", "report.html");
    const { page, errors, requests } = await open(file);
    expect(errors).toEqual([]);
    expect(requests).toEqual([pathToFileURL(file).href]);
    expect(await page.title()).toMatch(/^sample /);
    await page.close();
  });

  it("draws every chart: each SVG has visible, non-empty data lines", async () => {
    const { page } = await open(join(root, "run", "report.html"));
    const charts = await page.$$eval("svg.chart", (svgs) =>
      svgs.map((svg) => ({
        id: svg.id,
        paths: [...svg.querySelectorAll("path.series")].map((p) => {
          const b = p.getBoundingClientRect();
          return { d: (p.getAttribute("d") ?? "").length, w: b.width, h: b.height };
        }),
      })),
    );
    expect(charts.map((c) => c.id)).toEqual(["nines-clearance", "nines-produceAck", "timeline-clearance", "timeline-produceAck", "broker-partitions", "broker-isr", "broker-requests", "broker-idle", "throughput", "lag"]);
    for (const c of charts) {
      expect(c.paths.length, c.id).toBeGreaterThan(0);
      for (const p of c.paths) {
        expect(p.d, c.id).toBeGreaterThan(20);
        expect(p.w, c.id).toBeGreaterThan(300);
      }
    }
    await page.close();
  });

  it("shades the fault where result.json's timeline says, and the latency spike falls inside it", async () => {
    const { page } = await open(join(root, "run", "report.html"));
    const geo = await page.$eval("#timeline-clearance", (svg) => {
      const ticks = [...svg.querySelectorAll("text.xtick")].map((t) => {
        const b = t.getBoundingClientRect();
        return { value: Number(t.getAttribute("data-value")), label: t.textContent, x: b.left + b.width / 2 };
      });
      const band = svg.querySelector('g.band[data-kind="fault"] rect')?.getBoundingClientRect();
      const label = svg.querySelector('g.band[data-kind="fault"] text')?.textContent;
      // The highest point of the p99 line, in screen pixels.
      // (The test's TypeScript has no DOM library: describe the few SVG calls used here.)
      type Pt = { x: number; y: number; matrixTransform(m: unknown): Pt };
      const p99 = svg.querySelector('path[data-series="p99"]') as unknown as { getTotalLength(): number; getPointAtLength(s: number): Pt; getScreenCTM(): unknown };
      const ctm = p99.getScreenCTM();
      let top = { x: 0, y: Number.POSITIVE_INFINITY };
      const len = p99.getTotalLength();
      for (let s = 0; s <= len; s += 0.5) {
        const pt = p99.getPointAtLength(s).matrixTransform(ctm);
        if (pt.y < top.y) top = { x: pt.x, y: pt.y };
      }
      return { ticks, band: band && { left: band.left, right: band.right }, label, top };
    });
    expect(geo.label).toBe("partition syd-2.centrelink (healed)");
    // Pixels per ms from the axis labels a reader would use: the first and the last, read as seconds.
    const first = geo.ticks[0];
    const last = geo.ticks[geo.ticks.length - 1];
    if (!first || !last || !geo.band) throw new Error(`missing ticks or band: ${JSON.stringify(geo)}`);
    const sec = (label: string | null) => Number(/^(\d+) s$/.exec(label ?? "")?.[1]) * 1000;
    expect([sec(first.label), sec(last.label)]).toEqual([first.value, last.value]);
    const px = (ms: number) => first.x + ((last.x - first.x) * (ms - first.value)) / (last.value - first.value);
    expect(Math.abs(geo.band.left - px(FAULT.startMs))).toBeLessThan(1.5);
    expect(Math.abs(geo.band.right - px(FAULT.endMs))).toBeLessThan(1.5);
    expect(geo.top.x).toBeGreaterThan(geo.band.left);
    expect(geo.top.x).toBeLessThan(geo.band.right);
    await page.close();
  });

  it("draws the brokers' metrics under the latency timeline: the same fault band, the under-replicated rise inside it", async () => {
    const { page } = await open(join(root, "run", "report.html"));
    const box = async (sel: string) => {
      const b = await page.locator(sel).first().boundingBox();
      return b && { left: b.x, right: b.x + b.width, top: b.y, bottom: b.y + b.height };
    };
    // The highest point of the under-replicated line, in screen pixels (as for the latency spike above).
    const top = await page.$eval('#broker-partitions path[data-series="under-replicated"]', (path) => {
      type Pt = { x: number; y: number; matrixTransform(m: unknown): Pt };
      const p = path as unknown as { getTotalLength(): number; getPointAtLength(s: number): Pt; getScreenCTM(): unknown };
      let best = { x: 0, y: Number.POSITIVE_INFINITY };
      for (let s = 0; s <= p.getTotalLength(); s += 0.5) {
        const pt = p.getPointAtLength(s).matrixTransform(p.getScreenCTM());
        if (pt.y < best.y) best = { x: pt.x, y: pt.y };
      }
      return best;
    });
    const rows = await page.$$eval("#broker-metrics tbody tr", (trs) => trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent)));
    const at = {
      latency: await box("#timeline-produceAck"),
      metrics: await box("#broker-partitions"),
      throughput: await box("#throughput"),
      timelineBand: await box('#timeline-clearance g.band[data-kind="fault"] rect'),
      metricsBand: await box('#broker-partitions g.band[data-kind="fault"] rect'),
      top,
      rows,
    };
    if (!at.latency || !at.metrics || !at.throughput || !at.timelineBand || !at.metricsBand) throw new Error(`missing charts or bands: ${JSON.stringify(at)}`);
    // Under the latency timeline, above throughput, on the same time axis.
    expect(at.metrics.top).toBeGreaterThan(at.latency.bottom);
    expect(at.metrics.bottom).toBeLessThan(at.throughput.top);
    expect(Math.abs(at.metricsBand.left - at.timelineBand.left)).toBeLessThan(1);
    expect(Math.abs(at.metricsBand.right - at.timelineBand.right)).toBeLessThan(1);
    expect(at.top.x).toBeGreaterThan(at.metricsBand.left);
    expect(at.top.x).toBeLessThan(at.metricsBand.right);
    // The per-scope table of result.json: two leaders with 6 each while the fault lasted, none before it.
    expect(at.rows).toContainEqual(expect.arrayContaining(["fault partition syd-2.centrelink", "syd", "12"]));
    expect(at.rows.find((r) => r[0] === "phase before")?.[2]).toBe("0");
    await page.close();
  });

  it("shows the lost event ids one click away", async () => {
    const { page } = await open(join(root, "run", "report.html"));
    const run = await loadRun(join(root, "run"));
    const firstLost = run.result.checker.evidence.lost[0] as string;
    const id = page.locator("#evidence-lost code", { hasText: firstLost });
    expect(await id.isVisible()).toBe(false);
    await page.click("#evidence-lost summary");
    expect(await id.isVisible()).toBe(true);
    await page.close();
  });

  it("renders a comparison page without errors, one line per run", async () => {
    const runs = [await loadRun(join(root, "run"), "faulty")];
    await writeSampleRun(join(root, "base"), { seconds: 90, rate: 40, seed: 9, phases: PHASES });
    runs.unshift(await loadRun(join(root, "base"), "base"));
    const file = join(root, "compare.html");
    const { writeFileSync } = await import("node:fs");
    writeFileSync(file, renderCompare(runs.map((r) => ({ label: r.label, runs: [r] })), compareRuns(runs[0] as (typeof runs)[0], runs.slice(1))));
    const { page, errors, requests } = await open(file);
    expect(errors).toEqual([]);
    expect(requests).toHaveLength(1);
    expect(await page.locator("#nines-clearance path.series").count()).toBe(2);
    expect(await page.locator("#timeline-clearance path.series").count()).toBe(2);
    await page.close();
  });
});
