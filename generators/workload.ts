import { BadInputError } from "../lab/errors.ts";
import { arr, type Check, duration, num, obj, oneOf, optional, type Problems, str } from "../lab/validate.ts";
import { ENCODINGS, type Encoding } from "./codec.ts";
import { type DependencyLatency, type LatencyRange, rangeCheck } from "./dependency.ts";
import { dlqTopicOf } from "./dlq.ts";
import { CACHE_MODES, type CacheMode } from "./reconciliation.ts";
import { type ClientProps, driverNames, type DriverName } from "./drivers/driver.ts";
import { rateCheck, rateProblems, type RateSpec } from "./profiles.ts";

export const ASSESSMENT_TOPIC = "au.gov.ato.tax.assessment.v1";
export const CLEARANCE_TOPIC = "au.gov.servicesaustralia.clearance.v1";

/** The clearance traffic of a run: how much, how fast, and how the clients are configured. */
export interface WorkloadSpec {
  /** How long load is measured; the drain comes after. */
  durationMs: number;
  /**
   * Load offered at the same rate before measuring starts, so JIT compilation, connection set-up and the first
   * fetch sessions do not count against the SLO. Warm-up requests are still checked for loss and duplicates.
   */
  warmupMs: number;
  /**
   * Warm-up until steady: above `warmupMs`, the warm-up goes on at the first rate until the backlog is near zero
   * (generators/warmup.ts), at most this long; a flow that never settles fails the run. 0 (default): fixed warm-up.
   */
  warmupMaxMs?: number;
  rate: RateSpec;
  seed: number;
  driver: DriverName;
  /** Taxpayers in the seeded population (keys repeat, so per-key order can be checked). */
  population: number;
  centrelink: {
    /** Consumer-engine processes in the Centrelink group. */
    instances: number;
    groupId: string;
    /** librdkafka consumer properties (assignor, session timeout, group protocol ...). */
    consumer: ClientProps;
    /** Simulated debt-registry lookup time, uniform between min and max (the base of `debtLookup`). */
    debtCheckMs: { min: number; max: number };
    /**
     * The debt registry as a dependency whose latency is data: `{ "base": "1-5ms", "slow": { "share": 0.05,
     * "range": "150-600ms" } }` (base defaults to debtCheckMs). The `slow-dependency` fault replaces it for a window.
     */
    debtLookup?: { base?: LatencyRange; slow?: DependencyLatency["slow"] };
    /** Partitions an engine answers at once (each partition stays in order). */
    concurrency: number;
    /**
     * `pipelined` (default): an engine takes the next records while responses are in flight, at most `maxInFlight`
     * (default 32), one at a time per key, and commits up to the first unacknowledged one; `serial`: one record
     * per partition at a time, its offset committed once its response is acknowledged.
     */
    engine: "pipelined" | "serial";
    maxInFlight: number;
    /** How long the idempotent consumer remembers a processed event id (in the topology's dedupe store). */
    dedupeTtlSeconds: number;
  };
  /**
   * Regions that take writes (default: the topology's first region). With several, each taxpayer belongs to one
   * of them (active-active); a failover scenario moves the writes at run time.
   */
  regions: string[];
  ato: {
    groupId: string;
    consumer: ClientProps;
    producer: ClientProps;
    /**
     * The consumer-timeout row: how long the ATO tax engine waits for a clearance (the seed: 100 ms). Past it, it
     * decides from its eligibility cache and publishes a reconciliation retry event (generators/reconciliation.ts).
     * Absent: it waits for every response.
     */
    budgetMs?: number;
    /** How the cache decides past the budget (generators/reconciliation.ts): `debt-status` (default) or `last-outcome`. */
    eligibilityCache?: CacheMode;
  };
  /** After load stops, how long to wait for outstanding clearances before calling them lost. */
  drainTimeoutMs: number;
  /**
   * `dlq` (default `<assessment>.dlq`) takes what the producer's serializer or a consumer's deserializer refused;
   * `retry` (default `<assessment>.retry`) the reconciliation retry events of decisions made past the budget.
   */
  topics: { assessment: string; clearance: string; dlq?: string; retry?: string };
  /**
   * The schema-mismatch row of the failure matrix: this share (0..1) of assessments is produced not matching the
   * registered schema (a stable pick by seed and sequence number). The serializer refuses each before it is sent
   * and the producer routes the raw payload to the DLQ; those requests are not clearance requests (not in the ledger).
   */
  schemaMismatch?: { share: number };
  /** Payload encoding of both topics: Avro or Protobuf, each in the registry wire format (generators/codec.ts). */
  encoding?: Encoding;
}

const props: Check<ClientProps> = (v, path, problems) => {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return void problems.push(`${path}: expected an object of client properties`);
  for (const [k, x] of Object.entries(v))
    if (!["string", "number", "boolean"].includes(typeof x)) problems.push(`${path}.${k}: expected a string, number or boolean`);
  return v as ClientProps;
};

const check = obj({
  durationMs: optional(duration, 30_000),
  warmupMs: optional(duration, 10_000),
  warmupMaxMs: optional(duration, undefined as unknown as number),
  rate: optional(rateCheck, { kind: "constant" as const, perSecond: 50, scale: 1 }),
  seed: optional(num({ integer: true, min: 0 }), 42),
  driver: optional(oneOf(...driverNames), "confluent" as DriverName),
  population: optional(num({ integer: true, min: 1 }), 10_000),
  centrelink: optional(
    obj({
      instances: optional(num({ integer: true, min: 1, max: 64 }), 3),
      groupId: optional(str(), "centrelink-clearance-engine"),
      consumer: optional(props, {}),
      debtCheckMs: optional(obj({ min: num({ min: 0 }), max: num({ min: 0 }) }), { min: 1, max: 5 }),
      concurrency: optional(num({ integer: true, min: 1, max: 64 }), 4),
      engine: optional(oneOf("pipelined", "serial"), "pipelined"),
      maxInFlight: optional(num({ integer: true, min: 1, max: 10_000 }), 32),
      dedupeTtlSeconds: optional(num({ integer: true, min: 1 }), 86_400),
      debtLookup: optional(
        obj({ base: optional(rangeCheck, undefined as unknown as LatencyRange), slow: optional(obj({ share: num({ min: 0, max: 1 }), range: rangeCheck }), undefined as unknown as DependencyLatency["slow"]) }),
        undefined as unknown as { base?: LatencyRange },
      ),
    }),
    () => ({ instances: 3, groupId: "centrelink-clearance-engine", consumer: {}, debtCheckMs: { min: 1, max: 5 }, concurrency: 4, engine: "pipelined", maxInFlight: 32, dedupeTtlSeconds: 86_400 }),
  ),
  regions: optional(arr(str({ pattern: /^[a-z][a-z0-9-]*$/, patternHint: "a region name of the topology" })), []),
  ato: optional(
    obj({ groupId: optional(str(), "ato-tax-engine"), consumer: optional(props, {}), producer: optional(props, {}), budgetMs: optional(num({ min: 1 }), undefined as unknown as number), eligibilityCache: optional(oneOf(...CACHE_MODES), undefined as unknown as CacheMode) }),
    () => ({ groupId: "ato-tax-engine", consumer: {}, producer: {} }),
  ),
  drainTimeoutMs: optional(duration, 30_000),
  topics: optional(obj({ assessment: optional(str(), ASSESSMENT_TOPIC), clearance: optional(str(), CLEARANCE_TOPIC), dlq: optional(str(), ""), retry: optional(str(), "") }), () => ({
    assessment: ASSESSMENT_TOPIC,
    clearance: CLEARANCE_TOPIC,
    dlq: "",
    retry: "",
  })),
  schemaMismatch: optional(obj({ share: num({ min: 0, max: 1 }) }), () => ({ share: 0 })),
  encoding: optional(oneOf(...ENCODINGS), "avro" as Encoding),
});

export function parseWorkload(input: unknown, source = "workload"): WorkloadSpec {
  const problems: Problems = [];
  const w = check(input ?? {}, "workload", problems) as WorkloadSpec | undefined;
  const debt = w?.centrelink?.debtCheckMs;
  if (debt && debt.min !== undefined && debt.max !== undefined && debt.min > debt.max)
    problems.push("workload.centrelink.debtCheckMs: min is above max");
  if (w?.topics && !w.topics.dlq) w.topics.dlq = dlqTopicOf(w.topics.assessment);
  if (w?.topics && !w.topics.retry) w.topics.retry = `${w.topics.assessment}.retry`;
  const raw = (input as { centrelink?: { debtCheckMs?: unknown; debtLookup?: { base?: unknown } } } | null)?.centrelink;
  if (raw?.debtCheckMs !== undefined && raw.debtLookup?.base !== undefined)
    problems.push("workload.centrelink.debtLookup.base: debtCheckMs says the same; give one of them (debtLookup.base is the newer form)");
  if (w?.rate && w.durationMs !== undefined && !problems.some((p) => p.startsWith("workload.rate"))) problems.push(...rateProblems(w.rate, w.durationMs, "workload.rate"));
  if (problems.length || !w) throw new BadInputError(`invalid workload (${source})`, problems, "fix the fields named above; generators/README.md documents every key");
  return w;
}

