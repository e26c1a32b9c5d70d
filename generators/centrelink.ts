/**
 * The Centrelink consumer engine, one process per group member (so chaos can pause or kill one instance).
 * It consumes tax assessments, checks the seeded debt registry, and publishes a clearance response. The handler
 * returns only once the response is acknowledged, so an offset is committed only for answered assessments
 * (at-least-once). Run as: node generators/centrelink.ts '<json EngineConfig>'.
 */
import { appendFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { Codec } from "./codec.ts";
import { childTraceparent, type ClearanceResponse, DebtRegistry, newFaker, population, type TaxAssessment } from "./domain.ts";
import { type ClientProps, type ConsumedRecord, type DriverName, loadDriver } from "./drivers/driver.ts";

export interface EngineConfig {
  instance: string;
  driver: DriverName;
  bootstrap: string;
  registryUrl: string;
  /** Registered by the lab's schema deployment step before any engine starts. */
  responseSchemaId: number;
  groupId: string;
  consumer: ClientProps;
  seed: number;
  population: number;
  debtCheckMs: { min: number; max: number };
  topics: { assessment: string; clearance: string };
  /** Bootstrap for the consumer when it has its own client class (so chaos can fault one member's links). */
  consumerBootstrap?: string;
  /**
   * NDJSON file for the lab's history: every assignment change and every consumed record, with epoch ms
   * (`ms`). The rebalance and stall figures are computed from it after the run.
   */
  eventsFile?: string;
}

/** One line of JSON on stdout (the engine's log file), for people and for the lab. */
const emit = (event: string, fields: Record<string, unknown> = {}) =>
  process.stdout.write(`${JSON.stringify({ t: new Date().toISOString(), event, ...fields })}\n`);

export async function runEngine(cfg: EngineConfig): Promise<() => Promise<void>> {
  const driver = await loadDriver(cfg.driver);
  const codec = new Codec(cfg.registryUrl);
  const responseSchemaId = cfg.responseSchemaId;
  const debts = new DebtRegistry(cfg.seed, population(cfg.seed, cfg.population));
  const f = newFaker(cfg.seed * 1000 + Number(/\d+$/.exec(cfg.instance)?.[0] ?? 0));
  const producer = await driver.producer({ bootstrap: cfg.bootstrap, clientId: `${cfg.instance}-producer` });
  // Written synchronously: a member killed with SIGKILL must not take its last events with it.
  const history = (e: Record<string, unknown>) => {
    if (cfg.eventsFile) appendFileSync(cfg.eventsFile, `${JSON.stringify({ ms: Date.now(), ...e })}\n`);
  };
  const consumer = await driver.consumer({
    bootstrap: cfg.consumerBootstrap ?? cfg.bootstrap,
    clientId: cfg.instance,
    groupId: cfg.groupId,
    topics: [cfg.topics.assessment],
    props: cfg.consumer,
    onRebalance: (e) => {
      history({ type: e.type, lost: e.lost, partitions: e.partitions.filter((t) => t.topic === cfg.topics.assessment).map((t) => t.partition) });
      emit(e.type, { partitions: e.partitions.map((t) => t.partition), lost: e.lost });
    },
  });
  const stats = { processed: 0, held: 0, undecodable: 0 };

  const handle = async (r: ConsumedRecord): Promise<void> => {
    history({ type: "consumed", p: r.partition, o: Number(r.offset) });
    let a: TaxAssessment;
    try {
      a = await codec.decode<TaxAssessment>(r.value ?? Buffer.alloc(0));
    } catch (e) {
      stats.undecodable++;
      emit("undecodable", { partition: r.partition, offset: r.offset, error: (e as Error).message });
      return;
    }
    const { min, max } = cfg.debtCheckMs;
    if (max > 0) await sleep(min + f.number.float() * (max - min));
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
    const headers: Record<string, string> = { "event-id": r.headers["event-id"] ?? a.eventId, "response-id": response.eventId };
    const tp = childTraceparent(r.headers.traceparent, f);
    if (tp) headers.traceparent = tp;
    await producer.send({ topic: cfg.topics.clearance, key: a.tfn, value: await codec.encode(responseSchemaId, response), headers });
    stats.processed++;
  };

  await consumer.run(handle);
  emit("started", { instance: cfg.instance, debtors: debts.debtors });
  const timer = setInterval(() => emit("stats", { ...stats, assigned: consumer.assignment().length }), 5_000);
  return async () => {
    clearInterval(timer);
    await consumer.close().catch(() => {});
    await producer.close().catch(() => {});
    emit("stopped", stats);
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
