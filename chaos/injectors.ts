import { connect } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { type ProcessHandle, waitUntil } from "../lab/proc.ts";
import { runKafkaTool } from "../topology/kafka/tools.ts";
import type { KafkaNode } from "../topology/kafka/node.ts";
import type { StartedRegion } from "../topology/local/mesh.ts";
import { addr, LAB_CLASS, type Link, PEER_CLASSES, type RegionPlan } from "../topology/plan.ts";
import { fillWithRecords } from "./ballast.ts";
import { slowDependency } from "./dependency.ts";
import { fillDisk } from "./disk.ts";
import { injectForgedEvents } from "./forged.ts";
import { attestationFailure, spireServerDown, svidExpiry } from "./identity.ts";
import { injectPoisonPills, PillLog } from "./poison.ts";
import { injectRogueWorkload } from "./rogue.ts";
import { rollingUpgrade } from "./upgrade.ts";
import type { Injection, Injector } from "./schedule.ts";
import { coordinatorPartition, type Resolved, resolveSelector, seededRandom, type TargetView } from "./selectors.ts";
import type { FaultSpec } from "./spec.ts";

/**
 * The Centrelink engines as chaos sees them (opt-in: a run without engines offers no consumer faults). Each
 * instance is a child process whose consumer talks through one client class (`centrelink`, or its own
 * `centrelink-<n>` class when the topology has one).
 */
export interface ConsumerControl {
  readonly groupId: string;
  instances(): string[];
  process(instance: string): ProcessHandle | undefined;
  consumerClass(instance: string): string;
  /** Starts a stopped or killed instance again with its configuration. */
  restart(instance: string): Promise<void>;
  /** A new member of the group (a join); resolves with its name. */
  add(): Promise<string>;
  /** Stops a member gracefully (a leave). */
  remove(instance: string): Promise<void>;
}

/** What the injectors act on: the mesh's regions (any number) and Toxiproxy, and optionally the consumer engines. */
export interface ChaosContext {
  regions: StartedRegion[];
  toxiproxyApi?: string;
  consumers?: ConsumerControl;
  seed: number;
  /** Where poison-pill faults record the pills they wrote (the run's dead-letter audit reads it). */
  pills?: PillLog;
  /** Where forged-signature faults record what they wrote. */
  forged?: PillLog;
  /** Encoded assessments outside the run's stream, for faults that write events nobody asked for. */
  assessments?: AssessmentSource;
  /** The file through which `slow-dependency` slows the engines' debt lookups (generators/dependency.ts). */
  dependencyFaultFile?: string;
}

/** Well-formed, encoded assessments nobody asked for, and the topic they belong on. */
export interface AssessmentSource {
  topic: string;
  next(): Promise<{ key: string; value: Buffer }>;
}

class Toxics {
  readonly #api: string;
  constructor(api: string | undefined) {
    if (!api) throw new Error("network faults need the mesh's Toxiproxy (topology proxy: toxiproxy)");
    this.#api = `http://${api}`;
  }
  async #call(method: string, path: string, body?: unknown): Promise<Response> {
    const r = await fetch(`${this.#api}${path}`, { method, headers: { "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
    if (!r.ok && !(method === "DELETE" && r.status === 404)) throw new Error(`toxiproxy ${method} ${path}: ${r.status} ${await r.text()}`);
    return r;
  }
  async proxies(): Promise<string[]> {
    return Object.keys((await (await this.#call("GET", "/proxies")).json()) as Record<string, unknown>);
  }
  add(proxy: string, toxic: { name: string; type: string; stream: "upstream" | "downstream"; attributes: Record<string, number> }): Promise<Response> {
    return this.#call("POST", `/proxies/${proxy}/toxics`, { ...toxic, toxicity: 1 });
  }
  remove(proxy: string, name: string): Promise<Response> {
    return this.#call("DELETE", `/proxies/${proxy}/toxics/${name}`);
  }
  enable(proxy: string, enabled: boolean): Promise<Response> {
    return this.#call("POST", `/proxies/${proxy}`, { enabled });
  }
}

let toxicSeq = 0;

/**
 * Puts the same toxic on every given link; the heal removes exactly what was added, also when only some of the
 * additions succeeded. `cut` disables the proxies (connections are closed, new ones refused) instead.
 */
async function degradeLinks(toxics: Toxics, links: string[], type: string, attributes: Record<string, number>, streams: ("upstream" | "downstream")[]): Promise<Injection> {
  const known = new Set(await toxics.proxies());
  const missing = links.filter((l) => !known.has(l));
  if (missing.length) throw new Error(`no such link(s): ${missing.join(", ")} (the mesh has ${[...known].sort().join(", ")})`);
  const added: { proxy: string; name: string }[] = [];
  const disabled: string[] = [];
  const heal = async () => {
    await Promise.all([...added.map((a) => toxics.remove(a.proxy, a.name)), ...disabled.map((p) => toxics.enable(p, true))]);
    return undefined;
  };
  try {
    if (type === "cut") {
      for (const l of links) {
        await toxics.enable(l, false);
        disabled.push(l);
      }
    } else {
      const name = `meshlab-${type}-${++toxicSeq}`;
      for (const l of links)
        for (const stream of streams) {
          await toxics.add(l, { name: `${name}-${stream}`, type, stream, attributes });
          added.push({ proxy: l, name: `${name}-${stream}` });
        }
    }
  } catch (e) {
    await heal().catch(() => {});
    throw e;
  }
  return { target: links.join(","), details: { links, toxic: type, attributes }, heal };
}

const TOXIC: Record<string, { type: string; attributes: (f: Extract<FaultSpec, { links: string[] }>) => Record<string, number> }> = {
  latency: { type: "latency", attributes: (f) => ({ latency: f.latencyMs, jitter: f.jitterMs }) },
  bandwidth: { type: "bandwidth", attributes: (f) => ({ rate: f.rateKBps }) },
  timeout: { type: "timeout", attributes: (f) => ({ timeout: f.timeoutMs }) },
  reset: { type: "reset_peer", attributes: (f) => ({ timeout: f.timeoutMs }) },
  slicer: { type: "slicer", attributes: (f) => ({ average_size: f.avgBytes, size_variation: Math.floor(f.avgBytes / 2), delay: f.delayUs }) },
  cut: { type: "cut", attributes: () => ({}) },
};

/**
 * Every proxied link of one class towards one target: the shared one (clients, lab tools) and, for node-to-node
 * classes, one per source node (topology/plan.ts PEER_CLASSES). For a class the target has not it returns the
 * name `<target>.<class>`, which the injection then refuses, listing the links that exist.
 */
export function linksTo(ctx: Pick<ChaosContext, "regions">, target: string, klass: string): string[] {
  const names = ctx.regions.flatMap((g) => g.plan.links).filter((l) => l.target === target && l.klass === klass).map((l) => l.name);
  return names.length ? names : [`${target}.${klass}`]; // an unknown link: degradeLinks names what exists
}

/** Whether a partition isolating `isolated` drops this link: exactly one end is isolated (shared links: the target). */
export function crossesPartition(l: Link, isolated: Set<string>): boolean {
  if (l.klass === LAB_CLASS || l.listen.port === l.upstream.port) return false;
  return l.source === undefined ? isolated.has(l.target) : isolated.has(l.target) !== isolated.has(l.source);
}

/**
 * The links a partition isolating `isolated` drops. Node-to-node traffic can only be cut both ways with per-source
 * links; a mesh without them (the containers backend: one address per container) is refused rather than half cut.
 */
export function partitionLinks(regions: Pick<RegionPlan, "links">[], isolated: Set<string>): Link[] {
  const links = regions.flatMap((g) => g.links);
  const peer = links.some((l) => (PEER_CLASSES as readonly string[]).includes(l.klass) && l.listen.port !== l.upstream.port);
  if (peer && !links.some((l) => l.source))
    throw new Error("partition: this mesh has no per-source links (its backend gives each node one address), so traffic between nodes cannot be cut in both directions; run it on the local backend");
  return links.filter((l) => crossesPartition(l, isolated));
}

/** The view selectors resolve against: the live mesh, asked at injection time. */
export function targetView(ctx: ChaosContext): TargetView {
  const region = (name?: string): StartedRegion => {
    const r = name ? ctx.regions.find((x) => x.plan.name === name) : ctx.regions[0];
    if (!r) throw new Error(`no region ${name ?? ""}`);
    return r;
  };
  const topicOf = async (topic: string, regionName?: string) => {
    const admin = await region(regionName).admin();
    try {
      const t = await admin.topic(topic);
      if (!t) throw new Error(`no topic ${topic}`);
      return t;
    } finally {
      await admin.close();
    }
  };
  const nodeIdToId = (r: StartedRegion, nodeId: number): string => {
    const n = r.nodes.find((x) => x.plan.spec.nodeId === nodeId);
    if (!n) throw new Error(`no node with node.id ${nodeId} in region ${r.plan.name}`);
    return n.id;
  };
  return {
    regions: ctx.regions.map((r) => ({ name: r.plan.name, nodes: r.nodes.map((n) => ({ id: n.id, nodeId: n.plan.spec.nodeId, roles: n.plan.spec.roles })) })),
    consumers: ctx.consumers?.instances() ?? [],
    async partitionLeader(topic, partition, regionName) {
      const t = await topicOf(topic, regionName);
      const p = t.partitions.find((x) => x.id === partition);
      if (!p || p.leader < 0) throw new Error(`${topic}-${partition} has no leader`);
      return nodeIdToId(region(regionName), p.leader);
    },
    async partitionCount(topic, regionName) {
      return (await topicOf(topic, regionName)).partitions.length;
    },
    async quorumLeader(regionName) {
      const r = region(regionName);
      // KRaft brokers report a random broker as "controller" in metadata, so ask the quorum itself.
      const out = await runKafkaTool("kafka-metadata-quorum", { bootstrap: r.bootstrap(LAB_CLASS), tls: r.tls("lab") }, "org.apache.kafka.tools.MetadataQuorumCommand", ["describe", "--status"], {
        hint: "the quorum may have no leader right now",
        timeoutMs: 15_000,
      });
      const m = /LeaderId:\s*(\d+)/.exec(out);
      if (!m) throw new Error(`no LeaderId in: ${out.slice(0, 300)}`);
      return nodeIdToId(r, Number(m[1]));
    },
  };
}

/** The group coordinator of a consumer group, as a node id of the region. */
export async function coordinatorOf(region: StartedRegion, groupId: string): Promise<string> {
  const admin = await region.admin();
  try {
    const g = await admin.describeGroup(groupId);
    let nodeId = g.coordinator;
    if (nodeId === undefined) {
      const offsets = await admin.topic("__consumer_offsets");
      nodeId = offsets?.partitions.find((p) => p.id === coordinatorPartition(groupId, offsets.partitions.length))?.leader;
    }
    const n = region.nodes.find((x) => x.plan.spec.nodeId === nodeId);
    if (!n) throw new Error(`could not find the coordinator of group ${groupId}`);
    return n.id;
  } finally {
    await admin.close();
  }
}

function nodesById(ctx: ChaosContext, ids: string[]): { node: KafkaNode; region: StartedRegion }[] {
  return ids.map((id) => {
    for (const region of ctx.regions) {
      const node = region.nodes.find((n) => n.id === id);
      if (node) return { node, region };
    }
    throw new Error(`no node ${id}`);
  });
}

/** Whether something accepts TCP connections on `host:port` now. */
const accepts = (host: string, port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const s = connect({ host, port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.once("connect", () => done(true));
    s.once("error", () => done(false));
    s.setTimeout(1_000, () => done(false));
  });

/**
 * Waits until a (re)started node serves again: its own lab listener accepts connections (Kafka opens its data
 * listeners last in start-up) and the cluster metadata lists it. The metadata alone can still list a broker that
 * died seconds ago, until its session expires. Fails at once, with the node's log tail, if its process exits
 * meanwhile (a broker on a full disk can die loading its logs).
 */
async function waitForBroker(region: StartedRegion, node: KafkaNode, timeoutMs = 90_000): Promise<number> {
  const t0 = Date.now();
  const own = node.plan.listeners.find((l) => l.klass === LAB_CLASS)?.bind;
  const admin = await region.admin();
  try {
    await waitUntil(
      `${node.id} back in the cluster`,
      async () => ((!own || (await accepts(own.host, own.port))) && (await admin.brokers().catch(() => [] as number[])).includes(node.plan.spec.nodeId) ? true : undefined),
      { timeoutMs, intervalMs: 300, process: node.process, hint: `read ${node.logFile}` },
    );
    return Date.now() - t0;
  } finally {
    await admin.close();
  }
}

/** Starts a node that is down (a disk fault's log-dir failure) and waits until it is back; undefined if it was up. */
async function restartIfDown(node: KafkaNode, region: StartedRegion): Promise<number | undefined> {
  if (node.running()) return undefined;
  await startAgain(node);
  return waitForBroker(region, node);
}

/** Starts a node again once its killed process is really gone (so the restart reuses the same log dir). */
async function startAgain(node: KafkaNode): Promise<void> {
  if (node.process && node.running()) await Promise.race([node.process.exited, sleep(10_000)]);
  node.start();
}

function consumersOf(ctx: ChaosContext): ConsumerControl {
  if (!ctx.consumers) throw new Error("this run has no Centrelink consumer engines to target");
  return ctx.consumers;
}

async function processFault(ctx: ChaosContext, f: FaultSpec, r: Resolved): Promise<Injection> {
  const target = r.ids.join(",");
  if (r.kind === "consumers") {
    const c = consumersOf(ctx);
    const procs = r.ids.map((id) => {
      const p = c.process(id);
      if (!p) throw new Error(`consumer ${id} has no process`);
      return { id, p };
    });
    if (f.kind === "pause") {
      for (const { p } of procs) p.signal("SIGSTOP");
      return {
        target,
        heal: async () => {
          for (const { p } of procs) p.signal("SIGCONT");
          return undefined;
        },
      };
    }
    if (f.kind === "kill") for (const { p } of procs) p.signal("SIGKILL");
    else await Promise.all(procs.map(({ p }) => p.stop()));
    const back = async () => {
      for (const { id } of procs) await c.restart(id);
      return { restarted: r.ids };
    };
    if (f.kind === "restart") return { target, details: await back(), heal: async () => undefined };
    return { target, heal: back };
  }
  const nodes = nodesById(ctx, r.ids);
  if (f.kind === "pause") {
    for (const { node } of nodes) node.pause();
    return {
      target,
      heal: async () => {
        for (const { node } of nodes) node.resume();
        return undefined;
      },
    };
  }
  if (f.kind === "kill") for (const { node } of nodes) node.kill();
  else await Promise.all(nodes.map(({ node }) => node.stop()));
  const back = async () => {
    for (const { node } of nodes) await startAgain(node);
    const rejoinMs: Record<string, number> = {};
    for (const { node, region } of nodes) rejoinMs[node.id] = await waitForBroker(region, node);
    return { rejoinMs };
  };
  if (f.kind === "restart") return { target, details: await back(), heal: async () => undefined };
  return { target, heal: back };
}

/**
 * Restarts the nodes one at a time, each after the previous one is back in the cluster and `intervalMs` passed.
 * The round is the fault: the heal waits until every node went through it (a half-restarted region is no state
 * to leave a mesh in), and starts any node still down.
 */
function rollingRestart(ctx: ChaosContext, ids: string[], intervalMs: number): Injection {
  const nodes = nodesById(ctx, ids);
  const steps: { node: string; downMs: number; rejoinMs: number }[] = [];
  const loop = (async () => {
    for (const [i, { node, region }] of nodes.entries()) {
      if (i > 0) await sleep(intervalMs);
      const t0 = Date.now();
      await node.stop();
      node.start();
      const rejoinMs = await waitForBroker(region, node);
      steps.push({ node: node.id, downMs: Date.now() - t0, rejoinMs });
    }
  })();
  loop.catch(() => {});
  return {
    target: ids.join(","),
    heal: async () => {
      const err = await loop.then(() => undefined, (e: unknown) => e);
      for (const { node } of nodes) if (!node.running()) await startAgain(node);
      if (err) throw err;
      return { steps };
    },
  };
}

/**
 * Cuts (or throttles) the link between consumer instances and their group coordinator. Heartbeats, joins and
 * commits go to the coordinator; librdkafka keeps a separate connection for it, but that connection goes through
 * the same proxy as the instance's fetches from the coordinator broker (both use the broker's one advertised
 * address), so those fetches are hit too. Fetches from every other broker, and the engines' response producers
 * (class `centrelink`), are untouched when the instances consume through their own `centrelink-<n>` classes.
 */
async function heartbeatLoss(ctx: ChaosContext, f: Extract<FaultSpec, { kind: "heartbeat-loss" }>, r: Resolved): Promise<Injection> {
  const c = consumersOf(ctx);
  const region = ctx.regions[0];
  if (!region) throw new Error("no region");
  const classes = [...new Set(r.ids.map((id) => c.consumerClass(id)))];
  const others = c.instances().filter((i) => !r.ids.includes(i));
  const shared = others.filter((o) => classes.includes(c.consumerClass(o)));
  if (shared.length)
    throw new Error(
      `instances ${r.ids.join(",")} share client class ${classes.join(",")} with ${shared.join(",")}: heartbeat loss for some members needs per-instance classes (topology one-region-chaos)`,
    );
  const coordinator = await coordinatorOf(region, f.group);
  const links = classes.map((k) => `${coordinator}.${k}`);
  const inj =
    f.mode === "cut"
      ? await degradeLinks(new Toxics(ctx.toxiproxyApi), links, "timeout", { timeout: 0 }, ["upstream", "downstream"])
      : await degradeLinks(new Toxics(ctx.toxiproxyApi), links, "latency", { latency: f.latencyMs, jitter: 0 }, ["upstream", "downstream"]);
  return { ...inj, target: `${r.ids.join(",")} -> coordinator ${coordinator}`, details: { ...inj.details, coordinator, instances: r.ids } };
}

/** A process with another workload's SVID produces assessments through the ATO listener; the ACLs must deny it. */
function rogueWorkload(ctx: ChaosContext, region: StartedRegion | undefined, f: Extract<FaultSpec, { kind: "rogue-workload" }>): Promise<Injection> {
  const tls = region?.tls(f.identity);
  if (!region || !tls) throw new Error("rogue-workload: the mesh has no identities (security plaintext); run it with --security mtls");
  if (!ctx.assessments) throw new Error("rogue-workload: no clearance flow to take assessments from");
  return injectRogueWorkload({ bootstrap: region.bootstrap("ato"), tls, identity: f.identity, assessments: ctx.assessments, count: f.count, durationMs: f.duration });
}

/** Forged assessments through the region's lab listener; only an mTLS mesh has signatures to forge. */
function forgedSignature(ctx: ChaosContext, region: StartedRegion | undefined, f: Extract<FaultSpec, { kind: "forged-signature" }>): Promise<Injection> {
  const [lab, ato, impostor] = [region?.tls("lab"), region?.tls("ato-tax-service"), region?.tls("centrelink-engine")];
  if (!region || !lab || !ato || !impostor) throw new Error("forged-signature: the mesh has no signed events (security plaintext); run it with --security mtls");
  if (!ctx.assessments) throw new Error("forged-signature: no clearance flow to forge assessments of");
  return injectForgedEvents({ bootstrap: region.bootstrap(LAB_CLASS), tls: lab, ato, impostor, assessments: ctx.assessments, count: f.count, durationMs: f.duration, log: ctx.forged ?? new PillLog() });
}

/** Members join and leave on a schedule: every `everyMs`, `instances` extra members join, and at the next tick leave. */
function rebalanceStorm(ctx: ChaosContext, f: Extract<FaultSpec, { kind: "rebalance-storm" }>): Injection {
  const c = consumersOf(ctx);
  const extra: string[] = [];
  let joins = 0;
  let leaves = 0;
  let stopping = false;
  const loop = (async () => {
    while (!stopping) {
      if (extra.length === 0) {
        for (let i = 0; i < f.instances && !stopping; i++) {
          extra.push(await c.add());
          joins++;
        }
      } else {
        while (extra.length) {
          await c.remove(extra.pop() as string);
          leaves++;
        }
      }
      const until = Date.now() + f.everyMs;
      while (!stopping && Date.now() < until) await sleep(Math.min(200, until - Date.now()));
    }
  })();
  loop.catch(() => {});
  return {
    target: `${c.groupId} (+${f.instances} member(s) every ${f.everyMs} ms)`,
    heal: async () => {
      stopping = true;
      const err = await loop.then(() => undefined, (e: unknown) => e);
      while (extra.length) {
        await c.remove(extra.pop() as string);
        leaves++;
      }
      if (err) throw err;
      return { joins, leaves };
    },
  };
}

const IDENTITY_FAULTS = { "attestation-failure": attestationFailure, "svid-expiry": svidExpiry, "spire-server-down": spireServerDown } as const;

/** The injector for a context: resolves the fault's selector now and applies the fault to what it found. */
export function createInjector(ctx: ChaosContext): Injector {
  const random = seededRandom(ctx.seed);
  return async (f: FaultSpec): Promise<Injection> => {
    const r = await resolveSelector(f.target, targetView(ctx), random);
    switch (f.kind) {
      case "latency":
      case "bandwidth":
      case "timeout":
      case "reset":
      case "slicer":
      case "cut": {
        const t = TOXIC[f.kind];
        if (!t) throw new Error(`no toxic for ${f.kind}`);
        const links = r.ids.flatMap((id) => f.links.flatMap((k) => linksTo(ctx, id, k)));
        const streams = f.direction === "both" ? (["upstream", "downstream"] as const) : ([f.direction] as const);
        return degradeLinks(new Toxics(ctx.toxiproxyApi), links, t.type, t.attributes(f), [...streams]);
      }
      case "partition": {
        // Both directions between the isolated nodes and everyone else drop their packets: client links towards
        // them, and each node-to-node link (one per source and target) that crosses the cut. Links inside either
        // side, and the lab's own listener, are untouched.
        const links = partitionLinks(ctx.regions.map((g) => g.plan), new Set(r.ids));
        const inj = await degradeLinks(new Toxics(ctx.toxiproxyApi), links.map((l) => l.name), "timeout", { timeout: 0 }, ["upstream", "downstream"]);
        return { ...inj, target: r.ids.join(","), details: { ...inj.details, isolated: r.ids, addresses: links.map((l) => addr(l.listen)) } };
      }
      case "kill":
      case "stop":
      case "restart":
      case "pause":
        return processFault(ctx, f, r);
      case "rolling-restart":
        return rollingRestart(ctx, r.ids, f.intervalMs);
      case "rolling-upgrade":
        return rollingUpgrade(nodesById(ctx, r.ids), f, (region, node) => waitForBroker(region, node));
      case "heartbeat-loss":
        return heartbeatLoss(ctx, f, r);
      case "rebalance-storm":
        return rebalanceStorm(ctx, f);
      case "poison-pill": {
        // The pills go to the topic in the region of the (first) selected node, through its lab listener.
        const region = nodesById(ctx, r.ids)[0]?.region ?? ctx.regions[0];
        if (!region) throw new Error("poison-pill: no region to write to");
        return injectPoisonPills({ bootstrap: region.bootstrap(LAB_CLASS), tls: region.tls("lab"), signWith: region.tls("ato-tax-service"), topic: f.topic, count: f.count, durationMs: f.duration, log: ctx.pills ?? new PillLog() });
      }
      case "slow-dependency":
        return slowDependency(ctx.dependencyFaultFile, f);
      case "rogue-workload":
        return rogueWorkload(ctx, nodesById(ctx, r.ids)[0]?.region ?? ctx.regions[0], f);
      case "forged-signature":
        return forgedSignature(ctx, nodesById(ctx, r.ids)[0]?.region ?? ctx.regions[0], f);
      case "attestation-failure":
      case "svid-expiry":
      case "spire-server-down": {
        const region = nodesById(ctx, r.ids)[0]?.region ?? ctx.regions[0];
        if (!region) throw new Error(`${f.kind}: no region`);
        return IDENTITY_FAULTS[f.kind](region, f.workload);
      }
      case "disk-fill": {
        const nodes = nodesById(ctx, r.ids);
        if (f.fill === "records") {
          // Kafka's own data on the disk; the heal is Kafka's retention clean-up (chaos/ballast.ts).
          const fills = await Promise.all(
            nodes.map(({ node, region }) =>
              fillWithRecords(
                { bootstrap: region.bootstrap(LAB_CLASS), tls: region.tls("lab"), nodeId: node.plan.spec.nodeId, logDir: node.logDir, percent: f.percent },
                { running: () => node.running(), restartIfDown: () => restartIfDown(node, region) },
              ),
            ),
          );
          return {
            target: r.ids.join(","),
            details: Object.fromEntries(fills.map((x, i) => [r.ids[i], x.details])),
            heal: async () => ({ retention: Object.fromEntries((await Promise.all(fills.map((x) => x.heal()))).map((h, i) => [r.ids[i], h])) }),
          };
        }
        const fills = await Promise.all(nodes.map(({ node }) => fillDisk(node.logDir, f.percent)));
        return {
          target: r.ids.join(","),
          details: Object.fromEntries(fills.map((x, i) => [r.ids[i], x.details])),
          heal: async () => {
            const healed = await Promise.all(fills.map((x) => x.heal()));
            // A broker whose only log dir failed (a write hit ENOSPC) shuts itself down; it comes back on the freed disk.
            const restarted: Record<string, number> = {};
            for (const { node, region } of nodes) {
              const ms = await restartIfDown(node, region);
              if (ms !== undefined) restarted[node.id] = ms;
            }
            return { healed: Object.fromEntries(healed.map((h, i) => [r.ids[i], h])), restartedRejoinMs: restarted };
          },
        };
      }
    }
  };
}
