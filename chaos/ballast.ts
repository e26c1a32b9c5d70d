import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { type Admin as KafkaAdmin, Kafka, logLevel, type Producer } from "kafkajs";
import { InfraError } from "../lab/errors.ts";
import type { ClientTls, KafkaAccess } from "../generators/drivers/driver.ts";
import { kafkajsSsl } from "../generators/drivers/kafkajs.ts";
import { runKafkaTool } from "../topology/kafka/tools.ts";
import { usage } from "./disk.ts";

/**
 * Disk exhaustion with Kafka's own data, so Kafka's own clean-up path can recover it: a ballast topic with one
 * partition whose only replica is the target broker is written until the broker's log dir reaches a threshold,
 * and the heal is what an operator does: lower the topic's `retention.bytes` and wait for the broker's retention
 * task to delete the old segments. At 100 % the broker has shut down (its only log dir failed) and retention runs
 * only in a live broker: the heal restarts it, and when the start-up fails on the full disk, frees the emergency
 * reserve laid down before the fill (5 % of the volume, the spare-space file operators keep) and starts it again.
 *
 * kafkajs creates and writes the ballast rather than the lab's driver interface: it can pin a replica assignment,
 * which @confluentinc/kafka-javascript's admin cannot yet. The retention change uses Kafka's own tool.
 */

export interface BallastOptions {
  /** The region's lab-class bootstrap (never faulted). */
  bootstrap: string;
  /** The lab's SVID files on an mTLS mesh. */
  tls?: ClientTls | undefined;
  nodeId: number;
  logDir: string;
  percent: number;
  /** Segment size: retention deletes whole closed segments, so the granularity of the clean-up. */
  segmentBytes?: number;
  /** How long a deleted segment stays on disk as `.deleted` (Kafka's default is 60 s). */
  fileDeleteDelayMs?: number;
}

export interface RetentionHeal {
  /** Restarts the broker when it shut itself down; resolves with how long it took to be back in the metadata. */
  restartIfDown(): Promise<number | undefined>;
  /** Whether the broker process is alive. */
  running(): boolean;
}

const RECORD_BYTES = 256 * 1024;
/** The emergency reserve kept on a volume filled to 100 %: the space an operator can free to restart a broker. */
const RESERVE_SHARE = 0.05;
const RESERVE_FILE = "meshlab-disk-reserve";

function layReserve(logDir: string, bytes: number): { bytes: number; free(): void } {
  const file = join(logDir, RESERVE_FILE);
  writeFileSync(file, Buffer.alloc(bytes, 0x5a));
  return { bytes, free: () => rmSync(file, { force: true }) };
}
const BATCH = 4;

let ballastSeq = 0;
/** One ballast topic per injection, so two disk faults on one broker never share (or delete) each other's data. */
export const ballastTopic = (nodeId: number) => `meshlab.ballast.${nodeId}.${++ballastSeq}`;

/** Bytes of a partition directory (segments, indexes, .deleted files), or 0 when it is gone. */
export function dirBytes(dir: string): number {
  if (!existsSync(dir)) return 0;
  let sum = 0;
  for (const f of readdirSync(dir)) {
    try {
      sum += statSync(join(dir, f)).blocks * 512; // allocated, not apparent: an active index is a sparse 10 MB file
    } catch {
      // deleted meanwhile
    }
  }
  return sum;
}

const segmentsIn = (dir: string): number => (existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".log")).length : 0);

function client(bootstrap: string, clientId: string, tls: ClientTls | undefined): Kafka {
  return new Kafka({ brokers: bootstrap.split(","), clientId, logLevel: logLevel.NOTHING, retry: { retries: 2, maxRetryTime: 2_000 }, ...kafkajsSsl(tls) });
}

const topicConfigs = (o: Required<Pick<BallastOptions, "segmentBytes" | "fileDeleteDelayMs">>) => [
  { name: "segment.bytes", value: String(o.segmentBytes) },
  { name: "file.delete.delay.ms", value: String(o.fileDeleteDelayMs) },
  { name: "min.insync.replicas", value: "1" },
  { name: "retention.bytes", value: "-1" },
  { name: "retention.ms", value: "-1" },
];

/** `kafka-configs --alter --add-config retention.bytes=<bytes>` on a topic (an incremental change). */
async function lowerRetention(access: KafkaAccess, topic: string, bytes: number): Promise<void> {
  const args = ["--entity-type", "topics", "--entity-name", topic, "--alter", "--add-config", `retention.bytes=${bytes}`];
  await runKafkaTool("kafka-configs", access, "kafka.admin.ConfigCommand", args, { hint: "the region's controllers must be reachable to change a topic config", timeoutMs: 60_000 });
}

/**
 * Fills `logDir` (a size-limited mount: see `limitDir`) to `percent` with ballast records. At 100 % it writes
 * until the broker refuses: the append that hits ENOSPC fails the log dir and the broker shuts down.
 */
export async function fillWithRecords(o: BallastOptions, heal: RetentionHeal): Promise<{ details: Record<string, unknown>; heal(): Promise<Record<string, unknown>> }> {
  const opts = { segmentBytes: o.segmentBytes ?? 8 * 1024 * 1024, fileDeleteDelayMs: o.fileDeleteDelayMs ?? 1_000 };
  const topic = ballastTopic(o.nodeId);
  const partitionDir = join(o.logDir, `${topic}-0`);
  const kafka = client(o.bootstrap, "meshlab-ballast", o.tls);
  const admin: KafkaAdmin = kafka.admin();
  await admin.connect();
  let producer: Producer | undefined;
  const before = usage(o.logDir);
  let written = 0;
  let reserve: { bytes: number; free(): void } | undefined;
  let stoppedBy = "threshold";
  let lastError: string | undefined;
  try {
    await admin.createTopics({
      waitForLeaders: true,
      topics: [{ topic, replicaAssignment: [{ partition: 0, replicas: [o.nodeId] }], configEntries: topicConfigs(opts) }],
    });
    if (o.percent >= 100) reserve = layReserve(o.logDir, Math.floor(before.totalBytes * RESERVE_SHARE));
    producer = kafka.producer({ allowAutoTopicCreation: false, retry: { retries: 0 } });
    await producer.connect();
    const value = randomBytes(RECORD_BYTES); // incompressible, and the ballast topic is never compressed
    const want = o.percent >= 100 ? 100 : o.percent;
    while (usage(o.logDir).percent < want) {
      try {
        await producer.send({ topic, acks: 1, timeout: 10_000, messages: Array.from({ length: BATCH }, () => ({ value })) });
        written += BATCH * RECORD_BYTES;
      } catch (e) {
        lastError = (e as Error).message;
        stoppedBy = heal.running() ? "produce-error" : "broker-down";
        break;
      }
    }
  } catch (e) {
    // A fill that failed half-way takes back what it laid down: the injection reports the failure, nothing stays.
    reserve?.free();
    await admin.deleteTopics({ topics: [topic], timeout: 10_000 }).catch(() => {});
    throw e;
  } finally {
    await producer?.disconnect().catch(() => {});
    await admin.disconnect().catch(() => {});
  }
  const after = usage(o.logDir);
  const details = {
    with: "records",
    topic,
    segmentBytes: opts.segmentBytes,
    fsBytes: before.totalBytes,
    usedPercentBefore: before.percent,
    usedPercentAfter: after.percent,
    ballastBytesAcked: written,
    ballastBytesOnDisk: dirBytes(partitionDir),
    segments: segmentsIn(partitionDir),
    stoppedBy,
    ...(lastError ? { lastError } : {}),
    ...(reserve ? { reserveBytes: reserve.bytes } : {}),
    brokerRunning: heal.running(),
  };
  return {
    details,
    heal: async () => {
      const t0 = Date.now();
      const segmentsBefore = segmentsIn(partitionDir);
      const onDiskBefore = dirBytes(partitionDir);
      // 1. Lower retention to one segment, as an operator would, with Kafka's own kafka-configs tool. The
      //    controller takes the change even while the broker is down (kafkajs cannot: its metadata refresh
      //    fails on a partition without a leader).
      await lowerRetention(o, topic, opts.segmentBytes);
      const retentionLoweredMs = Date.now() - t0;
      // 2. A broker whose log dir failed shut itself down; retention runs only in a live broker. On a full disk
      //    its start-up can fail too (index files are memory-mapped: a page that cannot be allocated is a
      //    SIGBUS), and then the operator frees the emergency reserve and starts it again.
      let restartOnFullDisk: string | undefined;
      let restartedRejoinMs: number | undefined;
      try {
        restartedRejoinMs = await heal.restartIfDown();
        if (restartedRejoinMs !== undefined) restartOnFullDisk = "ok";
      } catch (e) {
        if (!reserve) throw e;
        // Kafka's reason is in the log tail the failed wait carries (lab/proc.ts exitedError).
        const tail = e instanceof InfraError ? e.logTail.split("\n").filter((l) => /\b(ERROR|FATAL)\b/.test(l)).slice(-2) : [];
        restartOnFullDisk = `failed: ${[(e as Error).message, ...tail.map((l) => l.replace(/^\[[^\]]*\]\s*/, ""))].join(" | ")}`;
        reserve.free();
        restartedRejoinMs = await heal.restartIfDown();
      }
      // 3. Wait for the retention task to delete the old segments (and for the deletes to reach the disk).
      const limit = 2 * opts.segmentBytes + 16 * 1024 * 1024;
      const deadline = Date.now() + 180_000;
      while (dirBytes(partitionDir) > limit && Date.now() < deadline) await sleep(250);
      const retentionFreedMs = Date.now() - t0;
      const retentionFreed = dirBytes(partitionDir) <= limit;
      const usedPercentAfterRetention = usage(o.logDir).percent;
      const segmentsAfter = segmentsIn(partitionDir);
      // 4. The ballast and the reserve go: the mesh is left as it was found.
      reserve?.free();
      const cleanup = kafka.admin();
      const ballastDeleted = await cleanup
        .connect()
        .then(() => cleanup.deleteTopics({ topics: [topic], timeout: 10_000 }))
        .then(
          () => true,
          () => false,
        );
      await cleanup.disconnect().catch(() => {});
      return {
        retentionLoweredMs,
        ...(restartedRejoinMs !== undefined ? { restartedRejoinMs } : {}),
        // "ok", or "failed: <why>" when the reserve had to be freed before the broker would start again.
        ...(restartOnFullDisk ? { restartOnFullDisk } : {}),
        retentionFreed,
        retentionFreedMs,
        segmentsBefore,
        segmentsAfter,
        ballastBytesBefore: onDiskBefore,
        ballastBytesAfter: dirBytes(partitionDir),
        usedPercentAfterRetention,
        ballastDeleted,
      };
    },
  };
}
