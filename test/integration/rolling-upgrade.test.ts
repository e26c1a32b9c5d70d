import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { StepFigures } from "../../chaos/upgrade.ts";
import type { RunResult } from "../../reports/result.ts";
import { meshlab, tempDir } from "./helpers.ts";

type UpgradeRecord = { kind: string; outcome: string; details: { from: string; to: string; steps: { node: string; from: string; to: string; unavailableMs: number }[]; finalised: { before: Record<string, string>; after: Record<string, string> } }; upgradeSteps: StepFigures[] };

/**
 * Kafka 4.2.2 -> 4.3.1 on one region of three combined nodes (RF 3, min ISR 2: the smallest region where a node's
 * turn leaves a quorum and an in-sync majority), one node at a time under clearance traffic, then the features
 * finalised on 4.3. Plaintext, to keep it short; the identity plane is not what is upgraded.
 */
describe("./meshlab run rolling-upgrade", () => {
  it("moves every node from Kafka 4.2.2 to 4.3.1 under load, finalises metadata.version, and loses nothing", async () => {
    const out = join(tempDir("rolling-upgrade"), "out");
    const cli = meshlab(["run", "rolling-upgrade", "--security", "plaintext", "--duration", "60s", "--rate", "30", "--out", out]);
    const code = await cli.exited;
    const r = JSON.parse(readFileSync(join(out, "result.json"), "utf8")) as RunResult;
    expect(r.status, cli.output()).toBe("completed");
    expect(code, cli.output()).toBe(0);
    expect(r.counts).toMatchObject({ lost: 0, duplicated: 0, unexpected: 0 });
    expect(r.counts.completed).toBe(r.counts.intended - r.counts.errors);
    const f = (r.faults ?? [])[0] as unknown as UpgradeRecord;
    expect(f).toMatchObject({ kind: "rolling-upgrade", outcome: "healed", details: { from: "4.2.2", to: "4.3.1" } });
    expect(f.details.steps.map((s) => [s.node, s.from, s.to])).toEqual([
      ["syd-1", "4.2.2", "4.3.1"],
      ["syd-2", "4.2.2", "4.3.1"],
      ["syd-3", "4.2.2", "4.3.1"],
    ]);
    // Each node ran both versions on the same log dir, after a controlled shutdown that finished: its own log says so.
    for (const n of ["syd-1", "syd-2", "syd-3"]) {
      const log = readFileSync(join(out, "syd", n, "kafka.log"), "utf8");
      const [old, stopped, next] = [/Kafka version: 4\.2\.2/, /\[BrokerServer id=\d+\] shut down completed/, /Kafka version: 4\.3\.1/].map((re) => log.search(re)) as [number, number, number];
      expect(old, n).toBeGreaterThanOrEqual(0);
      expect(stopped, n).toBeGreaterThan(old);
      expect(next, n).toBeGreaterThan(stopped);
    }
    expect(f.details.finalised.before["metadata.version"]).toMatch(/^4\.2-IV/);
    expect(f.details.finalised.after["metadata.version"]).toMatch(/^4\.3-IV/);
    // Per node: how long it was away, and what the flow saw meanwhile. The load has a fixed length and a turn takes
    // what the machine gives it, so only turns that began while traffic ran must have seen some.
    const loadEndMs = (r.trafficStartMs ?? 0) + 10_000 + 60_000;
    expect(f.upgradeSteps.map((s) => s.node)).toEqual(["syd-1", "syd-2", "syd-3"]);
    expect(f.upgradeSteps[0]?.intended).toBeGreaterThan(0);
    for (const s of f.upgradeSteps) {
      expect(s.unavailableMs, s.node).toBeGreaterThan(0);
      if (s.fromMs < loadEndMs - 1_000) expect(s.intended, s.node).toBeGreaterThan(0);
      expect(s.lost, s.node).toBe(0);
    }
    expect(readFileSync(join(out, "report.html"), "utf8")).toContain("Rolling upgrade 4.2.2 → 4.3.1");
  }, 480_000);
});
