import { join } from "node:path";
import { type Admin, loadDriver } from "../../generators/drivers/driver.ts";
import { InfraError } from "../../lab/errors.ts";
import { progress } from "../../lab/log.ts";
import { DisposableGroup, exitedError, type Supervisor, waitUntil } from "../../lab/proc.ts";
import { installKafka } from "../kafka/install.ts";
import { KafkaNode } from "../kafka/node.ts";
import { freePorts, LAB_CLASS, type MeshPlan, planMesh, portsNeeded, type RegionPlan } from "../plan.ts";
import { installApicurio, StartedRegistry } from "../registry/apicurio.ts";
import { brokersOf, type TopologySpec } from "../spec.ts";
import { installToxiproxy, StartedToxiproxy } from "../toxiproxy/toxiproxy.ts";

/** One running region: its Kafka nodes, its registry, and how each client class reaches it. */
export interface StartedRegion {
  readonly plan: RegionPlan;
  readonly nodes: KafkaNode[];
  readonly registry: StartedRegistry;
  /** Bootstrap servers for a client class (`ato`, `centrelink`, ... or `lab` for the lab's own direct access). */
  bootstrap(klass: string): string;
  /** An admin client on the lab's direct listener; the caller closes it. */
  admin(): Promise<Admin>;
}

export interface Mesh extends AsyncDisposable {
  readonly plan: MeshPlan;
  readonly regions: StartedRegion[];
  readonly toxiproxy: StartedToxiproxy | undefined;
  region(name?: string): StartedRegion;
  /** Component name -> version, for the result file. */
  readonly versions: Record<string, string>;
}

/** Fetches every component a topology needs (a no-op on a warm cache). */
export async function installMeshComponents(spec: TopologySpec): Promise<Record<string, string>> {
  const [kafka, apicurio, toxiproxy] = await Promise.all([
    installKafka(),
    installApicurio(),
    spec.proxy === "toxiproxy" ? installToxiproxy() : undefined,
  ]);
  return {
    kafka: kafka.version,
    apicurio: apicurio.version,
    ...(toxiproxy ? { toxiproxy: toxiproxy.version } : {}),
  };
}

/**
 * Stands a mesh up as local processes: proxies first (every advertised address is a proxy), then each region's
 * KRaft nodes in parallel, topics, and the registry. Whatever started is stopped again if a later step fails.
 */
export async function standUpMesh(spec: TopologySpec, opts: { runDir: string; supervisor: Supervisor }): Promise<Mesh> {
  const versions = await installMeshComponents(spec);
  const plan = planMesh(spec, opts.runDir, await freePorts(portsNeeded(spec)));
  await using stack = new DisposableGroup();

  let toxiproxy: StartedToxiproxy | undefined;
  if (plan.toxiproxyApi) {
    const done = progress("starting toxiproxy");
    toxiproxy = stack.use(await StartedToxiproxy.start({ supervisor: opts.supervisor, api: plan.toxiproxyApi, logFile: join(opts.runDir, "toxiproxy.log") }));
    await toxiproxy.addLinks(plan.regions.flatMap((r) => r.links).filter((l) => l.listen.port !== l.upstream.port));
    done(`${plan.regions.reduce((n, r) => n + r.links.filter((l) => l.klass !== LAB_CLASS).length, 0)} links proxied`);
  }

  const regions = await Promise.all(plan.regions.map((r) => standUpRegion(spec, r, opts.supervisor, stack)));
  const moved = stack.move();
  return {
    plan,
    regions,
    toxiproxy,
    versions,
    region(name?: string) {
      const r = name ? regions.find((x) => x.plan.name === name) : regions[0];
      if (!r) throw new Error(`no region ${name}; the topology has ${regions.map((x) => x.plan.name).join(", ")}`);
      return r;
    },
    async [Symbol.asyncDispose]() {
      await moved.disposeAsync();
    },
  };
}

async function standUpRegion(spec: TopologySpec, plan: RegionPlan, supervisor: Supervisor, stack: DisposableGroup): Promise<StartedRegion> {
  const kafka = await installKafka();
  const regionSpec = spec.regions.find((r) => r.name === plan.name);
  if (!regionSpec) throw new Error(`no region ${plan.name}`);
  const nodes = plan.nodes.map((n) => new KafkaNode({ spec, region: plan, plan: n, install: kafka, supervisor }));
  for (const n of nodes) stack.use(n);

  let done = progress(`region ${plan.name}: formatting ${nodes.length} KRaft nodes`);
  await Promise.all(nodes.map((n) => n.format(plan.clusterId)));
  done("formatted");

  done = progress(`region ${plan.name}: starting ${nodes.length} KRaft nodes`);
  for (const n of nodes) n.start();
  const driver = await loadDriver("confluent");
  const admin = async () => driver.admin({ bootstrap: plan.bootstrap[LAB_CLASS] ?? "", clientId: `meshlab-admin-${plan.name}` });
  const expected = brokersOf(regionSpec).length;
  // Until a broker listens, creating the admin client itself fails ("broker transport failure"): retry it too.
  const a = await waitUntil(
    `an admin connection to ${plan.name}`,
    async () => {
      for (const n of nodes)
        if (n.process && !n.running())
          throw await exitedError(n.process, "during start-up", `read ${n.logFile}; a port clash or a bad config override are the usual causes`);
      return admin().catch(() => undefined);
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
  } catch (e) {
    await a.close();
    throw e;
  }

  // The registry's boot is the slowest step: it runs while the topics are created.
  const registryStarting = startRegistry(spec, plan, supervisor, stack);
  registryStarting.catch(() => {}); // awaited below; a topic failure must not leave it unhandled
  try {
    done = progress(`region ${plan.name}: creating ${spec.topics.length} topics`);
    await a.createTopics(spec.topics);
    for (const t of spec.topics) {
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

  const registry = await registryStarting;
  return {
    plan,
    nodes,
    registry,
    bootstrap(klass: string) {
      const b = plan.bootstrap[klass];
      if (!b) throw new Error(`no client class "${klass}" in region ${plan.name}; known: ${Object.keys(plan.bootstrap).join(", ")}`);
      return b;
    },
    admin,
  };
}

async function startRegistry(spec: TopologySpec, plan: RegionPlan, supervisor: Supervisor, stack: DisposableGroup): Promise<StartedRegistry> {
  const done = progress(`region ${plan.name}: starting Apicurio Registry (${spec.registry.storage})`);
  const registry = stack.use(
    await StartedRegistry.start({
      supervisor,
      name: `registry ${plan.name}`,
      dir: join(plan.nodes[0]?.dir ?? "", "..", "registry"),
      bind: plan.registry.upstream,
      advertised: plan.registry.listen,
      storage: spec.registry.storage,
      bootstrap: plan.bootstrap.registry ?? plan.bootstrap[LAB_CLASS] ?? "",
      heapMb: spec.registry.heapMb,
    }),
  );
  done(registry.ccompatUrl);
  return registry;
}
