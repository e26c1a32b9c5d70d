import type { Scenario } from "./scenario.ts";

/**
 * The seed's identity row "SPIFFE attestation fails: no SVID, workload cut off, alert", and the two SPIRE outages
 * around it, on an mTLS mesh whose SVIDs live 40 s (renewed at 20 s), one after the other:
 *
 * 1. `spire-server-down` (10 s): agents keep serving cached SVIDs; a new registration is refused.
 * 2. `attestation-failure` of the ATO tax service (48 s, past its TTL): its entry's selector stops matching, it gets
 *    no new SVID, and once its SVID expires it can neither sign (its requests fail at the source) nor open a
 *    connection (the fault's probe is refused at the handshake).
 * 3. `svid-expiry` (46 s): the region's agent is stopped past the TTL; every 40 s SVID of the region expires (the
 *    registry's lives 15 min on this spec: its KafkaSQL client cannot take a new one), the engines hold their
 *    responses until their identity is back.
 *
 * Alerts come from the run's identity watch (topology/spire/watch.ts), not from the faults. Nothing acknowledged may
 * be lost and nothing may be answered that was not asked.
 */
export const spireOutage: Scenario = {
  name: "spire-outage",
  description:
    "SPIRE server down, the ATO tax service's attestation failing past its SVID's TTL, the region's agent stopped past the TTL: alerts, cut-off and recovery measured, nothing acknowledged lost",
  topology: "one-region-mtls-short",
  workload: { durationMs: "150s", rate: { kind: "constant", perSecond: 10 }, centrelink: { instances: 3 } },
  slo: [
    { metric: "counts.lost", max: 0 },
    { metric: "counts.unexpected", max: 0 },
    { metric: "counts.inFlight", max: 0 },
  ],
  faults: [
    { kind: "spire-server-down", target: { region: "syd" }, at: "12s", duration: "10s" },
    { kind: "attestation-failure", target: { region: "syd" }, workload: "ato-tax-service", at: "30s", duration: "48s" },
    { kind: "svid-expiry", target: { region: "syd" }, at: "100s", duration: "46s" },
  ],
};
