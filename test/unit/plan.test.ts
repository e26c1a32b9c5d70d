import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { addr, HOST, LAB_CLASS, type Link, listenerName, MIRROR_CLASS, type MeshPlan, newClusterId, peerHost, planMesh, portsNeeded, sourceHost } from "../../topology/plan.ts";
import { parseTopology, type TopologySpec } from "../../topology/spec.ts";

const loadSpec = (file: string): TopologySpec =>
  parseTopology(JSON.parse(readFileSync(new URL(`../../topology/specs/${file}`, import.meta.url), "utf8")));

const portsFor = (spec: TopologySpec): number[] => Array.from({ length: portsNeeded(spec) }, (_, i) => 20000 + i);

const RUN_DIR = "/tmp/meshlab-run";

const plan = (spec: TopologySpec): MeshPlan => planMesh(spec, RUN_DIR, portsFor(spec), ["cluster-syd"]);

const allLinks = (p: MeshPlan): Link[] => p.regions.flatMap((r) => r.links);
/** The shared links (one per class and target); per-source node-to-node links are tested on their own. */
const sharedLinks = (p: MeshPlan): Link[] => allLinks(p).filter((l) => !l.source);

function onlyRegion(p: MeshPlan) {
  const r = p.regions[0];
  if (!r) throw new Error("no region in plan");
  return r;
}

function linkOf(p: MeshPlan, name: string): Link {
  const l = allLinks(p).find((x) => x.name === name);
  if (!l) throw new Error(`no link ${name}`);
  return l;
}

describe("planMesh with one-region.json (combined nodes, toxiproxy)", () => {
  const spec = loadSpec("one-region.json");
  const p = plan(spec);
  const region = onlyRegion(p);

  it("needs one port for the Toxiproxy API, two per proxied link and one per direct (lab) link", () => {
    // Per node: 3 client classes + broker + controller proxied (5 x 2) and lab direct (1); registry proxied (2); Redis (1).
    expect(portsNeeded(spec)).toBe(1 + 3 * (5 * 2 + 1) + 2 + 1);
  });

  it("uses the first port for the Toxiproxy API", () => {
    expect(p.toxiproxyApi).toEqual({ host: HOST, port: 20000 });
  });

  it("names every shared link <node>.<class> or <region>.registry", () => {
    const names = sharedLinks(p).map((l) => l.name);
    const expected = ["syd-1", "syd-2", "syd-3"].flatMap((n) => ["ato", "centrelink", "registry", "broker", "lab", "controller"].map((c) => `${n}.${c}`));
    expect(names).toEqual([...expected, "syd.registry"]);
    for (const l of sharedLinks(p)) expect(l.name).toBe(`${l.target}.${l.klass}`);
    expect(region.registry).toMatchObject({ name: "syd.registry", klass: "registry", target: "syd" });
  });

  it("gives every node its own link to each peer's broker and controller listener (itself included)", () => {
    const perSource = allLinks(p).filter((l) => l.source);
    expect(perSource).toHaveLength(3 * 3 * 2);
    for (const l of perSource) {
      expect(["broker", "controller"]).toContain(l.klass);
      expect(l.name).toBe(`${l.target}.${l.klass}.from-${l.source}`);
      const shared = linkOf(p, `${l.target}.${l.klass}`);
      // Same port and upstream as the shared link, on the source node's own loopback address.
      expect(l.upstream).toEqual(shared.upstream);
      expect(l.listen).toEqual({ host: sourceHost(Number(l.source?.slice(-1))), port: shared.listen.port });
    }
    expect(allLinks(p).filter((l) => ["ato", "centrelink", "registry", "lab"].includes(l.klass) && l.source)).toEqual([]);
  });

  it("has a loopback source address for up to 254 nodes, and says so beyond", () => {
    expect(sourceHost(254)).toBe("127.0.254.1");
    expect(() => sourceHost(255)).toThrow(/1-254 nodes/);
  });

  it("resolves each node's peer names to its own source address", () => {
    for (const [i, n] of region.nodes.entries()) {
      expect(Object.keys(n.hosts).sort()).toEqual(["syd-1", "syd-2", "syd-3"].flatMap((t) => [peerHost(t, "broker"), peerHost(t, "controller")]).sort());
      expect(new Set(Object.values(n.hosts))).toEqual(new Set([sourceHost(i + 1)]));
    }
  });

  it("proxies every link except the lab's own, which connects straight to the broker", () => {
    for (const l of allLinks(p)) {
      if (l.klass === LAB_CLASS) expect(l.listen, l.name).toEqual(l.upstream);
      else expect(l.listen.port, l.name).not.toBe(l.upstream.port);
      if (!l.source) expect(l.listen.host).toBe(HOST);
      expect(l.upstream.host).toBe(HOST);
    }
  });

  it("uses every given port exactly once", () => {
    const used = [p.toxiproxyApi?.port, p.redis?.port, ...sharedLinks(p).flatMap((l) => (l.klass === LAB_CLASS ? [l.upstream.port] : [l.upstream.port, l.listen.port]))];
    expect(new Set(used).size).toBe(used.length);
    expect([...used].sort((a, b) => (a ?? 0) - (b ?? 0))).toEqual(portsFor(spec));
  });

  it("lists every controller in voters by name, at its controller link's port; lab tools get the addresses", () => {
    const voters = ["syd-1", "syd-2", "syd-3"].map((n, i) => `${i + 1}@${n}.controller.meshlab:${linkOf(p, `${n}.controller`).listen.port}`);
    expect(region.voters).toBe(voters.join(","));
    expect(region.controllerBootstrap).toBe(["syd-1", "syd-2", "syd-3"].map((n) => addr(linkOf(p, `${n}.controller`).listen)).join(","));
  });

  it("bootstraps each client class through that class's proxies on every broker, and the lab directly", () => {
    expect(Object.keys(region.bootstrap).sort()).toEqual(["ato", "centrelink", "lab", "registry"]);
    for (const klass of ["ato", "centrelink", "registry", "lab"]) {
      const expected = ["syd-1", "syd-2", "syd-3"].map((n) => `127.0.0.1:${linkOf(p, `${n}.${klass}`).listen.port}`).join(",");
      expect(region.bootstrap[klass], klass).toBe(expected);
    }
    // The lab's bootstrap addresses are the brokers' real sockets.
    expect(region.bootstrap.lab).toBe(["syd-1", "syd-2", "syd-3"].map((n) => addr(linkOf(p, `${n}.lab`).upstream)).join(","));
  });

  it("gives each node one listener per link class: bound on the real socket, advertised at the proxy", () => {
    for (const n of region.nodes) {
      expect(n.listeners.map((l) => l.name)).toEqual(["ATO", "CENTRELINK", "REGISTRY", "REPLICATION", "LAB", "CONTROLLER"]);
      for (const l of n.listeners) {
        const link = linkOf(p, `${n.spec.id}.${l.klass}`);
        expect(l.bind).toEqual(link.upstream);
        // Node-to-node listeners by name (each node resolves it to its own link), the others at the proxy.
        expect(l.advertised).toEqual(["broker", "controller"].includes(l.klass) ? { host: peerHost(n.spec.id, l.klass), port: link.listen.port } : link.listen);
      }
    }
  });

  it("puts each node's directory under <runDir>/<region>/<node id>", () => {
    expect(region.nodes.map((n) => n.dir)).toEqual(["syd-1", "syd-2", "syd-3"].map((n) => join(RUN_DIR, "syd", n)));
    expect(region.nodes.every((n) => n.region === "syd")).toBe(true);
  });

  it("uses the given cluster id, or draws a fresh one per region", () => {
    expect(region.clusterId).toBe("cluster-syd");
    const drawn = planMesh(spec, RUN_DIR, portsFor(spec));
    expect(onlyRegion(drawn).clusterId).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });

  it("throws when given too few ports", () => {
    const few = portsFor(spec).slice(0, -1);
    expect(() => planMesh(spec, RUN_DIR, few)).toThrow(`planMesh: ran out of ports (${few.length} given, ${few.length + 1} needed)`);
    expect(() => planMesh(spec, RUN_DIR, [])).toThrow(/ran out of ports/);
  });
});

describe("planMesh without a proxy", () => {
  const proxied = loadSpec("one-region.json");
  const spec: TopologySpec = { ...proxied, proxy: "none" };
  const p = plan(spec);

  it("connects every link directly (listen == upstream) and has no Toxiproxy API", () => {
    expect(p.toxiproxyApi).toBeUndefined();
    for (const l of allLinks(p)) expect(l.listen, l.name).toEqual(l.upstream);
  });

  it("needs one port per link, fewer than with the proxy", () => {
    expect(portsNeeded(spec)).toBe(3 * 6 + 1 + 1);
    expect(portsNeeded(spec)).toBeLessThan(portsNeeded(proxied));
    const used = [...allLinks(p).map((l) => l.upstream.port), p.redis?.port];
    expect(new Set(used).size).toBe(portsNeeded(spec));
  });

  it("advertises each listener at its own bind address, with no per-source links or names", () => {
    for (const n of onlyRegion(p).nodes) for (const l of n.listeners) expect(l.advertised).toEqual(l.bind);
    expect(allLinks(p).filter((l) => l.source)).toEqual([]);
    for (const n of onlyRegion(p).nodes) expect(n.hosts).toEqual({});
  });
});

describe("planMesh with one-region-split-roles.json", () => {
  const spec = loadSpec("one-region-split-roles.json");
  const p = plan(spec);
  const region = onlyRegion(p);
  const byId = (id: string) => {
    const n = region.nodes.find((x) => x.spec.id === id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  };

  it("gives dedicated controllers only the controller listener", () => {
    for (const id of ["syd-c1", "syd-c2", "syd-c3"]) expect(byId(id).listeners.map((l) => l.klass)).toEqual(["controller"]);
  });

  it("gives dedicated brokers the client, broker and lab listeners but no controller listener", () => {
    for (const id of ["syd-1", "syd-2", "syd-3"])
      expect(byId(id).listeners.map((l) => l.klass)).toEqual(["ato", "centrelink", "registry", "broker", "lab"]);
  });

  it("lists only the controllers as voters, with their own node ids", () => {
    const voters = region.voters.split(",");
    expect(voters.map((v) => v.split("@")[0])).toEqual(["101", "102", "103"]);
    for (const [i, id] of ["syd-c1", "syd-c2", "syd-c3"].entries())
      expect(voters[i]).toBe(`${100 + i + 1}@${id}.controller.meshlab:${linkOf(p, `${id}.controller`).listen.port}`);
  });

  it("resolves on each node only the peer names it has links for: a controller never resolves a broker name", () => {
    expect(Object.keys(byId("syd-c1").hosts).sort()).toEqual(["syd-c1", "syd-c2", "syd-c3"].map((c) => `${c}.controller.meshlab`));
    expect(Object.keys(byId("syd-1").hosts)).toHaveLength(6);
  });

  it("gives controllers links to the other controllers only, and brokers links to brokers and controllers", () => {
    const from = (id: string) => allLinks(p).filter((l) => l.source === id).map((l) => l.name);
    expect(from("syd-c1")).toEqual(["syd-c1", "syd-c2", "syd-c3"].map((c) => `${c}.controller.from-syd-c1`));
    expect(from("syd-1").sort()).toEqual(
      [...["syd-1", "syd-2", "syd-3"].map((b) => `${b}.broker.from-syd-1`), ...["syd-c1", "syd-c2", "syd-c3"].map((c) => `${c}.controller.from-syd-1`)].sort(),
    );
  });

  it("bootstraps clients through the brokers only", () => {
    expect(region.bootstrap.ato?.split(",")).toEqual(["syd-1", "syd-2", "syd-3"].map((n) => addr(linkOf(p, `${n}.ato`).listen)));
  });

  it("needs exactly the ports it uses", () => {
    // 3 controllers x 2, 3 brokers x (4 proxied x 2 + lab 1), registry 2, API 1, Redis 1.
    expect(portsNeeded(spec)).toBe(3 * 2 + 3 * 9 + 2 + 1 + 1);
    expect(() => planMesh(spec, RUN_DIR, portsFor(spec))).not.toThrow();
  });
});

describe("planMesh with two regions", () => {
  const base = loadSpec("one-region.json");
  const mel = {
    name: "mel",
    nodes: [{ id: "mel-1", nodeId: 1, roles: ["broker" as const, "controller" as const], az: "az1" }],
  };
  const spec: TopologySpec = { ...base, regions: [...base.regions, mel], topics: [] };
  const p = planMesh(spec, RUN_DIR, portsFor(spec), ["c-syd", "c-mel"]);

  it("keeps each region's links, voters and cluster id to itself", () => {
    expect(p.regions.map((r) => r.clusterId)).toEqual(["c-syd", "c-mel"]);
    const melPlan = p.regions[1];
    if (!melPlan) throw new Error("no mel region");
    expect(melPlan.links.every((l) => l.target === "mel-1" || l.target === "mel")).toBe(true);
    expect(melPlan.links.filter((l) => l.source).map((l) => l.name)).toEqual(["mel-1.broker.from-mel-1", "mel-1.controller.from-mel-1"]);
    // Source addresses are unique across the mesh: mel-1 is the fourth node.
    expect(linkOf(p, "mel-1.broker.from-mel-1").listen.host).toBe(sourceHost(4));
    expect(melPlan.voters).toBe(`1@mel-1.controller.meshlab:${linkOf(p, "mel-1.controller").listen.port}`);
    expect(melPlan.registry.name).toBe("mel.registry");
  });

  it("still uses every port once across regions", () => {
    const used = allLinks(p).flatMap((l) => (l.klass === LAB_CLASS ? [l.upstream.port] : [l.upstream.port, l.listen.port]));
    expect(new Set([...used, p.toxiproxyApi?.port, p.redis?.port]).size).toBe(portsNeeded(spec));
  });
});

describe("planMesh with MirrorMaker 2 between two regions (two-region-small.json)", () => {
  const spec = loadSpec("two-region-small.json");
  const p = plan(spec);

  it("gives every broker a proxied replication link, listener MIRROR, and a replication bootstrap per region", () => {
    for (const r of p.regions) {
      const node = r.nodes[0];
      const mirror = node?.listeners.find((l) => l.klass === MIRROR_CLASS);
      expect(mirror?.name).toBe("MIRROR");
      const link = linkOf(p, `${node?.spec.id}.replication`);
      expect(link.listen.port).not.toBe(link.upstream.port);
      expect(r.bootstrap[MIRROR_CLASS]).toBe(addr(link.listen));
    }
  });

  it("keeps the mesh-wide Redis port outside every region and uses each port once", () => {
    const used = allLinks(p).flatMap((l) => (l.klass === LAB_CLASS ? [l.upstream.port] : [l.upstream.port, l.listen.port]));
    expect(p.redis).toBeDefined();
    expect(new Set([...used, p.toxiproxyApi?.port, p.redis?.port]).size).toBe(portsNeeded(spec));
  });

  it("has no replication listener without replication", () => {
    const single = plan(loadSpec("one-region.json"));
    expect(allLinks(single).some((l) => l.klass === MIRROR_CLASS)).toBe(false);
  });
});

describe("listenerName and newClusterId", () => {
  it("names the broker class REPLICATION and upper-cases the others, '-' becoming '_'", () => {
    expect(listenerName("broker")).toBe("REPLICATION");
    expect(listenerName(MIRROR_CLASS)).toBe("MIRROR");
    expect(listenerName("controller")).toBe("CONTROLLER");
    expect(listenerName("ato-batch")).toBe("ATO_BATCH");
  });

  it("draws 22-character URL-safe base64 cluster ids (16 random bytes), different each time", () => {
    const ids = Array.from({ length: 50 }, () => newClusterId());
    for (const id of ids) {
      expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
      expect(Buffer.from(id, "base64url")).toHaveLength(16);
    }
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("never starts a cluster id with '-' (kafka-storage format would read it as an option)", () => {
    // 1 in 64 random ids would start with '-'; 2000 draws make missing the case practically impossible.
    for (let i = 0; i < 2000; i++) expect(newClusterId().startsWith("-")).toBe(false);
  });
});

describe("planMesh on a placement with one address per component (the containers backend)", () => {
  const spec = loadSpec("one-region.json");
  const addresses = new Map<string, string>();
  const placement = {
    perSourceLinks: false,
    hostOf: (c: string) => addresses.get(c) ?? (addresses.set(c, `10.89.7.${10 + addresses.size}`).get(c) as string),
  };
  const p = planMesh(spec, RUN_DIR, portsFor(spec), ["cluster-syd"], placement);
  const region = onlyRegion(p);
  const at = (component: string) => addresses.get(component);

  it("puts every proxied link's listener on Toxiproxy's address and its upstream on the target's own", () => {
    expect(p.perSourceLinks).toBe(false);
    expect(p.toxiproxyApi?.host).toBe(at("toxiproxy"));
    expect(p.redis?.host).toBe(at("redis"));
    for (const l of allLinks(p).filter((x) => x.klass !== LAB_CLASS)) expect(l.listen.host, l.name).toBe(at("toxiproxy"));
    for (const n of region.nodes) for (const l of n.listeners) expect(l.bind.host, `${n.spec.id} ${l.name}`).toBe(at(n.spec.id));
    expect(region.registry.upstream.host).toBe(at("registry:syd"));
    expect(new Set(addresses.values()).size).toBe(addresses.size);
  });

  it("has no per-source links; every node resolves its peers' names to the shared links on Toxiproxy", () => {
    expect(allLinks(p).filter((l) => l.source)).toEqual([]);
    for (const n of region.nodes) {
      expect(Object.keys(n.hosts).sort()).toEqual(region.nodes.flatMap((m) => ["broker", "controller"].map((k) => peerHost(m.spec.id, k))).sort());
      expect(new Set(Object.values(n.hosts))).toEqual(new Set([at("toxiproxy")]));
    }
  });

  it("lets the lab reach each broker directly on its own address (the lab listener is not proxied)", () => {
    expect(region.bootstrap[LAB_CLASS]?.split(",")).toEqual(region.nodes.map((n) => addr(n.listeners.find((l) => l.klass === LAB_CLASS)?.bind ?? { host: "", port: 0 })));
    expect(region.bootstrap[LAB_CLASS]).not.toContain(HOST);
  });
});
