import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { InterruptedError } from "../lab/errors.ts";
import { info, progress } from "../lab/log.ts";
import { exitedError, type ProcessHandle, type Supervisor, waitUntil } from "../lab/proc.ts";
import type { LatencyRecorder } from "../reports/hdr.ts";
import type { StartedRegion } from "../topology/local/mesh.ts";
import type { ConsumerControl } from "../chaos/injectors.ts";
import type { EngineConfig } from "./centrelink.ts";
import { ASSESSMENT_SCHEMA, Codec, RESPONSE_SCHEMA } from "./codec.ts";
import { AssessmentFactory, type ClearanceResponse, population } from "./domain.ts";
import { type Admin, type Consumer, loadDriver, type Producer } from "./drivers/driver.ts";
import { Ledger } from "./ledger.ts";
import { intendedAtMs, requestsWithin } from "./schedule.ts";
import type { WorkloadSpec } from "./workload.ts";

/** The run's monotonic clock, in microseconds. Injected so the scheduler and ledger are testable. */
export interface Clock {
  nowUs(): number;
}
export const monotonicClock: Clock = { nowUs: () => performance.now() * 1000 };

export const LATENCY_METRICS = ["clearance", "produceAck"] as const;

const CENTRELINK_MAIN = new URL("./centrelink.ts", import.meta.url).pathname;

/**
 * The cross-agency clearance round trip on a running region: the ATO Core Tax Service produces assessments on an
 * open-model schedule, the Centrelink engines answer them, and the ATO tax engine completes each clearance.
 * Everything lands in the ledger and the latency recorder.
 */
export class ClearanceFlow implements AsyncDisposable {
  readonly ledger = new Ledger();
  readonly #w: WorkloadSpec;
  readonly #region: StartedRegion;
  readonly #recorder: LatencyRecorder;
  readonly #clock: Clock;
  readonly #engines: ProcessHandle[] = [];
  #producer: Producer | undefined;
  #taxEngine: Consumer | undefined;
  #inFlight = 0;
  #spawnEngine: ((instance: string) => ProcessHandle) | undefined;
  readonly #engineByName = new Map<string, ProcessHandle>();
  /** Every engine's history file (assignments and consumed records), for the rebalance and stall figures. */
  readonly engineEventFiles: string[] = [];
  #assessmentSchemaId = -1;
  /** Requests intended before this time are warm-up: checked, but not in the latency histograms. */
  #measureFromUs = Number.POSITIVE_INFINITY;

  constructor(opts: { workload: WorkloadSpec; region: StartedRegion; recorder: LatencyRecorder; clock?: Clock }) {
    this.#w = opts.workload;
    this.#region = opts.region;
    this.#recorder = opts.recorder;
    this.#clock = opts.clock ?? monotonicClock;
  }

  /** Starts the Centrelink engines and the ATO tax engine, and waits until both groups own their partitions. */
  async start(supervisor: Supervisor, runDir: string): Promise<void> {
    const w = this.#w;
    const codec = new Codec(this.#region.registry.ccompatUrl);
    this.#assessmentSchemaId = await codec.register(w.topics.assessment, ASSESSMENT_SCHEMA);
    const responseSchemaId = await codec.register(w.topics.clearance, RESPONSE_SCHEMA);
    const done = progress(`starting ${w.centrelink.instances} Centrelink engine(s) and the ATO tax engine (${w.driver} driver)`);
    this.#spawnEngine = (instance: string) => {
      const klass = this.#consumerClass(instance);
      const cfg: EngineConfig = {
        instance,
        driver: w.driver,
        bootstrap: this.#region.bootstrap("centrelink"),
        ...(klass !== "centrelink" ? { consumerBootstrap: this.#region.bootstrap(klass) } : {}),
        registryUrl: this.#region.registry.ccompatUrl,
        responseSchemaId,
        groupId: w.centrelink.groupId,
        consumer: w.centrelink.consumer,
        seed: w.seed,
        population: w.population,
        debtCheckMs: w.centrelink.debtCheckMs,
        topics: w.topics,
        eventsFile: join(runDir, `${instance}.events.ndjson`),
      };
      const handle = supervisor.spawn(instance, [process.execPath, "--disable-warning=ExperimentalWarning", CENTRELINK_MAIN, JSON.stringify(cfg)], {
        logFile: join(runDir, `${instance}.log`),
        stopGraceMs: 5_000,
      });
      this.#engineByName.set(instance, handle);
      if (cfg.eventsFile && !this.engineEventFiles.includes(cfg.eventsFile)) this.engineEventFiles.push(cfg.eventsFile);
      return handle;
    };
    for (let i = 1; i <= w.centrelink.instances; i++) this.#engines.push(this.#spawnEngine(`centrelink-${i}`));

    const driver = await loadDriver(w.driver);
    const bootstrap = this.#region.bootstrap("ato");
    this.#producer = await driver.producer({ bootstrap, clientId: "ato-core-tax-service", props: w.ato.producer });
    this.#taxEngine = await driver.consumer({ bootstrap, clientId: "ato-tax-engine", groupId: w.ato.groupId, topics: [w.topics.clearance], props: w.ato.consumer });
    await this.#taxEngine.run(async (r) => {
      const at = this.#clock.nowUs();
      const eventId = r.headers["event-id"];
      let resp: ClearanceResponse;
      try {
        resp = await codec.decode<ClearanceResponse>(r.value ?? Buffer.alloc(0));
      } catch (e) {
        this.ledger.unexpected({ eventId, atUs: at, reason: `undecodable response: ${(e as Error).message}`, where: `${r.partition}@${r.offset}` });
        return;
      }
      if (eventId && resp.assessmentEventId !== eventId) {
        this.ledger.unexpected({ eventId, atUs: at, reason: `header event-id does not match assessmentEventId ${resp.assessmentEventId}`, where: `${r.partition}@${r.offset}` });
        return;
      }
      const entry = this.ledger.complete(eventId, at, `${r.partition}@${r.offset}`, resp.outcome);
      if (entry && entry.completedUs.length === 1 && entry.intendedUs >= this.#measureFromUs) this.#recorder.record("clearance", at - entry.intendedUs);
    });

    const admin = await this.#region.admin();
    try {
      await this.#waitForGroup(admin, w.centrelink.groupId, w.centrelink.instances);
      await this.#waitForGroup(admin, w.ato.groupId, 1);
      await waitUntil("the ATO tax engine's assignment", async () => (this.#taxEngine?.assignment().length ? true : undefined), {
        timeoutMs: 60_000,
        hint: "the ATO tax engine did not get partitions of the clearance topic",
      });
    } finally {
      await admin.close();
    }
    done("groups stable");
  }

  async #waitForGroup(admin: Admin, groupId: string, members: number): Promise<void> {
    await waitUntil(
      `consumer group ${groupId} to be stable with ${members} member(s)`,
      async () => {
        for (const e of this.#engines) if (!e.running()) throw await exitedError(e, "while joining its group", `read ${e.logFile}`);
        const g = await admin.describeGroup(groupId);
        return g.state === "stable" && g.members.length === members ? true : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 250, hint: `see the engine logs; \`describeGroup ${groupId}\` never reached Stable` },
    );
  }

  /** Offers load on the open-model schedule until the duration is over or the run is aborted. */
  async offerLoad(signal: AbortSignal): Promise<void> {
    const w = this.#w;
    const producer = this.#producer;
    if (!producer) throw new Error("ClearanceFlow.offerLoad before start");
    const codec = new Codec(this.#region.registry.ccompatUrl);
    const schemaId = this.#assessmentSchemaId;
    const factory = new AssessmentFactory(w.seed, population(w.seed, w.population));
    // Warm-up comes first at the same schedule, so the measured part starts in a steady state.
    const total = requestsWithin(w.rate, w.warmupMs + w.durationMs);
    info(
      `offering ${total} clearance requests over ${((w.warmupMs + w.durationMs) / 1000).toFixed(0)} s, the first ${(w.warmupMs / 1000).toFixed(0)} s as warm-up (${w.rate.kind === "constant" ? `${w.rate.perSecond}/s` : `ramp ${w.rate.from} -> ${w.rate.to}/s`})`,
    );
    const startUs = this.#clock.nowUs();
    this.#measureFromUs = startUs + w.warmupMs * 1000;
    const flusher = setInterval(() => this.#recorder.flush(Date.now()), 1_000);
    try {
      for (let i = 0; i < total; ) {
        if (signal.aborted) throw signal.reason ?? new InterruptedError("abort");
        const dueUs = startUs + intendedAtMs(w.rate, i) * 1000;
        const waitMs = (dueUs - this.#clock.nowUs()) / 1000;
        if (waitMs > 0) {
          await sleep(Math.min(waitMs, 50));
          continue;
        }
        // Everything due is sent now; latency counts from dueUs, so falling behind shows as latency.
        this.#fire(i++, dueUs, producer, codec, schemaId, factory);
      }
    } finally {
      clearInterval(flusher);
    }
  }

  #fire(seq: number, dueUs: number, producer: Producer, codec: Codec, schemaId: number, factory: AssessmentFactory): void {
    const a = factory.next(Date.now());
    const traceparent = factory.traceparent();
    const entry = this.ledger.intend({ eventId: a.eventId, seq, key: a.tfn, intendedUs: dueUs });
    this.#inFlight++;
    codec
      .encode(schemaId, a)
      .then((value) => {
        entry.sentUs = this.#clock.nowUs();
        return producer.send({ topic: this.#w.topics.assessment, key: a.tfn, value, headers: { "event-id": a.eventId, traceparent } });
      })
      .then(
        (d) => {
          entry.ackedUs = this.#clock.nowUs();
          entry.partition = d.partition;
          entry.offset = d.offset;
          if (dueUs >= this.#measureFromUs) this.#recorder.record("produceAck", entry.ackedUs - dueUs);
        },
        (e: unknown) => {
          entry.error = e instanceof Error ? e.message : String(e);
        },
      )
      .finally(() => this.#inFlight--);
  }

  /** Waits until every acknowledged request completed, or the drain timeout passes; returns how long it took. */
  async drain(signal: AbortSignal): Promise<number> {
    const t0 = Date.now();
    const deadline = t0 + this.#w.drainTimeoutMs;
    const flusher = setInterval(() => this.#recorder.flush(Date.now()), 1_000);
    try {
      while (Date.now() < deadline && !signal.aborted) {
        if (this.#inFlight === 0 && this.ledger.outstanding() === 0) break;
        await sleep(100);
      }
    } finally {
      clearInterval(flusher);
    }
    return Date.now() - t0;
  }

  /** A topology may give each engine's consumer its own client class (`centrelink-<n>`), so one member's links can be faulted. */
  #consumerClass(instance: string): string {
    return this.#region.plan.bootstrap[instance] !== undefined ? instance : "centrelink";
  }

  /** The engines as chaos sees them: restart a killed one, add and remove members. */
  consumerControl(): ConsumerControl {
    const spawn = (name: string) => {
      if (!this.#spawnEngine) throw new Error("ClearanceFlow.consumerControl before start");
      return this.#spawnEngine(name);
    };
    return {
      groupId: this.#w.centrelink.groupId,
      instances: () => [...this.#engineByName.entries()].filter(([, h]) => h.running()).map(([n]) => n),
      process: (name) => this.#engineByName.get(name),
      consumerClass: (name) => this.#consumerClass(name),
      restart: async (name) => {
        const h = this.#engineByName.get(name);
        if (h?.running()) await h.stop();
        this.#engines.push(spawn(name));
      },
      add: async () => {
        let n = this.#engineByName.size + 1;
        while (this.#engineByName.has(`centrelink-${n}`)) n++;
        this.#engines.push(spawn(`centrelink-${n}`));
        return `centrelink-${n}`;
      },
      remove: async (name) => {
        await this.#engineByName.get(name)?.stop();
      },
    };
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await Promise.allSettled([this.#taxEngine?.close(), this.#producer?.close(), ...this.#engines.map((e) => e.stop())]);
  }
}
