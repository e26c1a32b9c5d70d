import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { BadInputError } from "../../lab/errors.ts";
import { addr, planMesh, portsNeeded } from "../../topology/plan.ts";
import { brokersOf, controllersOf, loadTopology, parseTopology, seedTopicConfig } from "../../topology/spec.ts";

const loadSpec = (file: string): unknown => JSON.parse(readFileSync(new URL(`../../topology/specs/${file}`, import.meta.url), "utf8"));

/** Parses `input` expecting a BadInputError and returns it. */
function rejectionOf(input: unknown): BadInputError {
  try {
    parseTopology(input);
  } catch (err) {
    if (err instanceof BadInputError) return err;
    throw err;
  }
  throw new Error("parseTopology accepted an invalid spec");
}

const node = (id: string, nodeId: number, roles: string[], az = "az1") => ({ id, nodeId, roles, az });

/** A small valid spec to break one field at a time. */
const valid = () => ({
  name: "tiny",
  regions: [{ name: "syd", nodes: [node("syd-1", 1, ["broker", "controller"]), node("syd-2", 2, ["broker"]), node("syd-3", 3, ["broker"])] }],
  topics: [{ name: "t1" }],
});

describe("parseTopology: valid specs", () => {
  it("accepts topology/specs/one-region.json and fills the defaults", () => {
    const spec = parseTopology(loadSpec("one-region.json"));
    expect(spec.name).toBe("one-region");
    expect(spec.backend).toBe("local");
    expect(spec.proxy).toBe("toxiproxy");
    expect(spec.clientClasses).toEqual(["ato", "centrelink", "registry"]);
    expect(spec.kafka).toEqual({ heapMb: 512, config: {}, version: "4.3.1" });
    expect(spec.registry).toEqual({ kind: "apicurio", storage: "kafkasql", heapMb: 512 });
    expect(spec.regions).toHaveLength(1);
    expect(spec.regions[0]?.nodes.map((n) => n.id)).toEqual(["syd-1", "syd-2", "syd-3"]);
  });

  it("gives every topic the seed's settings: 12 partitions, RF 3, min ISR 2, 7-day retention, 5 MB messages, delete", () => {
    const spec = parseTopology(loadSpec("one-region.json"));
    expect(spec.topics).toHaveLength(2);
    for (const t of spec.topics) {
      expect(t.partitions).toBe(12);
      expect(t.replicationFactor).toBe(3);
      expect(t.config).toEqual({
        "min.insync.replicas": "2",
        "retention.ms": "604800000",
        "max.message.bytes": "5242880",
        "cleanup.policy": "delete",
      });
    }
  });

  it("accepts one-region-split-roles.json, where partitions, RF, client classes and proxy all come from defaults", () => {
    const spec = parseTopology(loadSpec("one-region-split-roles.json"));
    expect(spec.backend).toBe("local");
    expect(spec.proxy).toBe("toxiproxy");
    expect(spec.clientClasses).toEqual(["ato", "centrelink", "registry"]);
    const region = spec.regions[0];
    if (!region) throw new Error("no region");
    expect(controllersOf(region).map((n) => n.id)).toEqual(["syd-c1", "syd-c2", "syd-c3"]);
    expect(brokersOf(region).map((n) => n.id)).toEqual(["syd-1", "syd-2", "syd-3"]);
    expect(spec.topics.map((t) => [t.name, t.partitions, t.replicationFactor])).toEqual([
      ["au.gov.ato.tax.assessment.v1", 12, 3],
      ["au.gov.servicesaustralia.clearance.v1", 12, 3],
    ]);
    for (const t of spec.topics) expect(t.config).toEqual(seedTopicConfig());
  });

  it("gives each parsed spec its own copies of defaults (mutating one spec does not leak into the next)", () => {
    const a = parseTopology(valid());
    a.clientClasses.push("mutated");
    const firstTopic = a.topics[0];
    if (!firstTopic) throw new Error("no topic");
    firstTopic.config["retention.ms"] = "1";
    a.kafka.config["log.retention.hours"] = "1";
    const b = parseTopology(valid());
    expect(b.clientClasses).toEqual(["ato", "centrelink", "registry"]);
    expect(b.topics[0]?.config["retention.ms"]).toBe("604800000");
    expect(b.kafka.config).toEqual({});
  });

  it("keeps explicit values over defaults", () => {
    const spec = parseTopology({
      ...valid(),
      proxy: "none",
      clientClasses: ["payments"],
      kafka: { heapMb: 1024, config: { "log.retention.hours": "1" }, version: "4.2.2" },
      topics: [{ name: "t1", partitions: 3, replicationFactor: 2, config: { "min.insync.replicas": "1" } }],
    });
    expect(spec.proxy).toBe("none");
    expect(spec.clientClasses).toEqual(["payments"]);
    expect(spec.kafka).toEqual({ heapMb: 1024, config: { "log.retention.hours": "1" }, version: "4.2.2" });
    expect(spec.topics[0]).toEqual({ name: "t1", partitions: 3, replicationFactor: 2, config: { "min.insync.replicas": "1" } });
  });

  it("accepts a single combined node (1 controller, 1 broker) with RF 1 topics", () => {
    const spec = parseTopology({
      name: "solo",
      regions: [{ name: "syd", nodes: [node("syd-1", 1, ["broker", "controller"])] }],
      topics: [{ name: "t", replicationFactor: 1, config: { "min.insync.replicas": "1" } }],
    });
    expect(spec.regions[0]?.nodes).toHaveLength(1);
  });
});

describe("parseTopology: invalid specs", () => {
  it("throws a BadInputError whose message names the source, lists the problems and carries a hint", () => {
    const bad = { ...valid(), name: "Bad Name" };
    let thrown: unknown;
    try {
      parseTopology(bad, "specs/x.json");
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(BadInputError);
    const err = thrown as BadInputError;
    expect(err.message).toContain("invalid topology spec (specs/x.json)");
    expect(err.problems).toHaveLength(1);
    expect(err.problems[0]).toMatch(/^topology\.name: "Bad Name" is not a valid topology name/);
    expect(err.message).toContain(`  - ${err.problems[0]}`);
    expect(err.hint).toMatch(/topology\/README\.md/);
  });

  it("reports every cross-field problem at once, each with its path", () => {
    const err = rejectionOf({
      name: "broken",
      backend: "containers",
      clientClasses: ["ato", "lab"],
      regions: [
        {
          name: "syd",
          // Two controllers (even) and two brokers.
          nodes: [node("syd-1", 1, ["broker", "controller"]), { ...node("syd-2", 2, ["broker", "controller"]), colour: "red" }],
        },
        // Reuses node id syd-1 and has no broker.
        { name: "mel", nodes: [node("syd-1", 1, ["controller"])] },
      ],
      topics: [{ name: "t", replicationFactor: 3, config: { "min.insync.replicas": "4" } }],
    });
    const p = err.problems;
    const has = (re: RegExp) => expect(p.some((x) => re.test(x)), `no problem matches ${re}\n${p.join("\n")}`).toBe(true);
    has(/^topology\.regions\[0\]\.nodes\[1\]\.colour: unknown key \(allowed: id, nodeId, roles, az\)$/);
    has(/^topology\.backend: "containers" runs plaintext meshes only/);
    has(/^topology\.clientClasses: "lab" is reserved/);
    has(/^topology\.regions\[0\]\.nodes: region "syd" has 2 controllers; a KRaft quorum needs an odd number/);
    has(/^topology\.topics\[0\]\.replicationFactor: 3 exceeds the 2 broker\(s\) of region "syd"$/);
    has(/^topology\.topics\[0\]\.config\.min\.insync\.replicas: 4 must be between 1 and the replication factor 3$/);
    has(/^topology\.regions\[1\]\.nodes\[0\]\.id: node "syd-1" appears twice$/);
    has(/^topology\.regions\[1\]\.nodes: region "mel" has no broker/);
    has(/^topology\.topics\[0\]\.replicationFactor: 3 exceeds the 0 broker\(s\) of region "mel"$/);
  });

  it("reports every problem of a replication block: unknown regions, a self-flow, a repeated flow, a bad regex", () => {
    const v = valid();
    const err = rejectionOf({
      ...v,
      replication: {
        flows: [
          { source: "syd", target: "per" },
          { source: "syd", target: "syd" },
          { source: "syd", target: "per" },
        ],
        topics: ["au\\.gov\\.(unclosed"],
        intervalSeconds: 0,
      },
    });
    const p = err.problems;
    expect(p).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^topology\.replication\.intervalSeconds: 0 is below the minimum 1$/),
        expect.stringMatching(/^topology\.replication\.flows\[0\]\.target: no region "per"; the regions are syd$/),
        expect.stringMatching(/^topology\.replication\.flows\[1\]: a region cannot replicate to itself$/),
        expect.stringMatching(/^topology\.replication\.flows\[2\]: flow syd->per appears twice$/),
        expect.stringMatching(/^topology\.replication\.topics\[0\]: /),
      ]),
    );
  });

  it("fills replication defaults: 1 s intervals, offset.lag.max 10, no group-offset sync; Redis as the dedupe store", () => {
    const spec = parseTopology(JSON.parse(readFileSync(new URL("../../topology/specs/two-region.json", import.meta.url), "utf8")));
    expect(spec.replication).toMatchObject({ intervalSeconds: 1, offsetLagMax: 10, syncGroupOffsets: false, groups: [".*"], topics: [] });
    expect(spec.dedupeStore).toBe("redis");
    expect(parseTopology(valid()).replication).toBeNull();
  });

  it("reports every field-level problem at once, each with its path", () => {
    const err = rejectionOf({
      name: "ok",
      proxy: "envoy",
      regions: [{ name: "Sydney_1", nodes: [{ id: "syd-1", nodeId: -1, roles: ["leader"], az: "az1", colour: "red" }] }],
      topics: [{ name: "bad topic!" }],
    });
    expect(err.problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^topology\.proxy: "envoy" is not one of "toxiproxy", "none"$/),
        expect.stringMatching(/^topology\.regions\[0\]\.name: "Sydney_1" is not a valid region name/),
        expect.stringMatching(/^topology\.regions\[0\]\.nodes\[0\]\.nodeId: -1 is below the minimum 0$/),
        expect.stringMatching(/^topology\.regions\[0\]\.nodes\[0\]\.roles\[0\]: "leader" is not one of "broker", "controller"$/),
        expect.stringMatching(/^topology\.regions\[0\]\.nodes\[0\]\.colour: unknown key/),
        expect.stringMatching(/^topology\.topics\[0\]\.name: "bad topic!" is not a legal Kafka topic name$/),
      ]),
    );
  });

  it("requires name, regions and topics", () => {
    const err = rejectionOf({});
    expect(err.problems).toEqual(["topology.name: required", "topology.regions: required", "topology.topics: required"]);
  });

  it("rejects a non-object spec", () => {
    expect(rejectionOf(null).problems).toEqual(["topology: expected an object, got null"]);
    expect(rejectionOf([]).problems).toEqual(["topology: expected an object, got []"]);
  });

  it("rejects a duplicate node id within a region", () => {
    const spec = valid();
    spec.regions[0]?.nodes.push(node("syd-2", 4, ["broker"]));
    expect(rejectionOf(spec).problems).toEqual(['topology.regions[0].nodes[3].id: node "syd-2" appears twice']);
  });

  it("rejects a duplicate KRaft node.id within a region", () => {
    const spec = valid();
    spec.regions[0]?.nodes.push(node("syd-4", 2, ["broker"]));
    expect(rejectionOf(spec).problems).toEqual(['topology.regions[0].nodes[3].nodeId: 2 is used twice in region "syd"']);
  });

  it("allows the same KRaft node.id in different regions", () => {
    const spec = valid();
    spec.regions.push({ name: "mel", nodes: [node("mel-1", 1, ["broker", "controller"]), node("mel-2", 2, ["broker"]), node("mel-3", 3, ["broker"])] });
    expect(parseTopology(spec).regions).toHaveLength(2);
  });

  it("rejects a role listed twice on one node", () => {
    const spec = valid();
    const first = spec.regions[0]?.nodes[0];
    if (first) first.roles = ["broker", "broker", "controller"];
    expect(rejectionOf(spec).problems).toEqual(["topology.regions[0].nodes[0].roles: a role is listed twice"]);
  });

  it("rejects a region listed twice", () => {
    const spec = valid();
    spec.regions.push({ name: "syd", nodes: [node("x-1", 1, ["broker", "controller"]), node("x-2", 2, ["broker"]), node("x-3", 3, ["broker"])] });
    expect(rejectionOf(spec).problems).toEqual(['topology.regions[1].name: region "syd" appears twice']);
  });

  it("rejects a region without a controller", () => {
    const spec = valid();
    const first = spec.regions[0]?.nodes[0];
    if (first) first.roles = ["broker"];
    expect(rejectionOf(spec).problems).toEqual([
      'topology.regions[0].nodes: region "syd" has no controller; give at least one node the "controller" role',
    ]);
  });

  it("rejects an even number of controllers", () => {
    const spec = valid();
    const second = spec.regions[0]?.nodes[1];
    if (second) second.roles = ["broker", "controller"];
    expect(rejectionOf(spec).problems).toEqual([
      'topology.regions[0].nodes: region "syd" has 2 controllers; a KRaft quorum needs an odd number (1, 3, 5)',
    ]);
  });

  it("rejects a region without a broker (and the topic RF that cannot be placed there)", () => {
    const err = rejectionOf({ name: "x", regions: [{ name: "syd", nodes: [node("c-1", 1, ["controller"])] }], topics: [{ name: "t" }] });
    expect(err.problems).toEqual([
      'topology.regions[0].nodes: region "syd" has no broker; give at least one node the "broker" role',
      'topology.topics[0].replicationFactor: 3 exceeds the 0 broker(s) of region "syd"',
    ]);
  });

  it("rejects a replication factor above the region's broker count", () => {
    const spec = { ...valid(), topics: [{ name: "t1", replicationFactor: 4, config: { "min.insync.replicas": "2" } }] };
    expect(rejectionOf(spec).problems).toEqual(['topology.topics[0].replicationFactor: 4 exceeds the 3 broker(s) of region "syd"']);
  });

  it("rejects min.insync.replicas above the replication factor, and below 1", () => {
    const above = { ...valid(), topics: [{ name: "t1", replicationFactor: 2, config: { "min.insync.replicas": "3" } }] };
    expect(rejectionOf(above).problems).toEqual([
      "topology.topics[0].config.min.insync.replicas: 3 must be between 1 and the replication factor 2",
    ]);
    const zero = { ...valid(), topics: [{ name: "t1", config: { "min.insync.replicas": "0" } }] };
    expect(rejectionOf(zero).problems).toEqual([
      "topology.topics[0].config.min.insync.replicas: 0 must be between 1 and the replication factor 3",
    ]);
  });

  it("rejects a non-numeric min.insync.replicas", () => {
    const spec = { ...valid(), topics: [{ name: "t1", config: { "min.insync.replicas": "two" } }] };
    expect(rejectionOf(spec).problems).toEqual([
      "topology.topics[0].config.min.insync.replicas: NaN must be between 1 and the replication factor 3",
    ]);
  });

  it("rejects a topic listed twice", () => {
    const spec = { ...valid(), topics: [{ name: "t1" }, { name: "t2" }, { name: "t1" }] };
    expect(rejectionOf(spec).problems).toEqual(['topology.topics[2].name: topic "t1" appears twice']);
  });

  it.each(["lab", "broker", "controller"])("rejects the reserved client class %s", (klass) => {
    const err = rejectionOf({ ...valid(), clientClasses: ["ato", klass] });
    expect(err.problems).toEqual([`topology.clientClasses: "${klass}" is reserved for the internal links; pick another name`]);
  });

  it("rejects duplicate client classes and an empty list of them", () => {
    expect(rejectionOf({ ...valid(), clientClasses: ["ato", "ato"] }).problems).toEqual(["topology.clientClasses: names must be unique"]);
    expect(rejectionOf({ ...valid(), clientClasses: [] }).problems).toEqual(["topology.clientClasses: needs at least 1 item(s), has 0"]);
  });

  it("rejects a client class that is not a lower-case identifier", () => {
    expect(rejectionOf({ ...valid(), clientClasses: ["ATO"] }).problems).toEqual([
      `topology.clientClasses[0]: "ATO" is not a valid client class (lower-case letters, digits and '-', starting with a letter)`,
    ]);
  });

  it.each([["Syd"], ["1syd"], ["syd_2"], [""]])("rejects the region name %j", (name) => {
    const spec = valid();
    const region = spec.regions[0];
    if (region) region.name = name;
    const [problem, ...rest] = rejectionOf(spec).problems;
    expect(rest).toEqual([]);
    expect(problem).toMatch(/^topology\.regions\[0\]\.name: /);
  });

  it('rejects backend "hosts" as not implemented yet', () => {
    expect(rejectionOf({ ...valid(), backend: "hosts" }).problems).toEqual(['topology.backend: "hosts" is not available yet; use "local" (processes on this machine) or "containers"']);
  });

  it('accepts backend "containers" on a plaintext mesh only, saying why', () => {
    expect(parseTopology({ ...valid(), backend: "containers", security: "plaintext" })).toMatchObject({ backend: "containers", security: "plaintext" });
    expect(rejectionOf({ ...valid(), backend: "containers" }).problems).toEqual([
      'topology.backend: "containers" runs plaintext meshes only (the SPIRE identity plane is not carried into containers yet); set "security": "plaintext" or run with --security plaintext',
    ]);
  });

  it("rejects an unknown top-level key and a Kafka heap below 128 MB", () => {
    const err = rejectionOf({ ...valid(), kafka: { heapMb: 64 }, extra: true });
    expect(err.problems).toEqual([
      "topology.extra: unknown key (allowed: name, backend, clientClasses, proxy, kafka, registry, regions, replication, dedupeStore, security, identity, topics)",
      "topology.kafka.heapMb: 64 is below the minimum 128",
    ]);
  });

  it("reports cross-field problems even when a field is also malformed", () => {
    const spec = valid();
    const region = spec.regions[0];
    if (region) {
      region.name = "Bad_Region";
      region.nodes.push(node("syd-1", 4, ["broker"]));
    }
    const problems = rejectionOf(spec).problems;
    expect(problems).toContain('topology.regions[0].nodes[3].id: node "syd-1" appears twice');
  });

  it('rejects the client class "replication", whose listener name collides with the internal REPLICATION listener', () => {
    expect(() => parseTopology({ ...valid(), clientClasses: ["ato", "replication"] })).toThrow(BadInputError);
  });
});

describe("loadTopology", () => {
  it("loads and validates a spec of topology/specs by name, the one-region mesh by default", () => {
    expect(loadTopology().name).toBe("one-region");
    expect(loadTopology("one-region-split-roles").regions[0]?.nodes).toHaveLength(6);
  });

  it("names a missing spec as bad input", () => {
    expect(() => loadTopology("no-such-topology")).toThrow(/no topology spec "no-such-topology"/);
  });
});

describe("topology/specs/production-shaped.json", () => {
  const spec = loadTopology("production-shaped");

  it("has two regions of five brokers across three AZs and three dedicated controllers", () => {
    expect(spec.regions.map((r) => r.name)).toEqual(["syd", "mel"]);
    for (const r of spec.regions) {
      expect(brokersOf(r)).toHaveLength(5);
      expect(new Set(brokersOf(r).map((n) => n.az))).toEqual(new Set(["az1", "az2", "az3"]));
      expect(controllersOf(r)).toHaveLength(3);
      expect(controllersOf(r).every((n) => n.roles.length === 1)).toBe(true); // dedicated, not combined
      expect(new Set(controllersOf(r).map((n) => n.az)).size).toBe(3);
    }
  });

  it("keeps the seed's topic settings (RF 3, min.insync.replicas 2), replication both ways and small heaps", () => {
    for (const t of spec.topics) expect(t).toMatchObject({ partitions: 12, replicationFactor: 3, config: { "min.insync.replicas": "2" } });
    expect(spec.replication?.flows).toEqual([{ source: "syd", target: "mel" }, { source: "mel", target: "syd" }]);
    expect([spec.kafka.heapMb, spec.registry.heapMb, spec.replication?.heapMb]).toEqual([256, 256, 256]);
  });

  it("plans every link on an address of its own, with the three controllers as each region's quorum", () => {
    const p = planMesh(spec, "/tmp/meshlab-run", Array.from({ length: portsNeeded(spec) }, (_, i) => 20_000 + i), ["c-syd", "c-mel"]);
    const listens = p.regions.flatMap((r) => r.links).map((l) => addr(l.listen));
    expect(new Set(listens).size).toBe(listens.length);
    for (const r of p.regions) expect(r.voters.split(",").map((v) => v.split("@")[0])).toEqual(["101", "102", "103"]);
  });
});
