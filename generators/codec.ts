import { readFileSync } from "node:fs";
import { COMPATIBILITY, SchemaRegistry, SchemaType } from "@kafkajs/confluent-schema-registry";
import { InfraError } from "../lab/errors.ts";
import type { ClientTls } from "./drivers/driver.ts";
import { decodeMessage, encodeMessage, frame, ProtoFile, unframe } from "./protobuf.ts";
import { agentFor, getJson, type SvidAgent } from "./svid-https.ts";

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

  async decode<T>(buf: Buffer): Promise<T> {
    if (buf.length >= 5 && buf[0] === 0) {
      const s = await this.#schema(buf.readInt32BE(1));
      if (s.proto) {
        const f = unframe(buf);
        return decodeMessage<T>(s.proto.typeAt(f.indexes), f.message);
      }
    }
    return this.registry.decode(buf) as Promise<T>;
  }
}
