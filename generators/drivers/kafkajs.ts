import { Kafka, logLevel, PartitionAssigners } from "kafkajs";
import { BadInputError } from "../../lab/errors.ts";
import { type Admin, type ClientProps, type ClientTls, type Consumer, type GroupState, headersToStrings, type KafkaDriver, nodeTlsOptions, sumLag } from "./driver.ts";

/** Node's TLS options from a workload's SVID files; the chain is checked against the bundle, not the host name. */
export const kafkajsSsl = (tls: ClientTls | undefined) => (tls ? { ssl: { ...nodeTlsOptions(tls), rejectUnauthorized: true } } : {});

const client = (bootstrap: string, clientId: string, tls?: ClientTls) =>
  new Kafka({ brokers: bootstrap.split(","), clientId, logLevel: logLevel.NOTHING, retry: { retries: 8 }, ...kafkajsSsl(tls) });

/** Maps the librdkafka consumer properties KafkaJS can honour; anything else is refused, never ignored. */
function consumerSettings(props: ClientProps = {}) {
  const out: { sessionTimeout?: number; heartbeatInterval?: number; rebalanceTimeout?: number } = {};
  const refused: string[] = [];
  for (const [k, v] of Object.entries(props)) {
    if (k === "session.timeout.ms") out.sessionTimeout = Number(v);
    else if (k === "heartbeat.interval.ms") out.heartbeatInterval = Number(v);
    else if (k === "max.poll.interval.ms") out.rebalanceTimeout = Number(v);
    else if (k === "partition.assignment.strategy" && v === "roundrobin") continue;
    else refused.push(`${k}=${v}`);
  }
  if (refused.length)
    throw new BadInputError(
      "the kafkajs driver cannot honour these consumer settings",
      refused.map((r) => `${r}: KafkaJS has only eager round-robin assignment and no KIP-848 group protocol`),
      'use the "confluent" driver (librdkafka) for cooperative-sticky or group.protocol=consumer',
    );
  return out;
}

export const kafkajsDriver: KafkaDriver = {
  name: "kafkajs",

  async producer({ bootstrap, clientId, tls }) {
    const p = client(bootstrap, clientId, tls).producer({ idempotent: true, maxInFlightRequests: 5 });
    await p.connect();
    return {
      async send(r) {
        const [meta] = await p.send({ topic: r.topic, acks: -1, messages: [{ key: r.key, value: r.value, headers: r.headers }] });
        return { partition: meta?.partition ?? -1, offset: meta?.baseOffset ?? "-1" };
      },
      async flush() {},
      close: () => p.disconnect(),
    };
  },

  async consumer(opts): Promise<Consumer> {
    const c = client(opts.bootstrap, opts.clientId, opts.tls).consumer({
      groupId: opts.groupId,
      partitionAssigners: [PartitionAssigners.roundRobin],
      ...consumerSettings(opts.props),
    });
    let assigned: { topic: string; partition: number }[] = [];
    c.on(c.events.GROUP_JOIN, (e) => {
      assigned = Object.entries(e.payload.memberAssignment).flatMap(([topic, ps]) => ps.map((partition) => ({ topic, partition })));
    });
    await c.connect();
    return {
      async run(handler) {
        for (const topic of opts.topics) await c.subscribe({ topic, fromBeginning: true });
        await c.run({
          autoCommit: !opts.manualCommit,
          partitionsConsumedConcurrently: opts.concurrency ?? 1,
          eachMessage: async ({ topic, partition, message }) =>
            handler({ topic, partition, offset: message.offset, key: message.key, value: message.value, headers: headersToStrings(message.headers) }),
        });
      },
      assignment: () => assigned,
      commit: (points) => c.commitOffsets(points),
      close: () => c.disconnect(),
    };
  },

  async admin({ bootstrap, clientId, tls }): Promise<Admin> {
    const a = client(bootstrap, clientId, tls).admin();
    await a.connect();
    return {
      async brokers() {
        return (await a.describeCluster()).brokers.map((b) => b.nodeId).sort((x, y) => x - y);
      },
      async createTopics(topics) {
        await a.createTopics({
          waitForLeaders: true,
          topics: topics.map((t) => ({
            topic: t.name,
            numPartitions: t.partitions,
            replicationFactor: t.replicationFactor,
            configEntries: Object.entries(t.config).map(([name, value]) => ({ name, value })),
          })),
        });
      },
      async topic(name) {
        const md = await a.fetchTopicMetadata({ topics: [name] }).catch(() => undefined);
        const t = md?.topics[0];
        if (!t) return undefined;
        return { partitions: t.partitions.map((p) => ({ id: p.partitionId, leader: p.leader, isr: p.isr })) };
      },
      async describeGroup(groupId): Promise<GroupState> {
        const g = (await a.describeGroups([groupId])).groups[0];
        const state = ({ Stable: "stable", PreparingRebalance: "rebalancing", CompletingRebalance: "rebalancing", Empty: "empty", Dead: "dead" } as const)[
          g?.state as "Stable"
        ];
        return { state: state ?? "unknown", members: (g?.members ?? []).map((m) => ({ clientId: m.clientId, partitions: -1 })) };
      },
      async groupLag(groupId, topic) {
        const [ends, committed] = await Promise.all([a.fetchTopicOffsets(topic), a.fetchOffsets({ groupId, topics: [topic] })]);
        return sumLag(ends, committed[0]?.partitions ?? []);
      },
      close: () => a.disconnect(),
    };
  },
};
