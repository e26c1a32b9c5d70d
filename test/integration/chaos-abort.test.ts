import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { cacheRoot } from "../../lab/install.ts";
import type { RunResult } from "../../reports/result.ts";
import { alive, meshlab, recordedPids, tempDir } from "./helpers.ts";

const stateDir = join(cacheRoot(), "state", "runs");

describe("an aborted run with faults", () => {
  it("heals every active fault before it tears the mesh down, records it, and leaves nothing running", async () => {
    const out = join(tempDir("chaos-abort"), "out");
    const cli = meshlab(["run", "chaos-smoke", "--out", out]);
    await cli.waitFor(/fault latency on syd-\d\.centrelink: injected/, 240_000);
    const pids = recordedPids(stateDir, cli.pid);
    cli.signal("SIGINT");
    expect(await cli.exited, cli.output()).toBe(130);
    const r = JSON.parse(readFileSync(join(out, "result.json"), "utf8")) as RunResult;
    expect(r.status).toBe("interrupted");
    expect(r.faults?.map((f) => [f.kind, f.outcome])).toEqual([
      ["latency", "healed-early"],
      ["pause", "not-injected"],
      ["kill", "not-injected"],
    ]);
    expect(r.faults?.[0]?.endMs).toBeGreaterThan(r.faults?.[0]?.startMs ?? 0);
    // The heal ran against the live Toxiproxy: it was printed before the teardown started.
    const o = cli.output();
    const healed = o.search(/fault latency on syd-\d\.centrelink: healed-early/);
    expect(healed).toBeGreaterThan(0);
    expect(healed).toBeLessThan(o.search(/tearing down \.\.\./));
    expect(pids.length).toBeGreaterThanOrEqual(8);
    expect(pids.filter(alive)).toEqual([]);
  });
});
