import { readFileSync } from "node:fs";
import { SchemaRegistry } from "@kafkajs/confluent-schema-registry";
import avro from "avsc";
import { describe, expect, it } from "vitest";
import {
  breakAssessment,
  DLQ_HEADERS,
  deadLetterOf,
  dlqTopicOf,
  isSchemaRefusal,
  MISMATCH_KINDS,
  mismatchHeaders,
  picksMismatch,
  ProducerDeadLetters,
  refusalMessage,
  undecodableHeaders,
} from "../../generators/dlq.ts";
import { AssessmentFactory, population } from "../../generators/domain.ts";
import type { ProduceRecord } from "../../generators/drivers/driver.ts";
import { checkMismatches } from "../../reports/dead-letters.ts";

const TOPIC = "au.gov.ato.tax.assessment.v1";
const schema = avro.Type.forSchema(JSON.parse(readFileSync(new URL("../../generators/schemas/tax-assessment.avsc", import.meta.url), "utf8")));

/** The registry client's own serializer, with the schema in its cache under id 7 (no registry needed to encode). */
function serializer(): SchemaRegistry {
  const r = new SchemaRegistry({ host: "http://127.0.0.1:9" });
  (r as unknown as { cache: { setSchema(id: number, type: string, s: unknown): void } }).cache.setSchema(7, "AVRO", schema);
  return r;
}

const assessment = () => new AssessmentFactory(42, population(42, 10)).next(1_700_000_000_000);

describe("dead-letter headers", () => {
  it("say why, which schema id was tried, for which topic, and carry the event id and trace", () => {
    const h = mismatchHeaders({ eventId: "e-1", schemaId: 7, topic: TOPIC, error: "invalid \"long\"", by: "ato", traceparent: "00-abc-def-01" });
    expect(h).toEqual({
      "event-id": "e-1",
      "dlq-reason": "schema-mismatch",
      "dlq-error": 'invalid "long"',
      "dlq-schema-id": "7",
      "dlq-source-topic": TOPIC,
      "dlq-by": "ato",
      "content-type": "application/json",
      traceparent: "00-abc-def-01",
    });
  });

  it("for an undecodable record keep its source coordinates and its original headers", () => {
    const h = undecodableHeaders({ topic: TOPIC, partition: 3, offset: "41", error: "unknown magic byte", by: "centrelink-1", original: { "event-id": "e-2" } });
    expect(h).toMatchObject({ "event-id": "e-2", "dlq-reason": "undecodable", "dlq-source-partition": "3", "dlq-source-offset": "41", "dlq-source-topic": TOPIC });
  });

  it("clip a long error so the dead letter itself is never refused for its size", () => {
    const h = mismatchHeaders({ eventId: "e", schemaId: 1, topic: TOPIC, error: "x".repeat(5000), by: "ato" });
    expect(h[DLQ_HEADERS.error]).toHaveLength(512);
    expect(h[DLQ_HEADERS.error]?.endsWith("...")).toBe(true);
  });

  it("read back as the record they were written as", () => {
    const d = deadLetterOf({ partition: 2, offset: "9", value: Buffer.from([0xff, 0]), headers: undecodableHeaders({ topic: TOPIC, partition: 3, offset: "41", error: "bad", by: "c" }) });
    expect(d).toMatchObject({ partition: 2, offset: "9", reason: "undecodable", sourcePartition: 3, sourceOffset: "41", valueBase64: "/wA=" });
    expect(dlqTopicOf(TOPIC)).toBe("au.gov.ato.tax.assessment.v1.dlq");
  });
});

describe("picksMismatch", () => {
  it("breaks about the share asked for, the same requests for the same seed", () => {
    const picked = Array.from({ length: 20_000 }, (_, i) => picksMismatch(42, i, 0.02));
    const share = picked.filter(Boolean).length / picked.length;
    expect(share).toBeGreaterThan(0.017);
    expect(share).toBeLessThan(0.023);
    expect(Array.from({ length: 20_000 }, (_, i) => picksMismatch(42, i, 0.02))).toEqual(picked);
    expect(Array.from({ length: 20_000 }, (_, i) => picksMismatch(43, i, 0.02))).not.toEqual(picked);
  });

  it("never with a share of 0, always with 1", () => {
    expect(Array.from({ length: 1000 }, (_, i) => picksMismatch(1, i, 0)).some(Boolean)).toBe(false);
    expect(Array.from({ length: 1000 }, (_, i) => picksMismatch(1, i, 1)).every(Boolean)).toBe(true);
  });
});

describe("broken assessments", () => {
  it("are each refused by the registry client's serializer, naming the field", async () => {
    const r = serializer();
    const a = assessment();
    await expect(r.encode(7, a)).resolves.toBeInstanceOf(Buffer);
    const fields = { "wrong-type": "taxableIncomeCents", "unknown-symbol": "lodgementChannel", "missing-field": "postcode" };
    for (const kind of MISMATCH_KINDS) {
      const err = await r.encode(7, breakAssessment(a, kind)).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isSchemaRefusal(err), kind).toBe(true);
      expect(refusalMessage(err)).toContain(` at ${fields[kind]}`);
    }
  });

  it("keep their event id, so the dead letter can be traced", () => {
    const a = assessment();
    for (const kind of MISMATCH_KINDS) expect(breakAssessment(a, kind).eventId).toBe(a.eventId);
  });

  it("are told apart from an unreachable registry, which is not the payload's fault", () => {
    expect(isSchemaRefusal(new Error("connect ECONNREFUSED"))).toBe(false);
  });
});

describe("ProducerDeadLetters", () => {
  const m = { eventId: "e-1", seq: 4, kind: "unknown-symbol" as const, key: "123456782", payload: { lodgementChannel: "EMAIL" }, schemaId: 7, traceparent: "00-t-s-01" };

  it("sends a refused payload, raw JSON, keyed like the request, to the DLQ and records where it landed", async () => {
    const sent: ProduceRecord[] = [];
    const dl = new ProducerDeadLetters({ sourceTopic: TOPIC, dlqTopic: dlqTopicOf(TOPIC), by: "ato" });
    const refusal = await serializer()
      .encode(7, breakAssessment(assessment(), "unknown-symbol"))
      .catch((e: unknown) => e);
    const send = async (r: ProduceRecord) => {
      sent.push(r);
      return { partition: 5, offset: "17" };
    };
    dl.track(dl.refused(send, m, refusal));
    await dl.settled();
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ topic: `${TOPIC}.dlq`, key: "123456782", headers: { "event-id": "e-1", "dlq-schema-id": "7", "dlq-reason": "schema-mismatch" } });
    expect(JSON.parse(sent[0]?.value.toString() ?? "")).toEqual({ lodgementChannel: "EMAIL" });
    expect(dl.routed).toEqual([expect.objectContaining({ eventId: "e-1", refused: true, partition: 5, offset: "17" })]);
  });

  it("does not dead-letter what it could not check, and records a failed DLQ write", async () => {
    const dl = new ProducerDeadLetters({ sourceTopic: TOPIC, dlqTopic: "d", by: "ato" });
    let sends = 0;
    const send = async () => {
      sends++;
      return { partition: 0, offset: "0" };
    };
    await dl.refused(send, m, new Error("registry unreachable"));
    expect(sends).toBe(0);
    const refusal = Object.assign(new Error("invalid"), { name: "ConfluentSchemaRegistryValidationError" });
    await dl.refused(() => Promise.reject(new Error("timed out")), { ...m, eventId: "e-2" }, refusal);
    expect(dl.routed.map((r) => [r.eventId, r.refused, r.sendError])).toEqual([
      ["e-1", false, "not a schema refusal, not dead-lettered: registry unreachable"],
      ["e-2", true, "timed out"],
    ]);
  });
});

describe("checkMismatches", () => {
  const routed = (id: string, over = {}) => ({ eventId: id, seq: 0, kind: "wrong-type" as const, refused: true, error: "invalid", ...over });
  const letter = (id: string, offset: string, over = {}) =>
    deadLetterOf({ partition: 0, offset, value: Buffer.from("{}"), headers: { ...mismatchHeaders({ eventId: id, schemaId: 7, topic: TOPIC, error: "invalid", by: "ato" }), ...over } });
  const base = { schemaId: 7, sourceTopic: TOPIC, assessmentTopic: [{ eventId: "ok-1", at: "0@0" }] };

  it("is valid when each mismatched payload is in the DLQ once and none is on the topic", () => {
    const r = checkMismatches({ ...base, routed: [routed("m-1"), routed("m-2")], dlq: [letter("m-1", "0"), letter("m-2", "1")] });
    expect(r.valid).toBe("valid");
    expect(r.counts).toMatchObject({ mismatched: 2, refused: 2, inDlqOnce: 2, missingFromDlq: 0, duplicatedInDlq: 0, reachedConsumers: 0 });
    expect(r.evidence.located).toEqual([
      { eventId: "m-1", at: "0@0" },
      { eventId: "m-2", at: "0@1" },
    ]);
  });

  it("names the missing, the duplicated, the leaked and the unknown by event id", () => {
    const r = checkMismatches({
      ...base,
      assessmentTopic: [{ eventId: "m-3", at: "4@12" }],
      routed: [routed("m-1", { sendError: "timed out" }), routed("m-2"), routed("m-3", { refused: false, error: "accepted by the serializer" })],
      dlq: [letter("m-2", "0"), letter("m-2", "1"), letter("x-9", "2"), letter("p", "3", { "dlq-reason": "undecodable" })],
    });
    expect(r.valid).toBe("invalid");
    expect(r.evidence.missing).toEqual([{ eventId: "m-1", sendError: "timed out" }, { eventId: "m-3" }]);
    expect(r.evidence.duplicated).toEqual([{ eventId: "m-2", times: 2, at: ["0@0", "0@1"] }]);
    expect(r.evidence.reachedConsumers).toEqual([{ eventId: "m-3", at: "4@12" }]);
    expect(r.evidence.unknown).toEqual([{ eventId: "x-9", at: "0@2" }]);
    expect(r.evidence.notRefused).toEqual([{ eventId: "m-3", what: "accepted by the serializer" }]);
    // A poison pill's dead letter is another row's business.
    expect(r.counts.unknownInDlq).toBe(1);
  });

  it("checks the dead letter's headers: the schema id tried, the source topic, an error", () => {
    const r = checkMismatches({ ...base, routed: [routed("m-1")], dlq: [letter("m-1", "0", { "dlq-schema-id": "8", "dlq-error": "" })] });
    expect(r.valid).toBe("invalid");
    expect(r.evidence.badHeaders).toEqual([{ eventId: "m-1", problems: ["schema id 8, expected 7", "no error header"] }]);
  });

  it("cannot decide when nothing was broken", () => {
    expect(checkMismatches({ ...base, routed: [], dlq: [] }).valid).toBe("unknown");
  });
});
