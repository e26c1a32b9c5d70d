import { describe, expect, it } from "vitest";
import type { Stall } from "../../chaos/history.ts";
import { compareVariants, deepMerge, type VariantResult, variantScenario } from "../../lab/variants.ts";
import { heartbeatIncident } from "../../scenarios/heartbeat-incident.ts";

const stalls = (ms: number[]): Stall[] => ms.map((longestMs, partition) => ({ partition, longestMs, fromMs: 0, toMs: longestMs }));
const variant = (name: string, stallMs: number[], rebalances: number[]): VariantResult => ({
  name,
  description: name,
  status: "completed",
  dir: name,
  consumer: {},
  counts: { intended: 10, sent: 10, acked: 10, completed: 10, lost: 0, duplicated: 2, businessDuplicates: 0, errors: 0, unexpected: 0, inFlight: 0 },
  rebalances: rebalances.map((d, i) => ({ startMs: i * 1000, endMs: i * 1000 + d, durationMs: d, instances: ["c1"], revoked: 4, lost: false })),
  stalls: stalls(stallMs),
  longestStallMs: Math.max(...stallMs),
  clearanceMs: { before: { count: 1, p95: 1, p99: 1, max: 1 }, during: { count: 5, p95: 900, p99: 1000, max: 1200 }, after: { count: 5, p95: 9, p99: 10, max: 12 } },
});

describe("variants", () => {
  it("merge a variant's workload into the scenario's and keep its own faults", () => {
    expect(deepMerge({ a: 1, c: { x: 1, y: { z: 1 } } }, { c: { y: { w: 2 } }, b: [1] })).toEqual({ a: 1, b: [1], c: { x: 1, y: { z: 1, w: 2 } } });
    const [incident, , kip848] = heartbeatIncident.variants ?? [];
    if (!incident || !kip848) throw new Error("variants missing");
    const s = variantScenario(heartbeatIncident, incident);
    expect(s.variants).toBeUndefined();
    expect(s.workload).toMatchObject({ rate: { perSecond: 50 }, centrelink: { instances: 3, consumer: { "session.timeout.ms": 10_000, "partition.assignment.strategy": "range" } } });
    expect(s.faults).toEqual(heartbeatIncident.faults);
    // KIP-848 sets no client-side session or heartbeat timing: librdkafka refuses them with group.protocol=consumer.
    expect(variantScenario(heartbeatIncident, kip848).workload).toMatchObject({ centrelink: { consumer: { "group.protocol": "consumer" } } });
    expect(Object.keys((variantScenario(heartbeatIncident, kip848).workload.centrelink as { consumer: object }).consumer)).toEqual(["group.protocol"]);
  });

  it("rank variants by stalled partition time, and say whether they measurably differ", () => {
    const c = compareVariants([variant("incident", [60_000, 50_000, 50_000, 50_000], [50_000, 20]), variant("remediation", [60_000, 15_000, 15_000, 15_000], [15_000]), variant("kip-848", [60_000, 8_000, 8_000, 8_000], [9_000])]);
    expect(c.byStall).toEqual(["kip-848", "remediation", "incident"]);
    expect(c.leastStall).toBe("kip-848");
    expect(c.differ).toBe(true);
    expect(c.rows[0]).toMatchObject({ name: "incident", rebalances: 2, longestRebalanceMs: 50_000, longestStallMs: 60_000, medianStallMs: 50_000, totalStallMs: 210_000, partitionsStalledOver10s: 4, duringP99: 1000, lost: 0, duplicated: 2 });
    expect(c.note).toMatch(/median partition stall incident 50.0 s, remediation 15.0 s, kip-848 8.0 s/);
  });

  it("report no difference when the measurements agree, whatever was configured", () => {
    const c = compareVariants([variant("a", [10_000, 10_000], [5_000]), variant("b", [10_500, 11_000], [5_200])]);
    expect(c.differ).toBe(false);
    expect(c.note).toMatch(/did not measurably differ/);
    expect(compareVariants([variant("a", [1], [1])]).note).toMatch(/fewer than two/);
  });
});
