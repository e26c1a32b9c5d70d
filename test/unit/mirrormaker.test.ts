import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  checkpointStaleness,
  decodeCheckpoint,
  encodeCheckpoint,
  latestCheckpoints,
  type Checkpoint,
} from "../../topology/mirrormaker/checkpoints.ts";
import { flowTopics, REGISTRY_JOURNAL_TOPIC, renderMirrorMakerProperties, replicatedRegistry } from "../../topology/mirrormaker/config.ts";
import { planMesh, portsNeeded } from "../../topology/plan.ts";
import { parseTopology, type TopologySpec } from "../../topology/spec.ts";

/** Plaintext unless a test says mTLS (spec files run mTLS by default). */
const load = (file: string): TopologySpec =>
  parseTopology({ ...JSON.parse(readFileSync(new URL(`../../topology/specs/${file}`, import.meta.url), "utf8")), security: "plaintext" });
const props = (text: string): Record<string, string> =>
  Object.fromEntries(
    text
      .split("\n")
      .filter((l) => l && !l.startsWith("#"))
      .map((l) => l.split(" = ") as [string, string]),
  );

describe("mm2.properties for the MirrorMaker that writes into one region", () => {
  const spec = load("two-region.json");
  const plan = planMesh(spec, "/runs/x", Array.from({ length: portsNeeded(spec) }, (_, i) => 30000 + i));
  const syd = plan.regions.find((r) => r.name === "syd");
  const mel = plan.regions.find((r) => r.name === "mel");
  const intoMel = props(renderMirrorMakerProperties(spec, plan, "mel"));

  it("reaches the source region through its replication links and its own region directly", () => {
    expect(intoMel["syd.bootstrap.servers"]).toBe(syd?.bootstrap.replication);
    expect(intoMel["mel.bootstrap.servers"]).toBe(mel?.bootstrap.lab);
  });

  it("enables only the flow into this region, with the lab's topics, the probe and the primary's registry journal", () => {
    expect(intoMel["syd->mel.enabled"]).toBe("true");
    expect(intoMel["mel->syd.enabled"]).toBeUndefined();
    expect(intoMel["syd->mel.topics"]?.split(",")).toEqual([
      "au\\.gov\\.ato\\.tax\\.assessment\\.v1",
      "au\\.gov\\.servicesaustralia\\.clearance\\.v1",
      "meshlab\\.probe",
      "meshlab-registry-journal",
    ]);
    const intoSyd = props(renderMirrorMakerProperties(spec, plan, "syd"));
    expect(intoSyd["mel->syd.topics"]).not.toContain(REGISTRY_JOURNAL_TOPIC.replace(/-/g, "-"));
    expect(intoSyd["syd.bootstrap.servers"]).toBe(syd?.bootstrap.lab);
  });

  it("uses seconds, not MM2's minutes, for checkpoints and refreshes, and replication factors the regions can hold", () => {
    for (const k of ["emit.checkpoints.interval.seconds", "refresh.topics.interval.seconds", "refresh.groups.interval.seconds", "sync.group.offsets.interval.seconds"])
      expect(intoMel[k], k).toBe("1");
    expect(intoMel["offset.lag.max"]).toBe("10");
    expect(intoMel["replication.policy.class"]).toBe("org.apache.kafka.connect.mirror.DefaultReplicationPolicy");
    for (const k of ["replication.factor", "checkpoints.topic.replication.factor", "offset.storage.replication.factor", "syd->mel.offset-syncs.topic.replication.factor"])
      expect(intoMel[k], k).toBe("3");
    const small = load("two-region-small.json");
    const smallPlan = planMesh(small, "/runs/y", Array.from({ length: portsNeeded(small) }, (_, i) => 31000 + i));
    expect(props(renderMirrorMakerProperties(small, smallPlan, "mel"))["replication.factor"]).toBe("1");
  });

  it("renders the spec's extra keys last, so they win", () => {
    const custom: TopologySpec = { ...spec, replication: spec.replication && { ...spec.replication, config: { "tasks.max": "4" } } };
    const text = renderMirrorMakerProperties(custom, plan, "mel");
    expect(text.lastIndexOf("tasks.max")).toBeGreaterThan(text.indexOf("tasks.max = 2"));
  });

  it("on an mTLS mesh gives both clusters the SVID, also under the client overrides MM2's connectors pass whole", () => {
    const tls = { cert: "/s/svid.pem", key: "/s/svid_key.pem", ca: "/s/bundle.pem" };
    expect(() => renderMirrorMakerProperties({ ...spec, security: "mtls" }, plan, "mel")).toThrow(/no SVID files/);
    const p = props(renderMirrorMakerProperties({ ...spec, security: "mtls" }, plan, "mel", tls));
    for (const cluster of ["syd", "mel"])
      for (const client of ["", "producer.", "consumer.", "admin."]) {
        expect(p[`${cluster}.${client}security.protocol`]).toBe("SSL");
        expect(p[`${cluster}.${client}spiffe.svid.file`]).toBe(tls.cert);
        expect(p[`${cluster}.${client}spiffe.bundle.file`]).toBe(tls.ca);
      }
  });

  it("replicates the registry journal only from the primary, and only with KafkaSQL storage", () => {
    expect(replicatedRegistry(spec)).toBe(true);
    expect(replicatedRegistry({ ...spec, registry: { ...spec.registry, storage: "mem" } })).toBe(false);
    expect(flowTopics(spec, { source: "mel", target: "syd" })).not.toContain(REGISTRY_JOURNAL_TOPIC);
  });
});

describe("MM2 checkpoints", () => {
  const cp = (c: Partial<Checkpoint>): Checkpoint => ({
    group: "g",
    topic: "syd.t",
    partition: 0,
    upstreamOffset: 0,
    downstreamOffset: 0,
    metadata: "",
    emittedAtMs: 0,
    ...c,
  });

  it("decodes MM2's wire format (int16-length strings, int32 partition, int16 version, two int64 offsets)", () => {
    const { key, value } = encodeCheckpoint({ group: "centrelink", topic: "syd.au.gov.x", partition: 7, upstreamOffset: 1234, downstreamOffset: 1200, metadata: "m" });
    expect(key.toString("hex")).toBe(`000a${Buffer.from("centrelink").toString("hex")}000c${Buffer.from("syd.au.gov.x").toString("hex")}00000007`);
    expect(decodeCheckpoint(key, value, 99)).toEqual({
      group: "centrelink",
      topic: "syd.au.gov.x",
      partition: 7,
      upstreamOffset: 1234,
      downstreamOffset: 1200,
      metadata: "m",
      emittedAtMs: 99,
    });
  });

  it("refuses a value version it does not know", () => {
    const { key, value } = encodeCheckpoint({ group: "g", topic: "t", partition: 0, upstreamOffset: 1, downstreamOffset: 1, metadata: "" });
    value.writeInt16BE(1, 0);
    expect(() => decodeCheckpoint(key, value)).toThrow(/version 1/);
  });

  it("keeps the newest checkpoint per partition of the asked group", () => {
    const all = [cp({ partition: 0, upstreamOffset: 5 }), cp({ partition: 1, upstreamOffset: 3 }), cp({ group: "other", partition: 0, upstreamOffset: 99 }), cp({ partition: 0, upstreamOffset: 8 })];
    expect(latestCheckpoints(all, "g").map((c) => [c.partition, c.upstreamOffset])).toEqual([
      [0, 8],
      [1, 3],
    ]);
  });

  it("measures staleness as records committed upstream after the checkpoint, and its age", () => {
    const cps = [cp({ topic: "syd.t", partition: 0, upstreamOffset: 90, emittedAtMs: 1_000 }), cp({ topic: "syd.t", partition: 1, upstreamOffset: 50, emittedAtMs: 2_500 })];
    const committed = new Map([
      ["t:0", 100],
      ["t:1", 50],
      ["t:2", 7],
    ]);
    const s = checkpointStaleness(cps, "syd", committed, 3_000);
    expect(s.partitions).toEqual([
      { topic: "t", partition: 0, records: 10, ageMs: 2_000 },
      { topic: "t", partition: 1, records: 0, ageMs: 500 },
    ]);
    expect(s).toMatchObject({ totalRecords: 10, maxRecords: 10, maxAgeMs: 2_000, missing: ["t:2"] });
  });
});
