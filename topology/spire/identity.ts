import { arr, bool, duration, obj, oneOf, optional, type Problems, record, str } from "../../lab/validate.ts";

/**
 * The workloads of the mesh that hold an identity. Each runs (or has its SVID fetched) under its own Unix user,
 * so the SPIRE agent tells them apart by `unix:uid`, the one selector every one of them can be verified by on a
 * host: the JVMs, the Node engines and the lab's in-process clients all run the same binaries (java, node), so
 * path and sha256 selectors could not separate them.
 */
export const WORKLOADS = [
  "broker",
  "mirrormaker",
  "registry",
  "ato-tax-service",
  "ato-tax-engine",
  "centrelink-engine",
  "dedupe-store",
  "lab",
] as const;
export type Workload = (typeof WORKLOADS)[number];

/**
 * Workloads that may call the schema registry's API (its TLS front checks the SPIFFE ID): the lab deploys the
 * schemas, the ATO tax service encodes assessments, the engines and the tax engine decode and encode.
 */
export const REGISTRY_CALLERS: Workload[] = ["lab", "ato-tax-service", "ato-tax-engine", "centrelink-engine"];

/** What one identity may do on the brokers; the lab derives Kafka ACLs from it (`deriveAcls`). */
export interface Grants {
  /** Topics it may write (WRITE, DESCRIBE). A name ending in `*` is a prefix. */
  produce: string[];
  /** Topics it may read (READ, DESCRIBE). */
  consume: string[];
  /** Consumer groups it may join and commit in (READ). */
  groups: string[];
  /** Topics it may create and configure (CREATE, ALTER_CONFIGS, DESCRIBE_CONFIGS): MirrorMaker's remote topics. */
  manage: string[];
  /** Cluster operations (e.g. DESCRIBE, DESCRIBE_CONFIGS, CREATE). */
  cluster: string[];
  /** A Kafka super user (`super.users`): the brokers and controllers themselves, and the lab, which writes the ACLs. */
  superUser: boolean;
}

export interface IdentitySpec {
  workload: Workload;
  /** The SPIFFE ID's path, e.g. `/ato/core-tax-service`. */
  path: string;
  /** The Unix user the workload (or its SVID sidecar) runs as: its `unix:uid` selector. Created by the lab. */
  user: string;
  grants: Grants;
}

export interface IdentityPlane {
  /** One trust domain for the mesh (every region's SPIRE server chains to one root). */
  trustDomain: string;
  /** X.509-SVID lifetime. The seed runs 4 h; tests use minutes. The agent rotates at half of it. */
  svidTtlMs: number;
  /**
   * Workloads whose SVIDs live longer than `svidTtlMs`. For a client that cannot take a renewed SVID (Apicurio's
   * KafkaSQL reads its key store once): on a short-TTL mesh it would otherwise be refused on its next connection.
   */
  svidTtlByWorkloadMs: Partial<Record<Workload, number>>;
  identities: IdentitySpec[];
}

/** The SVID lifetime of one workload: its own, or the plane's. */
export const svidTtlOf = (plane: IdentityPlane, workload: string): number => plane.svidTtlByWorkloadMs[workload as Workload] ?? plane.svidTtlMs;

/** The shortest TTL that still rotates: the agent syncs entries every 5 s and renews at half the TTL. */
export const MIN_SVID_TTL_MS = 30_000;

const ASSESSMENTS = "au.gov.ato.tax.assessment.v1";
const CLEARANCES = "au.gov.servicesaustralia.clearance.v1";
const none: Grants = { produce: [], consume: [], groups: [], manage: [], cluster: [], superUser: false };
const grants = (g: Partial<Grants>): Grants => ({ ...none, ...g });

/**
 * The seed's identities and what each may do. Topics named here must exist in the topology (checked), except
 * prefixes. MirrorMaker reads every region's topics and writes the renamed copies and its internal topics.
 */
export function defaultIdentities(): IdentitySpec[] {
  const id = (workload: Workload, path: string, g: Partial<Grants>): IdentitySpec => ({ workload, path, user: `meshlab-${workload}`, grants: grants(g) });
  return [
    id("broker", "/kafka/broker", { superUser: true }),
    id("lab", "/meshlab/lab", { superUser: true }),
    id("ato-tax-service", "/ato/core-tax-service", { produce: [ASSESSMENTS, `${ASSESSMENTS}.*`] }),
    id("ato-tax-engine", "/ato/tax-engine", { consume: [CLEARANCES, `*.${CLEARANCES}`], groups: ["ato-tax-engine*"] }),
    id("centrelink-engine", "/centrelink/clearance-engine", {
      consume: [ASSESSMENTS, `*.${ASSESSMENTS}`],
      // Its clearances, and the dead letters of what it could not decode or verify (generators/dlq.ts).
      produce: [CLEARANCES, `${CLEARANCES}.*`, `${ASSESSMENTS}.dlq`],
      groups: ["centrelink-clearance-engine*"],
    }),
    id("mirrormaker", "/kafka/mirrormaker", {
      consume: ["*"],
      produce: ["*"],
      manage: ["*"],
      groups: ["*"],
      cluster: ["DESCRIBE", "DESCRIBE_CONFIGS", "CREATE"],
    }),
    // Apicurio's KafkaSQL storage: its journal and snapshot topics, and the journal replicated from the primary
    // (which a secondary also writes: KafkaSQL puts a bootstrap marker on its journal at start to know it caught up).
    id("registry", "/registry/apicurio", {
      consume: ["meshlab-registry-*", "*.meshlab-registry-journal"],
      produce: ["meshlab-registry-*", "*.meshlab-registry-journal"],
      manage: ["meshlab-registry-*", "*.meshlab-registry-journal"],
      groups: ["*"],
      cluster: ["DESCRIBE"],
    }),
    id("dedupe-store", "/dedupe/redis", {}),
  ];
}

const topicPattern = str({ pattern: /^(\*|(\*\.)?[a-zA-Z0-9._-]+\*?)$/, patternHint: "a topic name, `name*` (a prefix), `*.name` (its copy from every region) or `*`" });
const OPS = ["DESCRIBE", "DESCRIBE_CONFIGS", "CREATE", "ALTER", "ALTER_CONFIGS", "IDEMPOTENT_WRITE", "CLUSTER_ACTION"] as const;

const grantsCheck = obj({
  produce: optional(arr(topicPattern), []),
  consume: optional(arr(topicPattern), []),
  groups: optional(arr(topicPattern), []),
  manage: optional(arr(topicPattern), []),
  cluster: optional(arr(oneOf(...OPS)), []),
  superUser: optional(bool, false),
});

export const identityCheck = obj({
  trustDomain: optional(str({ pattern: /^[a-z0-9._-]+$/, patternHint: "a trust domain name (lower-case letters, digits, '.', '-', '_')" }), ""),
  svidTtl: optional(duration, 600_000),
  svidTtlByWorkload: optional(record(duration), {}),
  identities: optional(
    arr(
      obj({
        workload: oneOf(...WORKLOADS),
        path: str({ pattern: /^(\/[a-zA-Z0-9._-]+)+$/, patternHint: "a SPIFFE ID path such as /ato/core-tax-service" }),
        user: optional(str({ pattern: /^[a-z_][a-z0-9_-]{0,31}$/, patternHint: "a Unix user name" }), ""),
        grants: optional(grantsCheck, () => grants({})),
      }),
    ),
    defaultIdentities,
  ),
});

/** Resolves the parsed block: default trust domain, users; then the checks that span fields. */
export function resolveIdentity(
  raw: { trustDomain: string; svidTtl: number; svidTtlByWorkload: Record<string, number>; identities: { workload: Workload; path: string; user: string; grants: Grants }[] },
  ctx: { meshName: string; topics: string[]; explicit: boolean },
  problems: Problems,
): IdentityPlane {
  const at = "topology.identity";
  if (raw.svidTtl < MIN_SVID_TTL_MS)
    problems.push(`${at}.svidTtl: ${raw.svidTtl / 1000} s is too short to rotate (the agent renews at half the TTL and syncs every 5 s); use at least ${MIN_SVID_TTL_MS / 1000}s`);
  for (const [w, ms] of Object.entries(raw.svidTtlByWorkload)) {
    if (!(WORKLOADS as readonly string[]).includes(w)) problems.push(`${at}.svidTtlByWorkload.${w}: no such workload; the workloads are ${WORKLOADS.join(", ")}`);
    else if (ms < raw.svidTtl) problems.push(`${at}.svidTtlByWorkload.${w}: ${ms / 1000} s is shorter than svidTtl (${raw.svidTtl / 1000} s); it is for workloads whose SVIDs must live longer`);
  }
  const seen = new Map<string, number>();
  const paths = new Map<string, number>();
  raw.identities.forEach((id, i) => {
    if (seen.has(id.workload)) problems.push(`${at}.identities[${i}].workload: "${id.workload}" already has an identity (identities[${seen.get(id.workload)}])`);
    seen.set(id.workload, i);
    if (paths.has(id.path)) problems.push(`${at}.identities[${i}].path: ${id.path} is also identities[${paths.get(id.path)}]'s; every workload needs its own SPIFFE ID`);
    paths.set(id.path, i);
    if (ctx.explicit)
    for (const field of ["produce", "consume", "manage"] as const)
      id.grants[field].forEach((t, ti) => {
        // `*.name` is a topic's copy from every region, `name.dlq` its dead-letter topic (the lab creates it).
        const base = (t.startsWith("*.") ? t.slice(2) : t).replace(/\.dlq$/, "");
        if (base.includes("*") || ctx.topics.includes(base)) return;
        problems.push(`${at}.identities[${i}].grants.${field}[${ti}]: no topic "${t}" in the topology; the topics are ${ctx.topics.join(", ")} (or use a prefix with *)`);
      });
  });
  for (const w of WORKLOADS)
    if (!seen.has(w)) problems.push(`${at}.identities: no identity for workload "${w}"; every workload needs one (omit identities for the defaults)`);
  return {
    trustDomain: raw.trustDomain || `${ctx.meshName}.meshlab.test`,
    svidTtlMs: raw.svidTtl,
    svidTtlByWorkloadMs: raw.svidTtlByWorkload as Partial<Record<Workload, number>>,
    identities: raw.identities.map((id) => ({ ...id, user: id.user || `meshlab-${id.workload}` })),
  };
}

export const spiffeId = (plane: IdentityPlane, workload: Workload): string => {
  const id = plane.identities.find((x) => x.workload === workload);
  if (!id) throw new Error(`no identity for workload ${workload}`);
  return `spiffe://${plane.trustDomain}${id.path}`;
};

/** One Kafka ACL binding, in the vocabulary of kafka-acls / the Admin API. */
export interface AclBinding {
  principal: string;
  resourceType: "TOPIC" | "GROUP" | "CLUSTER";
  resourceName: string;
  pattern: "LITERAL" | "PREFIXED";
  operation: string;
}

/**
 * Resource patterns of a grant: `*` is every name, `name*` a prefix, `*.name` the replicated copy of `name` from
 * every region (`<region>.name`, MirrorMaker's DefaultReplicationPolicy), which Kafka cannot match as a suffix, so
 * it is expanded to one literal per region.
 */
export function resources(name: string, regions: string[]): { resourceName: string; pattern: "LITERAL" | "PREFIXED" }[] {
  if (name === "*") return [{ resourceName: "*", pattern: "LITERAL" }];
  if (name.startsWith("*.")) return regions.map((r) => ({ resourceName: `${r}.${name.slice(2)}`, pattern: "LITERAL" as const }));
  if (name.endsWith("*")) return [{ resourceName: name.slice(0, -1), pattern: "PREFIXED" }];
  return [{ resourceName: name, pattern: "LITERAL" }];
}

/** The ACLs that let each identity do exactly what its grants say (super users need none: `super.users`). */
export function deriveAcls(plane: IdentityPlane, regions: string[]): AclBinding[] {
  const out: AclBinding[] = [];
  const seen = new Set<string>();
  const add = (b: AclBinding) => {
    const k = JSON.stringify(b);
    if (seen.has(k)) return;
    seen.add(k);
    out.push(b);
  };
  for (const id of plane.identities) {
    if (id.grants.superUser) continue;
    const principal = `User:${spiffeId(plane, id.workload)}`;
    const on = (type: AclBinding["resourceType"], names: string[], ops: string[]) => {
      for (const n of names) for (const r of resources(n, regions)) for (const operation of ops) add({ principal, resourceType: type, ...r, operation });
    };
    on("TOPIC", id.grants.produce, ["WRITE", "DESCRIBE"]);
    on("TOPIC", id.grants.consume, ["READ", "DESCRIBE"]);
    on("TOPIC", id.grants.manage, ["CREATE", "ALTER_CONFIGS", "DESCRIBE_CONFIGS"]);
    on("GROUP", id.grants.groups, ["READ", "DESCRIBE"]);
    for (const operation of id.grants.cluster) add({ principal, resourceType: "CLUSTER", resourceName: "kafka-cluster", pattern: "LITERAL", operation });
  }
  return out;
}

/** `super.users` of every node. */
export const superUsers = (plane: IdentityPlane): string =>
  plane.identities
    .filter((i) => i.grants.superUser)
    .map((i) => `User:${spiffeId(plane, i.workload)}`)
    .join(";");

/** One SPIRE registration entry (the JSON that `spire-server entry create -data` reads). */
export interface RegistrationEntry {
  spiffe_id: string;
  parent_id: string;
  selectors: { type: string; value: string }[];
  x509_svid_ttl: number;
  hint: string;
}

/** The region agent's own SPIFFE ID (a node alias created with its join token). */
export const agentId = (plane: IdentityPlane, region: string): string => `spiffe://${plane.trustDomain}/meshlab/agent/${region}`;

/** Registration entries for one region's agent: each workload by the uid of its user. */
export function renderEntries(plane: IdentityPlane, region: string, uids: Record<string, number>): { entries: RegistrationEntry[] } {
  return {
    entries: plane.identities.map((id) => {
      const uid = uids[id.user];
      if (uid === undefined) throw new Error(`renderEntries: no uid for user ${id.user}`);
      return {
        spiffe_id: spiffeId(plane, id.workload),
        parent_id: agentId(plane, region),
        selectors: [{ type: "unix", value: `uid:${uid}` }],
        x509_svid_ttl: Math.round(svidTtlOf(plane, id.workload) / 1000),
        hint: id.workload,
      };
    }),
  };
}
