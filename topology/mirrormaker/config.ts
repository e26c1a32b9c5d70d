import type { ClientTls } from "../../generators/drivers/driver.ts";
import { javaClientTls } from "../kafka/tools.ts";
import { LAB_CLASS, MIRROR_CLASS, type MeshPlan } from "../plan.ts";
import { brokersOf, type ReplicationFlow, type TopologySpec } from "../spec.ts";

/** A topic the lab writes replication probes to, in every region: readiness and the replication-lag series. */
export const PROBE_TOPIC = "meshlab.probe";
/** Apicurio's KafkaSQL journal; replicated from the primary region so every region's registry serves the same ids. */
export const REGISTRY_JOURNAL_TOPIC = "meshlab-registry-journal";

/** The name a topic has in the target region (MM2's DefaultReplicationPolicy). */
export const remoteTopic = (source: string, topic: string): string => `${source}.${topic}`;

const escapeRegex = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** The regexes MM2 replicates for a flow: the spec's (default: every topology topic), the probe, and the registry journal from the primary. */
export function flowTopics(spec: TopologySpec, flow: ReplicationFlow): string[] {
  const rep = spec.replication;
  if (!rep) return [];
  const topics = rep.topics.length ? [...rep.topics] : spec.topics.map((t) => escapeRegex(t.name));
  topics.push(escapeRegex(PROBE_TOPIC));
  if (replicatedRegistry(spec) && flow.source === primaryRegion(spec)) topics.push(escapeRegex(REGISTRY_JOURNAL_TOPIC));
  return topics;
}

/** The region whose registry takes writes; the others replay its journal. */
export const primaryRegion = (spec: TopologySpec): string => spec.regions[0]?.name ?? "";

/** Whether the secondary registries replay the primary's journal (needs KafkaSQL storage and a flow from the primary). */
export const replicatedRegistry = (spec: TopologySpec): boolean =>
  spec.registry.storage === "kafkasql" && !!spec.replication?.flows.some((f) => f.source === primaryRegion(spec));

/**
 * Renders mm2.properties for the MirrorMaker process that writes into `target` (one process per target region,
 * started with `--clusters <target>`, so losing one region stops only the flows into it). MM2 reaches remote
 * regions through their `replication` links (proxied, so faults apply) and its own region directly.
 */
/**
 * A cluster's TLS settings for MM2. The connectors keep only the client settings Kafka knows from `<cluster>.`
 * (`spiffe.*` would be dropped and the engine factory fail to configure), but pass `<cluster>.producer.`,
 * `.consumer.` and `.admin.` overrides through whole, so the SVID files go under those too.
 */
function mirrorTls(cluster: string, tls: ClientTls | undefined): [string, string][] {
  const props = Object.entries(javaClientTls(tls));
  return ["", "producer.", "consumer.", "admin."].flatMap((client) => props.map(([k, v]): [string, string] => [`${cluster}.${client}${k}`, v]));
}

export function renderMirrorMakerProperties(spec: TopologySpec, plan: MeshPlan, target: string, tls?: ClientTls): string {
  if (spec.security === "mtls" && !tls) throw new Error(`renderMirrorMakerProperties: MirrorMaker into ${target} has no SVID files, but the mesh runs mTLS`);
  const rep = spec.replication;
  if (!rep) throw new Error("renderMirrorMakerProperties: the topology has no replication");
  const flows = rep.flows.filter((f) => f.target === target);
  const regions = plan.regions.filter((r) => r.name === target || flows.some((f) => f.source === r.name));
  const rfOf = (name: string) => {
    const r = spec.regions.find((x) => x.name === name);
    return Math.min(3, r ? brokersOf(r).length : 1);
  };
  const rf = rfOf(target);
  const s = Math.floor(rep.intervalSeconds);
  const props: [string, string | number][] = [
    ["clusters", regions.map((r) => r.name).join(", ")],
    ...regions.map((r): [string, string] => [`${r.name}.bootstrap.servers`, r.bootstrap[r.name === target ? LAB_CLASS : MIRROR_CLASS] ?? ""]),
    ["replication.policy.class", "org.apache.kafka.connect.mirror.DefaultReplicationPolicy"],
    // On mTLS both sides are reached with MirrorMaker's own SVID (one trust domain across regions).
    ...regions.flatMap((r) => mirrorTls(r.name, tls)),
  ];
  for (const src of regions.filter((r) => r.name !== target)) {
    const flow = flows.find((f) => f.source === src.name);
    if (!flow) continue;
    props.push(
      [`${flow.source}->${target}.enabled`, "true"],
      [`${flow.source}->${target}.topics`, flowTopics(spec, flow).join(",")],
      [`${flow.source}->${target}.groups`, rep.groups.join(",")],
      [`${flow.source}->${target}.offset-syncs.topic.replication.factor`, rfOf(flow.source)],
    );
  }
  props.push(
    ["tasks.max", 2],
    ["replication.factor", rf],
    ["checkpoints.topic.replication.factor", rf],
    ["heartbeats.topic.replication.factor", rf],
    ["offset.storage.replication.factor", rf],
    ["config.storage.replication.factor", rf],
    ["status.storage.replication.factor", rf],
    ["emit.checkpoints.enabled", "true"],
    ["emit.checkpoints.interval.seconds", s],
    ["emit.heartbeats.interval.seconds", s],
    ["refresh.topics.interval.seconds", s],
    ["refresh.groups.interval.seconds", s],
    ["sync.group.offsets.enabled", String(rep.syncGroupOffsets)],
    ["sync.group.offsets.interval.seconds", s],
    ["offset.lag.max", rep.offsetLagMax],
    // Topic ACLs are the spec's, derived per region (topology/spire/identity.ts); MM2 does not copy them.
    ["sync.topic.acls.enabled", "false"],
    ["offset.flush.interval.ms", 1000],
  );
  for (const [k, v] of Object.entries(rep.config)) props.push([k, v]);
  const header = [`# meshlab: MirrorMaker 2 writing into region ${target}`, "# Rendered by topology/mirrormaker/config.ts; edits are lost on the next run."];
  return `${[...header, ...props.map(([k, v]) => `${k} = ${v}`)].join("\n")}\n`;
}
