import type { Scenario } from "./scenario.ts";

/**
 * The failure-matrix row "broker log segment: disk above 85 %": one broker's log dir is a 256 MB filesystem,
 * filled to 85 % and then to 100 % under clearance load. The result says what the broker and the clients did and
 * whether every acknowledged request still completed. Needs root for the tmpfs (chaos/README.md).
 */
export const diskExhaustion: Scenario = {
  name: "disk-exhaustion",
  description: "syd-3's log dir (256 MB tmpfs) filled to 85 % at +15 s for 10 s, then to 100 % at +30 s for 15 s, at 50 clearances/s; nothing acknowledged may be lost",
  topology: "one-region",
  logDirLimitsMb: { "syd-3": 256 },
  workload: { durationMs: "50s", rate: { kind: "constant", perSecond: 50 }, centrelink: { instances: 3 } },
  slo: [{ metric: "counts.lost", max: 0 }],
  faults: [
    { kind: "disk-fill", name: "disk-85", target: { named: "syd-3" }, percent: 85, at: "15s", duration: "10s" },
    { kind: "disk-fill", name: "disk-100", target: { named: "syd-3" }, percent: 100, at: "30s", duration: "15s" },
  ],
};
