import type { Scenario } from "./scenario.ts";

/**
 * Issue 11's before/after: the Centrelink engine serial (each record's response acknowledged before the next record
 * of its partition) and pipelined (the default: up to 32 responses in flight, one at a time per key, offsets
 * committed up to the first unacknowledged record), with 100 ms added each way on every Centrelink link for the
 * whole measured run, on the same seed and rate, each on a fresh mesh.
 */
export const enginePipeline: Scenario = {
  name: "engine-pipeline",
  description: "The Centrelink engine serial, then pipelined (32 in flight), with 100 ms added on every Centrelink link; clearance latency side by side, nothing lost",
  topology: "one-region",
  workload: {
    durationMs: "30s",
    rate: { kind: "constant", perSecond: 50 },
    centrelink: { instances: 3 },
    drainTimeoutMs: "60s",
  },
  // Latency is what is compared (the seed's 300 ms cannot hold with 200 ms added per round trip); loss is not allowed.
  slo: [{ metric: "counts.lost", max: 0 }],
  faults: [{ kind: "latency", name: "centrelink-links-100ms", target: { pick: "all", of: "brokers" }, links: ["centrelink"], latencyMs: 100, direction: "both", at: "0s", duration: "30s" }],
  variants: [
    { name: "serial", description: "one record per partition at a time, committed once its response is acknowledged", workload: { centrelink: { engine: "serial" } } },
    { name: "pipelined", description: "up to 32 responses in flight per engine, one per key, commit watermark", workload: { centrelink: { engine: "pipelined", maxInFlight: 32 } } },
  ],
};
