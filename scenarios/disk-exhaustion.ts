import type { Scenario } from "./scenario.ts";

/**
 * The failure-matrix row "broker log segment: disk above 85 %": one broker's log dir is a 256 MB filesystem,
 * filled with Kafka's own records (a ballast topic on that broker) to 85 % and then to 100 % under clearance load.
 * Each heal is the operator's clean-up: lower the ballast topic's `retention.bytes` and let the broker's retention
 * task delete the old segments (after a restart, when the full disk made the broker shut down). The result says
 * what the broker and the clients did, whether every acknowledged request still completed, and how long the
 * retention path took to free the disk. Needs root for the tmpfs (chaos/README.md).
 */
export const diskExhaustion: Scenario = {
  name: "disk-exhaustion",
  description:
    "syd-3's log dir (256 MB tmpfs) filled with Kafka records to 85 % at +10 s for 15 s, then to 100 % at +40 s for 15 s, each healed by lowering retention, at 50 clearances/s; nothing acknowledged may be lost",
  topology: "one-region",
  // Kafka checks retention every 5 min by default: longer than the run. 5 s here, so the clean-up path runs in it.
  kafkaConfig: { "log.retention.check.interval.ms": "5000" },
  logDirLimitsMb: { "syd-3": 256 },
  workload: { durationMs: "70s", rate: { kind: "constant", perSecond: 50 }, centrelink: { instances: 3 } },
  slo: [{ metric: "counts.lost", max: 0 }],
  faults: [
    { kind: "disk-fill", name: "disk-85", target: { named: "syd-3" }, percent: 85, fill: "records", at: "10s", duration: "15s" },
    { kind: "disk-fill", name: "disk-100", target: { named: "syd-3" }, percent: 100, fill: "records", at: "40s", duration: "15s" },
  ],
};
