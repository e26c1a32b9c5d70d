import type { Suite } from "./scenario.ts";

/**
 * Every row of the seed's failure matrix (../shared/DOMAIN.md) and the identity plane's signed-events row, each
 * by the scenario that runs it, on its own
 * fresh mesh; a row passes when its scenario completed and its SLO (which encodes the expected recovery) held.
 */
export const failureMatrix: Suite = {
  name: "failure-matrix",
  description: "Every row of the seed's failure matrix, each scenario on a fresh mesh, in one table: row, injected, expected recovery, observed, pass/fail",
  rows: [
    {
      row: "assessment payload: schema mismatch",
      scenario: "schema-mismatch",
      injected: "2 % of assessments do not match the registered schema",
      expectedRecovery: "rejected before consumers; the producer routes each to the DLQ",
    },
    {
      row: "SPIFFE attestation: workload cannot be attested",
      scenario: "spire-outage",
      injected: "SPIRE server down 10 s; the tax service's attestation failing for 48 s; an agent stopped past the TTL",
      expectedRecovery: "no SVID issued; workload cut off; alert; nothing acknowledged lost",
    },
    {
      row: "debt verification: consumer slower than 100 ms",
      scenario: "consumer-timeout",
      injected: "debt registry 5 % slow (150-600 ms), half slow for 10 s",
      expectedRecovery: "provisional clearance within the budget + reconciliation retry",
    },
    {
      row: "broker log segment: disk above 85 %",
      scenario: "disk-exhaustion",
      injected: "a broker's log volume filled past 85 %",
      expectedRecovery: "retention clean-up; no acknowledged write lost",
    },
    {
      row: "poison pill on a topic: consumer cannot deserialize",
      scenario: "poison-pill",
      injected: "bytes no deserializer accepts written straight to the topic",
      expectedRecovery: "raw bytes to the DLQ, offset committed, stream continues",
    },
    {
      row: "signed events: forged or rogue producer (the identity plane's second row)",
      scenario: "identity-faults",
      injected: "forged and foreign signatures; a workload with another identity's SVID producing assessments",
      expectedRecovery: "nothing forged processed, each in the DLQ with its reason; the rogue writes denied",
    },
    {
      row: "region failover: region lost",
      scenario: "region-failover",
      injected: "every node of one region SIGKILLed, then failback",
      expectedRecovery: "consumers resume in the other region from translated offsets; duplicates dropped by event id; nothing acknowledged lost",
    },
  ],
};
