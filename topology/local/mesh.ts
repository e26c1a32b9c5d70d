import { createConnection } from "node:net";
import { join } from "node:path";
import { type Admin, loadDriver } from "../../generators/drivers/driver.ts";
import { InfraError } from "../../lab/errors.ts";
import { progress } from "../../lab/log.ts";
import { DisposableGroup, exitedError, type Launcher, type Supervisor, waitUntil } from "../../lab/proc.ts";
import type { Backend } from "../backend.ts";
import { localBackend } from "./backend.ts";
import type { ClientTls, KafkaAccess } from "../../generators/drivers/driver.ts";
import { createAcls } from "../kafka/acls.ts";
import { installKafka, type KafkaInstall } from "../kafka/install.ts";
import { KafkaNode } from "../kafka/node.ts";
import { freePorts, LAB_CLASS, type MeshPlan, planMesh, portsNeeded, type RegionPlan } from "../plan.ts";
import { PROBE_TOPIC, primaryRegion, REGISTRY_JOURNAL_TOPIC, remoteTopic, replicatedRegistry } from "../mirrormaker/config.ts";
import { installMirrorMaker } from "../mirrormaker/install.ts";
import { agentsNeeded, installJolokia, type MetricsAgent, mirrorMakerName, planAgents } from "../metrics/index.ts";
import { MirrorMakerProcess } from "../mirrormaker/mirrormaker.ts";
import { ReplicationProbe } from "../mirrormaker/probe.ts";
import { type RedisTls, redisVersion, StartedRedis } from "../redis/redis.ts";
import { installGhostunnel } from "../ghostunnel/ghostunnel.ts";
import { installApicurio, StartedRegistry } from "../registry/apicurio.ts";
import { brokersOf, type TopologySpec } from "../spec.ts";
import { installToxiproxy, StartedToxiproxy } from "../toxiproxy/toxiproxy.ts";
import { deriveAcls, REGISTRY_CALLERS, spiffeId, type Workload } from "../spire/identity.ts";
import { installSpiffeJar, installSpire } from "../spire/install.ts";
import { type SpireRegion, StartedSpire, type SvidFiles } from "../spire/spire.ts";

/** One running region: its Kafka nodes, its registry, and how each client class reaches it. */
export interface StartedRegion {
  readonly plan: RegionPlan;
  readonly nodes: KafkaNode[];
  /** The region's registry; replaced by `restart()` after `kill()`. */
  readonly registry: StartedRegistry;
  /** Bootstrap servers for a client class (`ato`, `centrelink`, ... or `lab` for the lab's own direct access). */
  bootstrap(klass: string): string;
  /** An admin client on the lab's direct listener; the caller closes it. */
  admin(): Promise<Admin>;
  /** The lab's direct listener, with the lab's SVID files on an mTLS mesh. */
  lab(): KafkaAccess;
  /** A workload's client certificate in this region (undefined when the mesh runs plaintext). */
  tls(workload: Workload): ClientTls | undefined;
  /** The region's SPIRE (server, agent, sidecars), when the mesh runs mTLS. */
  readonly spire: SpireRegion | undefined;
  /** SIGKILL of every Kafka node and the registry of the region: a region lost at once. */
  kill(): void;
  /** False from `kill()` until `restart()` has every broker back: whether clients should ask the region at all. */
  ready(): boolean;
  /** Starts the region's nodes and registry again on their own data, and waits until every broker is back. */
  restart(): Promise<void>;
}

export interface Mesh extends AsyncDisposable {
  readonly plan: MeshPlan;
  readonly regions: StartedRegion[];
  readonly toxiproxy: StartedToxiproxy | undefined;
  /** One MirrorMaker 2 process per region that receives replicated topics. */
  readonly mirrorMakers: MirrorMakerProcess[];
  /** Watches probe records cross every replication flow (present when the topology replicates). */
  readonly probe: ReplicationProbe | undefined;
  /** The mesh-wide dedupe store. */
  readonly redis: StartedRedis | undefined;
  /** The identity plane (one SPIRE per region), absent with `security: "plaintext"`. */
  readonly spire: StartedSpire | undefined;
  region(name?: string): StartedRegion;
  /** Component name -> version, for the result file. */
  readonly versions: Record<string, string>;
}

/** Fetches every component a topology needs (a no-op on a warm cache). */
export async function installMeshComponents(spec: TopologySpec): Promise<Record<string, string>> {
  const mtls = spec.security === "mtls";
  const [kafka, apicurio, toxiproxy, mm2, spire, , ghostunnel, jolokia] = await Promise.all([
    installKafka(spec.kafka.version),
    installApicurio(),
    spec.proxy === "toxiproxy" ? installToxiproxy() : undefined,
    spec.replication ? installMirrorMaker() : undefined,
    mtls ? installSpire() : undefined,
    mtls ? installSpiffeJar() : undefined,
    mtls ? installGhostunnel() : undefined,
    installJolokia(),
  ]);
  return {
    kafka: kafka.version,
    apicurio: apicurio.version,
    ...(toxiproxy ? { toxiproxy: toxiproxy.version } : {}),
    ...(mm2 ? { mirrormaker: mm2.version } : {}),
    ...(spec.dedupeStore === "redis" ? { redis: redisVersion() } : {}),
    ...(spire ? { spire: spire.version } : {}),
    ...(ghostunnel ? { ghostunnel: ghostunnel.version } : {}),
    jolokia: jolokia.version,
  };
}

/**
 * Stands a mesh up on a backend (local processes unless one is given): proxies first (every advertised address is
 * a proxy), then each region's KRaft nodes in parallel, topics, and the registry. Whatever started is stopped
 * again if a later step fails. The identity plane (SPIRE, its sidecars) always runs as local processes.
 */
export async function standUpMesh(spec: TopologySpec, opts: { runDir: string; supervisor: Supervisor; backend?: Backend }): Promise<Mesh> {
  const versions = await installMeshComponents(spec);
  const backend = opts.backend ?? (await localBackend(opts));
  // One allocation for the mesh's ports and the metrics agents' (topology/metrics/), so none is handed out twice.
  const ports = await freePorts(portsNeeded(spec) + agentsNeeded(spec));
  const plan = planMesh(spec, opts.runDir, ports.slice(0, portsNeeded(spec)), undefined, backend.placement);
  // The agents listen on this machine's loopback: a JVM in a container has its own (README: Backends).
  const agents = backend.name === "local" ? planAgents(spec, await installJolokia(), ports.slice(portsNeeded(spec))) : new Map<string, MetricsAgent>();
  await using stack = new DisposableGroup();

  let toxiproxy: StartedToxiproxy | undefined;
  if (plan.toxiproxyApi) {
    const done = progress("starting toxiproxy");
    toxiproxy = stack.use(await StartedToxiproxy.start({ supervisor: backend, api: plan.toxiproxyApi, logFile: join(opts.runDir, "toxiproxy.log") }));
    await toxiproxy.addLinks(plan.regions.flatMap((r) => r.links).filter((l) => l.listen.port !== l.upstream.port));
    done(`${plan.regions.reduce((n, r) => n + r.links.filter((l) => l.klass !== LAB_CLASS).length, 0)} links proxied`);
  }

  const spire = spec.security === "mtls" ? stack.use(await StartedSpire.start(spec, opts)) : undefined;

  let redis: StartedRedis | undefined;
  const redisStarting = plan.redis
    ? StartedRedis.start({ supervisor: backend, bind: plan.redis, dir: join(opts.runDir, "redis"), tls: redisTls(spire) }).then((r) => (redis = stack.use(r)))
    : undefined;
  redisStarting?.catch(() => {});
  const regions = await Promise.all(plan.regions.map((r) => standUpRegion(spec, r, backend, stack, spire?.region(r.name), agents)));
  await redisStarting;

  const mirrorMakers: MirrorMakerProcess[] = [];
  let probe: ReplicationProbe | undefined;
  if (spec.replication) {
    const installed = await installMirrorMaker();
    // MirrorMaker reaches mTLS brokers through the lab's SVID engine factory, so it needs the plug-in jar too.
    const mm2 = spire ? { ...installed, classpath: `${installed.classpath}:${(await installSpiffeJar()).jar}` } : installed;
    const done = progress(`starting MirrorMaker 2 (${spec.replication.flows.map((f) => `${f.source}->${f.target}`).join(", ")})`);
    for (const target of new Set(spec.replication.flows.map((f) => f.target))) {
      const m = stack.use(new MirrorMakerProcess({ spec, plan, target, dir: join(opts.runDir, "mirrormaker", target), install: mm2, supervisor: backend, tls: clientTls(spire?.region(target).files("mirrormaker")), host: backend.placement.hostOf(`mirrormaker:${target}`), metrics: agents.get(mirrorMakerName(target)) }));
      m.start();
      mirrorMakers.push(m);
    }
    // Not in the stack: its clients must close before the brokers go (see dispose below).
    probe = new ReplicationProbe(plan, join(opts.runDir, "replication-lag.ndjson"), (r) => clientTls(spire?.region(r).files("lab")));
    const p = probe;
    stack.use({ [Symbol.asyncDispose]: () => p[Symbol.asyncDispose]() });
    const lags = await probe.waitReady(180_000);
    done(`a probe crossed ${Object.entries(lags).map(([f, ms]) => `${f} (${ms} ms)`).join(", ")}`);
  }
  const moved = stack.move();
  return {
    plan,
    regions,
    toxiproxy,
    mirrorMakers,
    probe,
    get redis() {
      return redis;
    },
    spire,
    versions,
    region(name?: string) {
      const r = name ? regions.find((x) => x.plan.name === name) : regions[0];
      if (!r) throw new Error(`no region ${name}; the topology has ${regions.map((x) => x.plan.name).join(", ")}`);
      return r;
    },
    async [Symbol.asyncDispose]() {
      // librdkafka clients whose brokers are gone can block a worker thread, and with it the process exit.
      await Promise.race([probe?.[Symbol.asyncDispose](), new Promise((r) => setTimeout(r, 15_000))]);
      await Promise.allSettled([moved.disposeAsync(), ...regions.flatMap((r) => r.registry.processes().map((p) => p.stop()))]);
    },
  };
}

/** Client certificate files of a workload, as the drivers take them. */
/** Redis's SVID and the lab's, from the first region's SPIRE (one root, so every region's clients verify it). */
const redisTls = (spire: StartedSpire | undefined): RedisTls | undefined => {
  const r = spire?.regions[0];
  const [server, lab] = [clientTls(r?.files("dedupe-store")), clientTls(r?.files("lab"))];
  return server && lab ? { server, lab } : undefined;
};

export const clientTls = (f: SvidFiles | undefined): ClientTls | undefined => (f ? { cert: f.svid, key: f.key, ca: f.bundle } : undefined);

/** Kafka's classpath, with the lab's SPIFFE plug-ins when the mesh runs mTLS. */
export async function kafkaWithPlugins(spec: TopologySpec, version = spec.kafka.version): Promise<KafkaInstall> {
  const kafka = await installKafka(version);
  if (spec.security !== "mtls") return kafka;
  return { ...kafka, classpath: `${kafka.classpath}:${(await installSpiffeJar()).jar}` };
}

async function standUpRegion(
  spec: TopologySpec,
  plan: RegionPlan,
  supervisor: Launcher,
  stack: DisposableGroup,
  spire: SpireRegion | undefined,
  agents: Map<string, MetricsAgent>,
): Promise<StartedRegion> {
  const kafka = await kafkaWithPlugins(spec);
  const regionSpec = spec.regions.find((r) => r.name === plan.name);
  if (!regionSpec) throw new Error(`no region ${plan.name}`);
  const tls = (w: Workload) => clientTls(spire?.files(w));
  const brokerTls = spire?.files("broker");
  const nodes = plan.nodes.map((n) => new KafkaNode({ spec, region: plan, plan: n, install: kafka, supervisor, ...(brokerTls ? { tls: brokerTls } : {}), metrics: agents.get(n.spec.id) }));
  for (const n of nodes) stack.use(n);

  let done = progress(`region ${plan.name}: formatting ${nodes.length} KRaft nodes`);
  await Promise.all(nodes.map((n) => n.format(plan.clusterId)));
  done("formatted");

  done = progress(`region ${plan.name}: starting ${nodes.length} KRaft nodes`);
  for (const n of nodes) n.start();
  const driver = await loadDriver("confluent");
  const labTls = tls("lab");
  const admin = async () => driver.admin({ bootstrap: plan.bootstrap[LAB_CLASS] ?? "", clientId: `meshlab-admin-${plan.name}`, ...(labTls ? { tls: labTls } : {}) });
  // librdkafka clients made and destroyed against brokers that do not listen yet can trip an assertion inside
  // librdkafka (rd_kafka_enq_once), which aborts the whole runner: wait for a TCP accept before making one.
  const listening = async () => {
    const ends = (plan.bootstrap[LAB_CLASS] ?? "").split(",").filter(Boolean);
    const ok = await Promise.all(ends.map((e) => accepts(e)));
    return ok.some(Boolean) ? true : undefined;
  };
  const expected = brokersOf(regionSpec).length;
  // Until a broker listens, creating the admin client itself fails ("broker transport failure"): retry it too.
  const a = await waitUntil(
    `an admin connection to ${plan.name}`,
    async () => {
      for (const n of nodes)
        if (n.process && !n.running())
          throw await exitedError(n.process, "during start-up", `read ${n.logFile}; a port clash or a bad config override are the usual causes`);
      return (await listening()) ? admin().catch(() => undefined) : undefined;
    },
    { timeoutMs: 90_000, intervalMs: 500, hint: `the node logs under ${join(plan.nodes[0]?.dir ?? "", "..")} say why no broker listens` },
  );
  try {
    // Brokers are unfenced, and so listed in metadata, only once the controller quorum has elected a leader.
    await waitUntil(
      `all ${expected} brokers of ${plan.name} in the cluster metadata`,
      async () => {
        for (const n of nodes)
          if (n.process && !n.running())
            throw await exitedError(n.process, "during start-up", `read ${n.logFile}; a port clash or a bad config override are the usual causes`);
        return (await a.brokers()).length === expected ? true : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 300, hint: `the node logs under ${join(plan.nodes[0]?.dir ?? "", "..")} say why the quorum did not form` },
    );
    done(`${expected} brokers up`);
    if (spire) {
      const acls = deriveAcls(spec.identity, spec.regions.map((r) => r.name));
      done = progress(`region ${plan.name}: writing ${acls.length} ACLs`);
      await createAcls(plan.bootstrap[LAB_CLASS] ?? "", labTls, acls);
      done("written");
    }
  } catch (e) {
    await a.close();
    throw e;
  }

  // The registry's boot is the slowest step: it runs while the topics are created.
  const registryStarting = startRegistry(spec, plan, supervisor, stack, spire);
  registryStarting.catch(() => {}); // awaited below; a topic failure must not leave it unhandled
  try {
    const rf = Math.min(3, expected);
    const topics = [
      ...spec.topics,
      ...(spec.replication ? [{ name: PROBE_TOPIC, partitions: 1, replicationFactor: rf, config: { "min.insync.replicas": String(Math.min(2, rf)) } }] : []),
    ];
    done = progress(`region ${plan.name}: creating ${topics.length} topics`);
    await a.createTopics(topics);
    for (const t of topics) {
      await waitUntil(
        `topic ${t.name} to have leaders`,
        async () => {
          const md = await a.topic(t.name);
          return md && md.partitions.length === t.partitions && md.partitions.every((p) => p.leader >= 0) ? true : undefined;
        },
        { timeoutMs: 30_000, hint: "the controller log says why the topic was not created" },
      );
    }
    done("created");
  } catch (e) {
    if (e instanceof InfraError) throw e;
    throw new InfraError({ component: `region ${plan.name}`, message: `did not become ready: ${(e as Error).message}`, hint: "see the node logs in the run directory", cause: e });
  } finally {
    await a.close();
  }

  let registry = await registryStarting;
  let ready = true;
  return {
    plan,
    nodes,
    get registry() {
      return registry;
    },
    bootstrap(klass: string) {
      const b = plan.bootstrap[klass];
      if (!b) throw new Error(`no client class "${klass}" in region ${plan.name}; known: ${Object.keys(plan.bootstrap).join(", ")}`);
      return b;
    },
    admin,
    lab: () => ({ bootstrap: plan.bootstrap[LAB_CLASS] ?? "", tls: labTls }),
    tls,
    spire,
    ready: () => ready,
    kill() {
      ready = false;
      for (const n of nodes) n.kill();
      for (const p of registry.processes()) p.signal("SIGKILL");
    },
    async restart() {
      const d = progress(`region ${plan.name}: restarting ${nodes.length} nodes and the registry`);
      for (const n of nodes) n.start();
      const stillUp = async () => {
        for (const n of nodes)
          if (n.process && !n.running())
            throw await exitedError(n.process, "while the region restarted", `read ${n.logFile}; "Address already in use" means another process took its port while it was down`);
      };
      await waitUntil(
        `a broker of ${plan.name} to listen again`,
        async () => {
          await stillUp();
          return listening();
        },
        {
          timeoutMs: 120_000,
          intervalMs: 300,
          hint: `the node logs under ${join(plan.nodes[0]?.dir ?? "", "..")} say why the region did not come back`,
        },
      );
      // One admin client, made once a broker accepts connections, polls until every broker is back.
      const b = await waitUntil(`an admin connection to ${plan.name}`, async () => admin().catch(() => undefined), {
        timeoutMs: 120_000,
        intervalMs: 1_000,
        hint: `the node logs under ${join(plan.nodes[0]?.dir ?? "", "..")} say why the region did not come back`,
      });
      try {
        await waitUntil(
          `all ${expected} brokers of ${plan.name} back in the cluster metadata`,
          async () => {
            await stillUp();
            return (await b.brokers().catch(() => [])).length === expected ? true : undefined;
          },
          {
            timeoutMs: 120_000,
            intervalMs: 500,
            hint: `the node logs under ${join(plan.nodes[0]?.dir ?? "", "..")} say why the region did not come back`,
          },
        );
      } finally {
        await b.close().catch(() => {});
      }
      registry = await startRegistry(spec, plan, supervisor, new DisposableGroup(), spire);
      ready = true;
      d("back");
    },
  };
}

async function startRegistry(spec: TopologySpec, plan: RegionPlan, supervisor: Launcher, stack: DisposableGroup, spire: SpireRegion | undefined): Promise<StartedRegistry> {
  const done = progress(`region ${plan.name}: starting Apicurio Registry (${spec.registry.storage})`);
  const registry = stack.use(
    await StartedRegistry.start({
      supervisor,
      name: `registry ${plan.name}`,
      dir: join(plan.nodes[0]?.dir ?? "", "..", "registry"),
      bind: plan.registry.upstream,
      advertised: plan.registry.listen,
      storage: spec.registry.storage,
      // A secondary region's registry replays the primary's journal as MirrorMaker replicates it: same ids everywhere.
      journalTopic: replicatedRegistry(spec) && plan.name !== primaryRegion(spec) ? remoteTopic(primaryRegion(spec), REGISTRY_JOURNAL_TOPIC) : REGISTRY_JOURNAL_TOPIC,
      bootstrap: plan.bootstrap.registry ?? plan.bootstrap[LAB_CLASS] ?? "",
      heapMb: spec.registry.heapMb,
      ...(spire ? { tls: spire.files("registry"), callers: registryCallers(spec, spire) } : {}),
    }),
  );
  done(registry.ccompatUrl);
  return registry;
}

/** Who may call the registry's API on an mTLS mesh: the workloads that encode or decode payloads, and the lab. */
function registryCallers(spec: TopologySpec, spire: SpireRegion): { allow: string[]; labTls: ClientTls } {
  const labTls = clientTls(spire.files("lab"));
  if (!labTls) throw new Error("the lab has no SVID in this region");
  return { allow: REGISTRY_CALLERS.map((w) => spiffeId(spec.identity, w)), labTls };
}

/** Whether `host:port` accepts a TCP connection within a second. */
function accepts(endpoint: string): Promise<boolean> {
  const [host, port] = [endpoint.slice(0, endpoint.lastIndexOf(":")), Number(endpoint.slice(endpoint.lastIndexOf(":") + 1))];
  return new Promise((resolve) => {
    const s = createConnection(port, host);
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(1000, () => done(false));
    s.once("error", () => done(false));
    s.once("connect", () => done(true));
  });
}
