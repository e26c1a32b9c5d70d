import type { Scenario } from "./scenario.ts";

/**
 * The release engineer's rehearsal: the region starts on Kafka 4.2.2 (topology one-region-upgrade), and under
 * clearance traffic each node in turn is stopped, switched to 4.3.1 (the lab's version) and started; then the
 * features are finalised on 4.3. Per node, result.json's fault record says how long it was unavailable, how many
 * leaderships moved, and what the flow saw meanwhile (`upgradeSteps`); nothing may be lost.
 */
export const rollingUpgrade: Scenario = {
  name: "rolling-upgrade",
  description: "Kafka 4.2.2 -> 4.3.1, one node at a time under clearance traffic, then kafka-features upgrade --release-version 4.3; nothing lost",
  topology: "one-region-upgrade",
  // Long enough for three turns of about 15 s each (45 s on a loaded 2-core machine) to run under traffic.
  workload: { durationMs: "150s", rate: { kind: "constant", perSecond: 50 } },
  slo: [{ metric: "counts.lost", max: 0 }],
  faults: [{ kind: "rolling-upgrade", target: { region: "syd" }, to: "4.3.1", at: "10s", intervalMs: "5s" }],
};
