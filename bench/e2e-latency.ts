/**
 * End-to-end latency on the default one-region mesh: Kafka's own EndToEndLatency tool (one message at a time,
 * produce then consume, a single hop) against the lab's clearance round trip at a low constant rate (assessment
 * and response: two produce+consume hops), on the same cluster through the same client listener.
 *
 *   node bench/e2e-latency.ts [--messages 2000] [--duration 20s] [--out DIR]
 */
import { setTimeout as sleep } from "node:timers/promises";
import { ClearanceFlow, LATENCY_METRICS } from "../generators/clearance.ts";
import { ASSESSMENT_SCHEMA, Codec } from "../generators/codec.ts";
import { ASSESSMENT_TOPIC, parseWorkload } from "../generators/workload.ts";
import { InfraError, InterruptedError } from "../lab/errors.ts";
import { info, progress } from "../lab/log.ts";
import { checkClearances } from "../reports/checker.ts";
import { LatencyRecorder, type LatencySummary } from "../reports/hdr.ts";
import type { KafkaInstall } from "../topology/kafka/install.ts";
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
  untilAborted,
  withMesh,
  writeBenchResult,
} from "./common.ts";

const USAGE = "node bench/e2e-latency.ts [--messages N] [--duration D] [--warmup D] [--rate N] [--out DIR] [--client-class ato] [--seed N]";
const END_TO_END_LATENCY = "org.apache.kafka.tools.EndToEndLatency";

interface Settings {
  messages: number;
  durationMs: number;
  warmupMs: number;
  perSecond: number;
  seed: number;
  clientClass: string;
}

/** How this Kafka's EndToEndLatency takes its arguments, as its own --help says. */
export interface E2eSyntax {
  kind: "named" | "positional";
  /** Named mode only: it can send a key and headers too (--record-key-size, --num-headers ...). */
  keysAndHeaders: boolean;
  help: string;
}

/**
 * Asks the tool. Kafka 4.3 reads a lone `--help` as the deprecated positional form ("Expected 5 or 6 positional
 * arguments ... Usage: bootstrap-server topic num-records producer-acks record-size [optional] command-config"):
 * it switches to named options only once a named option is present, so the second probe names one.
 */
export async function endToEndSyntax(kafka: KafkaInstall): Promise<E2eSyntax> {
  const named = (help: string): E2eSyntax => ({ kind: "named", keysAndHeaders: help.includes("--record-key-size") && help.includes("--num-headers"), help });
  const plain = await toolOutput(kafka, END_TO_END_LATENCY, ["--help"]);
  if (plain.includes("--num-records") && plain.includes("--bootstrap-server")) return named(plain);
  const withOption = await toolOutput(kafka, END_TO_END_LATENCY, ["--bootstrap-server", "127.0.0.1:9", "--help"]);
  if (withOption.includes("--num-records") && withOption.includes("--bootstrap-server")) return named(withOption);
  if (/positional|broker_list|num_messages|producer.acks/i.test(plain)) return { kind: "positional", keysAndHeaders: false, help: plain };
  throw new InfraError({
    component: "EndToEndLatency",
    message: "its --help shows neither the named options (--bootstrap-server --topic --num-records --producer-acks --record-size) nor the positional form",
    hint: "check the Kafka version of topology/kafka/install.ts",
    logTail: `${plain}\n${withOption}`,
  });
}

export interface E2eNumbers {
  messages: number;
  avgMs: number;
  /** Whole milliseconds, truncated: the tool keeps each latency as nanoseconds / 1e6 in a long. */
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
}

export function parseEndToEndLatency(output: string, messages: number): E2eNumbers {
  const avg = /Avg latency: ([\d.]+) ms/.exec(output);
  const pct = /Percentiles: 50th = (\d+), 99th = (\d+), 99\.9th = (\d+)/.exec(output);
  if (!avg || !pct) throw new Error('no "Avg latency: X ms" and "Percentiles: 50th = a, 99th = b, 99.9th = c" lines in its output');
  return { messages, avgMs: Number(avg[1]), p50Ms: Number(pct[1]), p99Ms: Number(pct[2]), p999Ms: Number(pct[3]) };
}

async function kafkaEndToEnd(b: Bench, s: Settings, payload: PayloadStats): Promise<E2eNumbers & { topic: string; syntax: string; argv: string[] }> {
  const topic = (await createBenchTopic(b, `bench-e2e-kafka-${timestamp()}`)).name;
  const syntax = await endToEndSyntax(b.kafka);
  let args: string[];
  if (syntax.kind === "named") {
    args = ["--bootstrap-server", b.bootstrap, "--topic", topic, "--num-records", String(s.messages), "--producer-acks", "all", "--record-size", String(payload.recordSize)];
    // Like the lab's records: a TFN-sized key and two headers (event-id, traceparent) of about the same bytes.
    if (syntax.keysAndHeaders)
      args.push(
        "--record-key-size",
        String(Math.round(payload.avgKeyBytes)),
        "--num-headers",
        "2",
        "--record-header-key-size",
        String(Math.round(payload.avgHeaderKeyBytes / 2)),
        "--record-header-size",
        String(Math.round((payload.avgHeaderBytes - payload.avgHeaderKeyBytes) / 2)),
      );
  } else {
    args = [b.bootstrap, topic, String(s.messages), "all", String(payload.recordSize)];
  }
  const done = progress(`kafka EndToEndLatency (${syntax.kind} arguments): ${s.messages} messages of ${payload.recordSize} bytes, one at a time, via ${topic}`);
  const out = await runKafkaTool(b, "end-to-end-latency", END_TO_END_LATENCY, args, { timeoutMs: 120_000 + s.messages * 200 });
  let parsed: E2eNumbers;
  try {
    parsed = parseEndToEndLatency(out, s.messages);
  } catch (e) {
    throw new InfraError({ component: "end-to-end-latency", message: (e as Error).message, hint: `read ${b.runDir}/end-to-end-latency.log`, logTail: out.split("\n").slice(-20).join("\n") });
  }
  done(`avg ${parsed.avgMs} ms, p50 ${parsed.p50Ms} ms`);
  return { ...parsed, topic, syntax: syntax.kind, argv: args };
}

interface FlowNumbers {
  clearance: LatencySummary & { avgMs: number };
  produceAck: LatencySummary & { avgMs: number };
  counts: ReturnType<typeof checkClearances>["counts"];
  valid: string;
}

/**
 * The lab's clearance round trip at a low constant rate, one Centrelink engine, no simulated debt check. What was
 * measured goes to `keep` even when the run is interrupted.
 */
async function labClearance(b: Bench, s: Settings, keep: (n: FlowNumbers & { partial: boolean }) => void): Promise<void> {
  const workload = parseWorkload(
    {
      durationMs: s.durationMs,
      warmupMs: s.warmupMs,
      seed: s.seed,
      rate: { kind: "constant", perSecond: s.perSecond },
      centrelink: { instances: 1, debtCheckMs: { min: 0, max: 0 } },
    },
    "bench e2e-latency",
  );
  const recorder = new LatencyRecorder(b.runDir, LATENCY_METRICS, Date.now());
  const flow = new ClearanceFlow({ workload, mesh: b.mesh, recorder });
  try {
    await untilAborted(flow.start(b.supervisor, b.runDir), b.signal);
    await flow.offerLoad(b.signal);
    const done = progress("draining outstanding clearances");
    const ms = await flow.drain(b.signal);
    done(`${flow.ledger.outstanding()} outstanding after ${(ms / 1000).toFixed(1)} s`);
    if (b.signal.aborted) throw b.signal.reason ?? new InterruptedError("abort");
  } finally {
    // Clients first, while the brokers can still answer their leave-group and close calls.
    await Promise.race([flow[Symbol.asyncDispose]().catch(() => {}), sleep(20_000)]);
    const summaries = recorder.finish(Date.now());
    const withAvg = (m: (typeof LATENCY_METRICS)[number]) => ({ ...(summaries[m] as LatencySummary), avgMs: round(recorder.histogram(m).mean / 1000, 3) });
    const check = checkClearances(flow.ledger.history());
    keep({ clearance: withAvg("clearance"), produceAck: withAvg("produceAck"), counts: check.counts, valid: check.valid, partial: b.signal.aborted });
  }
}

async function main(): Promise<void> {
  const values = parseFlags(
    USAGE,
    "Stands the default one-region mesh up, then measures end-to-end latency with Kafka's EndToEndLatency (one message at a time,\n" +
      "a single produce+consume hop, fresh topic with 12 partitions, RF 3, min ISR 2) and with the lab's clearance round trip\n" +
      "(ClearanceFlow at a low constant rate: two hops). Tears down afterwards.",
    {
      messages: { type: "string", arg: "N", help: "EndToEndLatency messages (default 2000)" },
      duration: { type: "string", arg: "D", help: "measured clearance load after the warm-up (default 20s)" },
      warmup: { type: "string", arg: "D", help: "clearance warm-up, not in the histograms (default 5s)" },
      rate: { type: "string", arg: "N", help: "clearance requests per second (default 20)" },
      out: { type: "string", arg: "DIR", help: "run directory (default runs/bench-e2e-<time>); must be empty" },
      "client-class": { type: "string", arg: "NAME", help: "listener EndToEndLatency uses: ato (through toxiproxy, like the ATO side, default) or lab" },
      seed: { type: "string", arg: "N", help: "seed of the generated assessments (default 42)" },
    },
  );
  const f = new FlagReader(values);
  const s: Settings = {
    messages: f.int("messages", 2_000, 1),
    durationMs: f.duration("duration", 20_000),
    warmupMs: f.duration("warmup", 5_000),
    perSecond: f.num("rate", 20, 0.001),
    seed: f.int("seed", 42, 0),
    clientClass: f.str("client-class") ?? "ato",
  };
  f.done(USAGE);
  const runDir = prepareRunDir("bench-e2e", f.str("out"));
  const result: Record<string, unknown> = { benchmark: "e2e-latency", status: "failed", startedAt: new Date().toISOString(), runDir, settings: s };

  let outcome: unknown;
  try {
    // Plaintext, whatever the topology's default: this bench compares client hops with Kafka's tool; what TLS and
    // signing cost is bench/security.ts's question.
    await withMesh({ name: "bench-e2e", runDir, clientClass: s.clientClass, security: "plaintext" }, async (b) => {
      Object.assign(result, { topology: b.spec.name, bootstrap: b.bootstrap, versions: { ...b.mesh.versions, node: process.version } });
      // The record size EndToEndLatency sends: the mean encoded assessment (registered as the run's deployment step does).
      const codec = new Codec(b.region.registry.ccompatUrl, b.region.tls("lab"));
      const payload = await measureAssessments(codec, await codec.register(ASSESSMENT_TOPIC, ASSESSMENT_SCHEMA), s.seed, 2_000);
      result.payload = payload;
      info(`assessment value: ${payload.avgValueBytes} bytes on average -> --record-size ${payload.recordSize} (key ${payload.avgKeyBytes}, headers ${payload.avgHeaderBytes} bytes)`);
      result.kafka = await kafkaEndToEnd(b, s, payload);
      await labClearance(b, s, (n) => (result.lab = n));
    });
    result.status = "completed";
  } catch (e) {
    outcome = e;
    result.status = e instanceof InterruptedError ? "interrupted" : "failed";
    result.error = e instanceof Error ? e.message : String(e);
  }

  const kafka = result.kafka as (E2eNumbers & { syntax: string }) | undefined;
  const lab = result.lab as (FlowNumbers & { partial: boolean }) | undefined;
  if (lab && lab.clearance.count > 0) {
    result.labPerHop = { avgMs: round(lab.clearance.avgMs / 2), p50Ms: round(lab.clearance.p50 / 2) };
    if (kafka && kafka.avgMs > 0) result.ratioLabPerHopToKafkaAvg = round(lab.clearance.avgMs / 2 / kafka.avgMs, 3);
  }
  const file = writeBenchResult(runDir, result);

  const rows: string[][] = [];
  if (kafka) rows.push(["kafka EndToEndLatency (1 hop)", String(kafka.messages), cell(kafka.avgMs, 3), cell(kafka.p50Ms, 0), cell(kafka.p99Ms, 0), cell(kafka.p999Ms, 0)]);
  if (lab && lab.clearance.count > 0) {
    const c = lab.clearance;
    rows.push(["lab clearance (2 hops)", String(c.count), cell(c.avgMs, 3), cell(c.p50, 3), cell(c.p99, 3), cell(c.p999, 3)]);
    rows.push(["lab clearance / 2 (per hop)", String(c.count), cell(c.avgMs / 2, 3), cell(c.p50 / 2, 3), "-", "-"]);
    const p = lab.produceAck;
    rows.push(["lab produce ack (ATO side)", String(p.count), cell(p.avgMs, 3), cell(p.p50, 3), cell(p.p99, 3), cell(p.p999, 3)]);
  }
  const lines = [
    "",
    `end-to-end latency via the ${s.clientClass} listener; clearance at ${s.perSecond}/s for ${s.durationMs / 1000} s after ${s.warmupMs / 1000} s warm-up`,
  ];
  if (rows.length) lines.push(renderTable(["tool", "messages", "avg ms", "p50 ms", "p99 ms", "p99.9 ms"], rows));
  if (kafka) lines.push("(EndToEndLatency percentiles are whole milliseconds, truncated; its average is exact)");
  if (lab)
    lines.push(
      `(per hop: half the clearance average and median; the clearance checker says ${lab.valid}, ${lab.counts.completed}/${lab.counts.acked} completed, ${lab.counts.lost} lost${lab.partial ? "; interrupted, so partial" : ""})`,
    );
  if (result.ratioLabPerHopToKafkaAvg !== undefined)
    lines.push(`lab per-hop avg / kafka avg: ${cell(result.ratioLabPerHopToKafkaAvg as number, 3)}`);
  lines.push(`status ${result.status}; ${file}`, "");
  process.stdout.write(lines.join("\n"));
  if (outcome !== undefined) throw outcome;
}

if (import.meta.main) runMain(main);
