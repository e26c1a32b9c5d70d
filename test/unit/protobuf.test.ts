import { SchemaRegistry } from "@kafkajs/confluent-schema-registry";
import ProtoSchema from "@kafkajs/confluent-schema-registry/dist/ProtoSchema.js";
import { describe, expect, it } from "vitest";
import { SCHEMAS } from "../../generators/codec.ts";
import { breakAssessment, isSchemaRefusal, MISMATCH_KINDS, refusalMessage } from "../../generators/dlq.ts";
import { AssessmentFactory, type TaxAssessment, population } from "../../generators/domain.ts";
import { decodeMessage, encodeIndexes, encodeMessage, frame, ProtoFile, readVarint, unframe, writeVarint } from "../../generators/protobuf.ts";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const varint = (v: number) => {
  const out: number[] = [];
  writeVarint(v, out);
  return hex(Uint8Array.from(out));
};
const assessment = () => new AssessmentFactory(42, population(42, 10)).next(1_700_000_000_000);

describe("Protobuf wire format: test vectors", () => {
  it("writes zigzag varints as Kafka's ByteUtils does", () => {
    expect([0, -1, 1, -2, 2, 63, 64, 300, -300].map(varint)).toEqual(["00", "01", "02", "03", "04", "7e", "8001", "d804", "d704"]);
    for (const v of [0, 1, -1, 64, 300, 2 ** 20, -(2 ** 20)]) {
      const out: number[] = [];
      writeVarint(v, out);
      expect(readVarint(Uint8Array.from(out), 0)).toEqual({ value: v, next: out.length });
    }
  });

  it("writes the first message's index array as the single byte 0, others as count then indexes", () => {
    expect(hex(encodeIndexes([0]))).toBe("00");
    expect(hex(encodeIndexes([1]))).toBe("0202");
    expect(hex(encodeIndexes([0, 2]))).toBe("040004");
    expect(hex(encodeIndexes([3, 0, 1]))).toBe("06060002");
  });

  it("frames as magic byte 0, big-endian schema id, indexes, message", () => {
    expect(hex(frame(7, [0], Uint8Array.from([0x0a, 0x01, 0x41])))).toBe("0000000007" + "00" + "0a0141");
    expect(hex(frame(0x01020304, [1], Uint8Array.from([0x08, 0x01])))).toBe("0001020304" + "0202" + "0801");
  });

  it("reads back what it frames, and refuses what is not a frame", () => {
    for (const indexes of [[0], [1], [0, 2], [5, 0, 1]]) {
      const f = unframe(frame(42, indexes, Uint8Array.from([0x08, 0x96, 0x01])));
      expect([f.schemaId, f.indexes, hex(f.message)]).toEqual([42, indexes, "089601"]);
    }
    expect(() => unframe(Buffer.from("ffff000000000a", "hex"))).toThrow(/magic byte 255/);
    expect(() => unframe(Buffer.from("0000000007", "hex"))).toThrow(/at least 6 bytes/);
    expect(() => unframe(Buffer.from("000000000780", "hex"))).toThrow(/varint/);
  });
});

describe("the flow's .proto files", () => {
  const file = new ProtoFile(SCHEMAS.protobuf.assessment);
  const type = file.typeAt([0]);

  it("have the message first (index path [0]), named as the Avro record", () => {
    expect(type.fullName).toBe(".au.gov.ato.tax.v1.TaxAssessment");
    expect(file.indexesOf("TaxAssessment")).toEqual([0]);
    expect(new ProtoFile(SCHEMAS.protobuf.response).typeAt([0]).name).toBe("ClearanceResponse");
  });

  it("round-trip an assessment with every field (64-bit integers as numbers, the enum by symbol)", () => {
    const a = assessment();
    expect(decodeMessage<TaxAssessment>(type, encodeMessage(type, { ...a }))).toEqual(a);
  });

  it("refuse each broken assessment, naming the field, as a schema refusal", () => {
    const a = assessment();
    const fields = { "wrong-type": "taxableIncomeCents", "unknown-symbol": "lodgementChannel", "missing-field": "postcode" };
    for (const kind of MISMATCH_KINDS) {
      let err: unknown;
      try {
        encodeMessage(type, breakAssessment(a, kind));
      } catch (e) {
        err = e;
      }
      expect(isSchemaRefusal(err), kind).toBe(true);
      expect(refusalMessage(err)).toContain(` at ${fields[kind]}`);
    }
    expect(() => encodeMessage(type, { ...a, colour: "red" })).toThrow(/colour not a field/);
  });

  it("frame payloads another registry-aware client decodes (@kafkajs/confluent-schema-registry reads the [0] byte as padding)", async () => {
    const a = assessment();
    const r = new SchemaRegistry({ host: "http://127.0.0.1:9" });
    const Ctor = ((ProtoSchema as unknown as { default?: unknown }).default ?? ProtoSchema) as new (s: { schema: string }) => unknown;
    const schema = new Ctor({ schema: SCHEMAS.protobuf.assessment });
    (r as unknown as { cache: { setSchema(id: number, type: string, s: unknown): void } }).cache.setSchema(9, "PROTOBUF", schema);
    const decoded = (await r.decode(frame(9, [0], encodeMessage(type, { ...a })))) as { toJSON(): Record<string, unknown> };
    expect(decoded.toJSON()).toMatchObject({ eventId: a.eventId, tfn: a.tfn, lodgementChannel: a.lodgementChannel, taxableIncomeCents: String(a.taxableIncomeCents) });
  });
});
