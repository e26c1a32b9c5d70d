import { SchemaRegistry } from "@kafkajs/confluent-schema-registry";
import AvroHelper from "@kafkajs/confluent-schema-registry/dist/AvroHelper.js";
import { describe, expect, it } from "vitest";
import { EVOLUTION, SCHEMAS } from "../../generators/codec.ts";
import { AssessmentFactory, population } from "../../generators/domain.ts";
import type { LedgerEntry } from "../../generators/ledger.ts";
import { decodeMessage, encodeMessage, ProtoFile } from "../../generators/protobuf.ts";
import { checkEvolution, type EngineDelivery, evolutionRows, type RegistrationRecord, type TopicRecord } from "../../reports/schema-evolution.ts";

const assessment = () => new AssessmentFactory(42, population(42, 10)).next(1_700_000_000_000);

/** A registry client whose cache holds the given Avro schemas by id, so encode and decode run without a registry. */
function avroRegistry(schemas: Record<number, string>): SchemaRegistry {
  const r = new SchemaRegistry({ host: "http://127.0.0.1:9" });
  const Helper = ((AvroHelper as unknown as { default?: unknown }).default ?? AvroHelper) as new () => { getAvroSchema(s: unknown): unknown };
  const cache = (r as unknown as { cache: { setSchema(id: number, type: string, s: unknown): void } }).cache;
  for (const [id, text] of Object.entries(schemas)) cache.setSchema(Number(id), "AVRO", new Helper().getAvroSchema({ type: "AVRO", schema: text }));
  return r;
}

describe("the assessment schema's versions", () => {
  it("Avro: a v1 reader decodes a v2 payload without the new field, a v2 reader fills it in on v1 data", async () => {
    const r = avroRegistry({ 1: SCHEMAS.avro.assessment, 2: EVOLUTION.avro.v2 });
    const a = assessment();
    const v2 = await r.encode(2, { ...a, amendmentSequence: 2 });
    const asV1 = await r.decode(v2, { AVRO: { readerSchema: JSON.parse(SCHEMAS.avro.assessment) } });
    expect(asV1).toEqual(a);
    expect(asV1).not.toHaveProperty("amendmentSequence");
    const v1 = await r.encode(1, a);
    expect(await r.decode(v1, { AVRO: { readerSchema: JSON.parse(EVOLUTION.avro.v2) } })).toEqual({ ...a, amendmentSequence: 0 });
  });

  it("Avro: v3 cannot be read as v1 (long to string does not resolve): the refusal the registry must make", async () => {
    const r = avroRegistry({ 3: EVOLUTION.avro.v3 });
    const v3 = await r.encode(3, { ...assessment(), taxableIncomeCents: "12", amendmentSequence: 0 });
    await expect(r.decode(v3, { AVRO: { readerSchema: JSON.parse(SCHEMAS.avro.assessment) } })).rejects.toThrow(/taxableIncomeCents|cannot|resolve/i);
  });

  it("Protobuf: a v1 reader skips the v2 field, a v2 reader reads 0 for it in v1 data", () => {
    const [v1, v2] = [new ProtoFile(SCHEMAS.protobuf.assessment), new ProtoFile(EVOLUTION.protobuf.v2)];
    const [t1, t2] = [v1.typeAt(v1.indexesOf("TaxAssessment")), v2.typeAt(v2.indexesOf("TaxAssessment"))];
    const a = assessment();
    expect(decodeMessage(t1, encodeMessage(t2, { ...a, amendmentSequence: 2 }))).toEqual(a);
    expect(decodeMessage(t2, encodeMessage(t1, { ...a }))).toEqual({ ...a, amendmentSequence: 0 });
  });

  it("Protobuf: v3 keeps the field number and changes its type", () => {
    const v3 = new ProtoFile(EVOLUTION.protobuf.v3).typeAt([0]);
    const v1 = new ProtoFile(SCHEMAS.protobuf.assessment).typeAt([0]);
    expect(v3.fields.taxableIncomeCents?.id).toBe(v1.fields.taxableIncomeCents?.id);
    expect([v1.fields.taxableIncomeCents?.type, v3.fields.taxableIncomeCents?.type]).toEqual(["int64", "string"]);
  });
});

const entry = (n: number, schemaId: number, over: Partial<LedgerEntry> = {}): LedgerEntry => ({
  eventId: `e${n}`,
  seq: n,
  key: "k",
  intendedUs: n,
  ackedUs: n + 1,
  completedUs: [n + 2],
  partition: 0,
  offset: String(n),
  schemaId,
  ...over,
});
const onTopic = (n: number, schemaId: number | null): TopicRecord => ({ at: `0@${n}`, eventId: `e${n}`, schemaId });
const consumed = (n: number, schemaId: number): EngineDelivery => ({ type: "consumed", partition: 0, offset: n, schemaId });
const reg = (version: number, accepted: boolean, schemaId?: number, compatibility = "FULL"): RegistrationRecord => ({
  version,
  compatibility,
  change: `v${version}`,
  atMs: version * 1000,
  accepted,
  status: accepted ? 200 : 409,
  ...(schemaId !== undefined ? { schemaId } : { message: "Incompatible schema" }),
});

/** v1 (id 1) requests 0-3, v2 (id 2) requests 4-7: all written, delivered, answered. */
function healthy() {
  const ids = [0, 1, 2, 3, 4, 5, 6, 7];
  const sid = (n: number) => (n < 4 ? 1 : 2);
  return {
    encoding: "avro",
    subject: "t-value",
    compatibility: "FULL",
    accepted: [
      { version: 1, schemaId: 1 },
      { version: 2, schemaId: 2 },
    ],
    registrations: [reg(2, true, 2), reg(3, false)],
    mustRefuse: [3],
    registryVersions: [1, 2],
    entries: ids.map((n) => entry(n, sid(n))),
    topic: ids.map((n) => onTopic(n, sid(n))),
    deliveries: [...ids.map((n) => consumed(n, sid(n))), consumed(5, 2)], // 5 delivered twice: counted once
  };
}

describe("checkEvolution", () => {
  it("counts per version and is valid when v3 was refused and every record is v1 or v2 and decoded", () => {
    const { result, counts } = checkEvolution(healthy());
    expect(result.valid).toBe("valid");
    expect(result.problems).toEqual([]);
    expect(counts).toEqual({ v3Accepted: 0, v3Records: 0, undecodedByV1: 0, evolutionProblems: 0 });
    expect(result.versions.map((v) => [v.version, v.encoded, v.acked, v.onTopic, v.decoded, v.completed, v.lost])).toEqual([
      [1, 4, 4, 4, 4, 4, 0],
      [2, 4, 4, 4, 4, 4, 0],
    ]);
  });

  it("is invalid, with the record's place as evidence, when a record carries another schema id", () => {
    const h = healthy();
    h.topic.push(onTopic(8, 3), onTopic(9, null));
    const { result, counts } = checkEvolution(h);
    expect(result.valid).toBe("invalid");
    expect(counts.v3Records).toBe(2);
    expect(result.foreignRecords.evidence.map((r) => r.at)).toEqual(["0@8", "0@9"]);
  });

  it("is invalid when the registry accepted v3, or v3 was never offered, or v2 was refused", () => {
    const accepted = { ...healthy(), registrations: [reg(2, true, 2), reg(3, true, 3)] };
    expect(checkEvolution(accepted).counts.v3Accepted).toBe(1);
    expect(checkEvolution(accepted).result.problems.join()).toMatch(/v3 .* was accepted/);
    expect(checkEvolution({ ...healthy(), registrations: [reg(2, true, 2)] }).result.problems.join()).toMatch(/v3 was never offered/);
    const refused = checkEvolution({ ...healthy(), registrations: [reg(2, false), reg(3, false)] });
    expect(refused.result.problems.join()).toMatch(/v2 .* was refused under FULL \(HTTP 409\)/);
    expect(refused.result.problems.join()).toMatch(/v2 was never accepted/);
    expect(refused.counts.evolutionProblems).toBe(refused.result.problems.length);
  });

  it("takes a known refusal (Protobuf's v2 under FULL) as no defect when the version was accepted under another level", () => {
    const regs = [reg(2, false), reg(2, true, 2, "BACKWARD"), reg(3, false)];
    expect(checkEvolution({ ...healthy(), registrations: regs, knownRefusals: [{ version: 2, compatibility: "FULL" }] }).result.valid).toBe("valid");
    expect(checkEvolution({ ...healthy(), registrations: regs }).result.valid).toBe("invalid");
  });

  it("counts a record the v1 engines dead-lettered, or never delivered, as undecoded, and a lost request per version", () => {
    const h = healthy();
    h.deliveries = h.deliveries.filter((d) => d.offset !== 6);
    h.deliveries.push({ type: "dead-lettered", partition: 0, offset: 7 });
    h.entries[6] = entry(6, 2, { completedUs: [] });
    const { result, counts } = checkEvolution(h);
    const v2 = result.versions[1];
    expect([v2?.decoded, v2?.undecodable, v2?.lost]).toEqual([2, 1, 1]);
    expect(counts.undecodedByV1).toBe(2);
    expect(result.valid).toBe("invalid");
  });

  it("has no verdict when nothing reached the topic", () => {
    expect(checkEvolution({ ...healthy(), entries: [], topic: [], deliveries: [] }).result.valid).toBe("unknown");
  });

  it("lays out one row per registration and per version, the refusal's status and message in it", () => {
    const rows = evolutionRows(checkEvolution(healthy()).result);
    expect(rows.find((r) => r.row.startsWith("v3 offered under FULL"))?.value).toMatch(/REFUSED \(HTTP 409\).*Incompatible schema/);
    expect(rows.find((r) => r.row.startsWith("v2 (schema id 2)"))?.value).toContain("decoded by v1 engines 4");
  });
});
