import { existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderReport } from "../../reports/html/report.ts";
import { envelope, niceTicks, ninesX, timeTicks } from "../../reports/html/svg.ts";
import { runJUnit } from "../../reports/junit.ts";
import { runMarkdown } from "../../reports/markdown.ts";
import { behindSpans, loadRun } from "../../reports/run-data.ts";
import { writeRunReports } from "../../reports/write.ts";
import { writeSampleRun } from "../fixtures/sample-run.ts";

let root: string;
const PHASES = [
  { name: "before", startMs: 2000, endMs: 22000 },
  { name: "during-failover", startMs: 22000, endMs: 42000 },
  { name: "after-failover", startMs: 42000, endMs: 62000 },
];
const FAULTS = [{ kind: "partition", target: "syd-2.centrelink", startMs: 25000, endMs: 35000, outcome: "healed" }];

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "meshlab-report-"));
  await writeSampleRun(join(root, "faulty"), { seconds: 60, rate: 20, lose: 2, duplicate: 1, phases: PHASES, faults: FAULTS });
  await writeSampleRun(join(root, "plain"), { seconds: 30, rate: 10 });
}, 120_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("loadRun", { timeout: 30_000 }, () => {
  it("reads intervals, per-phase blocks and per-second throughput from the run's files only", async () => {
    const run = await loadRun(join(root, "faulty"));
    const c = run.metrics.clearance;
    expect(c?.total.totalCount).toBe(1200);
    expect(c?.intervals.filter((i) => i.count > 0)).toHaveLength(60);
    expect(c?.intervals.filter((i) => i.count > 0)[0]).toMatchObject({ startMs: 2000, endMs: 3000, count: 20 });
    expect(Object.keys(c?.blocks ?? {}).sort()).toEqual(["after-failover", "all", "before", "during-failover"]);
    expect(c?.blocks.before?.reduce((n, b) => n + b.total, 0)).toBe(400);
    // 20 requests intended in each second from 2 s to 62 s, on the run's timeline.
    expect(run.throughput.slice(2, 62).every((b) => b.intended === 20)).toBe(true);
    expect(run.throughput.reduce((n, b) => n + b.completed, 0)).toBe(1198);
    expect(run.partial).toBe(false);
  });

  it("places an older run's ledger (no monotonicOriginUs) on the timeline from when traffic started", async () => {
    const dir = join(root, "older");
    await writeSampleRun(dir, { seconds: 10, rate: 10 });
    const file = join(dir, "result.json");
    const r = JSON.parse(readFileSync(file, "utf8"));
    delete r.monotonicOriginUs;
    writeFileSync(file, JSON.stringify(r));
    const run = await loadRun(dir);
    expect(run.throughput.slice(2, 12).map((b) => b.intended)).toEqual(Array(10).fill(10));
    expect(run.throughput[1]?.intended).toBe(0);
  });

  it("accepts result.json as well as the directory", async () => {
    const run = await loadRun(join(root, "plain", "result.json"));
    expect(run.label).toBe("plain");
  });

  it("renders what a runner that died left: interval logs without result.json", async () => {
    const dir = join(root, "crashed");
    await writeSampleRun(dir, { seconds: 12, rate: 10 });
    unlinkSync(join(dir, "result.json"));
    const run = await loadRun(dir);
    expect(run.partial).toBe(true);
    expect(run.metrics.clearance?.total.totalCount).toBe(120);
    const html = renderReport(run);
    expect(html).toContain("partial (runner did not finish)");
    expect(html).toMatch(/<path class="series" data-series="p99"/);
  });

  it("refuses a directory that is not a run", async () => {
    const empty = mkdtempSync(join(tmpdir(), "meshlab-empty-"));
    await expect(loadRun(empty)).rejects.toThrow(/no result.json and no interval logs/);
    rmSync(empty, { recursive: true });
  });
});

describe("the HTML report", { timeout: 30_000 }, () => {
  it("is one self-contained page: no scripts, no external URLs, a CSP that forbids fetching", async () => {
    const html = renderReport(await loadRun(join(root, "faulty")));
    expect(html).not.toMatch(/<script|<link|src="http|href="http|@import|url\(/i);
    expect(html).toContain("default-src 'none'");
  });

  it("shows the nines chart with SLO lines, timelines with phases and faults, throughput and backlog", async () => {
    const html = renderReport(await loadRun(join(root, "faulty")));
    expect(html).toContain('id="nines-clearance"');
    for (const label of ["50%", "90%", "99%", "99.9%", "99.99%"]) expect(html).toContain(`>${label}</text>`);
    expect(html).toContain("SLO p99 &lt;= 300 ms");
    expect(html).toContain("SLO p95 &lt;= 300 ms");
    expect(html).toMatch(/data-kind="fault" data-label="partition syd-2.centrelink \(healed\)" data-start="25000" data-end="35000"/);
    for (const p of PHASES) expect(html).toContain(`data-kind="phase" data-label="${p.name}" data-start="${p.startMs}" data-end="${p.endMs}"`);
    expect(html).toContain('id="throughput"');
    expect(html).toContain('data-series="completed"');
    expect(html).toContain("backlog: acknowledged, not yet completed");
  });

  it("puts the evidence ids one click away and shows spec, versions and machine", async () => {
    const run = await loadRun(join(root, "faulty"));
    const html = renderReport(run);
    expect(html).toMatch(/<details class="evidence" id="evidence-lost"><summary>2<\/summary>/);
    for (const id of run.result.checker.evidence.lost) expect(html).toContain(`<code>${id}</code>`);
    expect(html).toMatch(/id="evidence-duplicated"><summary>1<\/summary>/);
    expect(html).toContain("Resolved spec");
    expect(html).toContain("4.3.1");
    expect(html).toContain(run.result.machine.cpuModel.replace(/&/g, "&amp;"));
  });

  it("tabulates exact percentiles per phase", async () => {
    const run = await loadRun(join(root, "faulty"));
    const html = renderReport(run);
    const total = run.metrics.clearance?.total;
    const p99 = (total?.getValueAtPercentile(99) ?? 0) / 1000;
    expect(html).toContain(`<td>clearance</td><td>all</td><td>1200</td>`);
    expect(html).toContain(`<td>${p99.toFixed(p99 >= 100 ? 0 : 1)}</td>`);
    expect(html).toContain("<td>clearance</td><td>during-failover</td><td>400</td>");
  });

  it("is written next to result.json with junit.xml, summary.md and phase-tagged logs", async () => {
    const w = await writeRunReports(join(root, "faulty"));
    for (const f of [w.html, w.junit, w.markdown, ...w.taggedLogs]) expect(existsSync(f)).toBe(true);
    expect(w.taggedLogs.map((f) => f.split("/").pop())).toEqual(["clearance.phases.hlog", "produceAck.phases.hlog"]);
    expect(readFileSync(w.taggedLogs[0] as string, "utf8")).toMatch(/^Tag=during-failover,/m);
  });

  it("tabulates the alerts of result.json in report.html and summary.md, and says when an mTLS run raised none", async () => {
    const dir = join(root, "alerted");
    await writeSampleRun(dir, { seconds: 5, rate: 5 });
    const file = join(dir, "result.json");
    const alert = { name: "svid-expired", severity: "critical", subject: "ato-tax-service in syd", message: "SVID expired at 2026-12-04T18:00:00.000Z: cut off for new connections", firedAtMs: 71_300, resolvedAtMs: null };
    writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, "utf8")), alerts: [alert] }));
    const run = await loadRun(dir);
    expect(renderReport(run)).toMatch(/<h3>Alerts<\/h3>.*svid-expired.*ato-tax-service in syd.*71\.3.*still firing/s);
    expect(runMarkdown(run)).toContain("| critical | svid-expired | ato-tax-service in syd | 71.3 | still firing | SVID expired at 2026-12-04T18:00:00.000Z: cut off for new connections |");
    writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, "utf8")), alerts: [] }));
    expect(renderReport(await loadRun(dir))).toContain("No alert fired.");
  });

  it("tabulates crashed processes in report.html with what each died of", async () => {
    const dir = join(root, "crashed");
    await writeSampleRun(dir, { seconds: 5, rate: 5 });
    const file = join(dir, "result.json");
    const crash = { name: "centrelink-2", atMs: 49_451, code: 1, signal: null, tail: "KafkaJSError: Assignment can only be called while connected.\n    at x\n\nNode.js v26\n" };
    writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, "utf8")), crashes: [crash] }));
    expect(renderReport(await loadRun(dir))).toMatch(/<h3>Crashed processes<\/h3>.*centrelink-2.*49\.5.*code 1.*KafkaJSError: Assignment can only be called while connected\./s);
  });

  it("tabulates what SVID rotation did to latency in report.html and summary.md", async () => {
    const dir = join(root, "rotated");
    await writeSampleRun(dir, { seconds: 5, rate: 5 });
    const file = join(dir, "result.json");
    const w = (requests: number, p50: number, p99: number) => ({ requests, completed: requests, errors: 0, lost: 0, latencyMs: { count: requests, p50, p95: p99, p99, p999: p99, max: p99 } });
    const svidRotation = { renewals: [], clients: [], latency: { renewals: 9, windowMs: 5_000, near: w(120, 48, 310), away: w(680, 31, 95) } };
    writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, "utf8")), svidRotation }));
    const run = await loadRun(dir);
    expect(renderReport(run)).toMatch(/<h3>SVID rotation<\/h3><p>9 renewals.*near an SVID renewal \(-1 s\.\.\+5 s\)<\/td><td[^>]*>120<\/td>/s);
    expect(runMarkdown(run)).toContain("| otherwise | 680 | 680 | 0 | 0 | 31 | 95 | 95 |");
  });

  it("renders a run without phases, faults or ledger", async () => {
    const dir = join(root, "plain");
    unlinkSync(join(dir, "ledger.ndjson"));
    const html = renderReport(await loadRun(dir));
    expect(html).toContain("No phases or faults in this run.");
    expect(html).toContain("No ledger in this run directory.");
  });
});

describe("CI outputs", { timeout: 30_000 }, () => {
  it("JUnit XML has one test case per SLO check and per checker property, failures carry the evidence", async () => {
    const run = await loadRun(join(root, "faulty"));
    const xml = runJUnit(run);
    const cases = [...xml.matchAll(/<testcase classname="([^"]+)" name="([^"]+)"/g)].map((m) => `${m[1]}: ${m[2]}`);
    expect(cases).toEqual([
      "meshlab.sample.slo: latencyMs.clearance.p95 &lt;= 300",
      "meshlab.sample.slo: latencyMs.clearance.p99 &lt;= 300",
      "meshlab.sample.slo: counts.lost &lt;= 0",
      "meshlab.sample.checker: no acknowledged request lost",
      "meshlab.sample.checker: no request processed twice by the business logic",
      "meshlab.sample.checker: no request completed twice",
      "meshlab.sample.checker: no unexpected response",
      "meshlab.sample.checker: no final produce error",
      "meshlab.sample.run: run completed",
    ]);
    expect(xml).toMatch(/<testsuites name="meshlab" tests="9" failures="3"/);
    expect(xml).toContain(run.result.checker.evidence.lost[0]);
    expect(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>')).toBe(true);
  });

  it("Markdown summary gives verdict, SLO, counts and per-phase percentiles", async () => {
    const md = runMarkdown(await loadRun(join(root, "faulty")));
    expect(md).toMatch(/^## ❌ meshlab sample: SLO breached/);
    expect(md).toContain("| counts.lost <= 0 | 2 | ❌ |");
    expect(md).toMatch(/\| clearance \| during-failover \| 400 \|/);
    expect(md).toContain("| partition | syd-2.centrelink | 25.0 | 35.0 | healed |");
  });
});

describe("chart helpers", { timeout: 30_000 }, () => {
  it("put 90 %, 99 %, 99.9 % at 1, 2, 3 on the nines axis", () => {
    expect([ninesX(0), ninesX(90), ninesX(99), ninesX(99.9)].map((x) => Number(x.toFixed(9)))).toEqual([0, 1, 2, 3]);
  });

  it("reduce a long series to a min/max envelope per pixel column, keeping spikes", () => {
    const pts = Array.from({ length: 86_400 }, (_, i) => [i * 1000, i === 50_000 ? 999 : 10 + (i % 7)] as const);
    const env = envelope(pts, 0, 86_399_000, 900);
    expect(env.length).toBeLessThanOrEqual(1800);
    expect(Math.max(...env.map(([, y]) => y))).toBe(999);
    expect(Math.min(...env.map(([, y]) => y))).toBe(10);
  });

  it("choose round ticks", () => {
    expect(niceTicks(280)).toEqual([0, 100, 200, 300]);
    expect(timeTicks(0, 90_000).map((t) => t.label)).toEqual(["0 s", "10 s", "20 s", "30 s", "40 s", "50 s", "60 s", "70 s", "80 s", "90 s"]);
    expect(timeTicks(0, 600_000).map((t) => t.label).slice(0, 3)).toEqual(["0 min", "2 min", "4 min"]);
    expect(timeTicks(0, 86_400_000).map((t) => t.label)[1]).toBe("3 h");
  });
});

describe("where the mesh fell behind", () => {
  const bin = (tMs: number, intended: number, completed: number) => ({ tMs, intended, sent: intended, acked: intended, completed, backlog: 0 });

  it("marks seconds with more than a second of intended work outstanding, merged into spans", () => {
    const bins = [bin(0, 100, 95), bin(1000, 100, 100), bin(2000, 100, 0), bin(3000, 100, 30), bin(4000, 100, 250), bin(5000, 100, 100)];
    expect(behindSpans(bins)).toEqual([{ startMs: 2000, endMs: 4000, peakSeconds: 1.75 }]);
  });

  it("counts work outstanding in the drain in seconds of the last rate offered", () => {
    expect(behindSpans([bin(0, 100, 0), bin(1000, 100, 50), bin(2000, 0, 20), bin(3000, 0, 130)])).toEqual([{ startMs: 1000, endMs: 3000, peakSeconds: 1.5 }]);
  });

  it("marks nothing when completions keep up with the intended rate", () => {
    expect(behindSpans([bin(0, 50, 45), bin(1000, 50, 50), bin(2000, 50, 55)])).toEqual([]);
  });
});
