import { randomUUID } from "node:crypto";
import { type ClientTls, loadDriver } from "../generators/drivers/driver.ts";
import { PILL_HEADER, PillLog, pacedRecords } from "./poison.ts";
import type { AssessmentSource } from "./injectors.ts";
import type { Injection } from "./schedule.ts";

/**
 * A rogue workload: a process holding a valid SVID of another identity (a Centrelink engine's, by default) tries
 * to produce assessments through the ATO listener. The brokers' ACLs must deny every attempt; what the heal reports
 * is how many were tried, denied and (a failure of the mesh) accepted. Records carry a `poison-pill-id` header and
 * an event id nobody asked for, so one that got in could be found.
 */
export async function injectRogueWorkload(opts: {
  bootstrap: string;
  /** The stolen SVID. */
  tls: ClientTls;
  identity: string;
  /** Where the assessments come from, and the topic the rogue tries to write. */
  assessments: AssessmentSource;
  count: number;
  durationMs: number;
}): Promise<Injection> {
  const topic = opts.assessments.topic;
  const driver = await loadDriver("confluent");
  // Not idempotent: each denied send then fails on its own with the topic's authorization error.
  const producer = await driver.producer({ bootstrap: opts.bootstrap, clientId: `meshlab-rogue-${opts.identity}`, props: { "enable.idempotence": false, acks: "all", "message.timeout.ms": 5_000 }, tls: opts.tls });
  const log = new PillLog();
  const inner = pacedRecords({ producer, topic, count: opts.count, durationMs: opts.durationMs, log, what: "rogue write" }, async () => {
    const id = randomUUID();
    const a = await opts.assessments.next();
    return { shape: opts.identity, pillId: id, key: a.key, value: a.value, headers: { "event-id": id, [PILL_HEADER]: id } };
  });
  return {
    target: `${topic} as ${opts.identity} (${opts.count} attempt(s))`,
    details: { identity: opts.identity, topic, count: opts.count },
    heal: async () => {
      await inner.heal();
      const other = log.failures.filter((f) => !/authori[sz]ation/i.test(f));
      return {
        attempts: log.pills.length + log.failures.length,
        denied: log.failures.length - other.length,
        accepted: log.pills.length,
        otherFailures: other.length,
        acceptedAt: log.pills.map((p) => `${p.partition}@${p.offset}`),
        ...(other.length ? { firstOtherFailure: other[0] } : {}),
      };
    },
  };
}
