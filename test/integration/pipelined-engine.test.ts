import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { resolveRun, runScenario } from "../../lab/runner.ts";
import type { RunResult } from "../../reports/result.ts";
import type { Scenario } from "../../scenarios/scenario.ts";
import { tempDir } from "./helpers.ts";

/** The `stats` lines a Centrelink engine logs every 5 s (its log file). */
const statsOf = (log: string) =>
  log
    .split("\n")
    .filter((l) => l.includes('"event":"stats"'))
    .map((l) => JSON.parse(l) as { peakInFlight?: number; commits?: number; processed: number });

/**
 * The pipelined Centrelink engine (the default) on real Kafka, Apicurio and Toxiproxy: with 100 ms added on every
 * Centrelink link, engines keep many responses in flight, and one engine SIGKILLed mid-stream loses nothing (its
 * uncommitted records are answered again by the others; the dedupe store drops what it had already answered).
 */
describe("the pipelined Centrelink engine", () => {
  it("keeps responses in flight under link latency and loses nothing when one engine is SIGKILLed mid-stream", async () => {
    const scenario: Scenario = {
      name: "test-pipelined-engine",
      description: "pipelined engine, link latency, an engine killed",
      topology: "one-region-chaos",
      workload: {
        warmupMs: "5s",
        durationMs: "30s",
        rate: { kind: "constant", perSecond: 40 },
        centrelink: { instances: 3, engine: "pipelined", maxInFlight: 32 },
        drainTimeoutMs: "60s",
      },
      slo: [{ metric: "counts.lost", max: 0 }],
      faults: [
        { kind: "latency", target: { pick: "all", of: "brokers" }, links: ["centrelink"], latencyMs: 100, direction: "both", at: "0s", duration: "30s" },
        { kind: "kill", target: { named: "centrelink-2" }, at: "15s", duration: "8s" },
      ],
    };
    const out = join(tempDir("pipelined"), "out");
    const code = await runScenario(resolveRun(scenario, {}), { out });
    const r = JSON.parse(readFileSync(join(out, "result.json"), "utf8")) as RunResult;
    expect(r.counts.sent).toBeGreaterThan(1_000);
    expect(r.counts.lost, JSON.stringify(r.checker.evidence)).toBe(0);
    // (Responses the killed engine had sent but not yet remembered in the dedupe store are answered again: at least once.)
    console.info(`pipelined: sent ${r.counts.sent}, lost ${r.counts.lost}, duplicated ${r.counts.duplicated}, business duplicates ${r.counts.businessDuplicates}`);
    expect(code).toBe(0);
    expect(r.faults?.map((f) => f.kind)).toEqual(["latency", "kill"]);
    // Before its kill, the engine had several responses in flight at once (a serial engine has one per partition),
    // and committed its watermark as it went.
    // The log is appended to by the restarted engine: its first life is what comes before the second "started".
    const [, firstLife = ""] = readFileSync(join(out, "centrelink-2.log"), "utf8").split('"event":"started"');
    const killed = statsOf(firstLife);
    expect(killed.length).toBeGreaterThan(0);
    expect(Math.max(...killed.map((s) => s.peakInFlight ?? 0))).toBeGreaterThan(4);
    expect(Math.max(...killed.map((s) => s.commits ?? 0))).toBeGreaterThan(0);
  });
});
