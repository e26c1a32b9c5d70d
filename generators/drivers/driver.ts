import { createPrivateKey, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import type { RotationOptions } from "./rotation.ts";
/**
 * The small interface the generators use to talk to Kafka. Two drivers implement it: `confluent` (librdkafka via
 * @confluentinc/kafka-javascript: cooperative-sticky, KIP-848, the default) and `kafkajs` (pure JS, eager only).
 * Client settings are passed as librdkafka-style property names; a driver maps the ones it understands and
 * rejects the ones it cannot honour, so a scenario never silently runs with a different configuration.
 */
export type ClientProps = Record<string, string | number | boolean>;

/**
 * A workload's client certificate for mTLS: the PEM files spiffe-helper keeps current (SVID with intermediates,
 * PKCS#8 key, trust bundle). Clients read them when they are created; `undefined` means plaintext.
 */
export interface ClientTls {
  cert: string;
  key: string;
  ca: string;
}

/** One consistent reading of a workload's SVID files: the key matches the leaf, whatever spiffe-helper is doing. */
export interface SvidPems {
  cert: string;
  key: string;
  ca: string;
  /** The leaf's serial number: a new one means the SVID rotated. */
  serial: string;
  notAfterMs: number;
}

/**
 * Reads the SVID files once, consistently: spiffe-helper rewrites the certificate and the key one after the other,
 * so a reader can see a new certificate beside the old key. Such a pair is read again (up to `tries` times, 50 ms
 * apart); a client made from it would fail every handshake.
 */
export function readSvidPems(tls: ClientTls, tries = 40): SvidPems {
  for (let i = 1; ; i++) {
    try {
      const [cert, key, ca] = [readFileSync(tls.cert, "utf8"), readFileSync(tls.key, "utf8"), readFileSync(tls.ca, "utf8")];
      const leaf = new X509Certificate(cert);
      if (leaf.checkPrivateKey(createPrivateKey(key))) return { cert, key, ca, serial: leaf.serialNumber, notAfterMs: Date.parse(leaf.validTo) };
      if (i >= tries) throw new Error(`the key in ${tls.key} does not match the certificate in ${tls.cert}`);
    } catch (e) {
      if (i >= tries) throw new Error(`cannot read the SVID at ${tls.cert}: ${(e as Error).message}`, { cause: e });
    }
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
  }
}

/**
 * Node's TLS options (tls.connect, node-redis) presenting a workload's SVID files as they are now. No hostname
 * check, as for librdkafka: SVIDs name a SPIFFE ID, links are IPs; the chain is still checked against the bundle.
 */
export const nodeTlsOptions = (tls: ClientTls): { cert: string; key: string; ca: string; checkServerIdentity: () => undefined } => {
  const { cert, key, ca } = readSvidPems(tls);
  return { cert, key, ca, checkServerIdentity: () => undefined };
};

/** Where a client connects: a bootstrap list and, on an mTLS mesh, its workload's SVID files. */
export interface KafkaAccess {
  bootstrap: string;
  tls?: ClientTls | undefined;
}

/** `{ tls }` for a client's options, or nothing when the mesh runs plaintext. */
export const withTls = (tls: ClientTls | undefined): { tls?: ClientTls } => (tls ? { tls } : {});

/**
 * librdkafka's settings for a client certificate, as PEM strings from one consistent reading of the files (a client
 * reads its certificate once, when it is made: see rotation.ts). No hostname check: SVIDs name a SPIFFE ID, links
 * are IPs.
 */
export const tlsProps = (tls: ClientTls | undefined): ClientProps => {
  if (!tls) return {};
  const { cert, key, ca } = readSvidPems(tls);
  return {
    "security.protocol": "ssl",
    "ssl.certificate.pem": cert,
    "ssl.key.pem": key,
    "ssl.ca.pem": ca,
    "ssl.endpoint.identification.algorithm": "none",
  };
};

export interface ProduceRecord {
  topic: string;
  key: string;
  value: Buffer;
  headers: Record<string, string>;
}

export interface Delivery {
  partition: number;
  offset: string;
}

export interface Producer {
  /** Resolves once the record is acknowledged (per the producer's acks), rejects on a final error. */
  send(record: ProduceRecord): Promise<Delivery>;
  flush(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** How a callback send ends: the delivery, or the final error. */
export type DeliveryCallback = (err: Error | undefined, d: Delivery | undefined) => void;

/**
 * Opt-in capability of a producer: a send whose outcome goes to a callback, with no promise per record. At tens
 * of thousands of records a second the promise, its reactions and a lookup per delivery report were a measurable
 * share of the generator's one thread (README, *A generator that keeps up*).
 */
export interface CallbackProducer extends Producer {
  /** `done` is called exactly once; give each send its own function (it identifies the send). */
  sendWith(record: ProduceRecord | PreparedRecord, done: DeliveryCallback): void;
  /**
   * The record in the client's own form (key and header values as bytes, headers as the client's list), made
   * ahead of its send time so the send itself converts nothing.
   */
  prepare(record: ProduceRecord): PreparedRecord;
}

/** A record a `CallbackProducer` prepared; only that producer (or one of its driver) reads `native`. */
export interface PreparedRecord {
  readonly topic: string;
  readonly prepared: true;
  readonly native: unknown;
}

export const hasSendWith = (p: Producer): p is CallbackProducer => typeof (p as Partial<CallbackProducer>).sendWith === "function";

export interface ConsumedRecord {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

export interface ConsumerOptions {
  bootstrap: string;
  clientId: string;
  tls?: ClientTls;
  groupId: string;
  topics: string[];
  /** librdkafka properties: session.timeout.ms, partition.assignment.strategy, group.protocol ... */
  props?: ClientProps;
  /** Partitions whose records are handled at once (order within each partition is kept); default 1. */
  concurrency?: number;
  /**
   * The caller commits offsets itself with `Consumer.commit` (a pipelined consumer's watermark); nothing is
   * committed for it when a handler returns. Default false: a record's offset is committed after its handler.
   */
  manualCommit?: boolean;
  /** Called on every assignment change of this member (for the rebalance history); optional per driver. */
  onRebalance?: (e: { type: "assigned" | "revoked"; partitions: { topic: string; partition: number }[]; lost: boolean }) => void;
}

export interface Consumer {
  /** Starts consuming; the handler is awaited before the record's offset may be committed. */
  run(handler: (r: ConsumedRecord) => Promise<void>): Promise<void>;
  /** Partitions currently assigned to this member; none while it closes or after. Never throws (callers poll it from timers). */
  assignment(): { topic: string; partition: number }[];
  /** Commits the next offset to read of each partition given (with `manualCommit`). */
  commit(points: { topic: string; partition: number; offset: string }[]): Promise<void>;
  close(): Promise<void>;
}

export interface GroupState {
  state: "stable" | "rebalancing" | "empty" | "dead" | "unknown";
  members: { clientId: string; partitions: number }[];
  /** Node id of the group coordinator, when the driver reports it. */
  coordinator?: number;
}

export interface TopicCreate {
  name: string;
  partitions: number;
  replicationFactor: number;
  config: Record<string, string>;
}

export interface Admin {
  /** Broker ids currently in the cluster metadata. */
  brokers(): Promise<number[]>;
  createTopics(topics: TopicCreate[]): Promise<void>;
  /** Partition count and leaders of a topic, or undefined when it does not exist. */
  topic(name: string): Promise<{ partitions: { id: number; leader: number; isr: number[] }[] } | undefined>;
  describeGroup(groupId: string): Promise<GroupState>;
  /**
   * Consumer lag of a group on a topic: the sum over partitions of the high watermark minus the group's committed
   * offset (a partition with no commit yet counts from its low watermark).
   */
  groupLag(groupId: string, topic: string): Promise<number>;
  close(): Promise<void>;
}

/** Lag from the two offset lists every admin API returns (offsets as strings; "-1" = nothing committed). */
export function sumLag(ends: { partition: number; high: string; low: string }[], committed: { partition: number; offset: string }[]): number {
  const byPartition = new Map(committed.map((c) => [c.partition, Number(c.offset)]));
  let lag = 0;
  for (const e of ends) {
    const c = byPartition.get(e.partition);
    lag += Math.max(0, Number(e.high) - (c !== undefined && c >= 0 ? c : Number(e.low)));
  }
  return lag;
}

export interface KafkaDriver {
  readonly name: string;
  producer(opts: { bootstrap: string; clientId: string; props?: ClientProps; tls?: ClientTls }): Promise<Producer>;
  consumer(opts: ConsumerOptions): Promise<Consumer>;
  admin(opts: { bootstrap: string; clientId: string; tls?: ClientTls }): Promise<Admin>;
}

export const driverNames = ["confluent", "kafkajs"] as const;
export type DriverName = (typeof driverNames)[number];

/**
 * A driver by name. Its producers and consumers made with an SVID are made again whenever the SVID rotates
 * (rotation.ts); `rotation` says how often to look and who hears of each renewal.
 */
export async function loadDriver(name: DriverName, rotation: RotationOptions = {}): Promise<KafkaDriver> {
  const inner = name === "kafkajs" ? (await import("./kafkajs.ts")).kafkajsDriver : (await import("./confluent.ts")).confluentDriver;
  return (await import("./rotation.ts")).rotating(inner, rotation);
}

export const headersToStrings = (h: Record<string, unknown> | undefined): Record<string, string> => {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h ?? {})) {
    const first = Array.isArray(v) ? v[0] : v;
    if (first !== undefined && first !== null) out[k] = Buffer.isBuffer(first) ? first.toString("utf8") : String(first);
  }
  return out;
};
