/**
 * One generator worker: a process that owns a slice of an open-model schedule (`slices.ts`), produces its
 * assessments to Kafka at their intended times, and keeps its own ledger and interval log on its own clock.
 * `produce-workers.ts` starts several and merges what they write.
 *
 *   node generators/produce-worker.ts '<WorkerConfig as JSON>'
 *
 * Clocks: the parent names the start of load as a wall-clock instant (`start.json`); each worker turns it into a
 * point on its own monotonic clock once and measures every latency (intended -> acknowledged) on that clock only.
 * Ledger times are microseconds from the start of load, so no two clocks are ever subtracted from each other.
 *
 * The hot path is short: payloads are generated, encoded and (on mTLS) signed ahead of their time, up to
 * `prepareAheadMs` of schedule, while the worker waits; delivery reports come to one callback per record, no promise.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setImmediate as yieldToLoop, setTimeout as sleep } from "node:timers/promises";
import { LatencyRecorder } from "../reports/hdr.ts";
import { Codec } from "./codec.ts";
import { AssessmentFactory, population } from "./domain.ts";
import { type CallbackProducer, type ClientProps, type ClientTls, type Delivery, type DriverName, hasSendWith, loadDriver, type PreparedRecord, type Producer, type ProduceRecord, withTls } from "./drivers/driver.ts";
import type { RateSpec } from "./profiles.ts";
import { Schedule } from "./schedule.ts";
import { ScheduleSlice } from "./slices.ts";
import { FileSigner } from "./signing.ts";

/** Everything a worker needs; JSON, so a worker can be started anywhere the files can be read. */
export interface WorkerConfig {
  index: number;
  workers: number;
  rate: RateSpec;
  warmupMs: number;
  durationMs: number;
  seed: number;
  population: number;
  topic: string;
  bootstrap: string;
  driver: DriverName;
  clientId: string;
  props: ClientProps;
  tls?: ClientTls;
  registryUrl: string;
  schemaId: number;
  /** Sends outstanding at most; past it the worker waits (the intended times do not move, so waiting shows as latency). */
  maxInFlight: number;
  prepareAheadMs: number;
  /** Where the worker writes `worker-<k>.ledger.tsv`, `worker-<k>/produceAck.hlog`, `worker-<k>.result.json`. */
  dir: string;
  /** How long to wait for outstanding deliveries once the schedule is done. */
  drainTimeoutMs: number;
}

/** What a worker reports when it is done (`worker-<k>.result.json`). */
export interface WorkerResult {
  index: number;
  requests: number;
  acked: number;
  failed: number;
  /** Sent and neither acknowledged nor failed when the drain timed out. */
  unsettled: number;
  /** Last acknowledgement, µs from the start of load on this worker's clock. */
  lastAckUs: number;
  /** How far behind schedule the worker ever was when sending (µs). */
  maxBehindUs: number;
  cpuUserMs: number;
  cpuSystemMs: number;
  eventLoopUtilization: number;
}

export const ledgerFile = (dir: string, k: number): string => join(dir, `worker-${k}.ledger.tsv`);
export const resultFile = (dir: string, k: number): string => join(dir, `worker-${k}.result.json`);
export const readyFile = (dir: string, k: number): string => join(dir, `worker-${k}.ready`);
export const startFile = (dir: string): string => join(dir, "start.json");
export const workerHlogDir = (dir: string, k: number): string => join(dir, `worker-${k}`);

/** A request ready to go: encoded, with its headers. */
interface Prepared {
  seq: number;
  eventId: string;
  record: ProduceRecord | PreparedRecord;
  key: string;
}

/** One line of a worker's ledger (tab-separated, cheaper than JSON on the hot path): see `parseLedgerLine`. */
interface Row {
  seq: number;
  eventId: string;
  key: string;
  intendedUs: number;
  sentUs: number;
  ackedUs?: number;
  partition?: number;
  offset?: string;
  error?: string;
}

const rowLine = (r: Row): string =>
  `${r.seq}\t${r.eventId}\t${r.key}\t${r.intendedUs}\t${r.sentUs}\t${r.ackedUs ?? ""}\t${r.partition ?? ""}\t${r.offset ?? ""}\t${(r.error ?? "").replace(/[\t\n]/g, " ")}\n`;

class Worker {
  readonly #c: WorkerConfig;
  readonly #slice: ScheduleSlice;
  readonly #factory: AssessmentFactory;
  readonly #codec: Codec;
  readonly #signer: FileSigner | undefined;
  #recorder: LatencyRecorder | undefined;
  readonly #ready: Prepared[] = [];
  #nextPrepared = 0;
  #startMonoUs = 0;
  #inFlight = 0;
  #wake: (() => void) | undefined;
  #rows: string[] = [];
  /** Sent and not yet settled: written as they are (no acknowledgement, no error) if the drain gives up on them. */
  readonly #open = new Set<Row>();
  readonly result: WorkerResult;

  readonly #send: Pick<CallbackProducer, "sendWith">;
  readonly #prepareRecord: (r: ProduceRecord) => ProduceRecord | PreparedRecord;

  constructor(c: WorkerConfig, producer: Producer) {
    this.#c = c;
    this.#send = hasSendWith(producer) ? producer : promiseSender(producer);
    this.#prepareRecord = hasSendWith(producer) ? (r) => producer.prepare(r) : (r) => r;
    const schedule = new Schedule(c.rate, { durationMs: c.durationMs, warmupMs: c.warmupMs });
    this.#slice = new ScheduleSlice(schedule, schedule.requestsWithin(c.warmupMs + c.durationMs), c.workers, c.index);
    // Worker 0 draws the stream a single generator would; the others their own (event ids stay unique: checked on merge).
    this.#factory = new AssessmentFactory(c.seed + c.index * 1_000_003, population(c.seed, c.population));
    this.#codec = new Codec(c.registryUrl, c.tls);
    this.#signer = c.tls ? new FileSigner(c.tls) : undefined;
    this.result = { index: c.index, requests: this.#slice.count, acked: 0, failed: 0, unsettled: 0, lastAckUs: 0, maxBehindUs: 0, cpuUserMs: 0, cpuSystemMs: 0, eventLoopUtilization: 0 };
    writeFileSync(ledgerFile(c.dir, c.index), "");
  }

  get slice(): ScheduleSlice {
    return this.#slice;
  }

  #nowUs(): number {
    return performance.now() * 1000 - this.#startMonoUs;
  }

  /** Generates, encodes and signs the next `n` of this worker's requests (never past its last). */
  async prepare(n: number): Promise<void> {
    this.#encode ??= await this.#codec.encoderFor(this.#c.schemaId);
    const end = Math.min(this.#slice.count, this.#nextPrepared + n);
    for (let j = this.#nextPrepared; j < end; j++) this.#ready.push(this.#prepareOne(this.#slice.seqAt(j), this.#encode));
    this.#nextPrepared = end;
  }

  #encode: ((v: unknown) => Buffer) | undefined;

  #prepareOne(seq: number, encode: (v: unknown) => Buffer): Prepared {
    const a = this.#factory.next(Date.now());
    const traceparent = this.#factory.traceparent();
    const value = encode(a);
    const base = { "event-id": a.eventId, traceparent };
    const headers = this.#signer ? { ...base, ...this.#signer.sign(this.#c.topic, a.eventId, value) } : base;
    return { seq, eventId: a.eventId, key: a.tfn, record: this.#prepareRecord({ topic: this.#c.topic, key: a.tfn, value, headers }) };
  }

  /** Offers this worker's slice: every request at its intended time, or as soon after as it can. */
  async offer(startWallMs: number): Promise<void> {
    const batch = 512;
    const aheadUs = this.#c.prepareAheadMs * 1000;
    // The common start, once, as a point on this worker's own monotonic clock.
    this.#startMonoUs = performance.now() * 1000 + (startWallMs - Date.now()) * 1000;
    const flusher = this.#startRecording(startWallMs);
    const measureFromUs = this.#c.warmupMs * 1000;
    const elu0 = performance.eventLoopUtilization();
    const cpu0 = process.cpuUsage();
    try {
      for (let j = 0; j < this.#slice.count; ) {
        const dueUs = this.#slice.intendedAtMs(j) * 1000;
        const waitUs = dueUs - this.#nowUs();
        if (waitUs > 0) {
          await this.#idle(j, waitUs, aheadUs);
          continue;
        }
        if (this.#inFlight >= this.#c.maxInFlight) {
          await new Promise<void>((r) => (this.#wake = r));
          continue;
        }
        if (this.#readyCount === 0) await this.prepare(batch);
        j = this.#fireDue(j, batch, measureFromUs);
        await yieldToLoop();
      }
      await this.#drain();
    } finally {
      clearInterval(flusher);
      const cpu = process.cpuUsage(cpu0);
      Object.assign(this.result, { cpuUserMs: cpu.user / 1000, cpuSystemMs: cpu.system / 1000, eventLoopUtilization: performance.eventLoopUtilization(elu0).utilization });
    }
  }

  /** Everything due from the j-th on, at most `batch`, then the loop yields so delivery reports are handled. */
  #fireDue(j: number, batch: number, measureFromUs: number): number {
    for (let fired = 0; fired < batch && j < this.#slice.count && this.#inFlight < this.#c.maxInFlight && this.#readyCount > 0; fired++) {
      const intendedUs = this.#slice.intendedAtMs(j) * 1000;
      const nowUs = this.#nowUs();
      if (intendedUs > nowUs) break;
      this.result.maxBehindUs = Math.max(this.result.maxBehindUs, nowUs - intendedUs);
      this.#fire(this.#takeReady() as Prepared, intendedUs, nowUs, intendedUs >= measureFromUs);
      j++;
    }
    return j;
  }

  #readPos = 0;
  #takeReady(): Prepared | undefined {
    const p = this.#ready[this.#readPos++];
    // Compact now and then rather than shift() per record.
    if (this.#readPos >= 4096) {
      this.#ready.splice(0, this.#readPos);
      this.#readPos = 0;
    }
    return p;
  }

  get #readyCount(): number {
    return this.#ready.length - this.#readPos;
  }

  /** Before a request is due: prepare what the next `aheadUs` of schedule needs, then sleep (at most 5 ms). */
  async #idle(j: number, waitUs: number, aheadUs: number): Promise<void> {
    const horizonUs = this.#nowUs() + aheadUs;
    let want = 0;
    while (j + this.#readyCount + want < this.#slice.count && want < 2048 && this.#slice.intendedAtMs(j + this.#readyCount + want) * 1000 < horizonUs) want++;
    if (want > 0) await this.prepare(want);
    else await sleep(Math.min(waitUs / 1000, 5));
  }

  #fire(p: Prepared, intendedUs: number, sentUs: number, measured: boolean): void {
    const row: Row = { seq: p.seq, eventId: p.eventId, key: p.key, intendedUs: Math.round(intendedUs), sentUs: Math.round(sentUs) };
    this.#inFlight++;
    this.#open.add(row);
    this.#send.sendWith(p.record, (err, d) => this.#settled(row, err, d, measured));
  }

  #settled(row: Row, err: Error | undefined, d: Delivery | undefined, measured: boolean): void {
    this.#inFlight--;
    this.#open.delete(row);
    if (err || !d) {
      row.error = err?.message ?? "no delivery report";
      this.result.failed++;
    } else {
      const ackedUs = this.#nowUs();
      row.ackedUs = Math.round(ackedUs);
      row.partition = d.partition;
      row.offset = d.offset;
      this.result.acked++;
      this.result.lastAckUs = Math.max(this.result.lastAckUs, row.ackedUs);
      if (measured) this.#recorder?.record("produceAck", ackedUs - row.intendedUs);
    }
    this.#rows.push(rowLine(row));
    const w = this.#wake;
    this.#wake = undefined;
    w?.();
  }

  #startRecording(startWallMs: number): NodeJS.Timeout {
    mkdirSync(workerHlogDir(this.#c.dir, this.#c.index), { recursive: true });
    const recorder = new LatencyRecorder(workerHlogDir(this.#c.dir, this.#c.index), ["produceAck"], startWallMs);
    this.#recorder = recorder;
    return this.#flushEverySecond(recorder, startWallMs);
  }

  /** Interval boundaries on the common grid (start of load + whole seconds), so merged logs line up exactly. */
  #flushEverySecond(recorder: LatencyRecorder, startWallMs: number): NodeJS.Timeout {
    let k = 1;
    return setInterval(() => {
      while (startWallMs + k * 1000 <= Date.now()) recorder.flush(startWallMs + k++ * 1000);
      this.#writeRows();
    }, 100);
  }

  #writeRows(): void {
    if (!this.#rows.length) return;
    appendFileSync(ledgerFile(this.#c.dir, this.#c.index), this.#rows.join(""));
    this.#rows = [];
  }

  async #drain(): Promise<void> {
    const deadline = Date.now() + this.#c.drainTimeoutMs;
    while (this.#inFlight > 0 && Date.now() < deadline) await sleep(20);
    this.result.unsettled = this.#inFlight;
  }

  /** Final interval, the rows left, and the result file. */
  finish(): void {
    this.#recorder?.finish(Date.now());
    for (const r of this.#open) this.#rows.push(rowLine(r));
    this.#writeRows();
    writeFileSync(resultFile(this.#c.dir, this.#c.index), JSON.stringify(this.result));
  }
}

/** A producer without the callback capability (kafkajs), behind the same call. */
const promiseSender = (p: Producer): Pick<CallbackProducer, "sendWith"> => ({
  sendWith: (r, done: (e: Error | undefined, d: Delivery | undefined) => void) =>
    void p.send(r as ProduceRecord).then(
      (d) => done(undefined, d),
      (e: unknown) => done(e instanceof Error ? e : new Error(String(e)), undefined),
    ),
});

/** Parses one line of a worker's ledger back into a ledger entry (times in µs from the start of load). */
export function parseLedgerLine(line: string): import("./ledger.ts").LedgerEntry {
  const [seq, eventId, key, intendedUs, sentUs, ackedUs, partition, offset, error] = line.split("\t");
  return {
    eventId: eventId ?? "",
    seq: Number(seq),
    key: key ?? "",
    intendedUs: Number(intendedUs),
    sentUs: Number(sentUs),
    ...(ackedUs ? { ackedUs: Number(ackedUs), partition: Number(partition), offset: offset ?? "" } : {}),
    ...(error ? { error } : {}),
    completedUs: [],
  };
}

async function waitForStart(dir: string): Promise<number> {
  while (!existsSync(startFile(dir))) await sleep(10);
  return (JSON.parse(readFileSync(startFile(dir), "utf8")) as { startWallMs: number }).startWallMs;
}

async function main(): Promise<void> {
  const c = JSON.parse(process.argv[2] ?? "{}") as WorkerConfig;
  const driver = await loadDriver(c.driver);
  const producer = await driver.producer({ bootstrap: c.bootstrap, clientId: c.clientId, props: c.props, ...withTls(c.tls) });
  let worker: Worker | undefined;
  try {
    // Ready once connected and the first second of payloads is encoded; then wait for the common start.
    worker = new Worker(c, producer);
    await worker.prepare(Math.min(worker.slice.count, 4096));
    writeFileSync(readyFile(c.dir, c.index), String(process.pid));
    const startWallMs = await waitForStart(c.dir);
    await worker.offer(startWallMs);
  } finally {
    await producer.close();
    worker?.finish();
  }
}

if (import.meta.main) {
  process.on("SIGTERM", () => process.exit(143));
  main().then(
    () => process.exit(0),
    (e: unknown) => {
      process.stderr.write(`produce worker failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exit(1);
    },
  );
}
