import { existsSync, readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { looksLikePath, readDataFile } from "../lab/data-file.ts";
import { BadInputError } from "../lab/errors.ts";
import { KAFKA_VERSION, KAFKA_VERSIONS } from "./kafka/install.ts";
import { arr, bool, num, obj, oneOf, optional, type Problems, record, str } from "../lab/validate.ts";
import { containersProblems } from "./containers/limits.ts";
import { type IdentityPlane, identityCheck, resolveIdentity } from "./spire/identity.ts";

/** A Kafka process role. A node may be a combined broker+controller, or a dedicated one. */
export type Role = "broker" | "controller";

/** One Kafka node of a region. */
export interface NodeSpec {
  /** Unique across the whole topology; also names the node's links (`<id>.<class>`). */
  id: string;
  /** KRaft `node.id`, unique within the region. */
  nodeId: number;
  roles: Role[];
  /** Availability zone; becomes `broker.rack`. */
  az: string;
}

export interface RegionSpec {
  name: string;
  nodes: NodeSpec[];
}

export interface TopicSpec {
  name: string;
  partitions: number;
  replicationFactor: number;
  /** Topic-level configs, e.g. `min.insync.replicas`. */
  config: Record<string, string>;
}

/** One direction MirrorMaker 2 replicates: `source` -> `target` (both directions = active-active). */
export interface ReplicationFlow {
  source: string;
  target: string;
}

/**
 * MirrorMaker 2 between the regions. Remote topics follow the DefaultReplicationPolicy (`<source>.<topic>`), so
 * active-passive and active-active are the same configuration with one or two flows.
 */
export interface ReplicationSpec {
  flows: ReplicationFlow[];
  /** Topic regexes to replicate; default: every topic of the topology. */
  topics: string[];
  /** Consumer group regexes whose offsets are checkpointed. */
  groups: string[];
  /** Checkpoint emission and topic/group refresh interval (the defaults are 60 s and 10 min; a lab needs seconds). */
  intervalSeconds: number;
  /** `offset.lag.max`: how far the upstream offset may move before an offset sync is emitted (precision of translation). */
  offsetLagMax: number;
  /** Also let MM2 write translated offsets into the target's __consumer_offsets (`sync.group.offsets.enabled`). */
  syncGroupOffsets: boolean;
  heapMb: number;
  /** Extra mm2.properties keys, rendered last. */
  config: Record<string, string>;
}

export interface TopologySpec {
  name: string;
  /** Where components run: local processes (default), containers, or the target hosts. */
  backend: "local" | "containers" | "hosts";
  /**
   * Client classes. Each class gets its own listener on every broker, advertised through its own proxies, so the
   * links of one class (say, Centrelink consumers) can be cut or degraded without touching the others.
   */
  clientClasses: string[];
  /** `toxiproxy`: every client-to-broker, broker-to-broker and broker-to-controller link goes through a proxy. */
  proxy: "toxiproxy" | "none";
  /** `version`: the Kafka release every node starts on (one of KAFKA_VERSIONS; the `rolling-upgrade` fault moves them to another). */
  kafka: { heapMb: number; config: Record<string, string>; version: string };
  registry: { kind: "apicurio"; storage: "kafkasql" | "mem"; heapMb: number };
  regions: RegionSpec[];
  topics: TopicSpec[];
  /** MirrorMaker 2 flows between regions; absent for a single region. */
  replication: ReplicationSpec | null;
  /**
   * The store the idempotent consumers remember processed event ids in: a real Redis (one for the mesh, outside
   * the regions, so a region failure does not take the memory of what was processed with it), or none.
   */
  dedupeStore: "redis" | "none";
  /**
   * `mtls` (the default: the seed's zero-trust mesh): every link is TLS with SPIRE-issued client certificates and
   * the brokers authorize by SPIFFE ID. `plaintext`: no TLS, no ACLs, for comparison; reports say so.
   */
  security: "mtls" | "plaintext";
  /** Trust domain, SVID lifetime and every workload's identity and grants (topology/spire/identity.ts). */
  identity: IdentityPlane;
}

const ident = (what: string) =>
  str({ pattern: /^[a-z][a-z0-9-]*$/, patternHint: `a valid ${what} (lower-case letters, digits and '-', starting with a letter)` });

/** The topic settings of the seed: 12 partitions, RF 3, min ISR 2, 7-day retention, 5 MB messages, delete. */
export const seedTopicConfig = (): Record<string, string> => ({
  "min.insync.replicas": "2",
  "retention.ms": "604800000",
  "max.message.bytes": "5242880",
  "cleanup.policy": "delete",
});

const nodeCheck = obj({
  id: ident("node id"),
  nodeId: num({ integer: true, min: 0 }),
  roles: arr(oneOf("broker", "controller"), { min: 1 }),
  az: ident("availability zone"),
});

const topologyCheck = obj({
  name: ident("topology name"),
  backend: optional(oneOf("local", "containers", "hosts"), "local"),
  clientClasses: optional(arr(ident("client class"), { min: 1 }), ["ato", "centrelink", "registry"]),
  proxy: optional(oneOf("toxiproxy", "none"), "toxiproxy"),
  kafka: optional(
    obj({
      heapMb: optional(num({ integer: true, min: 128 }), 512),
      config: optional(record(str({ nonEmpty: false })), {}),
      version: optional(oneOf(...KAFKA_VERSIONS), KAFKA_VERSION),
    }),
    { heapMb: 512, config: {}, version: KAFKA_VERSION },
  ),
  registry: optional(
    obj({
      kind: optional(oneOf("apicurio"), "apicurio"),
      storage: optional(oneOf("kafkasql", "mem"), "kafkasql"),
      heapMb: optional(num({ integer: true, min: 128 }), 512),
    }),
    { kind: "apicurio" as const, storage: "kafkasql" as const, heapMb: 512 },
  ),
  regions: arr(obj({ name: ident("region name"), nodes: arr(nodeCheck, { min: 1 }) }), { min: 1 }),
  replication: optional(
    obj({
      flows: arr(obj({ source: ident("region name"), target: ident("region name") }), { min: 1 }),
      topics: optional(arr(str()), []),
      groups: optional(arr(str()), [".*"]),
      intervalSeconds: optional(num({ integer: true, min: 1 }), 1),
      offsetLagMax: optional(num({ integer: true, min: 0 }), 10),
      syncGroupOffsets: optional(bool, false),
      heapMb: optional(num({ integer: true, min: 128 }), 512),
      config: optional(record(str({ nonEmpty: false })), {}),
    }),
    null,
  ),
  dedupeStore: optional(oneOf("redis", "none"), "redis"),
  security: optional(oneOf("mtls", "plaintext"), "mtls"),
  identity: optional(identityCheck, () => identityCheck({}, "topology.identity", []) as ReturnType<typeof identityCheck> & object),
  topics: arr(
    obj({
      name: str({ pattern: /^[a-zA-Z0-9._-]{1,249}$/, patternHint: "a legal Kafka topic name" }),
      partitions: optional(num({ integer: true, min: 1 }), 12),
      replicationFactor: optional(num({ integer: true, min: 1 }), 3),
      config: optional(record(str()), seedTopicConfig),
    }),
  ),
});

/** Topics the lab itself creates (replication probe, the registry's KafkaSQL journal), which grants may name. */
const INTERNAL_TOPICS = ["meshlab.probe", "meshlab-registry-journal"];

/** Classes whose names, or Kafka listener names, the internal links use. */
const RESERVED_CLASSES = new Set(["broker", "controller", "lab", "replication"]);

type DeepPartial<T> = T extends (infer U)[] ? DeepPartial<U>[] : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;

/**
 * Checks that span fields: counts, uniqueness, quorum sizes. It runs on whatever parsed, even when some fields
 * did not, so one run reports every problem.
 */
function crossCheck(spec: DeepPartial<TopologySpec>, problems: Problems): void {
  const seenIds = new Set<string>();
  const seenRegions = new Set<string>();
  const classes = spec.clientClasses ?? [];
  for (const c of classes)
    if (c && RESERVED_CLASSES.has(c)) problems.push(`topology.clientClasses: "${c}" is reserved for the internal links; pick another name`);
  if (new Set(classes).size !== classes.length) problems.push("topology.clientClasses: names must be unique");
  if (spec.backend === "hosts") problems.push('topology.backend: "hosts" is not available yet; use "local" (processes on this machine) or "containers"');
  if (spec.backend === "containers") problems.push(...containersProblems({ security: spec.security ?? "mtls" }));
  const topics = spec.topics ?? [];
  (spec.regions ?? []).forEach((r, ri) => {
    const at = `topology.regions[${ri}]`;
    const name = r.name ?? `#${ri}`;
    if (r.name !== undefined && seenRegions.has(r.name)) problems.push(`${at}.name: region "${r.name}" appears twice`);
    if (r.name !== undefined) seenRegions.add(r.name);
    const nodeIds = new Set<number>();
    const nodes = r.nodes ?? [];
    nodes.forEach((n, ni) => {
      if (n.id !== undefined && seenIds.has(n.id)) problems.push(`${at}.nodes[${ni}].id: node "${n.id}" appears twice`);
      if (n.id !== undefined) seenIds.add(n.id);
      if (n.nodeId !== undefined && nodeIds.has(n.nodeId)) problems.push(`${at}.nodes[${ni}].nodeId: ${n.nodeId} is used twice in region "${name}"`);
      if (n.nodeId !== undefined) nodeIds.add(n.nodeId);
      if (n.roles && new Set(n.roles).size !== n.roles.length) problems.push(`${at}.nodes[${ni}].roles: a role is listed twice`);
    });
    if (nodes.some((n) => n.roles === undefined)) return; // role counts would be wrong; the role error is reported
    const controllers = nodes.filter((n) => n.roles?.includes("controller")).length;
    const brokers = nodes.filter((n) => n.roles?.includes("broker")).length;
    const regionName = name;
    if (controllers === 0) problems.push(`${at}.nodes: region "${regionName}" has no controller; give at least one node the "controller" role`);
    else if (controllers % 2 === 0)
      problems.push(`${at}.nodes: region "${regionName}" has ${controllers} controllers; a KRaft quorum needs an odd number (1, 3, 5)`);
    if (brokers === 0) problems.push(`${at}.nodes: region "${regionName}" has no broker; give at least one node the "broker" role`);
    topics.forEach((t, ti) => {
      if (t.replicationFactor !== undefined && t.replicationFactor > brokers)
        problems.push(`topology.topics[${ti}].replicationFactor: ${t.replicationFactor} exceeds the ${brokers} broker(s) of region "${regionName}"`);
    });
  });
  topics.forEach((t, ti) => {
    const minIsr = Number(t.config?.["min.insync.replicas"] ?? "1");
    if (t.replicationFactor !== undefined && !(minIsr >= 1 && minIsr <= t.replicationFactor))
      problems.push(`topology.topics[${ti}].config.min.insync.replicas: ${minIsr} must be between 1 and the replication factor ${t.replicationFactor}`);
  });
  const rep = spec.replication;
  if (rep) {
    const regionNames = new Set((spec.regions ?? []).map((r) => r.name));
    const seenFlows = new Set<string>();
    (rep.flows ?? []).forEach((f, fi) => {
      const at = `topology.replication.flows[${fi}]`;
      for (const end of ["source", "target"] as const) {
        const r = f[end];
        if (r !== undefined && !regionNames.has(r)) problems.push(`${at}.${end}: no region "${r}"; the regions are ${[...regionNames].join(", ")}`);
      }
      if (f.source !== undefined && f.source === f.target) problems.push(`${at}: a region cannot replicate to itself`);
      const key = `${f.source}->${f.target}`;
      if (seenFlows.has(key)) problems.push(`${at}: flow ${key} appears twice`);
      seenFlows.add(key);
    });
    for (const [field, list] of [["topics", rep.topics], ["groups", rep.groups]] as const)
      (list ?? []).forEach((re, i) => {
        try {
          if (re !== undefined) new RegExp(re);
        } catch (e) {
          problems.push(`topology.replication.${field}[${i}]: ${(e as Error).message}`);
        }
      });
  }
  const names = topics.map((t) => t.name);
  names.forEach((n, i) => {
    if (n !== undefined && names.indexOf(n) !== i) problems.push(`topology.topics[${i}].name: topic "${n}" appears twice`);
  });
}

/** Validates a topology spec strictly and fills defaults; throws one error listing every problem. */
export function parseTopology(input: unknown, source = "topology"): TopologySpec {
  const problems: Problems = [];
  const spec = topologyCheck(input, "topology", problems) as TopologySpec | undefined;
  if (spec) crossCheck(spec as DeepPartial<TopologySpec>, problems);
  if (spec?.identity)
    spec.identity = resolveIdentity(spec.identity as unknown as Parameters<typeof resolveIdentity>[0], {
      meshName: spec.name ?? "mesh",
      topics: [...(spec.topics ?? []).map((t) => t.name), ...INTERNAL_TOPICS],
      // The default identities name the seed's topics; only identities a spec writes are held to its topics.
      explicit: (input as { identity?: { identities?: unknown } } | null)?.identity?.identities !== undefined,
    }, problems);
  if (problems.length || !spec)
    throw new BadInputError(`invalid topology spec (${source})`, problems, "fix the fields named above; topology/README.md documents every key");
  return spec;
}

export const brokersOf = (r: RegionSpec): NodeSpec[] => r.nodes.filter((n) => n.roles.includes("broker"));
export const controllersOf = (r: RegionSpec): NodeSpec[] => r.nodes.filter((n) => n.roles.includes("controller"));

const SPECS_DIR = new URL("./specs/", import.meta.url).pathname;

/** The built-in topology specs, by name. */
export const builtInTopologies = (): string[] =>
  readdirSync(SPECS_DIR).filter((f) => f.endsWith(".json")).map((f) => f.slice(0, -".json".length)).sort();

/**
 * Loads and validates a topology: `ref` is a spec of topology/specs/ by name (without .json; default the
 * one-region mesh) or a path to a JSON or YAML spec of one's own, relative to `baseDir`.
 */
export function loadTopology(ref = "one-region", baseDir = process.cwd()): TopologySpec {
  if (looksLikePath(ref)) {
    const file = resolve(baseDir, ref);
    return parseTopology(readDataFile(file, "topology spec"), file);
  }
  const file = join(SPECS_DIR, `${ref}.json`);
  if (!existsSync(file))
    throw new BadInputError(`no topology spec "${ref}"`, [], `name one of ${builtInTopologies().join(", ")}, or give a path to a .json or .yaml spec (./my-topology.yaml)`);
  return parseTopology(readDataFile(file, "topology spec"), `topology/specs/${ref}.json`);
}
