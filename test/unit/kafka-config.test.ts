import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { renderHostsFile, renderServerProperties } from "../../topology/kafka/config.ts";
import { addr, type MeshPlan, type NodePlan, planMesh, portsNeeded, type RegionPlan } from "../../topology/plan.ts";
import { parseTopology, type TopologySpec } from "../../topology/spec.ts";

const RUN_DIR = "/tmp/meshlab-run";

/** Plaintext rendering (the mTLS listeners, key stores and authorizer are covered in identity.test.ts). */
const loadSpec = (file: string): TopologySpec =>
  parseTopology({ ...JSON.parse(readFileSync(new URL(`../../topology/specs/${file}`, import.meta.url), "utf8")), security: "plaintext" });

const planFor = (spec: TopologySpec): MeshPlan =>
  planMesh(
    spec,
    RUN_DIR,
    Array.from({ length: portsNeeded(spec) }, (_, i) => 20000 + i),
    spec.regions.map((r) => `cluster-${r.name}`),
  );

/** Parses server.properties text into its key/value lines (comments and blanks skipped); fails on a repeated key. */
function parseProperties(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const eq = line.indexOf("=");
    if (eq <= 0) throw new Error(`not a property line: ${line}`);
    const key = line.slice(0, eq);
    if (out.has(key)) throw new Error(`repeated key ${key}`);
    out.set(key, line.slice(eq + 1));
  }
  return out;
}

function rendered(spec: TopologySpec, nodeId: string): { props: Map<string, string>; text: string; region: RegionPlan; node: NodePlan } {
  const p = planFor(spec);
  for (const region of p.regions)
    for (const node of region.nodes)
      if (node.spec.id === nodeId) {
        const text = renderServerProperties(spec, region, node);
        return { props: parseProperties(text), text, region, node };
      }
  throw new Error(`no node ${nodeId}`);
}

const get = (props: Map<string, string>, key: string): string => {
  const v = props.get(key);
  if (v === undefined) throw new Error(`no ${key} in server.properties`);
  return v;
};

const oneBroker = (): TopologySpec =>
  parseTopology({
    name: "solo",
    security: "plaintext",
    regions: [{ name: "syd", nodes: [{ id: "syd-1", nodeId: 1, roles: ["broker", "controller"], az: "az7" }] }],
    topics: [{ name: "t", replicationFactor: 1, config: { "min.insync.replicas": "1" } }],
  });

describe("renderServerProperties for a combined broker+controller node", () => {
  const spec = loadSpec("one-region.json");
  const { props, text, region, node } = rendered(spec, "syd-2");

  it("starts with a comment naming the node, region and cluster, and ends with a newline", () => {
    expect(text.split("\n")[0]).toBe("# meshlab: node syd-2 (node.id 2) of region syd, cluster cluster-syd");
    expect(text.endsWith("\n")).toBe(true);
  });

  it("sets the roles, node id and the quorum voters of the region", () => {
    expect(get(props, "process.roles")).toBe("broker,controller");
    expect(get(props, "node.id")).toBe("2");
    expect(get(props, "controller.quorum.voters")).toBe(region.voters);
    expect(get(props, "controller.quorum.voters").split(",")).toHaveLength(3);
    expect(get(props, "controller.listener.names")).toBe("CONTROLLER");
  });

  it("binds every listener on the node's real port and advertises it at its proxy", () => {
    const listeners = get(props, "listeners").split(",");
    const advertised = get(props, "advertised.listeners").split(",");
    expect(listeners.map((l) => l.split(":")[0])).toEqual(["ATO", "CENTRELINK", "REGISTRY", "REPLICATION", "LAB", "CONTROLLER"]);
    expect(listeners).toEqual(node.listeners.map((l) => `${l.name}://${addr(l.bind)}`));
    expect(advertised).toEqual(node.listeners.map((l) => `${l.name}://${addr(l.advertised)}`));
    // Proxied classes advertise a different port from the one they bind; the lab listener is direct.
    for (const [i, l] of node.listeners.entries()) {
      if (l.klass === "lab") expect(advertised[i]).toBe(listeners[i]);
      else expect(advertised[i]).not.toBe(listeners[i]);
    }
  });

  it("maps every listener name to PLAINTEXT", () => {
    const map = new Map(get(props, "listener.security.protocol.map").split(",").map((e) => e.split(":") as [string, string]));
    for (const l of node.listeners) expect(map.get(l.name), l.name).toBe("PLAINTEXT");
    expect(map.get("CONTROLLER")).toBe("PLAINTEXT");
    expect(map.get("REPLICATION")).toBe("PLAINTEXT");
    expect([...map.values()].every((v) => v === "PLAINTEXT")).toBe(true);
  });

  it("replicates over the REPLICATION listener and sets the rack from the node's availability zone", () => {
    expect(get(props, "inter.broker.listener.name")).toBe("REPLICATION");
    expect(get(props, "broker.rack")).toBe("az2");
  });

  it("keeps data and metadata under the node's directory", () => {
    expect(get(props, "log.dirs")).toBe(join(RUN_DIR, "syd", "syd-2", "data"));
    expect(get(props, "metadata.log.dir")).toBe(join(RUN_DIR, "syd", "syd-2", "metadata"));
  });

  it("uses RF 3 and min ISR 2 for internal topics with three brokers, and disables topic auto-creation", () => {
    expect(get(props, "default.replication.factor")).toBe("3");
    expect(get(props, "offsets.topic.replication.factor")).toBe("3");
    expect(get(props, "transaction.state.log.replication.factor")).toBe("3");
    expect(get(props, "share.coordinator.state.topic.replication.factor")).toBe("3");
    expect(get(props, "min.insync.replicas")).toBe("2");
    expect(get(props, "transaction.state.log.min.isr")).toBe("2");
    expect(get(props, "share.coordinator.state.topic.min.isr")).toBe("2");
    expect(get(props, "auto.create.topics.enable")).toBe("false");
    expect(get(props, "group.initial.rebalance.delay.ms")).toBe("0");
  });

  it("lets brokers carry the seed's 5 MB messages", () => {
    expect(Number(get(props, "message.max.bytes"))).toBeGreaterThan(5_242_880);
    expect(Number(get(props, "replica.fetch.max.bytes"))).toBeGreaterThanOrEqual(Number(get(props, "message.max.bytes")));
  });
});

describe("renderServerProperties for dedicated roles", () => {
  const spec = loadSpec("one-region-split-roles.json");

  it("gives a controller-only node the controller listener, its metadata dir, and no broker settings", () => {
    const { props } = rendered(spec, "syd-c2");
    expect(get(props, "process.roles")).toBe("controller");
    expect(get(props, "node.id")).toBe("102");
    expect(get(props, "listeners")).toMatch(/^CONTROLLER:\/\/127\.0\.0\.1:\d+$/);
    expect(get(props, "metadata.log.dir")).toBe(join(RUN_DIR, "syd", "syd-c2", "metadata"));
    for (const key of ["inter.broker.listener.name", "broker.rack", "default.replication.factor", "min.insync.replicas", "num.partitions"])
      expect(props.has(key), key).toBe(false);
  });

  it("gives a broker-only node no metadata dir and voters that name only the controllers", () => {
    const { props } = rendered(spec, "syd-3");
    expect(get(props, "process.roles")).toBe("broker");
    expect(props.has("metadata.log.dir")).toBe(false);
    expect(get(props, "listeners")).not.toMatch(/CONTROLLER:/);
    expect(get(props, "broker.rack")).toBe("az3");
    expect(
      get(props, "controller.quorum.voters")
        .split(",")
        .map((v) => v.split("@")[0]),
    ).toEqual(["101", "102", "103"]);
  });
});

describe("renderServerProperties caps replication to the region's brokers", () => {
  it("uses RF 1 and min ISR 1 in a one-broker region", () => {
    const { props } = rendered(oneBroker(), "syd-1");
    for (const key of [
      "default.replication.factor",
      "offsets.topic.replication.factor",
      "transaction.state.log.replication.factor",
      "share.coordinator.state.topic.replication.factor",
      "min.insync.replicas",
      "transaction.state.log.min.isr",
      "share.coordinator.state.topic.min.isr",
    ])
      expect(get(props, key), key).toBe("1");
    expect(get(props, "broker.rack")).toBe("az7");
  });

  it("uses RF 2 and min ISR 2 in a two-broker region", () => {
    const spec = parseTopology({
      name: "duo",
      security: "plaintext",
      regions: [
        {
          name: "syd",
          nodes: [
            { id: "syd-1", nodeId: 1, roles: ["broker", "controller"], az: "az1" },
            { id: "syd-2", nodeId: 2, roles: ["broker"], az: "az2" },
          ],
        },
      ],
      topics: [{ name: "t", replicationFactor: 2 }],
    });
    const { props } = rendered(spec, "syd-2");
    expect(get(props, "offsets.topic.replication.factor")).toBe("2");
    expect(get(props, "min.insync.replicas")).toBe("2");
  });
});

describe("renderServerProperties with spec.kafka.config", () => {
  it("lets the spec's Kafka config override the rendered values and add new ones", () => {
    const base = loadSpec("one-region.json");
    const spec: TopologySpec = {
      ...base,
      kafka: { ...base.kafka, config: { "min.insync.replicas": "1", "num.partitions": "3", "log.segment.bytes": "1048576" } },
    };
    const { props } = rendered(spec, "syd-1");
    expect(get(props, "min.insync.replicas")).toBe("1");
    expect(get(props, "num.partitions")).toBe("3");
    expect(get(props, "log.segment.bytes")).toBe("1048576");
    // Values the spec does not mention are left alone.
    expect(get(props, "offsets.topic.replication.factor")).toBe("3");
  });

  it("throws when the region plan names a region the spec does not have", () => {
    const spec = loadSpec("one-region.json");
    const p = planFor(spec);
    const region = p.regions[0];
    const node = region?.nodes[0];
    if (!region || !node) throw new Error("empty plan");
    expect(() => renderServerProperties(spec, { ...region, name: "mel" }, node)).toThrow("renderServerProperties: no region mel in the spec");
  });
});

describe("renderHostsFile", () => {
  it("maps localhost and the machine's name to 127.0.0.1, then each peer name to its address", () => {
    const text = renderHostsFile({ "syd-2.broker.meshlab": "127.0.1.1", "syd-2.controller.meshlab": "127.0.1.1" }, "box");
    const lines = text.trim().split("\n").filter((l) => !l.startsWith("#"));
    expect(lines).toEqual(["127.0.0.1 localhost box", "127.0.1.1 syd-2.broker.meshlab", "127.0.1.1 syd-2.controller.meshlab"]);
  });
});
