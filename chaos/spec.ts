import { BadInputError } from "../lab/errors.ts";
import { type Workload, WORKLOADS } from "../topology/spire/identity.ts";
import { type LatencyRange, rangeCheck } from "../generators/dependency.ts";
import { arr, bool, type Check, duration, num, obj, oneOf, optional, type Problems, str } from "../lab/validate.ts";
import { KAFKA_VERSION, KAFKA_VERSIONS } from "../topology/kafka/install.ts";

/**
 * Which components a fault hits. Selectors are data and resolved against the running mesh when the fault is
 * injected (the leader of a partition or of the controller quorum is whoever leads at that moment).
 *
 * - `{ pick: "one" | "minority" | "majority" | "all", of?: "nodes" | "brokers" | "controllers" | "consumers", region? }`
 *   (`one` and `minority` pick with the run's seed, so a replay hits the same nodes);
 * - `{ leaderOf: { topic, partition } }` or `{ leaderOf: { topic, key } }`: the broker leading that partition (a key
 *   is mapped to its partition the way the lab's librdkafka producer does, CRC32 modulo the partition count);
 * - `{ quorumLeader: true, region? }`: the active KRaft controller;
 * - `{ region: "syd" }`: every node of a region;
 * - `{ named: "syd-2" }` or `{ named: "centrelink-1" }`: one named node or consumer instance.
 */
export type Selector =
  | { pick: "one" | "minority" | "majority" | "all"; of: "nodes" | "brokers" | "controllers" | "consumers"; region?: string }
  | { leaderOf: { topic: string; partition?: number; key?: string }; region?: string }
  | { quorumLeader: true; region?: string }
  | { region: string }
  | { named: string };

/** Toxiproxy toxics, each on every selected link. */
export const NETWORK_KINDS = ["latency", "bandwidth", "timeout", "reset", "slicer", "cut"] as const;
/** Signals and restarts of Kafka nodes or Centrelink engine processes. */
export const PROCESS_KINDS = ["kill", "stop", "restart", "pause"] as const;
/** Faults of the SPIRE plane of the target's region (chaos/identity.ts); mTLS meshes only. */
export const IDENTITY_KINDS = ["attestation-failure", "svid-expiry", "spire-server-down"] as const;
export const FAULT_KINDS = [...NETWORK_KINDS, ...PROCESS_KINDS, "partition", "rolling-restart", "rolling-upgrade", "heartbeat-loss", "rebalance-storm", "disk-fill", "poison-pill", "forged-signature", "rogue-workload", "slow-dependency", ...IDENTITY_KINDS] as const;
/** Faults that need the identity plane (SVIDs, signatures, SPIRE): refused before a plaintext run starts. */
export const MTLS_ONLY_FAULTS = ["forged-signature", "rogue-workload", ...IDENTITY_KINDS] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];
export type NetworkKind = (typeof NETWORK_KINDS)[number];

interface FaultBase {
  /** When to inject, in ms after the schedule starts (the start of traffic in a run). */
  at: number;
  /** How long the fault lasts before it is healed; 0 for instantaneous faults (restart). */
  duration: number;
  target: Selector;
  /** A label for the timeline; defaults to the kind. */
  name?: string;
}

export type FaultSpec =
  | (FaultBase & {
      kind: NetworkKind;
      /** Link classes of the selected nodes (`<node>.<class>` proxies): `ato`, `centrelink`, `broker`, `controller`, `replication` ... */
      links: string[];
      /** Toxic direction: `downstream` (target to client), `upstream`, or `both`. */
      direction: "downstream" | "upstream" | "both";
      latencyMs: number;
      jitterMs: number;
      rateKBps: number;
      timeoutMs: number;
      avgBytes: number;
      delayUs: number;
    })
  | (FaultBase & { kind: "kill" | "stop" | "restart" | "pause" })
  | (FaultBase & { kind: "partition" })
  | (FaultBase & { kind: "rolling-restart"; intervalMs: number })
  | (FaultBase & {
      kind: "rolling-upgrade";
      /** The Kafka version each node is switched to (one of KAFKA_VERSIONS); the mesh starts on its topology's `kafka.version`. */
      to: string;
      intervalMs: number;
      /** Finalise the features on the new release once every node runs it (`kafka-features upgrade --release-version`). */
      finalise: boolean;
      /** Topics whose leadership moves are counted per node. */
      topics: string[];
    })
  | (FaultBase & {
      kind: "heartbeat-loss";
      /** `cut`: packets to the coordinator are dropped (a firewall DROP); `latency`: delayed by latencyMs (throttled). */
      mode: "cut" | "latency";
      latencyMs: number;
      /** The consumer group whose coordinator link is faulted. */
      group: string;
    })
  | (FaultBase & { kind: "rebalance-storm"; everyMs: number; instances: number })
  | (FaultBase & {
      kind: "disk-fill";
      percent: number;
      /**
       * `records` (default): Kafka's own data (a ballast topic on the target broker); the heal lowers its
       * `retention.bytes` and waits for the broker's retention task to free the disk. `file`: something other than
       * Kafka fills the volume (one plain file); the heal deletes it.
       */
      fill: "records" | "file";
    })
  | (FaultBase & {
      kind: "poison-pill";
      /** Topic the pills are written to (default the assessment topic) in the target's region. */
      topic: string;
      /** Pills written, evenly over the duration (the first at injection). */
      count: number;
    })
  | (FaultBase & {
      kind: "slow-dependency";
      /** The lookup latency while the fault lasts (`"150-600ms"`), for this share (0..1) of the debt lookups. */
      range: LatencyRange;
      share: number;
    })
  | (FaultBase & {
      kind: "forged-signature";
      /** Forged assessments written onto the assessment topic of the target's region (mTLS meshes: chaos/forged.ts). */
      count: number;
    })
  | (FaultBase & {
      kind: "rogue-workload";
      /** Whose valid SVID the rogue process holds (any workload but the ATO tax service; chaos/rogue.ts). */
      identity: "centrelink-engine" | "ato-tax-engine" | "registry" | "dedupe-store";
      /** Assessments it tries to produce, evenly over the duration. */
      count: number;
    })
  | (FaultBase & {
      kind: (typeof IDENTITY_KINDS)[number];
      /**
       * attestation-failure: the workload whose entry stops matching. svid-expiry and spire-server-down: the workload
       * whose current SVID the fault's probe presents to a broker each second (default the ATO tax service).
       */
      workload: Workload;
    });

const name = str({ pattern: /^[a-z][a-z0-9._-]*$/, patternHint: "a name (lower-case letters, digits, '.', '_' and '-')" });

const selector: Check<Selector> = (v, path, problems) => {
  if (typeof v !== "object" || v === null || Array.isArray(v))
    return void problems.push(`${path}: expected a selector object ({pick}, {leaderOf}, {quorumLeader}, {region} or {named})`);
  const o = v as Record<string, unknown>;
  if ("pick" in o)
    return obj({
      pick: oneOf("one", "minority", "majority", "all"),
      of: optional(oneOf("nodes", "brokers", "controllers", "consumers"), "nodes" as const),
      region: optional(name, undefined as unknown as string),
    })(v, path, problems) as Selector;
  if ("leaderOf" in o) {
    const s = obj({
      leaderOf: obj({ topic: str(), partition: optional(num({ integer: true, min: 0 }), undefined as unknown as number), key: optional(str(), undefined as unknown as string) }),
      region: optional(name, undefined as unknown as string),
    })(v, path, problems);
    if (s?.leaderOf && (s.leaderOf.partition === undefined) === (s.leaderOf.key === undefined))
      problems.push(`${path}.leaderOf: give exactly one of partition or key`);
    return s as Selector;
  }
  if ("quorumLeader" in o) return obj({ quorumLeader: literalTrue, region: optional(name, undefined as unknown as string) })(v, path, problems) as Selector;
  if ("region" in o) return obj({ region: name })(v, path, problems) as Selector;
  if ("named" in o) return obj({ named: name })(v, path, problems) as Selector;
  problems.push(`${path}: unknown selector (keys: ${Object.keys(o).join(", ") || "none"}); use pick, leaderOf, quorumLeader, region or named`);
  return undefined;
};

const literalTrue: Check<true> = (v, path, problems) => {
  if (v !== true) return void problems.push(`${path}: expected true`);
  return true;
};

const stripUndefined = <T extends Record<string, unknown>>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, x]) => x !== undefined)) as T;

const base = { at: duration, duration: optional(duration, 0), target: selector, name: optional(name, undefined as unknown as string) };

const network = obj({
  ...base,
  kind: oneOf(...NETWORK_KINDS),
  links: arr(name, { min: 1 }),
  direction: optional(oneOf("downstream", "upstream", "both"), "downstream" as const),
  latencyMs: optional(num({ min: 0 }), 0),
  jitterMs: optional(num({ min: 0 }), 0),
  rateKBps: optional(num({ min: 0 }), 0),
  timeoutMs: optional(num({ min: 0 }), 0),
  avgBytes: optional(num({ integer: true, min: 1 }), 64),
  delayUs: optional(num({ integer: true, min: 0 }), 10),
});

const byKind: Record<FaultKind, Check<unknown>> = {
  ...(Object.fromEntries(NETWORK_KINDS.map((k) => [k, network])) as Record<NetworkKind, Check<unknown>>),
  ...(Object.fromEntries(PROCESS_KINDS.map((k) => [k, obj({ ...base, kind: oneOf(k) })])) as Record<string, Check<unknown>>),
  partition: obj({ ...base, kind: oneOf("partition") }),
  "rolling-restart": obj({ ...base, kind: oneOf("rolling-restart"), intervalMs: optional(duration, 10_000) }),
  "rolling-upgrade": obj({
    ...base,
    kind: oneOf("rolling-upgrade"),
    to: optional(oneOf(...KAFKA_VERSIONS), KAFKA_VERSION),
    intervalMs: optional(duration, 5_000),
    finalise: optional(bool, true),
    topics: optional(arr(str(), { min: 1 }), ["au.gov.ato.tax.assessment.v1", "au.gov.servicesaustralia.clearance.v1"]),
  }),
  "heartbeat-loss": obj({
    ...base,
    kind: oneOf("heartbeat-loss"),
    mode: optional(oneOf("cut", "latency"), "cut" as const),
    latencyMs: optional(num({ min: 0 }), 0),
    group: optional(str(), "centrelink-clearance-engine"),
  }),
  "rebalance-storm": obj({ ...base, kind: oneOf("rebalance-storm"), everyMs: optional(duration, 5_000), instances: optional(num({ integer: true, min: 1, max: 16 }), 1) }),
  "poison-pill": obj({ ...base, kind: oneOf("poison-pill"), topic: optional(str(), "au.gov.ato.tax.assessment.v1"), count: optional(num({ integer: true, min: 1, max: 10_000 }), 4) }),
  "rogue-workload": obj({
    ...base,
    kind: oneOf("rogue-workload"),
    identity: optional(oneOf("centrelink-engine", "ato-tax-engine", "registry", "dedupe-store"), "centrelink-engine" as const),
    count: optional(num({ integer: true, min: 1, max: 10_000 }), 8),
  }),
  "slow-dependency": obj({ ...base, kind: oneOf("slow-dependency"), range: rangeCheck, share: optional(num({ min: 0, max: 1 }), 1) }),
  "forged-signature": obj({ ...base, kind: oneOf("forged-signature"), count: optional(num({ integer: true, min: 1, max: 10_000 }), 8) }),
  ...(Object.fromEntries(IDENTITY_KINDS.map((k) => [k, obj({ ...base, kind: oneOf(k), workload: optional(oneOf(...WORKLOADS), "ato-tax-service" as const) })])) as Record<string, Check<unknown>>),
  "disk-fill": obj({ ...base, kind: oneOf("disk-fill"), percent: num({ min: 1, max: 100 }), fill: optional(oneOf("records", "file"), "records" as const) }),
} as Record<FaultKind, Check<unknown>>;

/** Kinds that need no duration: a restart is over when it is done, a rolling round when every node went through it. */
const INSTANT_KINDS: FaultKind[] = ["restart", "rolling-restart", "rolling-upgrade"];
/** Kinds whose selector must name consumer instances, and kinds that need nodes. */
const CONSUMER_ONLY: FaultKind[] = ["heartbeat-loss", "rebalance-storm"];
const NODE_ONLY: FaultKind[] = [...NETWORK_KINDS, "partition", "rolling-restart", "rolling-upgrade", "disk-fill", "poison-pill", "forged-signature", "rogue-workload", "slow-dependency", ...IDENTITY_KINDS];

const fault: Check<FaultSpec> = (v, path, problems) => {
  const kind = (v as { kind?: unknown } | null)?.kind;
  if (typeof kind !== "string" || !(FAULT_KINDS as readonly string[]).includes(kind))
    return void problems.push(`${path}.kind: ${JSON.stringify(kind)} is not one of ${FAULT_KINDS.join(", ")}`);
  const f = byKind[kind as FaultKind](v, path, problems) as FaultSpec | undefined;
  if (!f) return undefined;
  const s = f.target as Selector | undefined;
  const ofConsumers = !!s && "pick" in s && s.pick !== undefined && s.of === "consumers";
  const named = !!s && "named" in s;
  if (CONSUMER_ONLY.includes(f.kind) && s && !ofConsumers && !named)
    problems.push(`${path}.target: ${f.kind} targets consumer instances ({ pick: ..., of: "consumers" } or { named: "centrelink-1" })`);
  if (NODE_ONLY.includes(f.kind) && ofConsumers) problems.push(`${path}.target: ${f.kind} targets Kafka nodes, not consumers`);
  if (!INSTANT_KINDS.includes(f.kind) && f.duration === 0) problems.push(`${path}.duration: ${f.kind} needs a duration above 0`);
  if (f.kind === "latency" && f.latencyMs === 0) problems.push(`${path}.latencyMs: a latency fault needs latencyMs above 0`);
  if (f.kind === "bandwidth" && f.rateKBps === 0) problems.push(`${path}.rateKBps: a bandwidth fault needs rateKBps above 0`);
  if (f.kind === "heartbeat-loss" && f.mode === "latency" && f.latencyMs === 0) problems.push(`${path}.latencyMs: mode latency needs latencyMs above 0`);
  return stripUndefined(f as unknown as Record<string, unknown>) as unknown as FaultSpec;
};

/** Parses a fault schedule strictly: every problem, with its path, in one error. */
export function parseFaults(input: unknown, source = "faults"): FaultSpec[] {
  const problems: Problems = [];
  const faults = arr(fault)(input ?? [], "faults", problems) ?? [];
  if (problems.length) throw new BadInputError(`invalid fault schedule (${source})`, problems, "fix the fields named above; chaos/README.md documents every fault kind");
  return faults;
}

/** A short human-readable form of a selector, for the timeline. */
export function describeSelector(s: Selector): string {
  if ("pick" in s) return `${s.pick} ${s.of}${s.region ? ` of ${s.region}` : ""}`;
  if ("leaderOf" in s) return `leader of ${s.leaderOf.topic}${s.leaderOf.key !== undefined ? ` key ${s.leaderOf.key}` : `-${s.leaderOf.partition}`}`;
  if ("quorumLeader" in s) return `quorum leader${s.region ? ` of ${s.region}` : ""}`;
  if ("region" in s) return `region ${s.region}`;
  return s.named;
}
