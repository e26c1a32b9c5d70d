import type { SloCheckSpec } from "../reports/slo.ts";
import type { Scenario } from "./scenario.ts";

/** The poison-pill SLO, shared with dead-letters. */
const POISON_SLO: SloCheckSpec[] = [
  { metric: "latencyMs.clearance.p99", max: 300 },
  { metric: "counts.lost", max: 0 },
  { metric: "counts.pillsMissingFromDlq", max: 0 },
];

/**
 * The poison-pill row of the seed's failure matrix: a broken producer writes 8 records no deserializer accepts
 * straight onto the assessment topic, over 8 s of load. Each Centrelink engine that meets one puts its raw bytes in
 * the DLQ with its source topic, partition and offset, commits past it and goes on; no clearance is lost.
 */
export const poisonPill: Scenario = {
  name: "poison-pill",
  description:
    "clearance-smoke with 8 poison pills (4 shapes) written straight onto the assessment topic: each dead-lettered by the Centrelink engine by its offset, committed past, nothing else lost",
  topology: "one-region",
  workload: { durationMs: "30s", rate: { kind: "constant", perSecond: 50 }, centrelink: { instances: 3 } },
  slo: POISON_SLO,
  faults: [{ kind: "poison-pill", target: { region: "syd" }, topic: "au.gov.ato.tax.assessment.v1", count: 8, at: "12s", duration: "8s" }],
};

/** Both dead-letter rows in one run (what the integration test and CI run): 2 % broken payloads and 8 pills. */
export const deadLetters: Scenario = {
  name: "dead-letters",
  description: "the schema-mismatch and poison-pill rows at once: 2 % of assessments refused and dead-lettered by the producer, 8 pills dead-lettered by the Centrelink engines",
  topology: "one-region",
  workload: { ...poisonPill.workload, schemaMismatch: { share: 0.02 } },
  slo: [...POISON_SLO, { metric: "counts.dlqViolations", max: 0 }, { metric: "counts.mismatchesReachingConsumers", max: 0 }],
  faults: poisonPill.faults?.map((f) => ({ ...(f as object), at: "8s", duration: "6s" })),
};
