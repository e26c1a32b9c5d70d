import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { resolveRun, runScenario } from "../../lab/runner.ts";
import type { RunResult } from "../../reports/result.ts";
import type { Scenario } from "../../scenarios/scenario.ts";
import { tempDir } from "./helpers.ts";

/**
 * Consumer faults on the real flow (Kafka, Apicurio, Toxiproxy, three Centrelink engine processes), through the
 * runner: heartbeat loss of one member, a rebalance storm, and a paused member, each visible in the recorded
 * assignment history, with nothing acknowledged lost.
 */
describe("consumer faults in a run", () => {
  it("heartbeat loss of one member, a rebalance storm, a paused and a killed member each move partitions; the rest keep consuming", async () => {
    const scenario: Scenario = {
      name: "test-chaos-consumers",
      description: "consumer faults",
      topology: "one-region-chaos",
      workload: {
        warmupMs: "5s",
        durationMs: "70s",
        rate: { kind: "constant", perSecond: 40 },
        centrelink: { instances: 3, consumer: { "session.timeout.ms": 6_000, "heartbeat.interval.ms": 1_000, "partition.assignment.strategy": "cooperative-sticky" } },
        drainTimeoutMs: "60s",
      },
      slo: [{ metric: "counts.lost", max: 0 }],
      faults: [
        { kind: "heartbeat-loss", target: { named: "centrelink-1" }, at: "10s", duration: "12s" },
        { kind: "rebalance-storm", target: { pick: "all", of: "consumers" }, at: "26s", duration: "10s", everyMs: "4s" },
        { kind: "pause", target: { named: "centrelink-2" }, at: "42s", duration: "10s" },
        { kind: "kill", target: { named: "centrelink-3" }, at: "58s", duration: "8s" },
      ],
    };
    const out = join(tempDir("chaos-consumers"), "out");
    const code = await runScenario(resolveRun(scenario, {}), { out });
    const r = JSON.parse(readFileSync(join(out, "result.json"), "utf8")) as RunResult;
    expect(code).toBe(0);
    expect(r.counts.lost).toBe(0);
    const [hb, storm, pause, kill] = r.faults ?? [];
    expect(hb).toMatchObject({ kind: "heartbeat-loss", outcome: "healed", target: expect.stringMatching(/^centrelink-1 -> coordinator syd-\d$/) });
    // Only centrelink-1's own class is faulted, towards the coordinator only.
    expect(hb?.details?.links).toEqual([`${String(hb?.details?.coordinator)}.centrelink-1`]);
    expect(storm).toMatchObject({ kind: "rebalance-storm", outcome: "healed", details: { joins: expect.any(Number), leaves: expect.any(Number) } });
    // A member counts as joined once it owns partitions; starting one takes 1-6 s here, so 10 s hold one or two cycles.
    expect(storm?.details?.joins as number).toBeGreaterThanOrEqual(1);
    expect(storm?.details?.leaves).toBe(storm?.details?.joins);
    expect(pause).toMatchObject({ kind: "pause", target: "centrelink-2", outcome: "healed" });
    expect(kill).toMatchObject({ kind: "kill", target: "centrelink-3", outcome: "healed", details: { restarted: ["centrelink-3"] } });

    const g = r.consumerGroup;
    if (!g || !hb || !storm || !pause || !kill) throw new Error("no consumer-group analysis");
    const within = (f: { startMs: number; endMs: number | null }, slackMs: number) => (rb: { startMs: number }) => rb.startMs >= f.startMs && rb.startMs <= (f.endMs ?? 0) + slackMs;
    // centrelink-1's session expired while its coordinator link was cut: it lost its partitions.
    const hbRebalances = g.rebalances.filter(within(hb, 5_000));
    expect(hbRebalances.some((x) => x.lost && x.instances.includes("centrelink-1"))).toBe(true);
    expect(g.rebalances.filter(within(storm, 5_000)).length).toBeGreaterThanOrEqual(2);
    expect(g.rebalances.filter(within(pause, 8_000)).some((x) => x.instances.includes("centrelink-1") || x.instances.includes("centrelink-3"))).toBe(true);
    // A SIGKILLed member makes no revoke callback: the others are assigned its partitions once its session expires,
    // and the restarted instance is assigned partitions again after the heal.
    const killRebalances = g.rebalances.filter(within(kill, 15_000));
    expect(killRebalances.some((x) => x.instances.includes("centrelink-1") || x.instances.includes("centrelink-2"))).toBe(true);
    expect(killRebalances.some((x) => x.instances.includes("centrelink-3") && x.startMs >= (kill.endMs ?? 0))).toBe(true);
    // Clearances kept completing while one member had no coordinator: the others, and its producer, were unaffected.
    expect(g.clearanceMs.during.count).toBeGreaterThan(500);
    expect(g.stalls).toHaveLength(12);
  });
});
