/**
 * Producer throughput on the default one-region mesh: Kafka's own Java ProducerPerformance against the lab's
 * generator path (the confluent driver sending Avro tax assessments), same cluster, same client settings
 * (acks=all, idempotence, linger.ms), same bytes per record value, each on its own fresh topic.
 *
 *   node bench/produce-rate.ts [--records 200000] [--out DIR] [--security plaintext|mtls|both]
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { ASSESSMENT_SCHEMA, Codec } from "../generators/codec.ts";
import { withTls } from "../generators/drivers/driver.ts";
import { runProduceWorkers } from "../generators/produce-workers.ts";
import { javaClientTls, renderProperties } from "../topology/kafka/tools.ts";
import { BadInputError, InfraError, InterruptedError } from "../lab/errors.ts";
import { info, progress } from "../lab/log.ts";
import {
  type Bench,
  cell,
  createBenchTopic,
  FlagReader,
  measureAssessments,
  type PayloadStats,
  parseFlags,
  prepareRunDir,
  renderTable,
  round,
  runKafkaTool,
  runMain,
  timestamp,
  toolOutput,
  withMesh,
  writeBenchResult,
} from "./common.ts";

const USAGE = "node bench/produce-rate.ts [--records N] [--out DIR] [--workers N[,N..]] [--rate R] [--cpu-prof] [--in-flight N] [--linger-ms N] [--client-class ato] [--seed N] [--security plaintext|mtls|both]";
const PRODUCER_PERFORMANCE = "org.apache.kafka.tools.ProducerPerformance";
const MB = 1024 * 1024;

/** One tool's numbers; latencies in milliseconds (ProducerPerformance prints whole-millisecond percentiles). */
export interface ProduceRate {
  tool: string;
  topic: string;
  records: number;
  failed: number;
  elapsedMs: number;
  recordsPerSec: number;
  mbPerSec: number;
  avgMs: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  /** Lab only: CPU of this process (JS thread and librdkafka's threads) and the JS event loop's busy share. */
  processCpuPercent?: number;
  eventLoopUtilization?: number;
}

interface Settings {
  records: number;
  /** Outstanding sends per lab worker at most. */
  inFlight: number;
  /** Lab runs, one per worker count, each on its own topic after Kafka's tool; the first is the headline. */
  workers: number[];
  /** The lab's offered rate; default 1.25 x Kafka's measured rate. */
  rate?: number;
  /** Mean value size (set once measured), for the lab's MB/s. */
  payloadBytes: number;
  cpuProf: boolean;
  lingerMs: number;
  seed: number;
  clientClass: string;
}

/** ProducerPerformance's final (not steady-state) summary line. */
const SUMMARY =
  /^(\d+) records sent, ([\d.]+) records\/sec \(([\d.]+) MB\/sec\), ([\d.]+) ms avg latency, ([\d.]+) ms max latency, (\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th, (\d+) ms 99\.9th\./;

export function parseProducerPerformance(output: string): Omit<ProduceRate, "tool" | "topic" | "failed" | "elapsedMs"> & { line: string } {
  const line = output
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => SUMMARY.test(l))
    .at(-1);
  const m = line ? SUMMARY.exec(line) : null;
  if (!line || !m) throw new Error("no final summary line (\"N records sent, X records/sec (Y MB/sec), ... ms 99.9th.\") in its output");
  const n = (i: number) => Number(m[i]);
  return { line, records: n(1), recordsPerSec: n(2), mbPerSec: n(3), avgMs: n(4), maxMs: n(5), p50Ms: n(6), p95Ms: n(7), p99Ms: n(8), p999Ms: n(9) };
}

/**
 * Kafka's ProducerPerformance with the same client settings; its syntax is taken from its own --help. Also the raw
 * produce capacity `run --find-max` compares its answer with (lab/find-max.ts).
 */
export async function kafkaTool(b: Bench, s: Pick<Settings, "records" | "lingerMs">, topic: string, recordSize: number): Promise<ProduceRate & { syntax: string; line: string }> {
  const help = await toolOutput(b.kafka, PRODUCER_PERFORMANCE, ["--help"]);
  const props = ["acks=all", "enable.idempotence=true", `linger.ms=${s.lingerMs}`, "client.id=bench-kafka-producer"];
  // On mTLS it presents the ATO tax service's SVID, as the lab's generator does: in a config file, because the
  // tool refuses an empty value on its command line (ssl.endpoint.identification.algorithm=).
  const tls = b.region.tls("ato-tax-service");
  const config = join(b.runDir, "producer-performance.properties");
  if (tls) writeFileSync(config, `${renderProperties(javaClientTls(tls))}\n`);
  // Kafka 4.x has --bootstrap-server and --command-property and deprecates --producer-props; older ones have only the latter.
  const modern = help.includes("--command-property") && help.includes("--bootstrap-server");
  const args = [
    "--topic",
    topic,
    "--num-records",
    String(s.records),
    "--record-size",
    String(recordSize),
    "--throughput",
    "-1",
    ...(modern ? ["--bootstrap-server", b.bootstrap, "--command-property", ...props] : ["--producer-props", `bootstrap.servers=${b.bootstrap}`, ...props]),
    ...(tls ? [modern && help.includes("--command-config") ? "--command-config" : "--producer.config", config] : []),
  ];
  const done = progress(`kafka ProducerPerformance: ${s.records} records of ${recordSize} bytes to ${topic}`);
  const out = await runKafkaTool(b, "producer-performance", PRODUCER_PERFORMANCE, args, { timeoutMs: 120_000 + s.records * 5 });
  let parsed: ReturnType<typeof parseProducerPerformance>;
  try {
    parsed = parseProducerPerformance(out);
  } catch (e) {
    throw new InfraError({ component: "producer-performance", message: (e as Error).message, hint: `read ${b.runDir}/producer-performance.log`, logTail: out.split("\n").slice(-20).join("\n") });
  }
  done(`${Math.round(parsed.recordsPerSec)} records/s`);
  const { line, ...nums } = parsed;
  return {
    tool: "kafka ProducerPerformance",
    topic,
    ...nums,
    failed: s.records - nums.records,
    elapsedMs: round((nums.records / nums.recordsPerSec) * 1000, 1),
    syntax: modern ? "--bootstrap-server + --command-property" : "--producer-props",
    line,
  };
}

/**
 * The lab's generator: `workers` generator processes, each owning an interleaved slice of one open-model schedule
 * at `rate` requests/s (default: 1.25 x what Kafka's tool just reached, so the lab has to keep up with it), every
 * request an Avro assessment with its key and event-id/traceparent headers (signed on mTLS), every one in a
 * worker's ledger with its intended time. Throughput counts from the start of load to the last acknowledgement;
 * latency from each request's intended time (so a generator that falls behind shows it).
 */
async function labGenerator(b: Bench, s: Settings, workers: number, topic: string, schemaId: number, rate: number): Promise<ProduceRate & { workers: WorkersSummary }> {
  const dir = join(b.runDir, `lab-workers-${workers}`);
  mkdirSync(dir, { recursive: true });
  const done = progress(`lab generator: ${s.records} Avro assessments to ${topic} at ${rate}/s (open model), ${workers} worker process(es)`);
  const run = await runProduceWorkers(
    {
      workers,
      rate: { kind: "constant", perSecond: rate },
      warmupMs: 0,
      durationMs: (s.records * 1000) / rate,
      seed: s.seed,
      population: 10_000,
      topic,
      bootstrap: b.bootstrap,
      driver: "confluent",
      clientId: "bench-lab-producer",
      props: { acks: "all", "enable.idempotence": true, "linger.ms": s.lingerMs },
      ...withTls(b.region.tls("ato-tax-service")),
      registryUrl: b.region.registry.ccompatUrl,
      schemaId,
      maxInFlight: s.inFlight,
      prepareAheadMs: 1_000,
      dir,
      drainTimeoutMs: 60_000,
    },
    { supervisor: b.supervisor, signal: b.signal, ...(s.cpuProf ? { nodeArgs: ["--cpu-prof", `--cpu-prof-dir=${join(b.runDir, "cpu-profiles")}`] } : {}) },
  );
  const { ledger } = run;
  if (run.failed > 0 || run.unsettled > 0 || ledger.missing.length || ledger.doubled.length || ledger.duplicateEventIds.length)
    throw new InfraError({
      component: "lab generator",
      message: `${run.failed} failed, ${run.unsettled} unsettled, ${ledger.missing.length} missing and ${ledger.doubled.length} doubled in the merged ledger, ${ledger.duplicateEventIds.length} event ids reused`,
      hint: `see ${dir} (each worker's log and ledger)`,
    });
  const bytes = ledger.entries.length * s.payloadBytes;
  const cpuMs = run.workers.reduce((x, w) => x + w.cpuUserMs + w.cpuSystemMs, 0);
  done(`${Math.round((run.acked * 1000) / run.elapsedMs)} records/s`);
  const l = run.produceAck;
  return {
    tool: `lab generator (${workers} worker${workers > 1 ? "s" : ""}, open model)`,
    topic,
    records: run.acked,
    failed: run.failed,
    elapsedMs: round(run.elapsedMs, 1),
    recordsPerSec: round((run.acked * 1000) / run.elapsedMs, 1),
    mbPerSec: round(bytes / MB / (run.elapsedMs / 1000), 2),
    avgMs: run.produceAckMeanMs,
    p50Ms: l.p50,
    p95Ms: l.p95,
    p99Ms: l.p99,
    p999Ms: l.p999,
    maxMs: l.max,
    processCpuPercent: round((cpuMs / run.elapsedMs) * 100, 1),
    eventLoopUtilization: round(Math.max(...run.workers.map((w) => w.eventLoopUtilization)), 3),
    workers: {
      count: workers,
      offeredRate: rate,
      maxBehindMs: round(Math.max(...run.workers.map((w) => w.maxBehindUs)) / 1000, 1),
      perWorker: run.workers.map((w) => ({ index: w.index, requests: w.requests, acked: w.acked, cpuMs: round(w.cpuUserMs + w.cpuSystemMs, 0), eventLoopUtilization: round(w.eventLoopUtilization, 3) })),
      ledger: join(dir, "ledger.ndjson"),
      hlog: run.hlogFile,
    },
  };
}

interface WorkersSummary {
  count: number;
  offeredRate: number;
  /** The most any request was sent after its intended time. */
  maxBehindMs: number;
  perWorker: { index: number; requests: number; acked: number; cpuMs: number; eventLoopUtilization: number }[];
  ledger: string;
  hlog: string;
}

type Security = "plaintext" | "mtls";

/** One mesh, both tools: Kafka's first, then the lab's, each on its own fresh topic. */
async function measureOn(security: Security, s: Settings, runDir: string): Promise<Record<string, unknown>> {
  const result: Record<string, unknown> = { security, status: "failed", runDir };
  mkdirSync(runDir, { recursive: true });
  try {
    await withMesh({ name: `bench-produce-${security}`, runDir, clientClass: s.clientClass, security }, async (b) => {
      Object.assign(result, { topology: b.spec.name, bootstrap: b.bootstrap, versions: { ...b.mesh.versions, node: process.version } });
      // One fresh topic per tool, so neither reads or competes with the other's data.
      const stamp = timestamp();
      // On mTLS the ACLs let the tax service write only assessment topics, so the bench topics are named as such.
      const prefix = security === "mtls" ? "au.gov.ato.tax.assessment.v1." : "";
      const kafkaTopic = (await createBenchTopic(b, `${prefix}bench-produce-kafka-${stamp}`)).name;
      const labTopics: string[] = [];
      for (const w of s.workers) labTopics.push((await createBenchTopic(b, `${prefix}bench-produce-lab-${w}w-${stamp}`)).name);
      const labTopic = labTopics[0] as string;
      // The payload first: its mean encoded size is what ProducerPerformance is told to send.
      const codec = new Codec(b.region.registry.ccompatUrl, b.region.tls("lab"));
      const schemaId = await codec.register(labTopic, ASSESSMENT_SCHEMA);
      const payload: PayloadStats = await measureAssessments(codec, schemaId, s.seed, 5_000);
      result.payload = payload;
      info(
        `assessment value: ${payload.avgValueBytes} bytes on average (${payload.minValueBytes}-${payload.maxValueBytes}) -> --record-size ${payload.recordSize}; ` +
          `key ${payload.avgKeyBytes} + headers ${payload.avgHeaderBytes} bytes more per lab record; generate+encode alone: ${payload.generateEncodePerSec}/s`,
      );
      result.kafka = await kafkaTool(b, s, kafkaTopic, payload.recordSize);
      s.payloadBytes = payload.avgValueBytes;
      const rate = s.rate ?? Math.ceil(((result.kafka as ProduceRate).recordsPerSec * 1.25) / 100) * 100;
      const labs: ProduceRate[] = [];
      for (const [i, w] of s.workers.entries()) {
        const id = i === 0 ? schemaId : await codec.register(labTopics[i] as string, ASSESSMENT_SCHEMA);
        labs.push(await labGenerator(b, s, w, labTopics[i] as string, id, rate));
        result.lab = labs[0];
        if (labs.length > 1) result.labAlso = labs.slice(1);
      }
    });
    result.status = "completed";
  } catch (e) {
    result.status = e instanceof InterruptedError ? "interrupted" : "failed";
    result.error = e instanceof Error ? e.message : String(e);
    result.thrown = e;
  }
  const kafka = result.kafka as ProduceRate | undefined;
  const lab = result.lab as ProduceRate | undefined;
  if (kafka && lab) result.ratioLabToKafka = round(lab.recordsPerSec / kafka.recordsPerSec, 3);
  for (const x of (result.labAlso as (ProduceRate & { ratioLabToKafka?: number })[] | undefined) ?? []) if (kafka) x.ratioLabToKafka = round(x.recordsPerSec / kafka.recordsPerSec, 3);
  return result;
}

function renderMode(r: Record<string, unknown>, s: Settings): string[] {
  const kafka = r.kafka as ProduceRate | undefined;
  const lab = r.lab as ProduceRate | undefined;
  const also = (r.labAlso as (ProduceRate & { ratioLabToKafka?: number })[] | undefined) ?? [];
  const rows = [kafka, lab, ...also]
    .filter((x): x is ProduceRate => x !== undefined)
    .map((x) => [x.tool, String(x.records), cell(x.recordsPerSec, 0), cell(x.mbPerSec), cell(x.avgMs), cell(x.p50Ms), cell(x.p99Ms), cell(x.maxMs)]);
  const payload = r.payload as PayloadStats | undefined;
  const lines = ["", `produce rate on ${r.security}, ${s.records} records, acks=all, idempotent, linger.ms=${s.lingerMs}, via the ${s.clientClass} listener${payload ? `, ${payload.recordSize}-byte values` : ""}`];
  if (rows.length) lines.push(renderTable(["tool", "records", "records/s", "MB/s", "avg ms", "p50 ms", "p99 ms", "max ms"], rows));
  if (r.ratioLabToKafka !== undefined) lines.push(`lab/kafka records/s ratio: ${cell(r.ratioLabToKafka as number, 3)}${also.map((x) => `; ${x.tool}: ${cell(x.ratioLabToKafka ?? Number.NaN, 3)}`).join("")}`);
  const w = (lab as { workers?: WorkersSummary } | undefined)?.workers;
  if (w)
    lines.push(
      `(lab: ${w.count} worker process(es) offered ${w.offeredRate}/s on one open-model schedule; latency from each record's intended time; at most ${w.maxBehindMs} ms behind schedule; merged ledger ${w.ledger})`,
    );
  if (lab?.processCpuPercent !== undefined)
    lines.push(`(lab workers together: ${lab.processCpuPercent}% CPU, busiest event loop ${Math.round((lab.eventLoopUtilization ?? 0) * 100)}%; 100% CPU is one core of ${cpus().length})`);
  if (payload) lines.push(`(lab records also carry a ${payload.avgKeyBytes}-byte key and ${payload.avgHeaderBytes} bytes of headers${r.security === "mtls" ? ", and on mTLS about 1.7 KB of signature headers (signature, time, SVID chain)" : ""}; MB/s counts values only, as ProducerPerformance does)`);
  if (r.error) lines.push(`${r.security}: ${r.status}: ${r.error}`);
  return lines;
}

/** mTLS over plaintext, per tool, when both ran. */
function securityRatios(modes: Record<string, unknown>[]): Record<string, number> | undefined {
  const [p, m] = [modes.find((x) => x.security === "plaintext"), modes.find((x) => x.security === "mtls")];
  const rate = (r: Record<string, unknown> | undefined, k: "kafka" | "lab") => (r?.[k] as ProduceRate | undefined)?.recordsPerSec;
  const out: Record<string, number> = {};
  for (const k of ["kafka", "lab"] as const) {
    const [a, b] = [rate(p, k), rate(m, k)];
    if (a && b) out[k] = round(b / a, 3);
  }
  return Object.keys(out).length ? out : undefined;
}

async function main(): Promise<void> {
  const values = parseFlags(
    USAGE,
    "Stands the default one-region mesh up, then measures producer throughput with Kafka's ProducerPerformance and with the lab's\n" +
      "generator path (confluent driver, Avro assessments), each on a fresh topic (12 partitions, RF 3, min ISR 2). Tears down afterwards.\n" +
      "--security both does it on a plaintext mesh, then on an mTLS mesh (SVIDs, signed assessments), and prints mTLS/plaintext ratios.",
    {
      records: { type: "string", arg: "N", help: "records each tool sends (default 200000)" },
      out: { type: "string", arg: "DIR", help: "run directory (default runs/bench-produce-<time>); must be empty" },
      "in-flight": { type: "string", arg: "N", help: "outstanding sends per lab worker at most (default 20000)" },
      workers: { type: "string", arg: "N[,N..]", help: "lab generator worker processes, each a slice of the schedule (default 2); a list runs the lab once per count" },
      rate: { type: "string", arg: "R", help: "the lab's offered rate in records/s (default 1.25 x Kafka's measured rate)" },
      "cpu-prof": { type: "boolean", help: "write a V8 CPU profile of every lab worker to <out>/cpu-profiles" },
      "linger-ms": { type: "string", arg: "N", help: "linger.ms of both producers (default 5)" },
      "client-class": { type: "string", arg: "NAME", help: "listener the producers use: ato (through toxiproxy, default) or lab (direct)" },
      seed: { type: "string", arg: "N", help: "seed of the generated assessments (default 42)" },
      security: { type: "string", arg: "S", help: "plaintext (default), mtls, or both (one mesh after the other)" },
    },
  );
  const f = new FlagReader(values);
  const s: Settings = {
    records: f.int("records", 200_000, 1),
    inFlight: f.int("in-flight", 20_000, 1),
    workers: f.intList("workers", [2], 1),
    ...(values.rate !== undefined ? { rate: f.int("rate", 1, 1) } : {}),
    payloadBytes: 0,
    cpuProf: values["cpu-prof"] === true,
    lingerMs: f.int("linger-ms", 5, 0),
    seed: f.int("seed", 42, 0),
    clientClass: f.str("client-class") ?? "ato",
  };
  const security = f.str("security") ?? "plaintext";
  if (!["plaintext", "mtls", "both"].includes(security)) throw new BadInputError(`--security ${security}: not a security mode`, [], "use plaintext, mtls or both");
  f.done(USAGE);
  const runDir = prepareRunDir("bench-produce", f.str("out"));
  const startedAt = new Date().toISOString();
  const list: Security[] = security === "both" ? ["plaintext", "mtls"] : [security as Security];
  const modes: Record<string, unknown>[] = [];
  for (const m of list) {
    modes.push(await measureOn(m, s, list.length > 1 ? join(runDir, m) : runDir));
    if (modes.at(-1)?.status === "interrupted") break;
  }
  const thrown = modes.find((m) => m.thrown)?.thrown;
  for (const m of modes) delete m.thrown;
  const only = modes.length === 1 ? modes[0] : undefined;
  const result: Record<string, unknown> = {
    benchmark: "produce-rate",
    status: modes.every((m) => m.status === "completed") && modes.length === list.length ? "completed" : "failed",
    startedAt,
    runDir,
    settings: { ...s, acks: "all", enableIdempotence: true, security },
    ...(only ? only : { modes, mtlsOverPlaintext: securityRatios(modes) }),
  };
  const file = writeBenchResult(runDir, result);
  const lines = modes.flatMap((m) => renderMode(m, s));
  const ratios = securityRatios(modes);
  if (ratios) lines.push("", `mTLS/plaintext records/s: Kafka ProducerPerformance ${cell(ratios.kafka ?? Number.NaN, 3)}, lab generator ${cell(ratios.lab ?? Number.NaN, 3)}`);
  lines.push(`status ${result.status}; ${file}`, "");
  process.stdout.write(lines.join("\n"));
  if (thrown !== undefined) throw thrown;
}

if (import.meta.main) runMain(main);
