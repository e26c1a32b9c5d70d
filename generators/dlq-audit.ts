import type { Admin, KafkaAccess, KafkaDriver } from "./drivers/driver.ts";
import { type DeadLetterRecord, deadLetterOf } from "./dlq.ts";
import { readWholeTopic } from "./topic-reader.ts";

/**
 * Creates a DLQ topic like its source topic (same partition count, so a key's dead letters keep their order;
 * the seed's replication settings) unless it exists. Run before load, in every region the flow writes to.
 */
export async function ensureDlqTopic(admin: Admin, dlq: string, source: string): Promise<void> {
  if (await admin.topic(dlq)) return;
  const src = await admin.topic(source);
  const rf = Math.min(3, (await admin.brokers()).length);
  await admin.createTopics([
    { name: dlq, partitions: src?.partitions.length ?? 12, replicationFactor: rf, config: { "min.insync.replicas": String(Math.min(2, rf)), "retention.ms": "604800000" } },
  ]);
}

/** What the topics hold after a run: the DLQ's dead letters and the event id of every record on the source topic. */
export interface DeadLetterEvidence {
  dlq: DeadLetterRecord[];
  sourceTopic: { eventId: string | undefined; at: string }[];
}

/** Reads the DLQ and the source topic back, whole, as fresh groups on the lab listener (see `readWholeTopic`). */
export async function readDeadLetterEvidence(driver: KafkaDriver, access: KafkaAccess, topics: { source: string; dlq: string }): Promise<DeadLetterEvidence> {
  const [dlq, source] = await Promise.all([
    readWholeTopic(driver, { ...access, topic: topics.dlq, clientId: "meshlab-audit-dlq" }),
    readWholeTopic(driver, { ...access, topic: topics.source, clientId: "meshlab-audit-source" }),
  ]);
  return {
    dlq: dlq.map(deadLetterOf).sort((a, b) => a.partition - b.partition || Number(a.offset) - Number(b.offset)),
    sourceTopic: source.map((r) => ({ eventId: r.headers["event-id"], at: `${r.partition}@${r.offset}` })),
  };
}
