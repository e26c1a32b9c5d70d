import type { Scenario } from "./scenario.ts";

/**
 * The incident of ../shared/DOMAIN.md replayed: the Centrelink group loses its link to the group coordinator for
 * longer than any variant's session timeout, under three consumer configurations on the same seed and rate.
 *
 * The seed does not give the pre-incident timings; the variant `incident` uses the Kafka client defaults of that
 * era (session.timeout.ms 10000, heartbeat.interval.ms 3000, the range assignor, eager rebalancing). The KIP-848
 * variant sets only `group.protocol=consumer`: with it, session and heartbeat timings are the broker's
 * (`group.consumer.session.timeout.ms` 45000 and `group.consumer.heartbeat.interval.ms` 5000, Kafka 4 defaults),
 * and librdkafka refuses the client-side ones.
 */
/** The Centrelink group loses its link to the group coordinator (packets dropped, as by a firewall). */
export const heartbeatFault = (duration: string) => ({
  kind: "heartbeat-loss",
  name: "coordinator-link-lost",
  target: { pick: "all", of: "consumers" },
  mode: "cut",
  // After the 10 s warm-up and 20 s of steady load.
  at: "30s",
  duration,
});

const heartbeatScenario = (name: string, faultDuration: string, why: string): Scenario => ({
  name,
  description: `The heartbeat-loss incident: the Centrelink group loses its coordinator link for ${faultDuration} (${why}), under the incident's settings, the remediation (45 s session, cooperative-sticky) and KIP-848; rebalances, stalls and latency side by side`,
  // Each engine consumes through its own client class, so the fault reaches its consumer and not its producer.
  topology: "one-region-chaos",
  workload: {
    durationMs: "100s",
    rate: { kind: "constant", perSecond: 50 },
    centrelink: { instances: 3 },
    drainTimeoutMs: "90s",
  },
  // Latency is expected to blow up under this fault (that is what is compared); losing an acknowledged request is not.
  slo: [{ metric: "counts.lost", max: 0 }],
  faults: [heartbeatFault(faultDuration)],
  variants: [
    {
      name: "incident",
      description: "eager range assignor, session.timeout.ms 10000, heartbeat.interval.ms 3000 (pre-incident defaults)",
      workload: {
        centrelink: { consumer: { "partition.assignment.strategy": "range", "session.timeout.ms": 10_000, "heartbeat.interval.ms": 3_000 } },
      },
    },
    {
      name: "remediation",
      description: "cooperative-sticky assignor, session.timeout.ms 45000, heartbeat.interval.ms 15000",
      workload: {
        centrelink: { consumer: { "partition.assignment.strategy": "cooperative-sticky", "session.timeout.ms": 45_000, "heartbeat.interval.ms": 15_000 } },
      },
    },
    {
      name: "kip-848",
      description: "group.protocol=consumer (KIP-848; broker-side session 45 s, heartbeat 5 s)",
      workload: { centrelink: { consumer: { "group.protocol": "consumer" } } },
    },
  ],
});

/** As the issue asks: longer than every variant's session timeout (45 s), so every variant's sessions expire. */
export const heartbeatIncident = heartbeatScenario("heartbeat-incident", "60s", "longer than every session timeout");

/** Past the incident's 10 s session but within the remediation's 45 s: the case the remediation was made for. */
export const heartbeatIncidentShort = heartbeatScenario("heartbeat-incident-short", "25s", "past a 10 s session, within a 45 s one");
