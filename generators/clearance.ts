import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { InfraError, InterruptedError } from "../lab/errors.ts";
import { info, progress } from "../lab/log.ts";
import { exitedError, type ProcessHandle, type Supervisor, waitUntil } from "../lab/proc.ts";
import type { LatencyRecorder } from "../reports/hdr.ts";
import type { Mesh, StartedRegion } from "../topology/local/mesh.ts";
import { remoteTopic } from "../topology/mirrormaker/config.ts";
import { spiffeId } from "../topology/spire/identity.ts";
import type { AssessmentSource, ConsumerControl } from "../chaos/injectors.ts";
import type { EngineConfig } from "./centrelink.ts";
import { Codec, SCHEMAS } from "./codec.ts";
import { breakAssessment, MISMATCH_KINDS, picksMismatch, ProducerDeadLetters } from "./dlq.ts";
import { AssessmentFactory, type ClearanceResponse, population, type TaxAssessment } from "./domain.ts";
import { type Admin, type Consumer, type KafkaDriver, loadDriver, type Producer, withTls } from "./drivers/driver.ts";
import { ensureDlqTopic } from "./dlq-audit.ts";
import type { RotationEvent } from "./drivers/rotation.ts";
import { Ledger, type LedgerEntry } from "./ledger.ts";
import { EligibilityCache, type Outcome, Reconciler } from "./reconciliation.ts";
import { describeRate } from "./profiles.ts";
import { Schedule } from "./schedule.ts";
import { FileSigner, Verifier } from "./signing.ts";
import { SteadyWarmup, type WarmupDecision, type WarmupReport } from "./warmup.ts";
import type { WorkloadSpec } from "./workload.ts";

/** The run's monotonic clock, in microseconds. Injected so the scheduler and ledger are testable. */
export interface Clock {
  nowUs(): number;
}
export const monotonicClock: Clock = { nowUs: () => performance.now() * 1000 };

export const LATENCY_METRICS = ["clearance", "produceAck"] as const;
/** With a decision budget, also when the ATO tax engine decided (provisionally or finally), from the intended time. */
export const DECISION_METRIC = "decision";

/** The HDR metrics a workload's run records. */
export const latencyMetricsOf = (w: WorkloadSpec): string[] => [...LATENCY_METRICS, ...(w.ato.budgetMs ? [DECISION_METRIC] : [])];

const CENTRELINK_MAIN = new URL("./centrelink.ts", import.meta.url).pathname;

/** Where a request's latest send went, and what to send again if that region is lost before it acknowledges. */
interface Pending {
  region: string;
  key: string;
  value: Buffer;
  headers: Record<string, string>;
  dueUs: number;
}

/**
 * The assessment schema version the ATO producers write with: its registry id, and the fields that version adds
 * to each assessment (v1, the flow's own schema, adds none).
 */
export interface AssessmentWriter {
  schemaId: number;
  version: number;
  extend?: (a: TaxAssessment, seq: number) => Record<string, unknown>;
}

/** One region's part of the flow: its Centrelink engines, its ATO tax engine and (while it takes writes) a producer. */
interface Site {
  region: StartedRegion;
  engines: ProcessHandle[];
  taxEngine?: Consumer;
  producer?: Producer;
  /** Signs the ATO tax service's assessments with its SVID key (mTLS meshes). */
  signer?: FileSigner;
  /** Engine generations started in this region, so restarted engines get fresh names. */
  generation: number;
}

/**
 * The cross-agency clearance round trip on a running mesh: the ATO Core Tax Service produces assessments on an
 * open-model schedule in the region(s) that take writes, the Centrelink engines answer them, and the ATO tax
 * engine completes each clearance. Everything lands in the ledger and the latency recorder.
 *
 * In one region that is the whole story. With several, a scenario moves the flow: `routeTo` sends new requests
 * (and unacknowledged ones) to another region, `startEngines`/`startTaxEngine` bring consumers up there on
 * translated offsets, and `stopEngines` takes them away again.
 */
export class ClearanceFlow implements AsyncDisposable {
  readonly ledger = new Ledger();
  /** The flow's own clients (the ATO tax service's producers, the tax engine's consumers) made again on SVID rotation. */
  readonly rotations: RotationEvent[] = [];
  /** Payloads the ATO producer got wrong (the schema-mismatch row) and where they went. */
  readonly deadLetters: ProducerDeadLetters;
  readonly #w: WorkloadSpec;
  readonly #mesh: Mesh;
  readonly #recorder: LatencyRecorder;
  readonly #clock: Clock;
  readonly #sites = new Map<string, Site>();
  readonly #pending = new Map<string, Pending>();
  readonly #retired: Promise<unknown>[] = [];
  readonly #engineByName = new Map<string, ProcessHandle>();
  /** Every engine's history file (assignments and consumed records), for the rebalance and stall figures. */
  readonly engineEventFiles: string[] = [];
  /** Regions taking writes; each taxpayer (key) belongs to one of them. */
  #writeRegions: string[];
  #supervisor: Supervisor | undefined;
  #runDir = "";
  #writer: AssessmentWriter = { schemaId: -1, version: 1 };
  #responseSchemaId = -1;
  #driver: KafkaDriver | undefined;
  /** The decision budget's state machine (workload `ato.budgetMs`); absent, every decision waits for its response. */
  readonly #reconciler: Reconciler | undefined;
  /** Reconciliation retry events published to the retry topic, by what became of them. */
  readonly retryEvents = { sent: 0, acked: 0, failed: 0 };
  /** Each request's balance until its budget starts (the cache decides with it). */
  readonly #balances = new Map<string, number>();
  /** Requests intended before this time are warm-up: checked, but not in the latency histograms. */
  #measureFromUs = Number.POSITIVE_INFINITY;

  constructor(opts: { workload: WorkloadSpec; mesh: Mesh; recorder: LatencyRecorder; clock?: Clock }) {
    this.#w = opts.workload;
    this.#mesh = opts.mesh;
    this.#recorder = opts.recorder;
    this.#clock = opts.clock ?? monotonicClock;
    const { assessment, dlq } = opts.workload.topics;
    this.deadLetters = new ProducerDeadLetters({ sourceTopic: assessment, dlqTopic: dlq ?? `${assessment}.dlq`, by: "ato-core-tax-service" });
    this.#writeRegions = opts.workload.regions.length ? [...opts.workload.regions] : [opts.mesh.region().plan.name];
    const { budgetMs, eligibilityCache } = opts.workload.ato;
    if (budgetMs) this.#reconciler = new Reconciler(budgetMs, new EligibilityCache(eligibilityCache));
    for (const r of this.#writeRegions) opts.mesh.region(r); // throws with the known names if one is not in the topology
  }

  /** Regions that take writes right now. */
  get writeRegions(): readonly string[] {
    return this.#writeRegions;
  }

  /** The registry id of the assessment schema producers encode with (after `start`). */
  get assessmentSchemaId(): number {
    return this.#writer.schemaId;
  }

  /**
   * Switches the ATO producers to another registered version of the assessment schema: every request fired from
   * now on is encoded with it (a schema rollout; the ledger records each request's schema id).
   */
  useAssessmentWriter(w: AssessmentWriter): void {
    this.#writer = w;
  }

  /** The file the `slow-dependency` fault writes and every engine of the run reads (after `start`). */
  get dependencyFaultFile(): string {
    return join(this.#runDir, "debt-registry.fault.json");
  }

  /** When measuring starts (after warm-up), on the monotonic clock in µs. */
  get measureFromUs(): number {
    return this.#measureFromUs;
  }

  #site(region: string): Site {
    let s = this.#sites.get(region);
    if (!s) {
      s = { region: this.#mesh.region(region), engines: [], generation: 0 };
      this.#sites.set(region, s);
    }
    return s;
  }

  /**
   * Registers the schemas (in the primary region's registry: the others replay its journal), then starts the
   * Centrelink engines, the ATO tax engine and a producer in every write region, and waits until the groups own
   * their partitions.
   */
  async start(supervisor: Supervisor, runDir: string): Promise<void> {
    const w = this.#w;
    this.#supervisor = supervisor;
    this.#runDir = runDir;
    const codec = new Codec(this.#mesh.region().registry.ccompatUrl, this.#mesh.region().tls("lab"));
    const schemas = SCHEMAS[w.encoding ?? "avro"];
    this.#writer = { schemaId: await codec.register(w.topics.assessment, schemas.assessment, schemas.type), version: 1 };
    this.#responseSchemaId = await codec.register(w.topics.clearance, schemas.response, schemas.type);
    if (this.#reconciler && w.topics.retry) await this.#createRetryTopic(w.topics.retry);
    this.#driver = await loadDriver(w.driver, { onRotate: (e) => this.rotations.push(e) });
    const multi = this.#mesh.regions.length > 1;
    const done = progress(
      `starting ${w.centrelink.instances} Centrelink engine(s) and the ATO tax engine in ${this.#writeRegions.join(", ")} (${w.driver} driver${multi ? "" : ""})`,
    );
    for (const region of this.#writeRegions) {
      // Active-active: each region also reads what the others replicate to it (the idempotent consumer drops copies).
      const remote = this.#writeRegions.filter((r) => r !== region);
      this.startEngines(region, [w.topics.assessment, ...remote.map((r) => remoteTopic(r, w.topics.assessment))]);
      await this.startTaxEngine(region, [w.topics.clearance, ...remote.map((r) => remoteTopic(r, w.topics.clearance))]);
      await this.#producerIn(region);
    }
    for (const region of this.#writeRegions) await this.waitForGroups(region);
    done("groups stable");
  }

  /** The retry topic, like the assessment topic, in every write region (before any client starts). */
  async #createRetryTopic(topic: string): Promise<void> {
    for (const region of this.#writeRegions) {
      const admin = await this.#site(region).region.admin();
      try {
        await ensureDlqTopic(admin, topic, this.#w.topics.assessment);
      } finally {
        await admin.close();
      }
    }
  }

  async #producerIn(region: string): Promise<Producer> {
    const site = this.#site(region);
    if (!site.producer) {
      const driver = this.#driver ?? (await loadDriver(this.#w.driver));
      const tls = site.region.tls("ato-tax-service");
      site.producer = await driver.producer({ bootstrap: site.region.bootstrap("ato"), clientId: `ato-core-tax-service-${region}`, props: this.#w.ato.producer, ...withTls(tls) });
      if (tls) site.signer = new FileSigner(tls);
    }
    return site.producer;
  }

  /**
   * Starts the Centrelink engines of a region (one process each), reading `sources` (default: the assessment
   * topic). Engines write their responses to the clearance topic of their own region.
   */
  startEngines(region: string, sources: string[] = [this.#w.topics.assessment], instances = this.#w.centrelink.instances): ProcessHandle[] {
    const site = this.#site(region);
    site.generation++;
    const single = this.#mesh.regions.length === 1;
    const started: ProcessHandle[] = [];
    for (let i = 1; i <= instances; i++) {
      // One region keeps the plain names (centrelink-1 ...); with several, the region and generation are in the name.
      const name = single && site.generation === 1 ? `centrelink-${i}` : `centrelink-${region}${site.generation > 1 ? `-g${site.generation}` : ""}-${i}`;
      started.push(this.#spawnEngine(region, name, sources));
    }
    return started;
  }

  #spawnEngine(region: string, name: string, sources: string[]): ProcessHandle {
    const w = this.#w;
    const supervisor = this.#supervisor;
    if (!supervisor) throw new Error("ClearanceFlow: engines start after start()");
    const site = this.#site(region);
    const klass = this.#consumerClass(site, name);
    const cfg: EngineConfig = {
      instance: name,
      driver: w.driver,
      bootstrap: site.region.bootstrap("centrelink"),
      ...(klass !== "centrelink" ? { consumerBootstrap: site.region.bootstrap(klass) } : {}),
      registryUrl: site.region.registry.ccompatUrl,
      responseSchemaId: this.#responseSchemaId,
      assessmentReader: { type: SCHEMAS[w.encoding ?? "avro"].type, schema: SCHEMAS[w.encoding ?? "avro"].assessment },
      groupId: w.centrelink.groupId,
      consumer: w.centrelink.consumer,
      seed: w.seed,
      population: w.population,
      debtCheckMs: w.centrelink.debtCheckMs,
      debtLookup: { base: w.centrelink.debtLookup?.base ?? w.centrelink.debtCheckMs, ...(w.centrelink.debtLookup?.slow ? { slow: w.centrelink.debtLookup.slow } : {}) },
      dependencyFaultFile: this.dependencyFaultFile,
      topics: w.topics,
      sources,
      region,
      concurrency: w.centrelink.concurrency,
      engine: { mode: w.centrelink.engine, maxInFlight: w.centrelink.maxInFlight },
      eventsFile: join(this.#runDir, `${name}.events.ndjson`),
      ...withTls(site.region.tls("centrelink-engine")),
      ...(this.#mesh.spire ? { signing: { assessmentSigner: spiffeId(this.#mesh.spire.plane, "ato-tax-service") } } : {}),
      ...(this.#mesh.redis ? { dedupe: { url: this.#mesh.redis.url, ttlSeconds: w.centrelink.dedupeTtlSeconds } } : {}),
    };
    const h = supervisor.spawn(name, [process.execPath, "--disable-warning=ExperimentalWarning", CENTRELINK_MAIN, JSON.stringify(cfg)], {
      logFile: join(this.#runDir, `${name}.log`),
      stopGraceMs: 5_000,
    });
    site.engines.push(h);
    this.#engineByName.set(name, h);
    if (cfg.eventsFile && !this.engineEventFiles.includes(cfg.eventsFile)) this.engineEventFiles.push(cfg.eventsFile);
    return h;
  }

  /** A topology may give each engine's consumer its own client class (`centrelink-<n>`), so one member's links can be faulted. */
  #consumerClass(site: Site, instance: string): string {
    return site.region.plan.bootstrap[instance] !== undefined ? instance : "centrelink";
  }

  /** The engines of the first write region as chaos sees them: restart a killed one, add and remove members. */
  consumerControl(): ConsumerControl {
    const home = this.#writeRegions[0] as string;
    const site = this.#site(home);
    const sources = [this.#w.topics.assessment];
    return {
      groupId: this.#w.centrelink.groupId,
      instances: () => [...this.#engineByName.entries()].filter(([, h]) => h.running() && site.engines.includes(h)).map(([n]) => n),
      process: (name) => this.#engineByName.get(name),
      consumerClass: (name) => this.#consumerClass(site, name),
      restart: async (name) => {
        const h = this.#engineByName.get(name);
        if (h?.running()) await h.stop();
        this.#spawnEngine(home, name, sources);
      },
      add: async () => {
        let n = this.#engineByName.size + 1;
        while (this.#engineByName.has(`centrelink-${n}`)) n++;
        const h = this.#spawnEngine(home, `centrelink-${n}`, sources);
        // A member counts as joined once it owns partitions (a cooperative join first reports an empty assignment): on a loaded machine a new engine takes seconds to
        // start, and one removed before it joined would not move a partition.
        await waitUntil(`${h.name} to be assigned partitions`, async () => (/"event":"assigned","partitions":\[\d/.test(await readFile(h.logFile, "utf8").catch(() => "")) ? true : undefined), {
          timeoutMs: 60_000,
          intervalMs: 100,
          process: h,
          hint: `read ${h.logFile}; the new member never got partitions of ${sources.join(", ")}`,
        });
        return h.name;
      },
      remove: async (name) => {
        await this.#engineByName.get(name)?.stop();
      },
    };
  }

  /** The running engine processes of a region. */
  engines(region: string): ProcessHandle[] {
    return this.#site(region).engines.filter((e) => e.running());
  }

  /** Stops a region's engines: `kill` when their region is gone (they die with it), else a graceful stop. */
  async stopEngines(region: string, how: "kill" | "stop"): Promise<void> {
    const site = this.#site(region);
    const engines = site.engines.splice(0);
    if (how === "kill") for (const e of engines) e.signal("SIGKILL");
    await Promise.allSettled(engines.map((e) => e.stop(how === "kill" ? 0 : undefined)));
  }

  /** Starts the ATO tax engine of a region on `topics` (its clearance topic, plus replicated ones after a failover). */
  async startTaxEngine(region: string, topics: string[]): Promise<void> {
    const site = this.#site(region);
    if (site.taxEngine) throw new Error(`the ATO tax engine of ${region} is already running`);
    const driver = this.#driver ?? (await loadDriver(this.#w.driver));
    const tls = site.region.tls("ato-tax-engine");
    const codec = new Codec(site.region.registry.ccompatUrl, tls);
    const c = await driver.consumer({
      bootstrap: site.region.bootstrap("ato"),
      clientId: `ato-tax-engine-${region}`,
      groupId: this.#w.ato.groupId,
      topics,
      props: this.#w.ato.consumer,
      concurrency: 12,
      ...withTls(tls),
    });
    site.taxEngine = c;
    const engines = this.#mesh.spire ? spiffeId(this.#mesh.spire.plane, "centrelink-engine") : undefined;
    const verifier = tls ? Verifier.fromFile(tls.ca, (t) => (t === this.#w.topics.clearance ? engines : undefined)) : undefined;
    await c.run(async (r) => {
      const at = this.#clock.nowUs();
      const eventId = r.headers["event-id"];
      const where = `${r.topic}:${r.partition}@${r.offset}`;
      if (verifier) {
        try {
          verifier.verify(this.#w.topics.clearance, eventId ?? "", r.value ?? Buffer.alloc(0), r.headers);
        } catch (e) {
          // Never reaches the ledger's completion: a response nobody can vouch for does not clear anything.
          this.ledger.unexpected({ eventId, atUs: at, reason: `signature: ${(e as Error).message}`, where });
          return;
        }
      }
      let resp: ClearanceResponse;
      try {
        resp = await codec.decode<ClearanceResponse>(r.value ?? Buffer.alloc(0));
      } catch (e) {
        this.ledger.unexpected({ eventId, atUs: at, reason: `undecodable response: ${(e as Error).message}`, where });
        return;
      }
      if (eventId && resp.assessmentEventId !== eventId) {
        this.ledger.unexpected({ eventId, atUs: at, reason: `header event-id does not match assessmentEventId ${resp.assessmentEventId}`, where });
        return;
      }
      const entry = this.ledger.complete(eventId, at, where, resp.outcome, { processingId: r.headers["processing-id"], region });
      if (entry && entry.completedUs.length === 1 && entry.intendedUs >= this.#measureFromUs) this.#recorder.record("clearance", at - entry.intendedUs);
      if (entry && this.#reconciler) this.#settle(entry, resp.outcome as Outcome, resp.debtCents > 0, at);
    });
  }

  /**
   * Takes a region's tax engine out of the flow. With `park`, the consumer is left as it is: a librdkafka consumer
   * cannot be closed while its brokers are gone (its close blocks a worker thread), so a lost region's tax engine
   * waits, and resumes on its committed offsets when the region returns.
   */
  async stopTaxEngine(region: string, how: "close" | "park"): Promise<void> {
    const site = this.#site(region);
    const c = site.taxEngine;
    site.taxEngine = undefined;
    if (!c) return;
    if (how === "close") await c.close();
    else this.#parked.push({ consumer: c, region: site.region });
  }

  readonly #parked: { consumer: Consumer; region: StartedRegion }[] = [];

  /** Waits until a region's Centrelink group and ATO tax engine are stable and own partitions. */
  async waitForGroups(region: string): Promise<void> {
    const site = this.#site(region);
    const admin = await site.region.admin();
    try {
      await this.#waitForGroup(admin, site, this.#w.centrelink.groupId, site.engines.length);
      if (site.taxEngine) {
        await this.#waitForGroup(admin, site, this.#w.ato.groupId, 1);
        await waitUntil(`the ATO tax engine's assignment in ${region}`, async () => (site.taxEngine?.assignment().length ? true : undefined), {
          timeoutMs: 60_000,
          hint: "the ATO tax engine did not get partitions of the clearance topic",
        });
      }
    } finally {
      await admin.close();
    }
  }

  async #waitForGroup(admin: Admin, site: Site, groupId: string, members: number): Promise<void> {
    await waitUntil(
      `consumer group ${groupId} in ${site.region.plan.name} to be stable with ${members} member(s)`,
      async () => {
        for (const e of site.engines) if (!e.running()) throw await exitedError(e, "while joining its group", `read ${e.logFile}`);
        const g = await admin.describeGroup(groupId);
        return g.state === "stable" && g.members.length === members ? true : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 250, hint: `see the engine logs; \`describeGroup ${groupId}\` never reached Stable` },
    );
  }

  /**
   * Moves the writes: new requests go to `regions` from now on, and every request sent to another region and not
   * yet acknowledged is sent again there (same event id; if the first copy was written after all, the idempotent
   * consumer drops the second). Producers of regions that no longer take writes are closed in the background.
   */
  async routeTo(regions: string[]): Promise<{ resent: number }> {
    for (const r of regions) await this.#producerIn(r);
    const previous = this.#writeRegions;
    this.#writeRegions = [...regions];
    let resent = 0;
    for (const [eventId, p] of this.#pending) {
      if (regions.includes(p.region) || p.value.length === 0) continue; // not encoded yet: it goes to the new route anyway
      const entry = this.ledger.get(eventId);
      if (!entry || entry.ackedUs !== undefined) continue;
      entry.resent = (entry.resent ?? 0) + 1;
      resent++;
      this.#send(entry, p.key, p.value, p.headers, p.dueUs);
    }
    for (const r of previous.filter((x) => !regions.includes(x))) {
      const site = this.#site(r);
      const p = site.producer;
      site.producer = undefined;
      // A lost region's producer can only time out; closing it purges its queue (those sends were resent above).
      if (p) this.#retired.push(p.close().catch(() => {}));
    }
    return { resent };
  }

  /**
   * Encoded assessments outside the run's stream (their own seeded factory, never in the ledger), for faults that
   * write well-formed events nobody asked for (chaos/forged.ts).
   */
  foreignAssessments(): AssessmentSource {
    const w = this.#w;
    const codec = new Codec(this.#mesh.region().registry.ccompatUrl, this.#mesh.region().tls("lab"));
    const factory = new AssessmentFactory(w.seed + 7_919, population(w.seed, w.population));
    return {
      topic: w.topics.assessment,
      next: async () => {
        const a = factory.next(Date.now());
        return { key: a.tfn, value: await codec.encode(this.#writer.schemaId, a) };
      },
    };
  }

  /** How the warm-up went, once `offerLoad` has passed it (absent for a fixed warm-up). */
  warmup: WarmupReport | undefined;

  /**
   * Offers load on the open-model schedule until the duration is over or the run is aborted. With
   * `workload.warmupMaxMs` above `warmupMs`, the warm-up goes on at the first rate until the flow is caught up
   * (`warmup.ts`), at most that long, and the measured schedule starts only then; a flow that never catches up
   * fails the run with its backlog.
   */
  async offerLoad(signal: AbortSignal): Promise<void> {
    const w = this.#w;
    const codec = new Codec(this.#mesh.region().registry.ccompatUrl, this.#mesh.region().tls("ato-tax-service"));
    if (this.#writer.schemaId < 0) throw new Error("ClearanceFlow.offerLoad before start");
    const send = { codec, factory: new AssessmentFactory(w.seed, population(w.seed, w.population)), signal };
    const steady = (w.warmupMaxMs ?? 0) > w.warmupMs;
    // Warm-up comes first at the same schedule, so the measured part starts in a steady state.
    const schedule = new Schedule(w.rate, { durationMs: w.durationMs, warmupMs: steady ? 0 : w.warmupMs });
    const total = schedule.requestsWithin((steady ? 0 : w.warmupMs) + w.durationMs);
    info(
      steady
        ? `offering ${total} measured clearance requests over ${(w.durationMs / 1000).toFixed(0)} s after a warm-up of ${(w.warmupMs / 1000).toFixed(0)} s or until steady, at most ${((w.warmupMaxMs ?? 0) / 1000).toFixed(0)} s (${describeRate(w.rate, w.durationMs)})`
        : `offering ${total} clearance requests over ${((w.warmupMs + w.durationMs) / 1000).toFixed(0)} s, the first ${(w.warmupMs / 1000).toFixed(0)} s as warm-up (${describeRate(w.rate, w.durationMs)})`,
    );
    const startUs = this.#clock.nowUs();
    this.#measureFromUs = startUs + w.warmupMs * 1000;
    const flusher = setInterval(() => this.#recorder.flush(Date.now()), 1_000);
    try {
      if (!steady) return void (await this.#offer({ ...send, startUs, count: total, firstSeq: 0, intendedMs: (i) => schedule.intendedAtMs(i) }));
      const warmedMs = await this.#warmUntilSteady({ ...send, startUs, rate: schedule.rateAt(0) });
      this.#measureFromUs = startUs + warmedMs.atMs * 1000;
      await this.#offer({ ...send, startUs, count: total, firstSeq: warmedMs.fired, intendedMs: (i) => warmedMs.atMs + schedule.intendedAtMs(i) });
    } finally {
      clearInterval(flusher);
    }
  }

  /** The open-ended warm-up at the first rate; returns when the measured schedule starts and how many went before. */
  async #warmUntilSteady(o: { codec: Codec; factory: AssessmentFactory; signal: AbortSignal; startUs: number; rate: number }): Promise<{ atMs: number; fired: number }> {
    const w = this.#w;
    const ctl = new SteadyWarmup({ fixedMs: w.warmupMs, maxMs: w.warmupMaxMs ?? 0, rate: o.rate });
    const warm = new Schedule({ kind: "constant", perSecond: o.rate });
    // Not measuring yet: nothing the warm-up sends counts in the histograms.
    this.#measureFromUs = Number.POSITIVE_INFINITY;
    const last: { decision: WarmupDecision } = { decision: "continue" };
    const fired = await this.#offer({
      ...o,
      count: Number.POSITIVE_INFINITY,
      firstSeq: 0,
      intendedMs: (i) => warm.intendedAtMs(i),
      stopWhen: (atMs) => {
        last.decision = ctl.observe(atMs, this.#pending.size + this.ledger.outstanding());
        return last.decision !== "continue";
      },
    });
    this.warmup = ctl.report(last.decision === "steady");
    if (last.decision !== "steady")
      throw new InfraError({
        component: "warm-up",
        message: `the flow did not settle within ${(ctl.maxMs / 1000).toFixed(0)} s at ${o.rate}/s: ${this.warmup.backlog} requests outstanding at the end (steady means at most ${ctl.steadyBelow}, one second of the rate, for 3 s in a row)`,
        hint: "the mesh cannot keep up with the first rate on this machine: lower --rate, or raise workload.warmupMaxMs (--warmup-max); the engine logs say where it queues",
      });
    info(`warm-up steady after ${(this.warmup.tookMs / 1000).toFixed(1)} s (backlog ${this.warmup.backlog})`);
    return { atMs: warm.intendedAtMs(fired), fired };
  }

  /**
   * Fires requests `firstSeq + k` at `startUs + intendedMs(k)` for k < count; `stopWhen` (looked at once a second of
   * load) ends it early. Returns how many were fired.
   */
  async #offer(o: {
    codec: Codec;
    factory: AssessmentFactory;
    signal: AbortSignal;
    startUs: number;
    count: number;
    firstSeq: number;
    intendedMs: (k: number) => number;
    stopWhen?: (atMs: number) => boolean;
  }): Promise<number> {
    let nextLookMs = 1_000;
    for (let k = 0; k < o.count; ) {
      if (o.signal.aborted) throw o.signal.reason ?? new InterruptedError("abort");
      const nowUs = this.#clock.nowUs();
      if (o.stopWhen && nowUs - o.startUs >= nextLookMs * 1000) {
        nextLookMs += 1_000;
        if (o.stopWhen((nowUs - o.startUs) / 1000)) return k;
      }
      const dueUs = o.startUs + o.intendedMs(k) * 1000;
      const waitMs = (dueUs - nowUs) / 1000;
      if (waitMs > 0) {
        await sleep(Math.min(waitMs, 50));
        continue;
      }
      // Everything due is sent now; latency counts from dueUs, so falling behind shows as latency.
      this.#fire(o.firstSeq + k++, dueUs, o.codec, o.factory);
    }
    return o.count;
  }

  #fire(seq: number, dueUs: number, codec: Codec, factory: AssessmentFactory): void {
    const { schemaId, extend } = this.#writer;
    const base = factory.next(Date.now());
    const a = extend ? ({ ...base, ...extend(base, seq) } as TaxAssessment) : base;
    const traceparent = factory.traceparent();
    if (picksMismatch(this.#w.seed, seq, this.#w.schemaMismatch?.share ?? 0)) {
      this.#fireMismatch(seq, a, traceparent, codec, schemaId);
      return;
    }
    const entry = this.ledger.intend({ eventId: a.eventId, seq, key: a.tfn, intendedUs: dueUs, schemaId });
    if (this.#reconciler) this.#balances.set(a.eventId, a.balanceCents);
    const headers = { "event-id": a.eventId, traceparent };
    this.#pending.set(a.eventId, { region: this.#regionOf(a.tfn), key: a.tfn, value: Buffer.alloc(0), headers, dueUs });
    codec.encode(schemaId, a).then(
      (value) => this.#send(entry, a.tfn, value, headers, dueUs),
      (e: unknown) => {
        entry.error = `encode: ${e instanceof Error ? e.message : String(e)}`;
        this.#pending.delete(a.eventId);
        this.#balances.delete(a.eventId);
      },
    );
  }

  /**
   * A request the ATO producer gets wrong: not a clearance request (not in the ledger). The serializer should
   * refuse it, and then it goes to the DLQ; should it accept it, it is sent like any other, and the checker,
   * finding it on the assessment topic, says so.
   */
  /** An assessment's headers with the ATO tax service's signature added (mTLS meshes; unchanged on plaintext). */
  #signed(site: Site, eventId: string, value: Buffer, headers: Record<string, string>): Record<string, string> {
    return site.signer ? { ...headers, ...site.signer.sign(this.#w.topics.assessment, eventId, value) } : headers;
  }

  #fireMismatch(seq: number, a: TaxAssessment, traceparent: string, codec: Codec, schemaId: number): void {
    const kind = MISMATCH_KINDS[seq % MISMATCH_KINDS.length] ?? "wrong-type";
    const payload = breakAssessment(a, kind);
    const site = this.#site(this.#regionOf(a.tfn));
    const producer = site.producer;
    // Signed like every assessment: the row tests the schema, not the signature (its DLQ copy is not signed).
    const sign = (r: Parameters<Producer["send"]>[0]) => (r.topic === this.#w.topics.assessment ? { ...r, headers: this.#signed(site, a.eventId, r.value, r.headers) } : r);
    const send = (r: Parameters<Producer["send"]>[0]) => (producer ? producer.send(sign(r)) : Promise.reject(new Error("no producer in the write region")));
    const m = { eventId: a.eventId, seq, kind, key: a.tfn, payload, schemaId, traceparent };
    this.deadLetters.track(
      codec.encode(schemaId, payload).then(
        (value) => this.deadLetters.accepted(send, m, { topic: this.#w.topics.assessment, key: a.tfn, value, headers: { "event-id": a.eventId, traceparent } }),
        (e: unknown) => this.deadLetters.refused(send, m, e),
      ),
    );
  }

  /** Each taxpayer belongs to one write region (a stable hash of the key), so per-key order holds across regions. */
  #regionOf(key: string): string {
    const regions = this.#writeRegions;
    if (regions.length === 1) return regions[0] as string;
    let h = 0;
    for (let i = 0; i < key.length; i++) h = (h * 31 + key.charCodeAt(i)) >>> 0;
    return regions[h % regions.length] as string;
  }

  #send(entry: LedgerEntry, key: string, value: Buffer, headers: Record<string, string>, dueUs: number): void {
    const region = this.#regionOf(key);
    const site = this.#site(region);
    const producer = site.producer;
    this.#pending.set(entry.eventId, { region, key, value, headers, dueUs });
    if (!producer) {
      entry.error = `no producer in region ${region}`;
      this.#pending.delete(entry.eventId);
      return;
    }
    let signed: Record<string, string>;
    try {
      signed = this.#signed(site, entry.eventId, value, headers);
    } catch (e) {
      // The tax service's SVID expired (its attestation fails, its agent is gone): the request fails at the source.
      entry.error = (e as Error).message;
      this.#pending.delete(entry.eventId);
      return;
    }
    this.#startBudget(entry, site);
    entry.sentUs ??= this.#clock.nowUs();
    producer.send({ topic: this.#w.topics.assessment, key, value, headers: signed }).then(
      (d) => {
        if (entry.ackedUs !== undefined) return; // a resent copy was acknowledged first
        entry.ackedUs = this.#clock.nowUs();
        entry.ackedIn = region;
        entry.partition = d.partition;
        entry.offset = d.offset;
        this.#pending.delete(entry.eventId);
        if (dueUs >= this.#measureFromUs) this.#recorder.record("produceAck", entry.ackedUs - dueUs);
      },
      (e: unknown) => {
        // A send that was moved to another region meanwhile is no longer this attempt's to fail.
        if (entry.ackedUs !== undefined || this.#pending.get(entry.eventId)?.region !== region) return;
        entry.error = e instanceof Error ? e.message : String(e);
        this.#pending.delete(entry.eventId);
      },
    );
  }

  /** A response reached the tax engine: the final decision within the budget, or the reconciliation of an earlier one. */
  #settle(entry: LedgerEntry, outcome: Outcome, debtor: boolean, atUs: number): void {
    const { decision, reconciled } = this.#reconciler?.responded(entry.eventId, entry.key, outcome, debtor, atUs) ?? {};
    if (decision) this.#decided(entry, decision.kind, atUs);
    if (reconciled) entry.discrepancy = reconciled.discrepancy;
  }

  #decided(entry: LedgerEntry, kind: LedgerEntry["decision"], atUs: number): void {
    entry.decision = kind;
    entry.decidedUs = atUs;
    if (entry.intendedUs >= this.#measureFromUs) this.#recorder.record(DECISION_METRIC, atUs - entry.intendedUs);
  }

  /** Starts a request's budget when it is first sent; past it, the tax engine decides without the response. */
  #startBudget(entry: LedgerEntry, site: Site): void {
    const r = this.#reconciler;
    if (!r || entry.sentUs !== undefined) return;
    r.sent(entry.eventId, entry.key, this.#balances.get(entry.eventId) ?? 0, this.#clock.nowUs());
    this.#balances.delete(entry.eventId);
    const onBudget = () => {
      if (entry.error !== undefined) return; // failed at the source: there is nothing to decide
      const now = this.#clock.nowUs();
      const left = r.remainingUs(entry.eventId, now);
      if (left === undefined) return; // answered in time
      if (left > 0) return void setTimeout(onBudget, Math.ceil(left / 1000)).unref();
      const d = r.expire(entry.eventId, now);
      if (!d) return;
      this.#decided(entry, d.kind, d.atUs);
      if (d.outcome) entry.provisionalOutcome = d.outcome;
      this.#publishRetry(site, entry);
    };
    setTimeout(onBudget, r.budgetUs / 1000).unref();
  }

  /** The reconciliation retry event of a decision made past the budget: what was decided, so it can be settled later. */
  #publishRetry(site: Site, entry: LedgerEntry): void {
    const topic = this.#w.topics.retry;
    if (!topic || !site.producer) return;
    const value = Buffer.from(
      JSON.stringify({ eventId: entry.eventId, tfn: entry.key, decision: entry.decision, provisionalOutcome: entry.provisionalOutcome ?? null, budgetMs: this.#w.ato.budgetMs, decidedAt: Date.now() }),
    );
    this.retryEvents.sent++;
    let headers: Record<string, string> = { "event-id": entry.eventId, "content-type": "application/json" };
    try {
      // Signed like every event the tax service writes (mTLS meshes), for the retry topic.
      if (site.signer) headers = { ...headers, ...site.signer.sign(topic, entry.eventId, value) };
    } catch {
      this.retryEvents.failed++; // no valid SVID: the retry event cannot be vouched for, so it is not sent
      return;
    }
    site.producer.send({ topic, key: entry.key, value, headers }).then(
      () => void this.retryEvents.acked++,
      () => void this.retryEvents.failed++,
    );
  }

  /** Requests sent and neither acknowledged nor failed. */
  get inFlight(): number {
    return this.#pending.size;
  }

  /** Waits until every acknowledged request completed, or the drain timeout passes; returns how long it took. */
  async drain(signal: AbortSignal, timeoutMs = this.#w.drainTimeoutMs): Promise<number> {
    const t0 = Date.now();
    const deadline = t0 + timeoutMs;
    const flusher = setInterval(() => this.#recorder.flush(Date.now()), 1_000);
    try {
      while (Date.now() < deadline && !signal.aborted) {
        if (this.#pending.size === 0 && this.ledger.outstanding() === 0) break;
        await sleep(100);
      }
    } finally {
      clearInterval(flusher);
    }
    return Date.now() - t0;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    const sites = [...this.#sites.values()];
    await Promise.allSettled([
      ...sites.flatMap((s) => [s.taxEngine?.close(), s.producer?.close(), ...s.engines.map((e) => e.stop())]),
      // A parked consumer whose region is still gone is left alone: its close would block a worker thread (and
      // with it the process exit) waiting for brokers that will not answer.
      ...this.#parked.filter((p) => p.region.nodes.some((n) => n.running())).map((p) => p.consumer.close()),
      ...this.#retired,
    ]);
  }
}
