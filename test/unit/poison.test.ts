import { readFileSync } from "node:fs";
import { SchemaRegistry } from "@kafkajs/confluent-schema-registry";
import avro from "avsc";
import { describe, expect, it } from "vitest";
import { PILL_SHAPES, pillBytes, UNKNOWN_SCHEMA_ID } from "../../chaos/poison.ts";
import { parseFaults } from "../../chaos/spec.ts";
import { ConsumerDeadLetters, deadLetterOf, undecodableHeaders } from "../../generators/dlq.ts";
import { checkPills, type EngineRecordEvent } from "../../reports/dead-letters.ts";
import { BadInputError } from "../../lab/errors.ts";

const TOPIC = "au.gov.ato.tax.assessment.v1";
const schema = avro.Type.forSchema(JSON.parse(readFileSync(new URL("../../generators/schemas/tax-assessment.avsc", import.meta.url), "utf8")));

describe("poison pills", () => {
  it("are each refused by the registry client's deserializer, whatever schemas it knows", async () => {
    const r = new SchemaRegistry({ host: "http://127.0.0.1:9" }, { retry: { retries: 0 } } as never);
    (r as unknown as { cache: { setSchema(id: number, type: string, s: unknown): void } }).cache.setSchema(1, "AVRO", schema);
    for (const shape of PILL_SHAPES) await expect(r.decode(pillBytes(shape, 0)), shape).rejects.toThrow();
  });

  it("have the shapes they are named for", () => {
    expect(pillBytes("bad-magic", 3)[0]).toBe(0xde);
    const unknown = pillBytes("unknown-schema-id", 0);
    expect([unknown[0], unknown.readInt32BE(1)]).toEqual([0, UNKNOWN_SCHEMA_ID]);
    expect(pillBytes("truncated-header", 0)).toHaveLength(3);
    expect(pillBytes("empty", 0)).toHaveLength(0);
  });

  it("are a fault like any other: parsed strictly, with defaults and paths", () => {
    const [f] = parseFaults([{ kind: "poison-pill", target: { region: "syd" }, at: "10s", duration: "5s" }]);
    expect(f).toEqual({ kind: "poison-pill", target: { region: "syd" }, at: 10_000, duration: 5_000, topic: TOPIC, count: 4 });
    let err: unknown;
    try {
      parseFaults([{ kind: "poison-pill", target: { pick: "one", of: "consumers" }, at: "1s", duration: "1s", count: 0, colour: 1 }]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BadInputError);
    const problems = (err as BadInputError).problems.join("\n");
    expect(problems).toMatch(/faults\[0\]\.count/);
    expect(problems).toMatch(/faults\[0\]\.colour: unknown key/);
    expect(problems).toMatch(/faults\[0\]\.target: poison-pill targets Kafka nodes/);
  });
});

describe("ConsumerDeadLetters", () => {
  it("sends the raw bytes with the source coordinates and the error, keeping the original headers", async () => {
    const sent: unknown[] = [];
    const dl = new ConsumerDeadLetters({
      send: async (r) => {
        sent.push(r);
        return { partition: 1, offset: "0" };
      },
      dlqTopic: `${TOPIC}.dlq`,
      by: "centrelink-2",
    });
    const value = pillBytes("bad-magic", 0);
    await dl.route({ topic: TOPIC, partition: 7, offset: "120", key: Buffer.from("k"), value, headers: { "poison-pill-id": "p-1" } }, new Error("magic byte"));
    expect(sent).toEqual([
      {
        topic: `${TOPIC}.dlq`,
        key: "k",
        value,
        headers: expect.objectContaining({ "poison-pill-id": "p-1", "dlq-reason": "undecodable", "dlq-source-partition": "7", "dlq-source-offset": "120", "dlq-error": "magic byte", "dlq-by": "centrelink-2" }),
      },
    ]);
  });

  it("lets a failed DLQ write fail the handler, so the record is delivered again rather than skipped", async () => {
    const dl = new ConsumerDeadLetters({ send: () => Promise.reject(new Error("not enough replicas")), dlqTopic: "d", by: "c" });
    await expect(dl.route({ topic: TOPIC, partition: 0, offset: "1", key: null, value: null, headers: {} }, new Error("x"))).rejects.toThrow("not enough replicas");
  });
});

describe("checkPills", () => {
  const letter = (p: number, o: string, at: string) =>
    deadLetterOf({ partition: 0, offset: at, value: Buffer.alloc(0), headers: undecodableHeaders({ topic: TOPIC, partition: p, offset: o, error: "bad", by: "c" }) });
  const pills = [
    { pillId: "a", shape: "bad-magic", partition: 3, offset: "10" },
    { pillId: "b", shape: "empty", partition: 5, offset: "4" },
  ];
  const ev = (type: EngineRecordEvent["type"], partition: number, offset: number, epochMs: number): EngineRecordEvent => ({ type, partition, offset, epochMs });

  it("finds each pill in the DLQ by its offset and measures how long it held its partition", () => {
    const r = checkPills({
      pills,
      failures: [],
      dlq: [letter(3, "10", "0"), letter(5, "4", "1")],
      sourceTopic: TOPIC,
      // A redelivery of pill a (after a rebalance) counts from its first delivery.
      engineEvents: [ev("consumed", 3, 10, 1000), ev("consumed", 3, 10, 1200), ev("dead-lettered", 3, 10, 1450), ev("consumed", 5, 4, 2000), ev("dead-lettered", 5, 4, 2030), ev("consumed", 3, 11, 1460)],
      groupLagAtEnd: 0,
    });
    expect(r.valid).toBe("valid");
    expect(r.counts).toEqual({ injected: 2, inDlqOnce: 2, duplicatedInDlq: 0, missingFromDlq: 0, writeFailures: 0, otherUndecodable: 0 });
    expect(r.pills.map((p) => [p.at, p.dlqAt, p.stallMs])).toEqual([
      ["3@10", ["0@0"], 450],
      ["5@4", ["0@1"], 30],
    ]);
    expect(r.longestStallMs).toBe(450);
    expect(r.committedPast).toBe(true);
  });

  it("is invalid when a pill is missing or the group did not commit past it; duplicates are counted", () => {
    const r = checkPills({ pills, failures: ["pill 2: timed out"], dlq: [letter(3, "10", "0"), letter(3, "10", "1"), letter(9, "9", "2")], sourceTopic: TOPIC, engineEvents: [], groupLagAtEnd: 3 });
    expect(r.valid).toBe("invalid");
    expect(r.counts).toEqual({ injected: 2, inDlqOnce: 0, duplicatedInDlq: 1, missingFromDlq: 1, writeFailures: 1, otherUndecodable: 1 });
    expect(r.committedPast).toBe(false);
    expect(r.longestStallMs).toBeNull();
  });

  it("for forged events counts only dead letters of reason signature: one dead-lettered as undecodable is missing", () => {
    const signature = (p: number, o: string, at: string) =>
      deadLetterOf({ partition: 0, offset: at, value: Buffer.alloc(0), headers: undecodableHeaders({ topic: TOPIC, partition: p, offset: o, error: "unsigned: no sig header", by: "c", reason: "signature" }) });
    const forged = [
      { pillId: "f1", shape: "unsigned", partition: 3, offset: "10" },
      { pillId: "f2", shape: "tampered", partition: 5, offset: "4" },
    ];
    const r = checkPills({ pills: forged, failures: [], dlq: [signature(3, "10", "0"), letter(5, "4", "1")], sourceTopic: TOPIC, engineEvents: [], groupLagAtEnd: 0, reason: "signature" });
    expect(r.valid).toBe("invalid");
    expect(r.counts).toMatchObject({ injected: 2, inDlqOnce: 1, missingFromDlq: 1, otherUndecodable: 0 });
    expect(r.pills[0]?.error).toBe("unsigned: no sig header");
  });

  it("cannot decide without pills", () => {
    expect(checkPills({ pills: [], failures: [], dlq: [], sourceTopic: TOPIC, engineEvents: [], groupLagAtEnd: 0 }).valid).toBe("unknown");
  });
});
