import { readFileSync } from "node:fs";
import { COMPATIBILITY, SchemaRegistry, SchemaType } from "@kafkajs/confluent-schema-registry";
import { InfraError } from "../lab/errors.ts";

const schemaDir = new URL("./schemas/", import.meta.url).pathname;
export const ASSESSMENT_SCHEMA = readFileSync(`${schemaDir}tax-assessment.avsc`, "utf8");
export const RESPONSE_SCHEMA = readFileSync(`${schemaDir}clearance-response.avsc`, "utf8");

/**
 * Avro in the registry wire format (magic byte 0, 4-byte schema id, payload) through the registry's
 * Confluent-compatible API. Subjects follow the topic-name strategy: `<topic>-value`.
 */
export class Codec {
  readonly registry: SchemaRegistry;
  readonly url: string;

  constructor(ccompatUrl: string) {
    this.url = ccompatUrl;
    this.registry = new SchemaRegistry({ host: ccompatUrl, retry: { retries: 5, initialRetryTimeInSecs: 0.2 } });
  }

  /**
   * Registers (or finds) a schema for a topic's values and returns its id. This is the deployment step: it runs
   * once per run, before any client starts (concurrent first registrations of one subject race in the registry).
   * Compatibility is FULL (backward and forward), as the mesh's governance requires.
   */
  async register(topic: string, schema: string): Promise<number> {
    try {
      const { id } = await this.registry.register({ type: SchemaType.AVRO, schema }, { subject: `${topic}-value`, compatibility: COMPATIBILITY.FULL });
      return id;
    } catch (e) {
      throw new InfraError({
        component: "schema registry",
        message: `could not register the schema for ${topic} at ${this.url}: ${(e as Error).message}`,
        hint: "is the registry up and reachable through its link? its log is in the run directory",
        cause: e,
      });
    }
  }

  encode(schemaId: number, value: unknown): Promise<Buffer> {
    return this.registry.encode(schemaId, value);
  }

  decode<T>(buf: Buffer): Promise<T> {
    return this.registry.decode(buf) as Promise<T>;
  }
}
