import { randomBytes } from "node:crypto";
import { createServer } from "node:net";
import { join } from "node:path";
import { brokersOf, controllersOf, type NodeSpec, type TopologySpec } from "./spec.ts";

export const HOST = "127.0.0.1";

export interface Endpoint {
  host: string;
  port: number;
}
export const addr = (e: Endpoint): string => `${e.host}:${e.port}`;

/**
 * A link is one class of traffic towards one target, e.g. `syd-2.centrelink` (Centrelink clients to broker
 * syd-2), `syd-2.broker` (other brokers replicating from syd-2), `syd-1.controller` (anyone talking to
 * controller syd-1), `syd.registry` (clients to the region's schema registry). With a proxy, each link is one
 * Toxiproxy proxy of the same name.
 */
export interface Link {
  name: string;
  klass: string;
  target: string;
  /** Where clients connect (the proxy, or the target itself without one). */
  listen: Endpoint;
  /** The real socket of the target. */
  upstream: Endpoint;
  /**
   * The one node whose traffic takes this link (a per-source link of a peer class: `syd-2.broker.from-syd-1`, or
   * `syd-2.controller.from-syd-2` for a node reaching its own controller); absent when anyone may (clients, lab
   * tools).
   */
  source?: string;
}

export interface ListenerPlan {
  /** Kafka listener name, e.g. `ATO`, `REPLICATION`, `CONTROLLER`. */
  name: string;
  klass: string;
  bind: Endpoint;
  advertised: Endpoint;
}

export interface NodePlan {
  spec: NodeSpec;
  region: string;
  dir: string;
  listeners: ListenerPlan[];
  /**
   * The node's own name resolution (a JVM hosts file, `-Djdk.net.hosts.file`): every peer's `broker` and
   * `controller` names resolve to this node's source address, so its traffic to a peer takes the per-source link
   * meant for it. Empty without a proxy.
   */
  hosts: Record<string, string>;
}

export interface RegionPlan {
  name: string;
  clusterId: string;
  nodes: NodePlan[];
  links: Link[];
  /** `controller.quorum.voters`: by name (`<node>.controller.meshlab`), so each node takes its own links. */
  voters: string;
  /** Bootstrap servers per client class, through that class's links (and `lab`, direct). */
  bootstrap: Record<string, string>;
  controllerBootstrap: string;
  registry: Link;
}

export interface MeshPlan {
  spec: TopologySpec;
  /**
   * Whether node-to-node traffic takes per-source links (`<target>.<class>.from-<source>`), which needs one source
   * address per node on the proxy's host (the local loopback has them; a container has one address).
   */
  perSourceLinks: boolean;
  regions: RegionPlan[];
  toxiproxyApi: Endpoint | undefined;
  /** The mesh-wide dedupe store (Redis), outside every region. */
  redis: Endpoint | undefined;
}

/**
 * Node-to-node classes: brokers replicating from brokers, and nodes talking to controllers. With a proxy, each
 * node reaches a peer through a link of its own (`<target>.<class>.from-<source>`), so a fault can drop traffic
 * between two nodes in both directions: a real partition, not only traffic towards the isolated side.
 */
export const PEER_CLASSES = ["broker", "controller"] as const;
const isPeer = (klass: string): boolean => (PEER_CLASSES as readonly string[]).includes(klass);

/** The name a peer-class listener is advertised under (resolved per node by its hosts file). */
export const peerHost = (target: string, klass: string): string => `${target}.${klass}.meshlab`;

/**
 * A node's source address on the loopback network: 127.0.<n>.1 for the n-th node of the mesh (1-based). The
 * per-source links of its peers listen there, on the same ports as their shared links on 127.0.0.1.
 */
export const sourceHost = (n: number): string => {
  if (n < 1 || n > 254) throw new Error(`sourceHost: node ${n} of the mesh has no loopback source address (1-254 nodes)`);
  return `127.0.${n}.1`;
};

/**
 * Where the mesh's components live, as addresses: a backend's answer to "which host does this component listen
 * on". Components are named `<node id>`, `toxiproxy`, `redis`, `registry:<region>`, `mirrormaker:<region>`.
 */
export interface Placement {
  hostOf(component: string): string;
  /** Whether one host can hold a source address per node (loopback 127.0.<n>.1), as per-source links need. */
  perSourceLinks: boolean;
}

/** Every component on this machine's loopback. */
export const LOCAL_PLACEMENT: Placement = { hostOf: () => HOST, perSourceLinks: true };

/** Kafka listener name of a link class. */
export const listenerName = (klass: string): string =>
  klass === "broker" ? "REPLICATION" : klass === MIRROR_CLASS ? "MIRROR" : klass.toUpperCase().replace(/-/g, "_");

/**
 * Region-to-region traffic: MirrorMaker 2 reaches the other region's brokers through these links (`<node>.replication`),
 * so a fault can slow or cut replication. Its connection to its own region is local (the `lab` listener), as MM2
 * runs next to the cluster it writes to.
 */
export const MIRROR_CLASS = "replication";

/**
 * A random KRaft cluster id: 16 bytes, URL-safe base64 without padding, as `kafka-storage random-uuid` prints.
 * Like Kafka's Uuid.randomUuid it never starts with '-', which the storage tool would read as an option.
 */
export function newClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString("base64url");
    if (!id.startsWith("-")) return id;
  }
}

/**
 * Ports below the kernel's ephemeral range (32768-60999 by default): outgoing connections never take them, so a
 * node killed and restarted (a region failover) still finds its port free, which a port from the ephemeral range
 * often is not by then.
 */
export const PORT_RANGE = { from: 20_000, to: 32_000 };

/**
 * Ports this process handed out. A port is free when probed and bound only later, by a process started after
 * other allocations (the mesh's plan, then SPIRE's own ports): without this, two of them could get the same
 * port (seen: SPIRE's server and a broker's ATO listener).
 */
const handedOut = new Set<number>();

/** Finds `n` distinct free TCP ports on the loopback interface in PORT_RANGE (random probes), none handed out before. */
export async function freePorts(n: number): Promise<number[]> {
  // A long process (a suite, `--repeat`) stands meshes up one after another: forget long-gone ones' ports.
  if (handedOut.size > (PORT_RANGE.to - PORT_RANGE.from) / 2) handedOut.clear();
  const ports = new Set<number>();
  for (let tries = 0; ports.size < n; tries++) {
    if (tries > n * 50) throw new Error(`freePorts: found only ${ports.size} of ${n} free ports in ${PORT_RANGE.from}-${PORT_RANGE.to}`);
    const port = PORT_RANGE.from + Math.floor(Math.random() * (PORT_RANGE.to - PORT_RANGE.from));
    if (ports.has(port) || handedOut.has(port)) continue;
    if (await isFree(port)) ports.add(port);
  }
  for (const p of ports) handedOut.add(p);
  return [...ports];
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(false));
    s.listen(port, HOST, () => s.close(() => resolve(true)));
  });
}

/**
 * The lab's own control traffic (admin, readiness, metadata) has a listener that bypasses the proxies, so no
 * fault on a link can blind the lab to what the cluster is doing.
 */
export const LAB_CLASS = "lab";

const proxied = (spec: TopologySpec, klass: string): boolean => spec.proxy === "toxiproxy" && klass !== LAB_CLASS;

/** How many ports `planMesh` takes from the allocator. */
export function portsNeeded(spec: TopologySpec): number {
  let n = (spec.proxy === "toxiproxy" ? 1 : 0) + (spec.dedupeStore === "redis" ? 1 : 0);
  for (const r of spec.regions) {
    for (const node of r.nodes) for (const c of classesOf(spec, node)) n += proxied(spec, c) ? 2 : 1;
    n += proxied(spec, "registry") ? 2 : 1;
  }
  return n;
}

function classesOf(spec: TopologySpec, node: NodeSpec): string[] {
  const classes: string[] = [];
  if (node.roles.includes("broker")) classes.push(...spec.clientClasses, "broker", ...(spec.replication ? [MIRROR_CLASS] : []), LAB_CLASS);
  if (node.roles.includes("controller")) classes.push("controller");
  return classes;
}

/**
 * Decides every address of the mesh: one listener per link class on each node, each advertised through its own
 * proxy. Pure given the ports, so it is unit-tested without starting anything.
 */
export function planMesh(spec: TopologySpec, runDir: string, ports: number[], clusterIds?: string[], placement: Placement = LOCAL_PLACEMENT): MeshPlan {
  let next = 0;
  const take = (component: string): Endpoint => {
    const port = ports[next++];
    if (port === undefined) throw new Error(`planMesh: ran out of ports (${ports.length} given, ${portsNeeded(spec)} needed)`);
    return { host: placement.hostOf(component), port };
  };
  const toxiproxyApi = spec.proxy === "toxiproxy" ? take("toxiproxy") : undefined;
  const redis = spec.dedupeStore === "redis" ? take("redis") : undefined;
  const link = (klass: string, target: string, component = target): Link => {
    const upstream = take(component);
    return { name: `${target}.${klass}`, klass, target, upstream, listen: proxied(spec, klass) ? take("toxiproxy") : upstream };
  };

  let nodeSeq = 0;
  const regions = spec.regions.map((r, ri): RegionPlan => {
    const links: Link[] = [];
    const source = new Map(r.nodes.map((n) => [n.id, sourceHost(++nodeSeq)]));
    const nodes = r.nodes.map((node): NodePlan => {
      const listeners = classesOf(spec, node).map((klass): ListenerPlan => {
        const l = link(klass, node.id);
        links.push(l);
        const peer = isPeer(klass) && proxied(spec, klass);
        return { name: listenerName(klass), klass, bind: l.upstream, advertised: peer ? { host: peerHost(node.id, klass), port: l.listen.port } : l.listen };
      });
      return { spec: node, region: r.name, dir: join(runDir, r.name, node.id), listeners, hosts: {} };
    });
    // Per-source links of the peer classes: brokers fetch from brokers; every node talks to controllers.
    for (const shared of [...links]) {
      if (!isPeer(shared.klass) || !proxied(spec, shared.klass)) continue;
      if (!placement.perSourceLinks) {
        // One address for the proxy: every node resolves a peer's names to the shared link.
        for (const n of nodes) n.hosts[peerHost(shared.target, shared.klass)] = shared.listen.host;
        continue;
      }
      for (const from of r.nodes) {
        // A node reaches its own controller through its own link too: a partition never cuts a node off itself.
        if (shared.klass === "broker" && !from.roles.includes("broker")) continue;
        links.push({ ...shared, name: `${shared.name}.from-${from.id}`, source: from.id, listen: { host: source.get(from.id) ?? HOST, port: shared.listen.port } });
      }
    }
    // Each node resolves exactly the peer names it has a link of its own for.
    if (placement.perSourceLinks) for (const n of nodes) for (const l of links) if (l.source === n.spec.id) n.hosts[peerHost(l.target, l.klass)] = l.listen.host;
    const registry = link("registry", r.name, `registry:${r.name}`);
    const via = (klass: string, ns: NodeSpec[]) =>
      ns.map((n) => links.find((l) => l.target === n.id && l.klass === klass && !l.source)).filter((l): l is Link => !!l);
    const controllerLinks = via("controller", controllersOf(r));
    const bootstrap = Object.fromEntries(
      [...spec.clientClasses, ...(spec.replication ? [MIRROR_CLASS] : []), LAB_CLASS].map((c) => [c, via(c, brokersOf(r)).map((l) => addr(l.listen)).join(",")]),
    );
    return {
      name: r.name,
      clusterId: clusterIds?.[ri] ?? newClusterId(),
      nodes,
      links: [...links, registry],
      voters: controllerLinks
        .map((l) => `${r.nodes.find((n) => n.id === l.target)?.nodeId}@${proxied(spec, "controller") ? `${peerHost(l.target, "controller")}:${l.listen.port}` : addr(l.listen)}`)
        .join(","),
      bootstrap,
      controllerBootstrap: controllerLinks.map((l) => addr(l.listen)).join(","),
      registry,
    };
  });
  return { spec, perSourceLinks: placement.perSourceLinks, regions, toxiproxyApi, redis };
}
