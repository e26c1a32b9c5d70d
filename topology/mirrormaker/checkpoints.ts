import ckjs from "@confluentinc/kafka-javascript";
import { type KafkaAccess, tlsProps } from "../../generators/drivers/driver.ts";


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

type NativeConsumer = InstanceType<typeof ckjs.KafkaConsumer>;

/**
 * A librdkafka consumer that never joins a group: it reads assigned partitions, and reads or commits a group's
 * offsets as a "simple consumer" (generation -1), which the broker accepts while the group has no members.
 */
async function nativeConsumer({ bootstrap, tls }: KafkaAccess, groupId: string): Promise<NativeConsumer> {
  const c = new ckjs.KafkaConsumer(
    { ...tlsProps(tls), "bootstrap.servers": bootstrap, "group.id": groupId, "enable.auto.commit": false, "enable.partition.eof": false, "client.id": "meshlab-lab" },
    { "auto.offset.reset": "earliest" },
  );
  await new Promise<void>((resolve, reject) => c.connect({ timeout: 15_000 }, (err) => (err ? reject(err) : resolve())));
  return c;
}

const disconnect = (c: NativeConsumer) => new Promise<void>((resolve) => c.disconnect(() => resolve()));

async function partitionsOf(c: NativeConsumer, topic: string): Promise<number[]> {
  const md = await new Promise<ckjs.Metadata>((resolve, reject) => c.getMetadata({ topic, timeout: 10_000 }, (err, m) => (err ? reject(err) : resolve(m))));
  const t = md.topics.find((x) => x.name === topic);
  if (!t) throw new Error(`topic ${topic} does not exist`);
  return t.partitions.map((p) => p.id).sort((a, b) => a - b);
}

const watermarks = (c: NativeConsumer, topic: string, partition: number) =>
  new Promise<{ low: number; high: number }>((resolve, reject) =>
    c.queryWatermarkOffsets(topic, partition, 10_000, (err, o) => (err ? reject(err) : resolve({ low: o.lowOffset, high: o.highOffset }))),
  );

/** Reads every record of a topic up to its current end (a bounded scan for the lab, not a consumer of the flow). */
export async function readToEnd(
  bootstrap: KafkaAccess,
  topic: string,
  timeoutMs = 30_000,
): Promise<{ partition: number; offset: number; key: Buffer | null; value: Buffer | null; headers: Record<string, string>; timestamp: number }[]> {
  const c = await nativeConsumer(bootstrap, `meshlab-scan-${process.pid}`);
  const out: Awaited<ReturnType<typeof readToEnd>> = [];
  try {
    const ends = new Map<number, number>();
    const assignments: { topic: string; partition: number; offset: number }[] = [];
    for (const p of await partitionsOf(c, topic)) {
      const w = await watermarks(c, topic, p);
      if (w.high > w.low) {
        ends.set(p, w.high);
        assignments.push({ topic, partition: p, offset: w.low });
      }
    }
    if (!assignments.length) return out;
    c.assign(assignments);
    const deadline = Date.now() + timeoutMs;
    while (ends.size) {
      if (Date.now() > deadline) throw new Error(`reading ${topic} to its end took over ${timeoutMs} ms (${ends.size} partition(s) short)`);
      const batch = await new Promise<ckjs.Message[]>((resolve, reject) => c.consume(500, (err, m) => (err ? reject(err) : resolve(m))));
      for (const m of batch) {
        const end = ends.get(m.partition);
        if (end === undefined || m.offset >= end) continue;
        const headers: Record<string, string> = {};
        for (const h of m.headers ?? []) for (const [k, v] of Object.entries(h)) headers[k] = Buffer.isBuffer(v) ? v.toString("utf8") : String(v);
        out.push({ partition: m.partition, offset: m.offset, key: (m.key as Buffer | null | undefined) ?? null, value: m.value ?? null, headers, timestamp: m.timestamp ?? 0 });
        if (m.offset + 1 >= end) ends.delete(m.partition);
      }
    }
  } finally {
    await disconnect(c);
  }
  return out.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
}

/** Every checkpoint MM2 has written into `target` for flows from `source`. */
export async function readCheckpoints(targetBootstrap: KafkaAccess, source: string): Promise<Checkpoint[]> {
  const records = await readToEnd(targetBootstrap, `${source}.checkpoints.internal`);
  return records.filter((r) => r.key && r.value).map((r) => decodeCheckpoint(r.key as Buffer, r.value as Buffer, r.timestamp));
}

/**
 * Commits translated offsets for a consumer group in the target region, before its members start there: the
 * lab's answer to `RemoteClusterUtils.translateOffsets` (it reads the same checkpoints topic, without a JVM).
 * The group must have no active members in the target.
 */
export async function commitTranslatedOffsets(targetBootstrap: KafkaAccess, group: string, checkpoints: Checkpoint[]): Promise<void> {
  const latest = latestCheckpoints(checkpoints, group);
  if (!latest.length) return;
  const c = await nativeConsumer(targetBootstrap, group);
  try {
    c.commitSync(latest.map((cp) => ({ topic: cp.topic, partition: cp.partition, offset: cp.downstreamOffset })));
  } finally {
    await disconnect(c);
  }
}

/** A group's committed offsets in a region, as `topic:partition` -> offset (partitions without a commit left out). */
export async function committedOffsets(bootstrap: KafkaAccess, group: string, topics: string[]): Promise<Map<string, number>> {
  const c = await nativeConsumer(bootstrap, group);
  try {
    const toppars: { topic: string; partition: number }[] = [];
    for (const topic of topics) for (const partition of await partitionsOf(c, topic)) toppars.push({ topic, partition });
    const res = await new Promise<{ topic: string; partition: number; offset?: number }[]>((resolve, reject) =>
      c.committed(toppars, 10_000, (err, tps) => (err ? reject(err) : resolve(tps))),
    );
    const out = new Map<string, number>();
    for (const t of res) if (t.offset !== undefined && t.offset >= 0) out.set(`${t.topic}:${t.partition}`, t.offset);
    return out;
  } finally {
    await disconnect(c);
  }
}
