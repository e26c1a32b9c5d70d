import { describe, expect, it } from "vitest";
import { ASSESSMENT_TOPIC, CLEARANCE_TOPIC, parseWorkload } from "../../generators/workload.ts";
import { BadInputError } from "../../lab/errors.ts";

function rejectionOf(input: unknown): BadInputError {
  try {
    parseWorkload(input, "scenarios/x.json");
  } catch (err) {
    if (err instanceof BadInputError) return err;
    throw err;
  }
  throw new Error("parseWorkload accepted an invalid workload");
}

const DEFAULTS = {
  durationMs: 30_000,
  warmupMs: 10_000,
  rate: { kind: "constant", perSecond: 50, scale: 1 },
  seed: 42,
  driver: "confluent",
  population: 10_000,
  centrelink: { instances: 3, groupId: "centrelink-clearance-engine", consumer: {}, debtCheckMs: { min: 1, max: 5 }, concurrency: 4, engine: "pipelined", maxInFlight: 32, dedupeTtlSeconds: 86_400 },
  regions: [],
  ato: { groupId: "ato-tax-engine", consumer: {}, producer: {} },
  drainTimeoutMs: 30_000,
  topics: { assessment: ASSESSMENT_TOPIC, clearance: CLEARANCE_TOPIC, dlq: `${ASSESSMENT_TOPIC}.dlq`, retry: `${ASSESSMENT_TOPIC}.retry` },
  schemaMismatch: { share: 0 },
  encoding: "avro",
};

describe("parseWorkload: defaults", () => {
  it("fills every default for an empty workload", () => {
    expect(parseWorkload({})).toEqual(DEFAULTS);
  });

  it("treats a missing workload (undefined or null) as empty", () => {
    expect(parseWorkload(undefined)).toEqual(DEFAULTS);
    expect(parseWorkload(null)).toEqual(DEFAULTS);
  });

  it("uses the seed's topic names", () => {
    expect(ASSESSMENT_TOPIC).toBe("au.gov.ato.tax.assessment.v1");
    expect(CLEARANCE_TOPIC).toBe("au.gov.servicesaustralia.clearance.v1");
  });

  it("gives each parse its own copies of the default objects", () => {
    const a = parseWorkload({});
    a.centrelink.consumer["group.protocol"] = "consumer";
    a.ato.producer.acks = "all";
    a.centrelink.debtCheckMs.max = 99;
    expect(parseWorkload({})).toEqual(DEFAULTS);
  });

  it("fills defaults inside a partly given section", () => {
    const w = parseWorkload({ centrelink: { instances: 5 }, ato: { producer: { "enable.idempotence": true } } });
    expect(w.centrelink).toEqual({ instances: 5, groupId: "centrelink-clearance-engine", consumer: {}, debtCheckMs: { min: 1, max: 5 }, concurrency: 4, engine: "pipelined", maxInFlight: 32, dedupeTtlSeconds: 86_400 });
    expect(w.ato).toEqual({ groupId: "ato-tax-engine", consumer: {}, producer: { "enable.idempotence": true } });
  });
});

describe("parseWorkload: values", () => {
  it("reads durations given as strings or as milliseconds", () => {
    const w = parseWorkload({ durationMs: "2m", drainTimeoutMs: 1500 });
    expect(w.durationMs).toBe(120_000);
    expect(w.drainTimeoutMs).toBe(1500);
    expect(parseWorkload({ durationMs: "500ms", drainTimeoutMs: "1h" })).toMatchObject({ durationMs: 500, drainTimeoutMs: 3_600_000 });
  });

  it("reads a ramp rate, with its duration as a string", () => {
    expect(parseWorkload({ rate: { kind: "ramp", from: 10, to: 200, overMs: "30s" } }).rate).toEqual({
      kind: "ramp",
      from: 10,
      to: 200,
      overMs: 30_000,
      scale: 1,
    });
  });

  it("reads a constant rate and the kafkajs driver", () => {
    const w = parseWorkload({ rate: { kind: "constant", perSecond: 500 }, driver: "kafkajs", seed: 7, population: 100 });
    expect(w).toMatchObject({ rate: { kind: "constant", perSecond: 500 }, driver: "kafkajs", seed: 7, population: 100 });
  });

  it("accepts client properties of type string, number and boolean", () => {
    const consumer = { "partition.assignment.strategy": "cooperative-sticky", "session.timeout.ms": 10_000, "enable.auto.commit": false };
    expect(parseWorkload({ centrelink: { consumer } }).centrelink.consumer).toEqual(consumer);
  });

  it("accepts debtCheckMs with min equal to max", () => {
    expect(parseWorkload({ centrelink: { debtCheckMs: { min: 3, max: 3 } } }).centrelink.debtCheckMs).toEqual({ min: 3, max: 3 });
  });
});

describe("parseWorkload: invalid workloads", () => {
  it("throws a BadInputError naming the source, with a hint", () => {
    const err = rejectionOf({ driver: "rdkafka" });
    expect(err.message).toContain("invalid workload (scenarios/x.json)");
    expect(err.hint).toContain("generators/README.md");
  });

  it("reports every field problem at once, each with its path", () => {
    const err = rejectionOf({
      driver: "rdkafka",
      colour: "blue",
      durationMs: "10 parsecs",
      population: 0,
      centrelink: { instances: 0, consumer: { "fetch.max.bytes": [1] } },
      ato: { producer: "acks=all" },
    });
    expect(err.problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^workload\.colour: unknown key \(allowed: durationMs, warmupMs, warmupMaxMs, rate, seed, driver, population, centrelink, regions, ato, drainTimeoutMs, topics, schemaMismatch, encoding\)$/),
        'workload.driver: "rdkafka" is not one of "confluent", "kafkajs"',
        'workload.durationMs: "10 parsecs" is not a duration (examples: 500ms, 30s, 5m, 1h)',
        "workload.population: 0 is below the minimum 1",
        "workload.centrelink.instances: 0 is below the minimum 1",
        "workload.centrelink.consumer.fetch.max.bytes: expected a string, number or boolean",
        "workload.ato.producer: expected an object of client properties",
      ]),
    );
    expect(err.problems).toHaveLength(7);
  });

  it("reports debtCheckMs with min above max", () => {
    expect(rejectionOf({ centrelink: { debtCheckMs: { min: 10, max: 5 } } }).problems).toEqual(["workload.centrelink.debtCheckMs: min is above max"]);
  });

  it("reports min above max together with an unknown key", () => {
    expect(rejectionOf({ centrelink: { debtCheckMs: { min: 10, max: 5 } }, extra: 1 }).problems).toEqual([
      "workload.extra: unknown key (allowed: durationMs, warmupMs, warmupMaxMs, rate, seed, driver, population, centrelink, regions, ato, drainTimeoutMs, topics, schemaMismatch, encoding)",
      "workload.centrelink.debtCheckMs: min is above max",
    ]);
  });

  it("takes the engine mode and its in-flight bound, and refuses others with their paths", () => {
    expect(parseWorkload({ centrelink: { engine: "serial" } }).centrelink.engine).toBe("serial");
    expect(rejectionOf({ centrelink: { engine: "async", maxInFlight: 0 } }).problems).toEqual([
      'workload.centrelink.engine: "async" is not one of "pipelined", "serial"',
      "workload.centrelink.maxInFlight: 0 is below the minimum 1",
    ]);
  });

  it("rejects more than 64 Centrelink instances", () => {
    expect(rejectionOf({ centrelink: { instances: 65 } }).problems).toEqual(["workload.centrelink.instances: 65 is above the maximum 64"]);
  });

  it("rejects bad rates with their paths", () => {
    expect(rejectionOf({ rate: { kind: "constant", perSecond: 0 } }).problems).toEqual(["workload.rate.perSecond: 0 is below the minimum 0.001"]);
    expect(rejectionOf({ rate: { kind: "ramp", from: -1, to: 0, overMs: "soon" } }).problems).toEqual([
      "workload.rate.from: -1 is below the minimum 0",
      "workload.rate.to: 0 is below the minimum 0.001",
      'workload.rate.overMs: "soon" is not a duration (examples: 500ms, 30s, 5m, 1h)',
    ]);
    expect(rejectionOf({ rate: { kind: "poisson", perSecond: 5 } }).problems).toEqual([
      'workload.rate.kind: "poisson" is not one of "constant", "ramp", "stages", "step", "spike", "diurnal", "replay", "seed-steady", "seed-eofy"',
    ]);
    expect(rejectionOf({ rate: { kind: "constant", perSecond: 5, burst: 2 } }).problems).toEqual([
      "workload.rate.burst: unknown key (allowed: kind, perSecond, scale)",
    ]);
  });

  it("rejects a workload that is not an object", () => {
    expect(rejectionOf("fast").problems).toEqual(['workload: expected an object, got "fast"']);
  });

  it("reports debtCheckMs min above max alongside other field problems", () => {
    const err = rejectionOf({ driver: "rdkafka", centrelink: { instances: 0, debtCheckMs: { min: 10, max: 5 } }, extra: 1 });
    expect(err.problems).toContain("workload.centrelink.debtCheckMs: min is above max");
  });
});

describe("parseWorkload: the schema-mismatch row", () => {
  it("takes a share between 0 and 1 and names the DLQ after the assessment topic", () => {
    const w = parseWorkload({ schemaMismatch: { share: 0.02 }, topics: { assessment: "a.v1" } });
    expect(w.schemaMismatch).toEqual({ share: 0.02 });
    expect(w.topics.dlq).toBe("a.v1.dlq");
    expect(parseWorkload({ topics: { dlq: "elsewhere" } }).topics.dlq).toBe("elsewhere");
  });

  it("refuses a share outside 0..1 and unknown keys, with their paths", () => {
    const e = rejectionOf({ schemaMismatch: { share: 1.5, rate: 2 } });
    expect(e.problems.join("\n")).toMatch(/workload\.schemaMismatch\.share/);
    expect(e.problems.join("\n")).toMatch(/workload\.schemaMismatch\.rate/);
  });
});

describe("parseWorkload: encoding", () => {
  it("takes avro or protobuf and refuses anything else with its path", () => {
    expect(parseWorkload({ encoding: "protobuf" }).encoding).toBe("protobuf");
    expect(rejectionOf({ encoding: "json" }).problems).toEqual(['workload.encoding: "json" is not one of "avro", "protobuf"']);
  });
});
