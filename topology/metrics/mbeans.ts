/**
 * The JMX figures the lab samples from each JVM, as data: which MBean and attribute, and how a reading becomes a
 * value on the timeline. `parseReadings` and `toSample` are pure, so the arithmetic is unit-tested without a JVM.
 */

/** What a JVM of the mesh is: a Kafka node by its `process.roles` ("broker", "controller", "broker,controller"), or MirrorMaker 2. */
export type MetricsRole = string;

/**
 * How a reading becomes a value:
 * - `gauge`: as read;
 * - `rate`: a cumulative count, turned into events per second between two readings;
 * - `busy`: a cumulative count of idle nanoseconds per thread (Kafka's RequestHandlerAvgIdlePercent meter), turned
 *   into the idle share of the interval between two readings: the handlers' idle ratio over that second, not the
 *   meter's one-minute average, which hides a stall of a few seconds;
 * - `max` / `mean`: over every MBean a pattern matches (MirrorMaker's, one per topic partition).
 */
export type ReadKind = "gauge" | "rate" | "busy" | "max" | "mean";

export interface MetricRead {
  /** The field in metrics.ndjson. */
  name: string;
  mbean: string;
  attribute: string;
  kind: ReadKind;
  /** Which JVMs have it: a broker's figures, a controller's, MirrorMaker's. */
  on: "broker" | "controller" | "mirrormaker";
  /**
   * How the JVMs of a region add up to the region's figure at one moment: under-replicated partitions are counted
   * by each partition's leader (sum), every controller sees the whole cluster's offline partitions (max), the
   * worst broker's request time and idle ratio are the region's (max, min).
   */
  across: "sum" | "max" | "min" | "mean";
}

const requestTime = (request: string, name: string): MetricRead => ({
  name,
  mbean: `kafka.network:type=RequestMetrics,name=TotalTimeMs,request=${request}`,
  attribute: "99thPercentile",
  kind: "gauge",
  on: "broker",
  across: "max",
});
const MIRROR_SOURCE = "kafka.connect.mirror:type=MirrorSourceConnector,*";

export const METRIC_READS: readonly MetricRead[] = [
  { name: "underReplicated", mbean: "kafka.server:type=ReplicaManager,name=UnderReplicatedPartitions", attribute: "Value", kind: "gauge", on: "broker", across: "sum" },
  { name: "isrShrinksPerSec", mbean: "kafka.server:type=ReplicaManager,name=IsrShrinksPerSec", attribute: "Count", kind: "rate", on: "broker", across: "sum" },
  { name: "isrExpandsPerSec", mbean: "kafka.server:type=ReplicaManager,name=IsrExpandsPerSec", attribute: "Count", kind: "rate", on: "broker", across: "sum" },
  requestTime("Produce", "produceP99Ms"),
  requestTime("FetchConsumer", "fetchConsumerP99Ms"),
  requestTime("FetchFollower", "fetchFollowerP99Ms"),
  { name: "handlerIdleRatio", mbean: "kafka.server:type=KafkaRequestHandlerPool,name=RequestHandlerAvgIdlePercent", attribute: "Count", kind: "busy", on: "broker", across: "min" },
  { name: "offlinePartitions", mbean: "kafka.controller:type=KafkaController,name=OfflinePartitionsCount", attribute: "Value", kind: "gauge", on: "controller", across: "max" },
  { name: "activeControllers", mbean: "kafka.controller:type=KafkaController,name=ActiveControllerCount", attribute: "Value", kind: "gauge", on: "controller", across: "sum" },
  { name: "replicationLatencyMaxMs", mbean: MIRROR_SOURCE, attribute: "replication-latency-ms-max", kind: "max", on: "mirrormaker", across: "max" },
  { name: "replicationLatencyAvgMs", mbean: MIRROR_SOURCE, attribute: "replication-latency-ms-avg", kind: "mean", on: "mirrormaker", across: "mean" },
];

/** The figures of a JVM of this role. */
export const readsOf = (role: MetricsRole): MetricRead[] => METRIC_READS.filter((r) => role.split(",").includes(r.on));

/** One Jolokia bulk request (POST body) reading every figure of a role at once. */
export function bulkRequest(role: MetricsRole): { type: "read"; mbean: string; attribute: string }[] {
  return readsOf(role).map((r) => ({ type: "read", mbean: r.mbean, attribute: r.attribute }));
}

/** Raw readings of one JVM at one moment: the figure's value (counts still cumulative). */
export type Readings = Record<string, number>;

/**
 * Reads a Jolokia bulk response (one entry per request of `bulkRequest(role)`, in order). An entry that failed
 * (status 404: a MirrorMaker connector not started yet, a broker MBean on a controller-only node) or holds no
 * finite number is left out; a body that is no bulk response at all is an error.
 */
export function parseReadings(role: MetricsRole, body: unknown): Readings {
  const reads = readsOf(role);
  if (!Array.isArray(body) || body.length !== reads.length)
    throw new Error(`not a Jolokia bulk response of ${reads.length} reads: ${JSON.stringify(body).slice(0, 200)}`);
  const out: Readings = {};
  reads.forEach((r, i) => {
    const entry = body[i] as { status?: number; value?: unknown } | null;
    if (entry?.status !== 200) return;
    const v = r.kind === "max" || r.kind === "mean" ? overPattern(entry.value, r.attribute, r.kind) : finite(entry.value);
    if (v !== undefined) out[r.name] = v;
  });
  return out;
}

const finite = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : undefined);

/** A pattern read answers `{ "<mbean name>": { "<attribute>": value } }`; NaN (a metric with no sample yet) is skipped. */
function overPattern(value: unknown, attribute: string, kind: "max" | "mean"): number | undefined {
  if (!value || typeof value !== "object") return undefined;
  const vs = Object.values(value as Record<string, Record<string, unknown> | null>)
    .map((attrs) => finite(attrs?.[attribute]))
    .filter((v): v is number => v !== undefined);
  if (!vs.length) return undefined;
  return kind === "max" ? Math.max(...vs) : vs.reduce((a, b) => a + b, 0) / vs.length;
}

/**
 * The values of one sample: gauges as read; counts as per-second rates (or the idle share) since the previous
 * readings of the same JVM. Without previous readings, or when a count went down (the JVM restarted), a count's
 * value is left out rather than guessed.
 */
export function toSample(role: MetricsRole, cur: { atMs: number; readings: Readings }, prev?: { atMs: number; readings: Readings }): Record<string, number> {
  const out: Record<string, number> = {};
  const dtMs = prev ? cur.atMs - prev.atMs : 0;
  for (const r of readsOf(role)) {
    const v = cur.readings[r.name];
    if (v === undefined) continue;
    if (r.kind !== "rate" && r.kind !== "busy") {
      out[r.name] = round(v);
      continue;
    }
    const before = prev?.readings[r.name];
    if (before === undefined || dtMs <= 0 || v < before) continue;
    out[r.name] = r.kind === "rate" ? round(((v - before) * 1000) / dtMs) : round(Math.min(1, (v - before) / (dtMs * 1e6)), 3);
  }
  return out;
}

const round = (v: number, digits = 2): number => Math.round(v * 10 ** digits) / 10 ** digits;
