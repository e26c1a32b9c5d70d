import { readFileSync } from "node:fs";
import { COMPATIBILITY, SchemaRegistry, SchemaType } from "@kafkajs/confluent-schema-registry";
import { InfraError } from "../lab/errors.ts";
import type { ClientTls } from "./drivers/driver.ts";
import { decodeMessage, encodeMessage, frame, ProtoFile, unframe } from "./protobuf.ts";
import { agentFor, getJson, requestJson, type SvidAgent } from "./svid-https.ts";

const schemaDir = new URL("./schemas/", import.meta.url).pathname;
export const ASSESSMENT_SCHEMA = readFileSync(`${schemaDir}tax-assessment.avsc`, "utf8");
export const RESPONSE_SCHEMA = readFileSync(`${schemaDir}clearance-response.avsc`, "utf8");

export const ENCODINGS = ["avro", "protobuf"] as const;
export type Encoding = (typeof ENCODINGS)[number];

/** The registered schemas of the flow, per payload encoding (the registry's schema type with it). */
export const SCHEMAS: Record<Encoding, { type: "AVRO" | "PROTOBUF"; assessment: string; response: string }> = {
  avro: { type: "AVRO", assessment: ASSESSMENT_SCHEMA, response: RESPONSE_SCHEMA },
  protobuf: {
    type: "PROTOBUF",
    assessment: readFileSync(`${schemaDir}tax-assessment.proto`, "utf8"),
    response: readFileSync(`${schemaDir}clearance-response.proto`, "utf8"),
  },
};

/**
 * The assessment schema's versions for the schema-evolution scenario: v2 adds an optional field with a default
 * (compatible both ways), v3 changes a field's type (incompatible; the registry must refuse it under FULL).
 */
export const EVOLUTION: Record<Encoding, { v2: string; v3: string }> = {
  avro: { v2: readFileSync(`${schemaDir}tax-assessment.v2.avsc`, "utf8"), v3: readFileSync(`${schemaDir}tax-assessment.v3-incompatible.avsc`, "utf8") },
  protobuf: { v2: readFileSync(`${schemaDir}tax-assessment.v2.proto`, "utf8"), v3: readFileSync(`${schemaDir}tax-assessment.v3-incompatible.proto`, "utf8") },
};

/** A consumer's own schema, the one it was built against: it reads every writer's version through it. */
export interface ReaderSchema {
  type: "AVRO" | "PROTOBUF";
  schema: string;
}

/** The registry's answer to a registration: accepted with an id, or refused with its HTTP status and message. */
export type Registration = { accepted: true; status: number; id: number } | { accepted: false; status: number; errorCode?: number; message: string };

interface RegisteredSchema {
  type: string;
  proto?: ProtoFile;
}

/**
 * Payloads in the registry wire format through the registry's Confluent-compatible API: Avro (magic byte 0,
 * 4-byte schema id, payload) by `@kafkajs/confluent-schema-registry`, Protobuf (with the message-index array) by
 * `protobuf.ts`. A schema id says which: encode and decode look the id's schema type up once and cache it, so a
 * consumer decodes either without being told. Subjects follow the topic-name strategy: `<topic>-value`.
 */
export class Codec {
  readonly registry: SchemaRegistry;
  readonly url: string;
  readonly #byId = new Map<number, Promise<RegisteredSchema>>();
  readonly #readers = new Map<string, ProtoFile | object>();

  readonly #agent: SvidAgent | undefined;

  /** `tls`: the workload's SVID, presented to a registry that serves HTTPS (an mTLS mesh). */
  constructor(ccompatUrl: string, tls?: ClientTls) {
    this.url = ccompatUrl;
    this.#agent = agentFor(ccompatUrl, tls);
    this.registry = new SchemaRegistry({ host: ccompatUrl, retry: { retries: 5, initialRetryTimeInSecs: 0.2 }, ...(this.#agent ? { agent: this.#agent } : {}) });
  }

  /**
   * Registers (or finds) a schema for a topic's values and returns its id. This is the deployment step: it runs
   * once per run, before any client starts (concurrent first registrations of one subject race in the registry).
   * Compatibility is FULL (backward and forward), as the mesh's governance requires.
   */
  async register(topic: string, schema: string, type: "AVRO" | "PROTOBUF" = "AVRO"): Promise<number> {
    try {
      const { id } = await this.registry.register(
        { type: type === "PROTOBUF" ? SchemaType.PROTOBUF : SchemaType.AVRO, schema },
        { subject: `${topic}-value`, compatibility: COMPATIBILITY.FULL },
      );
      return id;
    } catch (e) {
      throw new InfraError({
        component: "schema registry",
        message: `could not register the ${type} schema for ${topic} at ${this.url}: ${(e as Error).message}`,
        hint: "is the registry up and reachable through its link? its log is in the run directory",
        cause: e,
      });
    }
  }

  /**
   * Asks the registry to add a version to a topic's subject, and returns its answer rather than throwing on a
   * refusal: a schema change is a deployment step whose refusal (HTTP 409 under the subject's compatibility) is
   * evidence. Only an unreachable registry throws.
   */
  async tryRegister(topic: string, schema: string, type: "AVRO" | "PROTOBUF"): Promise<Registration> {
    const r = await this.#call<{ id?: number; error_code?: number; message?: string }>("POST", `/subjects/${encodeURIComponent(`${topic}-value`)}/versions`, { schema, schemaType: type });
    if (r.status === 200 && typeof r.body?.id === "number") return { accepted: true, status: r.status, id: r.body.id };
    return { accepted: false, status: r.status, ...(r.body?.error_code !== undefined ? { errorCode: r.body.error_code } : {}), message: r.body?.message ?? r.text.slice(0, 2_000) };
  }

  /** The version numbers a topic's subject holds in the registry. */
  async versions(topic: string): Promise<number[]> {
    const r = await this.#call<number[]>("GET", `/subjects/${encodeURIComponent(`${topic}-value`)}/versions`);
    if (r.status !== 200 || !r.body) throw new InfraError({ component: "schema registry", message: `versions of ${topic}-value: HTTP ${r.status} ${r.text.slice(0, 300)}`, hint: "is the registry up? its log is in the run directory" });
    return r.body;
  }

  /** Sets a topic's subject's compatibility level (`FULL`, `BACKWARD` ...): a governance step, recorded by whoever takes it. */
  async setCompatibility(topic: string, level: string): Promise<void> {
    const r = await this.#call("PUT", `/config/${encodeURIComponent(`${topic}-value`)}`, { compatibility: level });
    if (r.status !== 200) throw new InfraError({ component: "schema registry", message: `compatibility ${level} for ${topic}-value: HTTP ${r.status} ${r.text.slice(0, 300)}`, hint: "is the registry up? its log is in the run directory" });
  }

  /** The compatibility level the registry holds for a topic's subject (`FULL` ...), or what it answered instead. */
  async compatibility(topic: string): Promise<string> {
    const r = await this.#call<{ compatibilityLevel?: string; compatibility?: string }>("GET", `/config/${encodeURIComponent(`${topic}-value`)}`);
    return r.body?.compatibilityLevel ?? r.body?.compatibility ?? `unknown (HTTP ${r.status}: ${r.text.slice(0, 200)})`;
  }

  /** One call of the registry's API (with the SVID on an mTLS mesh); only an unreachable registry throws. */
  async #call<T>(method: string, path: string, payload?: unknown): Promise<{ status: number; body: T | undefined; text: string }> {
    try {
      return await requestJson<T>(method, `${this.url}${path}`, payload, this.#agent, 30_000);
    } catch (e) {
      throw new InfraError({ component: "schema registry", message: `${method} ${this.url}${path}: ${(e as Error).message}`, hint: "is the registry up and reachable through its link? its log is in the run directory", cause: e });
    }
  }

  /** The schema type (and, for Protobuf, the parsed file) of a registered id, fetched once. */
  #schema(id: number): Promise<RegisteredSchema> {
    let p = this.#byId.get(id);
    if (!p) {
      p = (async () => {
        const r = await getJson<{ schema: string; schemaType?: string }>(`${this.url}/schemas/ids/${id}`, this.#agent);
        if (r.status !== 200 || !r.body) throw new Error(`schema ${id}: the registry answered ${r.status}`);
        const body = r.body;
        const type = body.schemaType ?? "AVRO";
        return type === "PROTOBUF" ? { type, proto: new ProtoFile(body.schema) } : { type };
      })();
      p.catch(() => this.#byId.delete(id)); // a failed lookup is asked again next time
      this.#byId.set(id, p);
    }
    return p;
  }

  /** Encodes with a registered schema; a payload that does not match it is refused (`ConfluentSchemaRegistryValidationError`). */
  async encode(schemaId: number, value: unknown): Promise<Buffer> {
    const s = await this.#schema(schemaId);
    // The flow's schemas have one top-level message each: the first, index path [0].
    if (s.proto) return frame(schemaId, [0], encodeMessage(s.proto.typeAt([0]), value as Record<string, unknown>));
    return this.registry.encode(schemaId, value);
  }

  /**
   * A synchronous encoder for one registered schema, looked up once: a generator's hot path then has no promise
   * per record. Avro is written as the registry wire format (magic byte 0, the id, the body), as `encode` does.
   */
  async encoderFor(schemaId: number): Promise<(value: unknown) => Buffer> {
    const s = await this.#schema(schemaId);
    if (s.proto) {
      const type = s.proto.typeAt([0]);
      return (v) => frame(schemaId, [0], encodeMessage(type, v as Record<string, unknown>));
    }
    const avro = (await this.registry.getSchema(schemaId)) as { toBuffer(v: unknown): Buffer };
    return (v) => {
      const body = avro.toBuffer(v);
      const out = Buffer.allocUnsafe(5 + body.length);
      out[0] = 0;
      out.writeInt32BE(schemaId, 1);
      body.copy(out, 5);
      return out;
    };
  }

  /**
   * Decodes a payload. With a `reader`, as a consumer built for that schema does: Avro through schema resolution
   * from the writer's version (a field the reader has not is skipped, one it has with a default is filled in),
   * Protobuf by parsing the bytes with the reader's message (unknown fields are skipped). A writer version the
   * reader cannot resolve is refused, as the record would be by that consumer.
   */
  async decode<T>(buf: Buffer, reader?: ReaderSchema): Promise<T> {
    if (buf.length >= 5 && buf[0] === 0) {
      const id = buf.readInt32BE(1);
      const s = await this.#schema(id);
      if (reader && reader.type !== s.type) throw new Error(`schema ${id} is ${s.type}; this consumer reads ${reader.type}`);
      if (s.proto) {
        const f = unframe(buf);
        const written = s.proto.typeAt(f.indexes);
        if (!reader) return decodeMessage<T>(written, f.message);
        const mine = this.#reader(reader) as ProtoFile;
        return decodeMessage<T>(mine.typeAt(mine.indexesOf(written.name)), f.message);
      }
    }
    if (reader?.type === "AVRO") return this.registry.decode(buf, { [SchemaType.AVRO]: { readerSchema: this.#reader(reader) as never } }) as Promise<T>;
    return this.registry.decode(buf) as Promise<T>;
  }

  /** A reader schema parsed once: a ProtoFile, or the Avro schema as an object. */
  #reader(r: ReaderSchema): ProtoFile | object {
    let parsed = this.#readers.get(r.schema);
    if (!parsed) {
      parsed = r.type === "PROTOBUF" ? new ProtoFile(r.schema) : (JSON.parse(r.schema) as object);
      this.#readers.set(r.schema, parsed);
    }
    return parsed;
  }
}
