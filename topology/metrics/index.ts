import { join } from "node:path";
import type { Mesh } from "../local/mesh.ts";
import { HOST } from "../plan.ts";
import type { TopologySpec } from "../spec.ts";
import { type JolokiaInstall, type MetricsAgent, metricsAgent } from "./jolokia.ts";
import { type MetricsTarget, MetricsSampler } from "./sampler.ts";

/**
 * Broker, controller and MirrorMaker 2 metrics over JMX, once a second, into `metrics.ndjson`: every JVM of the mesh
 * runs a Jolokia agent on its own loopback port (read-only), and `startMeshMetrics` samples them for a run.
 */
export { installJolokia, JOLOKIA_VERSION, type MetricsAgent } from "./jolokia.ts";
export { type MetricsSample, MetricsSampler, type MetricsTarget } from "./sampler.ts";

/** The name of a MirrorMaker process in metrics.ndjson (one per target region). */
export const mirrorMakerName = (target: string): string => `mirrormaker->${target}`;

const jvmsOf = (spec: TopologySpec): string[] => [
  ...spec.regions.flatMap((r) => r.nodes.map((n) => n.id)),
  ...[...new Set(spec.replication?.flows.map((f) => f.target) ?? [])].map(mirrorMakerName),
];

/** How many agent ports a mesh of this topology needs: one per Kafka node and one per MirrorMaker process. */
export const agentsNeeded = (spec: TopologySpec): number => jvmsOf(spec).length;

/** Each JVM's agent, by node id or MirrorMaker name, on the given free ports. */
export function planAgents(spec: TopologySpec, jolokia: Pick<JolokiaInstall, "jar" | "policy">, ports: number[]): Map<string, MetricsAgent> {
  const jvms = jvmsOf(spec);
  if (ports.length < jvms.length) throw new Error(`planAgents: ${ports.length} ports for ${jvms.length} JVMs`);
  return new Map(jvms.map((name, i) => [name, metricsAgent(jolokia, { host: HOST, port: ports[i] as number })]));
}

/** Every JVM of a started mesh that has an agent. */
export function meshMetricsTargets(mesh: Pick<Mesh, "regions" | "mirrorMakers">): MetricsTarget[] {
  const targets: MetricsTarget[] = [];
  for (const r of mesh.regions)
    for (const n of r.nodes) if (n.metrics) targets.push({ node: n.id, region: r.plan.name, role: n.plan.spec.roles.join(","), url: n.metrics.url, live: () => n.running() });
  for (const m of mesh.mirrorMakers)
    if (m.metrics) targets.push({ node: mirrorMakerName(m.target), region: m.target, role: "mirrormaker", url: m.metrics.url, live: () => m.running() });
  return targets;
}

/** Samples a mesh's JVMs once a second into `<runDir>/metrics.ndjson` (times in ms since `originMs`) until `stop()`. */
export function startMeshMetrics(mesh: Pick<Mesh, "regions" | "mirrorMakers">, runDir: string, originMs: number): MetricsSampler {
  return new MetricsSampler({ file: join(runDir, "metrics.ndjson"), targets: meshMetricsTargets(mesh), originMs });
}
