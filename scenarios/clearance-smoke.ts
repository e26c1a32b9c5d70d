import type { Scenario } from "./scenario.ts";

/** The flagship: steady clearance round trips on one healthy three-node region, checked against the SLO. */
export const clearanceSmoke: Scenario = {
  name: "clearance-smoke",
  description: "One region (3 KRaft nodes, AZ racks, every link proxied), 50 clearances/s for 30 s, 3 Centrelink engines; SLO p95/p99 <= 300 ms, nothing lost",
  topology: "one-region",
  workload: {
    durationMs: "30s",
    rate: { kind: "constant", perSecond: 50 },
    centrelink: { instances: 3 },
  },
};
