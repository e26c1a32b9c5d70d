/**
 * Dead letter queues, both sides of the seed's failure matrix:
 * - producer side: an assessment the serializer refuses (it does not match the registered schema) is never sent
 *   to the assessment topic; its raw payload goes to `<topic>.dlq` with headers saying why;
 * - consumer side: a record no deserializer accepts (a poison pill) goes, as the raw bytes it was, to the same
 *   DLQ with its source coordinates, and the consumer commits past it.
 * Everything here is pure (headers, the share picker, the broken payloads) except `ProducerDeadLetters`, which
 * sends through whatever `send` it is given.
 */
import type { Delivery, ProduceRecord } from "./drivers/driver.ts";
import type { TaxAssessment } from "./domain.ts";

export const dlqTopicOf = (topic: string): string => `${topic}.dlq`;

/** Header names on every dead letter (the event id rides in the usual `event-id` header). */
export const DLQ_HEADERS = {
  /** `schema-mismatch` (refused by the producer's serializer) or `undecodable` (refused by a consumer). */
  reason: "dlq-reason",
  /** The serializer's or deserializer's message (for a mismatch, with the offending field paths). */
  error: "dlq-error",
  /** Registry id of the schema the payload was checked against (producer side). */
  schemaId: "dlq-schema-id",
  /** Topic the record was meant for (producer side) or read from (consumer side). */
  sourceTopic: "dlq-source-topic",
  sourcePartition: "dlq-source-partition",
  sourceOffset: "dlq-source-offset",
  /** Who dead-lettered it: a producer's client id or a consumer instance. */
  by: "dlq-by",
  contentType: "content-type",
} as const;

/** `signature`: a consumer refused a record whose signature did not verify (generators/signing.ts). */
export type DeadLetterReason = "schema-mismatch" | "undecodable" | "signature";
/** What a consumer dead-letters for (the producer's is `schema-mismatch`). */
export type ConsumerDeadLetterReason = Exclude<DeadLetterReason, "schema-mismatch">;

/** Header values are kept short: a broker-side limit must never make the dead letter itself fail. */
const clip = (s: string, n = 512): string => (s.length > n ? `${s.slice(0, n - 3)}...` : s);

/** Headers of a payload the producer's serializer refused. */
export function mismatchHeaders(m: { eventId: string; schemaId: number; topic: string; error: string; by: string; traceparent?: string }): Record<string, string> {
  return {
    "event-id": m.eventId,
    [DLQ_HEADERS.reason]: "schema-mismatch",
    [DLQ_HEADERS.error]: clip(m.error),
    [DLQ_HEADERS.schemaId]: String(m.schemaId),
    [DLQ_HEADERS.sourceTopic]: m.topic,
    [DLQ_HEADERS.by]: m.by,
    [DLQ_HEADERS.contentType]: "application/json",
    ...(m.traceparent ? { traceparent: m.traceparent } : {}),
  };
}

/** Headers of a record a consumer could not decode; the original headers (event id, trace) are kept under theirs. */
export function undecodableHeaders(r: {
  topic: string;
  partition: number;
  offset: string;
  error: string;
  by: string;
  original?: Record<string, string>;
  reason?: ConsumerDeadLetterReason;
}): Record<string, string> {
  return {
    ...(r.original ?? {}),
    [DLQ_HEADERS.reason]: r.reason ?? "undecodable",
    [DLQ_HEADERS.error]: clip(r.error),
    [DLQ_HEADERS.sourceTopic]: r.topic,
    [DLQ_HEADERS.sourcePartition]: String(r.partition),
    [DLQ_HEADERS.sourceOffset]: r.offset,
    [DLQ_HEADERS.by]: r.by,
    [DLQ_HEADERS.contentType]: "application/octet-stream",
  };
}

/** What the serializer's refusal says, with the field paths it names (as the registry client reports them). */
export function refusalMessage(e: unknown): string {
  const err = e as { message?: string; paths?: string[][] };
  const paths = Array.isArray(err.paths) && err.paths.length ? ` at ${err.paths.map((p) => p.join(".")).join(", ")}` : "";
  return `${err.message ?? String(e)}${paths}`;
}

/** True when an encode failed because the payload does not match the schema (not because the registry is away). */
export function isSchemaRefusal(e: unknown): boolean {
  return (e as { name?: string } | null)?.name === "ConfluentSchemaRegistryValidationError";
}

/**
 * Whether request `seq` of a run is sent broken: a stable hash of (seed, seq), so the same seed breaks the same
 * requests, and the rest of the seeded stream (assessments, event ids) stays as it is without mismatches.
 */
export function picksMismatch(seed: number, seq: number, share: number): boolean {
  if (share <= 0) return false;
  if (share >= 1) return true;
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(seq + 1, 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return (h >>> 0) / 2 ** 32 < share;
}

/** The ways a broken ATO producer gets an assessment wrong, one per request in turn. */
export const MISMATCH_KINDS = ["wrong-type", "unknown-symbol", "missing-field"] as const;
export type MismatchKind = (typeof MISMATCH_KINDS)[number];

/** An assessment that no longer matches the registered schema (the event id stays, so it can be traced). */
export function breakAssessment(a: TaxAssessment, kind: MismatchKind): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  if (kind === "wrong-type") out.taxableIncomeCents = `${(a.taxableIncomeCents / 100).toFixed(2)}`;
  else if (kind === "unknown-symbol") out.lodgementChannel = "EMAIL";
  else delete out.postcode;
  return out;
}

/** One payload the ATO producer got wrong, as the run records it (the checker's input). */
export interface RoutedDeadLetter {
  eventId: string;
  seq: number;
  kind: MismatchKind;
  /** Whether the serializer refused it (it should: anything else is a failure the checker reports). */
  refused: boolean;
  /** The serializer's refusal, or what else happened to the payload. */
  error: string;
  /** Where the DLQ write landed, once acknowledged. */
  partition?: number;
  offset?: string;
  /** The DLQ write failed, or the payload never got that far: it is then not in the DLQ. */
  sendError?: string;
}

/** What the flow knows about a broken payload when it hands it over. */
export interface MismatchedPayload {
  eventId: string;
  seq: number;
  kind: MismatchKind;
  key: string;
  payload: unknown;
  schemaId: number;
  traceparent?: string;
}

type Send = (r: ProduceRecord) => Promise<Delivery>;

/**
 * The producer's dead-letter route: the refused payload, as JSON, to the DLQ topic, keyed like the request it
 * would have been (a taxpayer's dead letters stay in order). Records every broken payload for the checker.
 */
export class ProducerDeadLetters {
  readonly routed: RoutedDeadLetter[] = [];
  readonly #pending: Promise<unknown>[] = [];
  readonly #topic: string;
  readonly #sourceTopic: string;
  readonly #by: string;

  constructor(opts: { sourceTopic: string; dlqTopic: string; by: string }) {
    this.#sourceTopic = opts.sourceTopic;
    this.#topic = opts.dlqTopic;
    this.#by = opts.by;
  }

  get topic(): string {
    return this.#topic;
  }

  /** The DLQ record for a refused payload (pure: tests read it). */
  record(m: MismatchedPayload, error: string): ProduceRecord {
    return {
      topic: this.#topic,
      key: m.key,
      value: Buffer.from(JSON.stringify(m.payload)),
      headers: mismatchHeaders({ eventId: m.eventId, schemaId: m.schemaId, topic: this.#sourceTopic, error, by: this.#by, ...(m.traceparent ? { traceparent: m.traceparent } : {}) }),
    };
  }

  /**
   * The serializer threw. A schema refusal goes to the DLQ; any other failure (the registry unreachable) is not
   * the payload's fault and is recorded as such: a producer does not dead-letter what it could not check.
   */
  refused(send: Send, m: MismatchedPayload, e: unknown): Promise<RoutedDeadLetter> {
    const entry: RoutedDeadLetter = { eventId: m.eventId, seq: m.seq, kind: m.kind, refused: isSchemaRefusal(e), error: refusalMessage(e) };
    this.routed.push(entry);
    if (!entry.refused) {
      entry.sendError = `not a schema refusal, not dead-lettered: ${entry.error}`;
      return Promise.resolve(entry);
    }
    return this.#send(send, this.record(m, entry.error), entry);
  }

  /** The serializer accepted a broken payload: it goes where any encoded payload goes, and the checker finds it there. */
  accepted(send: Send, m: MismatchedPayload, encoded: ProduceRecord): Promise<RoutedDeadLetter> {
    const entry: RoutedDeadLetter = { eventId: m.eventId, seq: m.seq, kind: m.kind, refused: false, error: "accepted by the serializer", sendError: "sent to the source topic" };
    this.routed.push(entry);
    return send(encoded).then(
      () => entry,
      () => entry,
    );
  }

  async #send(send: Send, r: ProduceRecord, entry: RoutedDeadLetter): Promise<RoutedDeadLetter> {
    try {
      const d = await send(r);
      entry.partition = d.partition;
      entry.offset = d.offset;
    } catch (e) {
      entry.sendError = e instanceof Error ? e.message : String(e);
    }
    return entry;
  }

  /** Keeps a dead-letter write in flight so `settled` can wait for it. */
  track(p: Promise<unknown>): void {
    this.#pending.push(p.catch(() => {}));
  }

  /** Resolves once every dead-letter write handed over so far is acknowledged or failed. */
  async settled(): Promise<void> {
    await Promise.all(this.#pending);
  }
}

/** A record read back from a DLQ topic, reduced to what the checkers look at. */
export interface DeadLetterRecord {
  partition: number;
  offset: string;
  eventId: string | undefined;
  reason: string | undefined;
  error: string | undefined;
  schemaId: string | undefined;
  sourceTopic: string | undefined;
  sourcePartition: number | undefined;
  sourceOffset: string | undefined;
  /** The raw payload, base64 (kept for pills, whose bytes are the evidence). */
  valueBase64: string;
}

export function deadLetterOf(r: { partition: number; offset: string; value: Buffer | null; headers: Record<string, string> }): DeadLetterRecord {
  const h = r.headers;
  const p = h[DLQ_HEADERS.sourcePartition];
  return {
    partition: r.partition,
    offset: r.offset,
    eventId: h["event-id"],
    reason: h[DLQ_HEADERS.reason],
    error: h[DLQ_HEADERS.error],
    schemaId: h[DLQ_HEADERS.schemaId],
    sourceTopic: h[DLQ_HEADERS.sourceTopic],
    sourcePartition: p === undefined ? undefined : Number(p),
    sourceOffset: h[DLQ_HEADERS.sourceOffset],
    valueBase64: (r.value ?? Buffer.alloc(0)).toString("base64"),
  };
}

/**
 * The consumer's dead-letter route: a record that cannot be decoded goes, as the raw bytes it was, to the DLQ with
 * its source coordinates, and only once that write is acknowledged does the handler return, so the offset is
 * committed past the record and nothing undecodable is ever skipped without a trace. A failed DLQ write throws:
 * the record is then delivered again, not lost.
 */
export class ConsumerDeadLetters {
  readonly #send: Send;
  readonly #topic: string;
  readonly #by: string;

  constructor(opts: { send: Send; dlqTopic: string; by: string }) {
    this.#send = opts.send;
    this.#topic = opts.dlqTopic;
    this.#by = opts.by;
  }

  /** The DLQ record for an undecodable record (pure: tests read it). */
  record(
    r: { topic: string; partition: number; offset: string; key: Buffer | null; value: Buffer | null; headers: Record<string, string> },
    error: unknown,
    reason: ConsumerDeadLetterReason = "undecodable",
  ): ProduceRecord {
    return {
      topic: this.#topic,
      key: r.key?.toString("utf8") ?? "",
      value: r.value ?? Buffer.alloc(0),
      headers: undecodableHeaders({ topic: r.topic, partition: r.partition, offset: r.offset, error: error instanceof Error ? error.message : String(error), by: this.#by, original: r.headers, reason }),
    };
  }

  route(r: Parameters<ConsumerDeadLetters["record"]>[0], error: unknown, reason: ConsumerDeadLetterReason = "undecodable"): Promise<Delivery> {
    return this.#send(this.record(r, error, reason));
  }
}
