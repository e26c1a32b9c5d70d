/**
 * The Centrelink consumer engine, one process per group member (so chaos can pause or kill one instance).
 * It consumes tax assessments, checks the seeded debt registry, and publishes a clearance response, at least once:
 * - pipelined (the default): it takes the next records while responses are in flight (at most `maxInFlight`, one
 *   at a time per key, so order per key holds) and commits a partition's offset only up to the first record whose
 *   response is not yet acknowledged (generators/pipeline.ts), so nothing is skipped on a crash;
 * - serial: each record's handler returns once its response is acknowledged, and the offset is committed after.
 * Run as: node generators/centrelink.ts '<json EngineConfig>'.
 */
import { appendFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { randomUUID } from "node:crypto";
import { Codec, type ReaderSchema } from "./codec.ts";
import { DependencyFault, type DependencyLatency, drawLatencyMs } from "./dependency.ts";
import { ConsumerDeadLetters, dlqTopicOf } from "./dlq.ts";
import { openDedupeStore } from "./dedupe.ts";
import { PipelinedHandler } from "./pipeline.ts";
import { FileSigner, Verifier } from "./signing.ts";
import { childTraceparent, type ClearanceResponse, DebtRegistry, newFaker, population, type TaxAssessment } from "./domain.ts";
import { type ClientProps, type ClientTls, type ConsumedRecord, type DriverName, loadDriver, withTls } from "./drivers/driver.ts";

export interface EngineConfig {
  instance: string;
  driver: DriverName;
  bootstrap: string;
  /** The engine's SVID files (mTLS); absent when the mesh runs plaintext. */
  tls?: ClientTls;
  /**
   * Signed events (mTLS meshes): assessments must be signed by `assessmentSigner` (a SPIFFE ID) and chain to the
   * trust bundle of `tls`; responses are signed with the engine's own SVID key.
   */
  signing?: { assessmentSigner: string };
  registryUrl: string;
  /** Registered by the lab's schema deployment step before any engine starts. */
  responseSchemaId: number;
  /**
   * The assessment schema the engine is built for (its reader schema): every writer version is read through it,
   * so a compatible new version decodes without a redeploy. Absent: decoded with the writer's schema.
   */
  assessmentReader?: ReaderSchema;
  groupId: string;
  consumer: ClientProps;
  seed: number;
  population: number;
  debtCheckMs: { min: number; max: number };
  /** The debt registry's latency as a distribution (overrides debtCheckMs, which is its base). */
  debtLookup?: DependencyLatency;
  /** Where the `slow-dependency` fault writes the distribution it imposes while it lasts (chaos/dependency.ts). */
  dependencyFaultFile?: string;
  /** `dlq` takes what cannot be decoded (default `<assessment>.dlq`). */
  topics: { assessment: string; clearance: string; dlq?: string };
  /** Topics this instance reads assessments from (default: the assessment topic); after a failover also the replicated one. */
  sources?: string[];
  /** The dedupe store (Redis URL); without one every delivery reaches the business logic. */
  dedupe?: { url: string; ttlSeconds: number };
  /** Region the engine runs in; responses carry it. */
  region?: string;
  /** Partitions handled at once. */
  concurrency?: number;
  /** How records are answered (default pipelined, 32 in flight); see the file's comment. */
  engine?: EngineMode;
  /** Bootstrap for the consumer when it has its own client class (so chaos can fault one member's links). */
  consumerBootstrap?: string;
  /**
   * NDJSON file for the lab's history: every assignment change and every consumed record, with epoch ms
   * (`ms`). The rebalance and stall figures are computed from it after the run.
   */
  eventsFile?: string;
}

export interface EngineMode {
  mode: "pipelined" | "serial";
  /** Records whose responses may be in flight at once (pipelined). */
  maxInFlight: number;
}

export const DEFAULT_ENGINE: EngineMode = { mode: "pipelined", maxInFlight: 32 };

/** One line of JSON on stdout (the engine's log file), for people and for the lab. */
const emit = (event: string, fields: Record<string, unknown> = {}) =>
  process.stdout.write(`${JSON.stringify({ t: new Date().toISOString(), event, ...fields })}\n`);

/** The writer's schema id of a registry-framed value (`sid` in the history), so decodes can be counted per version. */
const schemaIdOf = (v: Buffer | null | undefined): { sid?: number } => (v && v.length >= 5 && v[0] === 0 ? { sid: v.readInt32BE(1) } : {});

export async function runEngine(cfg: EngineConfig): Promise<() => Promise<void>> {
  const driver = await loadDriver(cfg.driver, { onRotate: (e) => emit("svid-rotated", { ...e }) });
  const codec = new Codec(cfg.registryUrl, cfg.tls);
  const responseSchemaId = cfg.responseSchemaId;
  const debts = new DebtRegistry(cfg.seed, population(cfg.seed, cfg.population));
  const f = newFaker(cfg.seed * 1000 + Number(/\d+$/.exec(cfg.instance)?.[0] ?? 0));
  const producer = await driver.producer({ bootstrap: cfg.bootstrap, clientId: `${cfg.instance}-producer`, ...withTls(cfg.tls) });
  // Written synchronously: a member killed with SIGKILL must not take its last events with it.
  const history = (e: Record<string, unknown>) => {
    if (cfg.eventsFile) appendFileSync(cfg.eventsFile, `${JSON.stringify({ ms: Date.now(), ...e })}\n`);
  };
  const mode = cfg.engine ?? DEFAULT_ENGINE;
  let pipelined: PipelinedHandler | undefined;
  const consumer = await driver.consumer({
    bootstrap: cfg.consumerBootstrap ?? cfg.bootstrap,
    clientId: cfg.instance,
    groupId: cfg.groupId,
    topics: cfg.sources ?? [cfg.topics.assessment],
    props: cfg.consumer,
    ...withTls(cfg.tls),
    // Partitions are answered concurrently (each in order): one slow produce ack must not hold up the others.
    concurrency: cfg.concurrency ?? 1,
    manualCommit: mode.mode === "pipelined",
    onRebalance: (e) => {
      if (e.type === "revoked") pipelined?.revoked(e.partitions);
      history({ type: e.type, lost: e.lost, partitions: e.partitions.filter((t) => t.topic === cfg.topics.assessment).map((t) => t.partition) });
      emit(e.type, { partitions: e.partitions.map((t) => t.partition), lost: e.lost });
    },
  });
  const dedupe = await openDedupeStore(cfg.dedupe?.url, cfg.dedupe?.ttlSeconds ?? 86_400, undefined, cfg.tls);
  const stats = { processed: 0, slowLookups: 0, held: 0, undecodable: 0, unverified: 0, duplicatesDropped: 0, waitedForClaim: 0, heldForSvid: 0 };
  const signer = cfg.signing && cfg.tls ? new FileSigner(cfg.tls) : undefined;
  const verifier = cfg.signing && cfg.tls ? Verifier.fromFile(cfg.tls.ca, (t) => (t === cfg.topics.assessment ? cfg.signing?.assessmentSigner : undefined)) : undefined;
  const lookup = cfg.debtLookup ?? { base: cfg.debtCheckMs };
  const slowDependency = cfg.dependencyFaultFile ? new DependencyFault(cfg.dependencyFaultFile) : undefined;
  const deadLetters = new ConsumerDeadLetters({ send: (r) => producer.send(r), dlqTopic: cfg.topics.dlq ?? dlqTopicOf(cfg.topics.assessment), by: cfg.instance });

  const handle = async (r: ConsumedRecord): Promise<void> => {
    history({ type: "consumed", p: r.partition, o: Number(r.offset), ...schemaIdOf(r.value) });
    const delivered = r.headers["event-id"];
    if (delivered) {
      let waited = false;
      for (;;) {
        const state = await dedupe.claim(delivered, cfg.instance);
        if (state === "claimed") break;
        if (state === "done") {
          // A duplicate delivered by Kafka (redelivery, or a replicated copy): dropped before any business logic.
          stats.duplicatesDropped++;
          emit("duplicate-dropped", { eventId: delivered, topic: r.topic, partition: r.partition, offset: r.offset });
          return;
        }
        // Another instance (another region, after a rebalance) is processing it right now: wait for its outcome.
        if (!waited) stats.waitedForClaim++;
        waited = true;
        await sleep(50);
      }
    }
    try {
      await processOne(r, delivered);
    } catch (e) {
      if (delivered) await dedupe.release(delivered, cfg.instance).catch(() => {});
      throw e;
    }
  };

  const processOne = async (r: ConsumedRecord, delivered: string | undefined): Promise<void> => {
    if (verifier) {
      try {
        // Replicated copies (`<region>.<topic>`) were signed for the original topic.
        verifier.verify(cfg.topics.assessment, delivered ?? "", r.value ?? Buffer.alloc(0), r.headers);
      } catch (e) {
        stats.unverified++;
        if (delivered) await dedupe.release(delivered, cfg.instance).catch(() => {}); // the genuine event may still come
        const d = await deadLetters.route(r, e, "signature");
        history({ type: "dead-lettered", p: r.partition, o: Number(r.offset), dlq: `${d.partition}@${d.offset}`, reason: "signature" });
        emit("signature-refused", { partition: r.partition, offset: r.offset, eventId: delivered, error: (e as Error).message, dlq: d });
        return;
      }
    }
    let a: TaxAssessment;
    try {
      a = await codec.decode<TaxAssessment>(r.value ?? Buffer.alloc(0), cfg.assessmentReader);
    } catch (e) {
      stats.undecodable++;
      // A poison pill: raw bytes to the DLQ, acknowledged before the handler returns (the offset moves past it).
      const d = await deadLetters.route(r, e);
      history({ type: "dead-lettered", p: r.partition, o: Number(r.offset), dlq: `${d.partition}@${d.offset}` });
      emit("dead-lettered", { partition: r.partition, offset: r.offset, error: (e as Error).message, dlq: d });
      return;
    }
    // The debt registry: a dependency whose latency is data (and, under the slow-dependency fault, the fault's).
    const lookupMs = drawLatencyMs(slowDependency?.current(lookup) ?? lookup, () => f.number.float());
    if (lookupMs > 0) await sleep(lookupMs);
    if (lookupMs > lookup.base.max) stats.slowLookups++; // drawn from a slow range (the workload's or the fault's)
    const debt = debts.debtOf(a.tfn);
    const response: ClearanceResponse = {
      eventId: f.string.uuid(),
      assessmentEventId: a.eventId,
      tfn: a.tfn,
      outcome: debt > 0 && a.balanceCents > 0 ? "DEBT_HOLD" : "CLEARED",
      debtCents: debt,
      engineInstance: cfg.instance,
      checkedAt: Date.now(),
    };
    if (response.outcome === "DEBT_HOLD") stats.held++;
    // processing-id names this run of the business logic: two ids for one event means it ran twice.
    const headers: Record<string, string> = {
      "event-id": delivered ?? a.eventId,
      "response-id": response.eventId,
      "processing-id": randomUUID(),
      ...(cfg.region ? { "processed-in": cfg.region } : {}),
    };
    const tp = childTraceparent(r.headers.traceparent, f);
    if (tp) headers.traceparent = tp;
    const value = await codec.encode(responseSchemaId, response);
    // Without a valid SVID the engine cannot sign: it holds the response until its identity is back.
    if (signer) Object.assign(headers, await signer.signWhenValid(cfg.topics.clearance, headers["event-id"] ?? "", value, undefined, () => stats.heldForSvid++));
    await producer.send({ topic: cfg.topics.clearance, key: a.tfn, value, headers });
    await dedupe.remember(headers["event-id"] ?? a.eventId);
    stats.processed++;
  };

  if (mode.mode === "pipelined") {
    pipelined = new PipelinedHandler({
      handle,
      commit: (points) => consumer.commit(points),
      maxInFlight: mode.maxInFlight,
      onRetry: (r, e, attempt) => emit("retrying", { partition: r.partition, offset: r.offset, attempt, error: e instanceof Error ? e.message : String(e) }),
      onCommitError: (e) => emit("commit-failed", { error: e instanceof Error ? e.message : String(e) }),
    });
  }
  await consumer.run(pipelined?.accept ?? handle);
  emit("started", { instance: cfg.instance, debtors: debts.debtors, sources: cfg.sources ?? [cfg.topics.assessment], dedupe: dedupe.kind, engine: mode });
  const timer = setInterval(() => emit("stats", { ...stats, ...pipelined?.stats, assigned: consumer.assignment().length }), 5_000);
  return async () => {
    clearInterval(timer);
    // Pipelined: what is in flight finishes (or stays uncommitted), and its commit point is committed before leaving.
    const drain = await pipelined?.stop(4_000);
    if (drain && !drain.drained) emit("stop-undrained", { ...pipelined?.stats });
    await consumer.close().catch(() => {});
    await producer.close().catch(() => {});
    await dedupe.close();
    emit("stopped", { ...stats, ...pipelined?.stats });
  };
}

if (import.meta.main) {
  const cfg = JSON.parse(process.argv[2] ?? "{}") as EngineConfig;
  runEngine(cfg).then(
    (stop) => {
      let stopping = false;
      const onSignal = () => {
        if (stopping) return;
        stopping = true;
        stop().finally(() => process.exit(0));
      };
      process.on("SIGTERM", onSignal);
      process.on("SIGINT", onSignal);
    },
    (e) => {
      emit("failed", { error: e instanceof Error ? e.message : String(e) });
      process.exit(3);
    },
  );
}
