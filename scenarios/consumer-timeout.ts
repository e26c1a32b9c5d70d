import { RECONCILIATION_COUNTS } from "../reports/reconciliation.ts";
import type { SloCheckSpec } from "../reports/slo.ts";
import type { Scenario } from "./scenario.ts";

const CONSUMER_TIMEOUT_SLO: SloCheckSpec[] = [
  { metric: "counts.lost", max: 0 },
  { metric: "counts.unreconciled", max: 0 },
  { metric: "counts.undecided", max: 0 },
  { metric: "counts.discrepancyRatePpm", max: 1 },
];

/**
 * The consumer-timeout row of the seed's failure matrix. The debt registry behind the Centrelink engines answers in
 * 1-5 ms, 5 % of lookups in 150-600 ms; for 10 s a `slow-dependency` fault makes half of them 150-600 ms. The ATO
 * tax engine waits at most 100 ms for each clearance: past it, it decides from its eligibility cache (provisional;
 * pending on a cold cache), publishes a reconciliation retry event, and settles the decision when the response
 * comes, counting a discrepancy when the final outcome differs from the provisional one. 300 taxpayers, so the
 * cache knows most of them after the warm-up; its mode is `debt-status` (what the taxpayer owes Centrelink, decided
 * with this assessment's balance), and the SLO holds the seed's discrepancy bound, 0.0001 % (1 ppm).
 */
export const consumerTimeout: Scenario = {
  name: "consumer-timeout",
  description:
    "a slow debt-registry dependency (5 % of lookups 150-600 ms, half of them for 10 s): decisions past the 100 ms budget are provisional from the eligibility cache, queued for reconciliation and settled; discrepancies counted by event id",
  topology: "one-region",
  workload: {
    durationMs: "30s",
    warmupMs: "5s",
    rate: { kind: "constant", perSecond: 50 },
    population: 300,
    centrelink: { instances: 3, debtLookup: { base: "1-5ms", slow: { share: 0.05, range: "150-600ms" } } },
    ato: { budgetMs: 100 },
  },
  counts: RECONCILIATION_COUNTS,
  slo: CONSUMER_TIMEOUT_SLO,
  faults: [{ kind: "slow-dependency", target: { region: "syd" }, range: "150-600ms", share: 0.5, at: "8s", duration: "10s" }],
};

/**
 * The same with a coarser cache, `last-outcome` (each taxpayer's last outcome only): a debtor whose balance changes
 * sign is decided wrongly, and reconciliation must find every such decision. The seed's bound is not expected to hold.
 */
export const consumerTimeoutLastOutcome: Scenario = {
  ...consumerTimeout,
  name: "consumer-timeout-last-outcome",
  description: "consumer-timeout with an eligibility cache that remembers only each taxpayer's last outcome: discrepancies found by reconciliation, each by event id",
  workload: { ...consumerTimeout.workload, ato: { budgetMs: 100, eligibilityCache: "last-outcome" } },
  slo: CONSUMER_TIMEOUT_SLO.filter((c) => c.metric !== "counts.discrepancyRatePpm"),
};
