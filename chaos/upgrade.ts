import { setTimeout as sleep } from "node:timers/promises";
import type { LedgerEntry } from "../generators/ledger.ts";
import type { LatencySummary } from "../reports/hdr.ts";
import { phaseResults } from "../reports/timeline.ts";
import { installKafka } from "../topology/kafka/install.ts";
import type { KafkaNode } from "../topology/kafka/node.ts";
import { runKafkaTool } from "../topology/kafka/tools.ts";
import type { StartedRegion } from "../topology/local/mesh.ts";
import type { Injection } from "./schedule.ts";

/**
 * A rolling upgrade, as Kafka's upgrade documentation has it for KRaft: each node in turn is stopped (a controlled
 * shutdown, so its partitions' leadership moves first), switched to the new version on the same log and metadata
 * dirs, started, and waited for until it is back in the cluster; then the features are finalised on the new
 * release (`kafka-features upgrade --release-version`), which is what makes the upgrade irreversible.
 */

/** One node's turn, times in ms since the fault was injected. */
export interface UpgradeStep {
  node: string;
  from: string;
  to: string;
  startMs: number;
  endMs: number;
  /** Stop to back in the cluster (listening, and in the metadata). */
  unavailableMs: number;
  /** How long the controlled shutdown took (SIGTERM to exit). */
  stopMs: number;
  /** Partition leaderships the node held before its stop (each moved to another replica); and after its return. */
  leadersBefore: number;
  leadersAfter: number;
}

export interface UpgradeSpec {
  to: string;
  intervalMs: number;
  finalise: boolean;
  /** Topics whose leadership moves are counted. */
  topics: string[];
}

/** How long a node's controlled shutdown may take before it is killed. */
const CONTROLLED_STOP_MS = 120_000;

type Rejoin = (region: StartedRegion, node: KafkaNode) => Promise<number>;

/** The rolling upgrade of `nodes` to `spec.to`; the heal waits for the whole round and the finalisation. */
export function rollingUpgrade(nodes: { node: KafkaNode; region: StartedRegion }[], spec: UpgradeSpec, rejoin: Rejoin): Injection {
  const already = nodes.filter(({ node }) => node.version === spec.to).map(({ node }) => node.id);
  if (already.length)
    throw new Error(`rolling-upgrade: ${already.join(", ")} already run${already.length === 1 ? "s" : ""} Kafka ${spec.to}; start the mesh on an older kafka.version (topology)`);
  const t0 = Date.now();
  const steps: UpgradeStep[] = [];
  let finalised: Record<string, unknown> | undefined;
  const round = (async () => {
    for (const [i, { node, region }] of nodes.entries()) {
      if (i > 0) await sleep(spec.intervalMs);
      steps.push(await upgradeOne(node, region, spec, rejoin, t0));
    }
    const region = nodes[0]?.region;
    if (spec.finalise && region) finalised = await finaliseFeatures(region, spec.to);
  })();
  round.catch(() => {});
  return {
    target: nodes.map(({ node }) => node.id).join(","),
    details: { from: [...new Set(nodes.map(({ node }) => node.version))].join(","), to: spec.to },
    heal: async () => {
      const err = await round.then(() => undefined, (e: unknown) => e);
      if (err) throw err;
      return { steps, ...(finalised ? { finalised } : {}) };
    },
  };
}

async function upgradeOne(node: KafkaNode, region: StartedRegion, spec: UpgradeSpec, rejoin: Rejoin, t0: number): Promise<UpgradeStep> {
  const from = node.version;
  const next = await installKafka(spec.to);
  const start = Date.now();
  const leadersBefore = await leadersOf(region, node.plan.spec.nodeId, spec.topics);
  // A node's own stop grace is short (teardown stops a whole region at once, when a controlled shutdown can only
  // wait for a lost quorum); an upgrade must let it finish, or it is a kill -9 with extra steps.
  await node.stop(CONTROLLED_STOP_MS);
  const stopMs = Date.now() - start;
  node.switchVersion({ ...next, classpath: [next.classpath, ...pluginsOf(node)].join(":") });
  node.start();
  await rejoin(region, node);
  const end = Date.now();
  const leadersAfter = await leadersOf(region, node.plan.spec.nodeId, spec.topics);
  return { node: node.id, from, to: spec.to, startMs: start - t0, endMs: end - t0, unavailableMs: end - start, stopMs, leadersBefore, leadersAfter };
}

/** The lab's plug-ins on a node's classpath (everything after Kafka's own `lib/*`), which the new version keeps. */
const pluginsOf = (node: KafkaNode): string[] => node.classpath.split(":").slice(1);

async function leadersOf(region: StartedRegion, nodeId: number, topics: string[]): Promise<number> {
  const admin = await region.admin();
  try {
    let n = 0;
    for (const t of topics) n += ((await admin.topic(t))?.partitions ?? []).filter((p) => p.leader === nodeId).length;
    return n;
  } finally {
    await admin.close();
  }
}

/** `kafka-features upgrade --release-version <major.minor>` with the new version's tool; the levels before and after. */
async function finaliseFeatures(region: StartedRegion, to: string): Promise<Record<string, unknown>> {
  const release = to.split(".").slice(0, 2).join(".");
  const tool = (args: string[]) =>
    runKafkaTool(`kafka-features ${args[0]}`, region.lab(), "org.apache.kafka.tools.FeatureCommand", args, {
      hint: "every node must run the new version first; the node logs say why a feature level was refused",
      timeoutMs: 120_000,
      version: to,
    });
  const before = finalizedLevels(await tool(["describe"]));
  const said = (await tool(["upgrade", "--release-version", release])).split("\n").filter((l) => /^\S+ was (upgraded|downgraded)|^Could not|failed/i.test(l.trim()));
  const after = finalizedLevels(await tool(["describe"]));
  return { releaseVersion: release, before, after, tool: said };
}

/**
 * The finalised level of each feature from `kafka-features describe`, whose lines are padded columns of
 * `Key: value` (`Feature: metadata.version   SupportedMinVersion: 3.3-IV3   ...   FinalizedVersionLevel: 4.2-IV1   Epoch: 7`).
 */
export function finalizedLevels(describe: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of describe.split("\n")) {
    const m = /^Feature:\s*(\S+)\s.*\bFinalizedVersionLevel:\s*(\S+)/.exec(line.trim());
    if (m) out[m[1] as string] = m[2] as string;
  }
  return out;
}

/** What clients saw during one node's turn: requests intended within it, their failures and clearance latency. */
export interface StepFigures {
  node: string;
  fromMs: number;
  toMs: number;
  unavailableMs: number;
  stopMs: number;
  leadersBefore: number;
  leadersAfter: number;
  intended: number;
  produceErrors: number;
  lost: number;
  latencyMs: LatencySummary;
}

/**
 * Each step of a rolling upgrade with what the flow saw meanwhile, from the ledger: requests intended within the
 * node's turn (on the run's clock: the fault's `startMs` plus the step's offsets), final produce errors,
 * acknowledged-and-never-completed ones, and the clearance latency from the intended time.
 */
export function upgradeStepFigures(fault: { startMs: number; details?: Record<string, unknown> }, entries: readonly LedgerEntry[], usToRunMs: (us: number) => number): StepFigures[] {
  const steps = (fault.details?.steps as UpgradeStep[] | undefined) ?? [];
  const turns = phaseResults(
    entries,
    steps.map((s) => ({ name: s.node, startMs: fault.startMs + s.startMs, endMs: fault.startMs + s.endMs })),
    usToRunMs,
  );
  return steps.map((s, i) => {
    const t = turns[i] as (typeof turns)[number];
    const produceErrors = entries.filter((e) => e.error !== undefined && usToRunMs(e.intendedUs) >= t.startMs && usToRunMs(e.intendedUs) < t.endMs).length;
    return { node: s.node, fromMs: t.startMs, toMs: t.endMs, unavailableMs: s.unavailableMs, stopMs: s.stopMs, leadersBefore: s.leadersBefore, leadersAfter: s.leadersAfter, intended: t.requests, produceErrors, lost: t.lost, latencyMs: t.latencyMs.clearance };
  });
}
