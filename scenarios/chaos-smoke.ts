import type { Scenario } from "./scenario.ts";

/** A short tour of the fault library on the flagship flow: a slow link, a paused broker, a killed consumer. */
export const chaosSmoke: Scenario = {
  name: "chaos-smoke",
  description: "clearance-smoke with faults: 200 ms latency on the leader-of-partition-0's Centrelink link, a paused broker, a killed and restarted Centrelink engine",
  topology: "one-region",
  workload: { durationMs: "30s", rate: { kind: "constant", perSecond: 50 }, centrelink: { instances: 3 } },
  slo: [{ metric: "counts.lost", max: 0 }],
  faults: [
    { kind: "latency", target: { leaderOf: { topic: "au.gov.ato.tax.assessment.v1", partition: 0 } }, links: ["centrelink"], latencyMs: 200, jitterMs: 50, at: "12s", duration: "6s" },
    { kind: "pause", target: { pick: "one", of: "brokers" }, at: "20s", duration: "3s" },
    { kind: "kill", target: { named: "centrelink-2" }, at: "26s", duration: "5s" },
  ],
};
