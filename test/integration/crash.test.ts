import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { cacheRoot } from "../../lab/install.ts";
import { loadRun } from "../../reports/run-data.ts";
import { alive, meshlab, recordedPids, tempDir } from "./helpers.ts";

const stateDir = join(cacheRoot(), "state", "runs");

/** A soak's runner can die (OOM, a kill -9, a lost machine): what it measured so far must stay readable. */
describe("a runner killed mid-run", () => {
  it("leaves interval logs and the ledger so far on disk, and ./meshlab report renders them", async () => {
    const out = join(tempDir("crash"), "out");
    const cli = meshlab(["run", "clearance-smoke", "--duration", "10m", "--rate", "20", "--out", out]);
    await cli.waitFor(/offering \d+ clearance requests/, 180_000);
    const pids = recordedPids(stateDir, cli.pid);
    // Long enough for requests to settle and leave the in-memory ledger (30 s grace), then a hard kill.
    await new Promise((r) => setTimeout(r, 45_000));
    cli.signal("SIGKILL");
    await cli.exited;
    expect(existsSync(join(out, "result.json"))).toBe(false);

    const ledger = readFileSync(join(out, "ledger.ndjson"), "utf8").trim().split("\n");
    expect(ledger.length).toBeGreaterThan(200);
    expect(ledger.every((l) => JSON.parse(l).eventId)).toBe(true);

    const report = meshlab(["report", out]);
    expect(await report.exited, report.output()).toBe(0);
    const html = readFileSync(join(out, "report.html"), "utf8");
    expect(html).toContain("partial (runner did not finish)");
    const run = await loadRun(out);
    // Warm-up (10 s) is not in the histograms; the measured seconds since are, flushed once a second.
    expect(run.metrics.clearance?.total.totalCount).toBeGreaterThan(20 * 20);
    expect(run.throughput.reduce((n, b) => n + b.completed, 0)).toBe(ledger.length);
    expect(readFileSync(join(out, "junit.xml"), "utf8")).toMatch(/<failure message="status unknown \(no result.json\)"/);

    // Every component died with its runner (pdeathsig), so nothing is left for the reaper.
    await new Promise((r) => setTimeout(r, 2_000));
    expect(pids.length).toBeGreaterThanOrEqual(8);
    expect(pids.filter(alive)).toEqual([]);
  });
});
