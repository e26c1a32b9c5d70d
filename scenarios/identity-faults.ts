import type { Scenario } from "./scenario.ts";

/**
 * The signed-events part of the seed's identity row, on an mTLS mesh whose SVIDs live 3 minutes (so they rotate at half-life
 * during the run): 8 forged assessments (unsigned, tampered, signed by a Centrelink engine's SVID, self-signed as
 * the ATO tax service) are written through the lab listener. None may be processed: each is in the DLQ with reason
 * `signature`, and no response answers one (it would show as an unexpected response). Meanwhile a rogue process
 * holding a Centrelink engine's valid SVID tries 8 times to produce assessments: the brokers' ACLs deny each.
 */
export const identityFaults: Scenario = {
  name: "identity-faults",
  description:
    "clearance on mTLS with signed events, 8 forged assessments (4 forgeries) and a rogue producer on a Centrelink engine's SVID: each forgery dead-lettered with reason signature, every rogue write denied, none answered, nothing lost",
  topology: "one-region-mtls",
  workload: { durationMs: "30s", rate: { kind: "constant", perSecond: 50 }, centrelink: { instances: 3 } },
  slo: [
    { metric: "counts.lost", max: 0 },
    { metric: "counts.unexpected", max: 0 },
    { metric: "counts.forgedMissingFromDlq", max: 0 },
  ],
  faults: [
    { kind: "forged-signature", target: { region: "syd" }, count: 8, at: "8s", duration: "6s" },
    { kind: "rogue-workload", target: { region: "syd" }, identity: "centrelink-engine", count: 8, at: "9s", duration: "5s" },
  ],
};
