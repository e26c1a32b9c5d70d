import type { Scenario } from "./scenario.ts";

/**
 * SVID rotation under load: an mTLS mesh whose SVIDs live 40 s (SPIRE renews them at half-life, every 20 s) carries
 * clearances for 80 s, so every workload's SVID rotates at least three times while traffic runs. Brokers re-read
 * their rotated key stores without a restart; the flow's clients (the ATO tax service's producer, the engines'
 * producers and consumers, the tax engine's consumer) are made again on each new SVID (generators/drivers/rotation.ts).
 * Nothing may fail to send, nothing acknowledged may be lost; `result.json` `svidRotation` says what rotation did to
 * latency (requests intended near a renewal of a flow workload against the rest).
 */
export const svidRotation: Scenario = {
  name: "svid-rotation",
  description: "mTLS mesh with 40 s SVIDs, 80 s of clearances at 10/s: at least three rotations of every SVID under load, no produce error, nothing lost, latency near rotations against the rest",
  topology: "one-region-mtls-short",
  workload: { durationMs: "80s", rate: { kind: "constant", perSecond: 10 }, centrelink: { instances: 3 } },
  slo: [
    { metric: "latencyMs.clearance.p95", max: 300 },
    { metric: "latencyMs.clearance.p99", max: 300 },
    { metric: "counts.lost", max: 0 },
    { metric: "counts.errors", max: 0 },
    { metric: "counts.unexpected", max: 0 },
    { metric: "counts.inFlight", max: 0 },
  ],
};
