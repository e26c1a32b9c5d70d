import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { type ClientTls, type KafkaDriver, loadDriver, type Producer, withTls } from "../generators/drivers/driver.ts";
import { FileSigner } from "../generators/signing.ts";
import type { Injection } from "./schedule.ts";

/**
 * Poison pills: records no deserializer accepts, written straight onto a topic as a broken producer would (no
 * serializer, no registry). Each shape fails a different step of a registry-aware decoder.
 */
export const PILL_SHAPES = ["bad-magic", "unknown-schema-id", "truncated-header", "empty"] as const;
export type PillShape = (typeof PILL_SHAPES)[number];

/** Header naming each pill, so the checker can tell it from any other record. */
export const PILL_HEADER = "poison-pill-id";

/** A registry id no registry in the lab hands out (Apicurio counts from 1). */
export const UNKNOWN_SCHEMA_ID = 0x7ffffff0;

/** The bytes of pill `n` of a shape (pure). */
export function pillBytes(shape: PillShape, n: number): Buffer {
  const tail = Buffer.from(`poison-pill-${n}`);
  switch (shape) {
    case "bad-magic":
      // Not the wire format at all: a magic byte other than 0 (what a plain JSON or string producer writes).
      return Buffer.concat([Buffer.from([0xde, 0xad, 0xbe, 0xef]), tail]);
    case "unknown-schema-id": {
      // The wire format's header, with a schema id the registry does not know: the decoder's lookup fails.
      const h = Buffer.alloc(5);
      h.writeInt32BE(UNKNOWN_SCHEMA_ID, 1);
      return Buffer.concat([h, tail]);
    }
    case "truncated-header":
      // A magic byte and half a schema id: cut off before the id is complete.
      return Buffer.from([0x00, 0x00, 0x01]);
    case "empty":
      return Buffer.alloc(0);
  }
}

/** One pill as written: where it landed, for the DLQ check and the stall figures. */
export interface PillRecord {
  pillId: string;
  /** A PillShape, or a ForgeryShape for a forged event (chaos/forged.ts). */
  shape: string;
  topic: string;
  partition: number;
  offset: string;
  writtenAtEpochMs: number;
}

/** The pills of a run, filled in by the injector and read by the audit after the heal. */
export class PillLog {
  readonly pills: PillRecord[] = [];
  readonly failures: string[] = [];
}

/**
 * Writes `count` pills onto `topic`, evenly over `durationMs` (the first at once), each with its own key so they
 * spread over the partitions. The heal writes any pill not yet due at once (a fault writes all its pills) and
 * reports what was written; the pills
 * themselves stay on the log for ever, as real ones do: what heals them is the consumer.
 */
export async function injectPoisonPills(opts: {
  bootstrap: string;
  /** The lab's SVID files on an mTLS mesh (the lab writes the pills). */
  tls?: ClientTls | undefined;
  /**
   * On a mesh with signed events, the ATO tax service's SVID: a pill is what a broken ATO producer writes, signed
   * like everything it writes, so the row tests the decoder rather than the signature check.
   */
  signWith?: ClientTls | undefined;
  topic: string;
  count: number;
  durationMs: number;
  log: PillLog;
  driver?: KafkaDriver;
}): Promise<Injection> {
  // The pure-JS client, whatever the run's driver: a broken producer is not the lab's client under test.
  const driver = opts.driver ?? (await loadDriver("kafkajs"));
  const producer = await driver.producer({ bootstrap: opts.bootstrap, clientId: "meshlab-poison-pill", ...withTls(opts.tls) });
  const signer = opts.signWith ? new FileSigner(opts.signWith) : undefined;
  return pacedRecords({ ...opts, producer, what: "pill" }, async (n) => {
    const shape = PILL_SHAPES[n % PILL_SHAPES.length] as PillShape;
    const pillId = randomUUID();
    const value = pillBytes(shape, n);
    // A pill has no event-id header, so its signature covers an empty event id, as the verifier reads it.
    return { shape, pillId, key: `poison-${pillId}`, value, headers: { [PILL_HEADER]: pillId, ...signer?.sign(opts.topic, "", value) } };
  });
}

/** One record a paced fault writes, and how the audit will know it. */
export interface PacedRecord {
  shape: string;
  pillId: string;
  key: string;
  value: Buffer;
  headers: Record<string, string>;
}

/**
 * Writes `count` records made by `make(n)` onto `topic`, evenly over `durationMs` (the first at once), logging where
 * each landed (or why it failed) in `log`. The heal writes any record not yet due at once and closes the producer.
 */
export function pacedRecords(
  opts: { producer: Producer; topic: string; count: number; durationMs: number; log: PillLog; what: string },
  make: (n: number) => Promise<PacedRecord>,
): Injection {
  const hurry = new AbortController();
  const mine: PillRecord[] = [];
  const gap = opts.count > 1 ? opts.durationMs / opts.count : 0;
  const t0 = Date.now();
  const writing = (async () => {
    for (let n = 0; n < opts.count; n++) {
      // Due times are absolute (a slow send does not push the rest back); once healing, the rest go at once.
      const wait = t0 + n * gap - Date.now();
      if (wait > 0 && !hurry.signal.aborted) await sleep(wait, undefined, { signal: hurry.signal }).catch(() => {});
      try {
        const r = await make(n);
        const d = await opts.producer.send({ topic: opts.topic, key: r.key, value: r.value, headers: r.headers });
        const p: PillRecord = { pillId: r.pillId, shape: r.shape, topic: opts.topic, partition: d.partition, offset: d.offset, writtenAtEpochMs: Date.now() };
        mine.push(p);
        opts.log.pills.push(p);
      } catch (e) {
        opts.log.failures.push(`${opts.what} ${n}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  })();
  return {
    target: `${opts.topic} (${opts.count} ${opts.what}(s))`,
    details: { topic: opts.topic, count: opts.count },
    heal: async () => {
      hurry.abort();
      await writing;
      await opts.producer.close().catch(() => {});
      return { written: mine.length, records: mine.map((p) => `${p.shape} at ${p.partition}@${p.offset}`) };
    },
  };
}
