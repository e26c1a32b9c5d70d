import { describe, expect, it } from "vitest";
import { coordinatorPartition, javaStringHash, partitionOfKey, pickCount, resolveSelector, seededRandom, type TargetView } from "../../chaos/selectors.ts";

const view = (over: Partial<TargetView> = {}): TargetView => ({
  regions: [
    {
      name: "syd",
      nodes: [
        { id: "syd-1", nodeId: 1, roles: ["broker", "controller"] },
        { id: "syd-2", nodeId: 2, roles: ["broker", "controller"] },
        { id: "syd-3", nodeId: 3, roles: ["broker", "controller"] },
        { id: "syd-c1", nodeId: 4, roles: ["controller"] },
        { id: "syd-4", nodeId: 5, roles: ["broker"] },
      ],
    },
    { name: "mel", nodes: [{ id: "mel-1", nodeId: 1, roles: ["broker", "controller"] }] },
  ],
  consumers: ["centrelink-1", "centrelink-2", "centrelink-3"],
  partitionLeader: async (topic, p) => (topic === "t" ? `syd-${(p % 3) + 1}` : "none"),
  partitionCount: async () => 12,
  quorumLeader: async (region) => (region === "mel" ? "mel-1" : "syd-2"),
  ...over,
});

describe("selectors", () => {
  it("size a minority below half and a majority above it", () => {
    expect([1, 2, 3, 4, 5, 7].map((n) => pickCount("minority", n))).toEqual([1, 1, 1, 1, 2, 3]);
    expect([1, 2, 3, 4, 5, 7].map((n) => pickCount("majority", n))).toEqual([1, 2, 2, 3, 3, 4]);
    expect(pickCount("all", 5)).toBe(5);
    expect(pickCount("one", 5)).toBe(1);
  });

  it("pick by role and region, reproducibly for a seed", async () => {
    const brokers = await resolveSelector({ pick: "all", of: "brokers", region: "syd" }, view(), seededRandom(1));
    expect(brokers).toEqual({ kind: "nodes", ids: ["syd-1", "syd-2", "syd-3", "syd-4"] });
    const controllers = await resolveSelector({ pick: "majority", of: "controllers", region: "syd" }, view(), seededRandom(1));
    expect(controllers.ids).toHaveLength(3);
    expect(controllers.ids.every((id) => id !== "syd-4")).toBe(true);
    const a = await resolveSelector({ pick: "one", of: "nodes" }, view(), seededRandom(7));
    const b = await resolveSelector({ pick: "one", of: "nodes" }, view(), seededRandom(7));
    expect(a).toEqual(b);
    const all = await resolveSelector({ pick: "all", of: "nodes" }, view(), seededRandom(7));
    expect(all.ids).toContain("mel-1");
    const seen = new Set<string>();
    const r = seededRandom(3);
    for (let i = 0; i < 50; i++) seen.add((await resolveSelector({ pick: "one", of: "nodes", region: "syd" }, view(), r)).ids[0] ?? "");
    expect(seen.size).toBe(5);
  });

  it("pick consumers, leaders, regions and named components", async () => {
    const r = seededRandom(1);
    expect((await resolveSelector({ pick: "minority", of: "consumers" }, view(), r)).ids).toHaveLength(1);
    expect(await resolveSelector({ leaderOf: { topic: "t", partition: 4 } }, view(), r)).toEqual({ kind: "nodes", ids: ["syd-2"] });
    expect(await resolveSelector({ leaderOf: { topic: "t", key: "k" } }, view(), r)).toEqual({ kind: "nodes", ids: [`syd-${(partitionOfKey("k", 12) % 3) + 1}`] });
    expect(await resolveSelector({ quorumLeader: true, region: "mel" }, view(), r)).toEqual({ kind: "nodes", ids: ["mel-1"] });
    expect((await resolveSelector({ region: "mel" }, view(), r)).ids).toEqual(["mel-1"]);
    expect(await resolveSelector({ named: "centrelink-2" }, view(), r)).toEqual({ kind: "consumers", ids: ["centrelink-2"] });
    expect(await resolveSelector({ named: "syd-c1" }, view(), r)).toEqual({ kind: "nodes", ids: ["syd-c1"] });
  });

  it("say what exists when nothing matches", async () => {
    const r = seededRandom(1);
    await expect(resolveSelector({ named: "nope" }, view(), r)).rejects.toThrow(/no component named nope \(nodes: syd-1, .*consumers: centrelink-1/);
    await expect(resolveSelector({ region: "per" }, view(), r)).rejects.toThrow(/no region per; the mesh has syd, mel/);
    await expect(resolveSelector({ pick: "one", of: "consumers" }, view({ consumers: [] }), r)).rejects.toThrow(/no consumer instances/);
  });

  it("map keys and groups the way librdkafka and Kafka do", () => {
    // CRC32("123456789") is the standard check value 0xCBF43926.
    expect(partitionOfKey("123456789", 12)).toBe(0xcbf43926 % 12);
    expect(javaStringHash("hello")).toBe(99162322);
    expect(javaStringHash("polygenelubricants")).toBe(-2147483648);
    expect(coordinatorPartition("polygenelubricants")).toBe(0);
    expect(coordinatorPartition("centrelink-clearance-engine")).toBe(Math.abs(javaStringHash("centrelink-clearance-engine")) % 50);
  });
});
