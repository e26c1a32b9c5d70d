import type { Scenario } from "./scenario.ts";

/**
 * The schema-mismatch row of the seed's failure matrix: 2 % of assessments are produced not matching the
 * registered schema. Each must be refused by the serializer before it is sent, be in the producer's DLQ exactly
 * once, and never be on the assessment topic; every other request completes as usual.
 */
export const schemaMismatch: Scenario = {
  name: "schema-mismatch",
  description:
    "clearance-smoke with 2 % of assessments not matching the registered schema: each refused by the serializer, routed to au.gov.ato.tax.assessment.v1.dlq exactly once, none on the assessment topic; nothing else lost",
  topology: "one-region",
  workload: { durationMs: "30s", rate: { kind: "constant", perSecond: 50 }, centrelink: { instances: 3 }, schemaMismatch: { share: 0.02 } },
  slo: [
    { metric: "latencyMs.clearance.p99", max: 300 },
    { metric: "counts.lost", max: 0 },
    { metric: "counts.dlqViolations", max: 0 },
    { metric: "counts.mismatchesReachingConsumers", max: 0 },
  ],
};
