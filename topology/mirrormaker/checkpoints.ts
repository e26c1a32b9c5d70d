import { Kafka, logLevel } from "kafkajs";

/** One MM2 checkpoint: where a consumer group stood upstream, and the offset that corresponds to it downstream. */
export interface Checkpoint {
  group: string;
  /** The topic as named in the target region (`<source>.<topic>`). */
  topic: string;
  partition: number;
  upstreamOffset: number;
  downstreamOffset: number;
  metadata: string;
  /** Record timestamp (ms since the epoch): when MM2 emitted it. */
  emittedAtMs: number;
}

function readString(buf: Buffer, at: number): [string, number] {
  const len = buf.readInt16BE(at);
  if (len < 0) return ["", at + 2];
  return [buf.toString("utf8", at + 2, at + 2 + len), at + 2 + len];
}

/**
 * Decodes a record of `<source>.checkpoints.internal` (MM2's Checkpoint serialization): key = group, topic
 * (int16-length UTF-8 strings) and partition (int32); value = version (int16, 0), upstream offset, downstream
 * offset (int64) and metadata (string).
 */
export function decodeCheckpoint(key: Buffer, value: Buffer, emittedAtMs = 0): Checkpoint {
  const [group, afterGroup] = readString(key, 0);
  const [topic, afterTopic] = readString(key, afterGroup);
  const partition = key.readInt32BE(afterTopic);
  const version = value.readInt16BE(0);
  if (version !== 0) throw new Error(`checkpoint value version ${version} is not supported (expected 0)`);
  const upstreamOffset = Number(value.readBigInt64BE(2));
  const downstreamOffset = Number(value.readBigInt64BE(10));
  const [metadata] = readString(value, 18);
  return { group, topic, partition, upstreamOffset, downstreamOffset, metadata, emittedAtMs };
}

/** Encodes a checkpoint the way MM2 does; the lab only uses it to test the decoder against the format. */
export function encodeCheckpoint(c: Omit<Checkpoint, "emittedAtMs">): { key: Buffer; value: Buffer } {
  const str = (s: string) => {
    const b = Buffer.from(s, "utf8");
    const len = Buffer.alloc(2);
    len.writeInt16BE(b.length);
    return Buffer.concat([len, b]);
  };
  const part = Buffer.alloc(4);
  part.writeInt32BE(c.partition);
  const offsets = Buffer.alloc(18);
  offsets.writeInt16BE(0, 0);
  offsets.writeBigInt64BE(BigInt(c.upstreamOffset), 2);
  offsets.writeBigInt64BE(BigInt(c.downstreamOffset), 10);
  return { key: Buffer.concat([str(c.group), str(c.topic), part]), value: Buffer.concat([offsets, str(c.metadata)]) };
}

/** The newest checkpoint per (topic, partition) of one group, in log order (later records win). */
export function latestCheckpoints(all: Checkpoint[], group: string): Checkpoint[] {
  const latest = new Map<string, Checkpoint>();
  for (const c of all) if (c.group === group) latest.set(`${c.topic}\u0000${c.partition}`, c);
  return [...latest.values()].sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
}

/** Per partition: how far the translated position trails the group's real upstream position at failover. */
export interface Staleness {
  topic: string;
  partition: number;
  /** Records committed upstream after the checkpoint was taken (they will be delivered again after failover). */
  records: number;
  /** Age of the checkpoint at failover. */
  ageMs: number;
}

/**
 * How stale the checkpoints were at failover: `upstreamCommitted` maps a source topic partition (`topic:p`, as
 * named in the source region) to the group's committed offset there just before the failure.
 */
export function checkpointStaleness(
  checkpoints: Checkpoint[],
  source: string,
  upstreamCommitted: Map<string, number>,
  failoverAtMs: number,
): { partitions: Staleness[]; totalRecords: number; maxRecords: number; maxAgeMs: number; missing: string[] } {
  const partitions: Staleness[] = [];
  const missing: string[] = [];
  const prefix = `${source}.`;
  for (const [tp, committed] of upstreamCommitted) {
    const sep = tp.lastIndexOf(":");
    const topic = tp.slice(0, sep);
    const partition = Number(tp.slice(sep + 1));
    const c = checkpoints.find((x) => x.topic === `${prefix}${topic}` && x.partition === partition);
    if (!c) {
      if (committed > 0) missing.push(tp);
      continue;
    }
    partitions.push({ topic, partition, records: Math.max(0, committed - c.upstreamOffset), ageMs: Math.max(0, failoverAtMs - c.emittedAtMs) });
  }
  return {
    partitions,
    totalRecords: partitions.reduce((n, p) => n + p.records, 0),
    maxRecords: Math.max(0, ...partitions.map((p) => p.records)),
    maxAgeMs: Math.max(0, ...partitions.map((p) => p.ageMs)),
    missing,
  };
}

const kafka = (bootstrap: string, clientId: string) => new Kafka({ clientId, brokers: bootstrap.split(","), logLevel: logLevel.NOTHING, retry: { retries: 3 } });

/** Reads every record of a topic up to its current end (a bounded scan for the lab, not a consumer of the flow). */
export async function readToEnd(
  bootstrap: string,
  topic: string,
  timeoutMs = 30_000,
): Promise<{ partition: number; offset: number; key: Buffer | null; value: Buffer | null; headers: Record<string, string>; timestamp: number }[]> {
  const k = kafka(bootstrap, "meshlab-scan");
  const admin = k.admin();
  await admin.connect();
  let ends: { partition: number; high: string; low: string }[];
  try {
    ends = await admin.fetchTopicOffsets(topic);
  } finally {
    await admin.disconnect();
  }
  const remaining = new Map(ends.filter((e) => Number(e.high) > Number(e.low)).map((e) => [e.partition, Number(e.high)]));
  const out: Awaited<ReturnType<typeof readToEnd>> = [];
  if (remaining.size === 0) return out;
  const consumer = k.consumer({ groupId: `meshlab-scan-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}` });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`reading ${topic} to its end took over ${timeoutMs} ms`)), timeoutMs);
      consumer
        .run({
          autoCommit: false,
          eachMessage: async ({ partition, message }) => {
            const end = remaining.get(partition);
            const offset = Number(message.offset);
            if (end === undefined || offset >= end) return;
            const headers: Record<string, string> = {};
            for (const [h, v] of Object.entries(message.headers ?? {})) if (v !== undefined) headers[h] = String(Array.isArray(v) ? v[0] : v);
            out.push({ partition, offset, key: message.key, value: message.value, headers, timestamp: Number(message.timestamp) });
            if (offset + 1 >= end) remaining.delete(partition);
            if (remaining.size === 0) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return out.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
}

/** Every checkpoint MM2 has written into `target` for flows from `source`. */
export async function readCheckpoints(targetBootstrap: string, source: string): Promise<Checkpoint[]> {
  const records = await readToEnd(targetBootstrap, `${source}.checkpoints.internal`);
  return records.filter((r) => r.key && r.value).map((r) => decodeCheckpoint(r.key as Buffer, r.value as Buffer, r.timestamp));
}

/**
 * Commits translated offsets for a consumer group in the target region, before its members start there: the
 * lab's answer to `RemoteClusterUtils.translateOffsets` (it reads the same checkpoints topic, without a JVM).
 * The group must have no active members in the target.
 */
export async function commitTranslatedOffsets(targetBootstrap: string, group: string, checkpoints: Checkpoint[]): Promise<void> {
  const admin = kafka(targetBootstrap, "meshlab-translate").admin();
  await admin.connect();
  try {
    const byTopic = new Map<string, { partition: number; offset: string }[]>();
    for (const c of latestCheckpoints(checkpoints, group)) {
      const list = byTopic.get(c.topic) ?? [];
      list.push({ partition: c.partition, offset: String(c.downstreamOffset) });
      byTopic.set(c.topic, list);
    }
    for (const [topic, partitions] of byTopic) await admin.setOffsets({ groupId: group, topic, partitions });
  } finally {
    await admin.disconnect();
  }
}

/** A group's committed offsets in a region, as `topic:partition` -> offset (partitions without a commit left out). */
export async function committedOffsets(bootstrap: string, group: string, topics: string[]): Promise<Map<string, number>> {
  const admin = kafka(bootstrap, "meshlab-offsets").admin();
  await admin.connect();
  try {
    const res = await admin.fetchOffsets({ groupId: group, topics });
    const out = new Map<string, number>();
    for (const t of res) for (const p of t.partitions) if (Number(p.offset) >= 0) out.set(`${t.topic}:${p.partition}`, Number(p.offset));
    return out;
  } finally {
    await admin.disconnect();
  }
}
