/**
 * What the benchmarks share: flags, the run directory, standing the default mesh up and always tearing it down
 * (also on SIGINT/SIGTERM), fresh benchmark topics, running a Kafka tool as a supervised process, the size of an
 * encoded tax assessment, and the side-by-side table.
 */
import { execFile } from "node:child_process";
import { onInterrupt } from "../lab/interrupt.ts";
import { prepareRunDir as prepareRunDirOfRun } from "../lab/runner.ts";
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { join, } from "node:path";
import { parseArgs } from "node:util";
import type { Codec } from "../generators/codec.ts";
import { AssessmentFactory, population } from "../generators/domain.ts";
import { BadInputError, describeError, ExitCode, exitCodeOf, InfraError, } from "../lab/errors.ts";
import { cacheRoot, } from "../lab/install.ts";
import { info, progress, } from "../lab/log.ts";
import { exitedError, Supervisor, waitUntil } from "../lab/proc.ts";
import { parseDuration } from "../lab/validate.ts";
import { machineInfo } from "../reports/result.ts";
import { type KafkaInstall, kafkaJavaArgv } from "../topology/kafka/install.ts";
import { kafkaWithPlugins, type Mesh, type StartedRegion, standUpMesh } from "../topology/local/mesh.ts";
import { loadTopology, seedTopicConfig, type TopicSpec, type TopologySpec } from "../topology/spec.ts";

// ---------------------------------------------------------------------------------------------------------------
// Flags

export interface FlagSpec {
  type: "string" | "boolean";
  /** Shown in --help, e.g. "N" or "DIR". */
  arg?: string;
  help: string;
}

/** Parses `process.argv` strictly; `--help` prints the usage and exits 0. */
export function parseFlags<K extends string>(
  usage: string,
  description: string,
  flags: Record<K, FlagSpec>,
): Record<K, string | boolean | undefined> {
  const options: Record<string, { type: "string" | "boolean" }> = { help: { type: "boolean" } };
  for (const [k, f] of Object.entries<FlagSpec>(flags)) options[k] = { type: f.type };
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: process.argv.slice(2), options, allowPositionals: false, strict: true }));
  } catch (e) {
    throw new BadInputError((e as Error).message, [], `usage: ${usage} (--help for more)`);
  }
  if (values.help) {
    const lines = Object.entries<FlagSpec>(flags).map(([k, f]) => `  ${`--${k}${f.arg ? ` ${f.arg}` : ""}`.padEnd(22)} ${f.help}`);
    process.stdout.write(`${usage}\n\n${description}\n\nOptions:\n${lines.join("\n")}\n`);
    process.exit(ExitCode.ok);
  }
  return values as Record<K, string | boolean | undefined>;
}

/** Collects flag problems so one run reports them all. */
export class FlagReader {
  readonly problems: string[] = [];
  readonly #v: Record<string, string | boolean | undefined>;
  constructor(values: Record<string, string | boolean | undefined>) {
    this.#v = values;
  }

  int(name: string, def: number, min: number): number {
    const raw = this.#v[name];
    if (raw === undefined) return def;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) {
      this.problems.push(`--${name} ${raw}: expected an integer >= ${min}`);
      return def;
    }
    return n;
  }

  num(name: string, def: number, min: number): number {
    const raw = this.#v[name];
    if (raw === undefined) return def;
    const n = Number(raw);
    if (!Number.isFinite(n) || n < min) {
      this.problems.push(`--${name} ${raw}: expected a number >= ${min}`);
      return def;
    }
    return n;
  }

  /** A comma-separated list of integers, each >= min. */
  intList(name: string, def: number[], min: number): number[] {
    const raw = this.#v[name];
    if (raw === undefined) return def;
    const ns = String(raw).split(",").map(Number);
    if (!ns.length || ns.some((n) => !Number.isInteger(n) || n < min)) {
      this.problems.push(`--${name} ${raw}: expected integers >= ${min}, comma-separated (e.g. 1,2,4)`);
      return def;
    }
    return ns;
  }

  duration(name: string, def: number): number {
    const raw = this.#v[name];
    if (raw === undefined) return def;
    const ms = parseDuration(raw);
    if (ms === undefined || ms <= 0) {
      this.problems.push(`--${name} ${raw}: expected a duration such as 500ms, 20s or 5m`);
      return def;
    }
    return ms;
  }

  str(name: string): string | undefined {
    const raw = this.#v[name];
    return typeof raw === "string" ? raw : undefined;
  }

  /** Throws one BadInputError with every problem found. */
  done(usage: string): void {
    if (this.problems.length) throw new BadInputError("bad option(s)", this.problems, `usage: ${usage} (--help for more)`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Entry point and run directory

/** Runs a benchmark's main and exits with the lab's exit codes (0 ok, 2 bad input, 3 infrastructure, 130 interrupted). */
export function runMain(main: () => Promise<void>): void {
  main().then(
    () => process.exit(ExitCode.ok),
    (e: unknown) => {
      process.stderr.write(`${describeError(e)}\n`);
      process.exit(exitCodeOf(e));
    },
  );
}

export const timestamp = (): string => new Date().toISOString().replace(/[-:]/g, "").replace(/\..*/, "").replace("T", "-");

/** Like a run's directory: `runs/<name>-<time>` by default; a non-empty one is refused so nothing is overwritten. */
export const prepareRunDir = prepareRunDirOfRun;


/** Writes bench-result.json atomically into the run directory; returns its path. */
export function writeBenchResult(runDir: string, result: Record<string, unknown>): string {
  const file = join(runDir, "bench-result.json");
  writeFileSync(`${file}.tmp`, `${JSON.stringify({ ...result, machine: machineInfo() }, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
  return file;
}

// ---------------------------------------------------------------------------------------------------------------
// Stand-up and teardown

export interface Bench {
  readonly name: string;
  readonly runDir: string;
  readonly spec: TopologySpec;
  readonly supervisor: Supervisor;
  readonly mesh: Mesh;
  readonly region: StartedRegion;
  readonly kafka: KafkaInstall;
  /** Aborted on SIGINT/SIGTERM (or a crash); the body stops its load and returns or throws. */
  readonly signal: AbortSignal;
  /** Bootstrap servers of the client class the benchmark's clients use. */
  readonly bootstrap: string;
}

/** Resolves with `p`, or rejects with the abort reason as soon as `signal` aborts. */
export function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  p.catch(() => {});
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      if (signal.aborted) reject(signal.reason);
      signal.addEventListener("abort", () => reject(signal.reason), { once: true });
    }),
  ]);
}

async function settleWithin<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p.catch(() => undefined), new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Stands the mesh up the way a run does (a Supervisor recording its processes under `<cache>/state/runs`, the
 * mesh's files in the run directory), hands it to `body`, and always tears it down: after the body, on an error,
 * and on SIGINT/SIGTERM (a second signal kills every component at once and exits).
 */
export async function withMesh<T>(
  opts: { name: string; runDir: string; clientClass: string; topology?: string; security?: "mtls" | "plaintext" },
  body: (b: Bench) => Promise<T>,
): Promise<T> {
  const loaded = loadTopology(opts.topology);
  const spec = opts.security ? { ...loaded, security: opts.security } : loaded;
  const classes = [...spec.clientClasses, "lab"];
  if (!classes.includes(opts.clientClass))
    throw new BadInputError(`--client-class ${opts.clientClass}: not a client class of ${spec.name}`, [], `one of ${classes.join(", ")}`);

  const stateDir = join(cacheRoot(), "state", "runs");
  const supervisor = new Supervisor(`${opts.name}-${process.pid}-${Date.now()}`, stateDir);
  const abort = new AbortController();
  let standingUp = true;
  const uninstall = onInterrupt(supervisor, abort, opts.name);
  // A half-started mesh fails fast once its processes are gone; its own stack cleans up the rest.
  abort.signal.addEventListener("abort", () => standingUp && void supervisor.stopAll(), { once: true });

  info(`${opts.name} -> ${opts.runDir}`);
  const standing = standUpMesh(spec, { runDir: opts.runDir, supervisor });
  standing.catch(() => {});
  let mesh: Mesh | undefined;
  try {
    mesh = await untilAborted(standing, abort.signal);
    standingUp = false;
    // On mTLS Kafka's tools load the lab's SVID engine factory, so its jar goes on their classpath.
    const kafka = await kafkaWithPlugins(spec);
    const region = mesh.region();
    return await body({
      name: opts.name,
      runDir: opts.runDir,
      spec,
      supervisor,
      mesh,
      region,
      kafka,
      signal: abort.signal,
      bootstrap: region.bootstrap(opts.clientClass),
    });
  } finally {
    const down = progress("tearing down");
    // Interrupted mid stand-up: wait for the stand-up to give up (or finish) so nothing it starts late survives.
    mesh ??= await settleWithin(standing, 60_000);
    await Promise.allSettled([mesh?.[Symbol.asyncDispose]()]);
    await supervisor.stopAll();
    down("nothing left running");
    uninstall();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Topics, tools, payloads

/** A fresh topic with the seed's settings: 12 partitions, RF 3, min.insync.replicas 2 (capped by the brokers). */
export async function createBenchTopic(b: Bench, name: string): Promise<TopicSpec> {
  const brokers = b.region.nodes.filter((n) => n.plan.spec.roles.includes("broker")).length;
  const rf = Math.min(3, brokers);
  const topic: TopicSpec = { name, partitions: 12, replicationFactor: rf, config: { ...seedTopicConfig(), "min.insync.replicas": String(Math.min(2, rf)) } };
  const admin = await b.region.admin();
  try {
    await admin.createTopics([topic]);
    await waitUntil(
      `benchmark topic ${name} to have leaders`,
      async () => {
        const md = await admin.topic(name);
        return md && md.partitions.length === topic.partitions && md.partitions.every((p) => p.leader >= 0) ? true : undefined;
      },
      { timeoutMs: 30_000, hint: "the controller log says why the topic was not created" },
    );
  } finally {
    await admin.close();
  }
  return topic;
}

/** The JVM command line of a Kafka tool, with number formatting pinned (the tools print with %f). */
export function toolArgv(kafka: KafkaInstall, heapMb: number, mainClass: string, args: string[]): string[] {
  const argv = kafkaJavaArgv(kafka, heapMb, mainClass, args);
  argv.splice(1, 0, "-Duser.language=en", "-Duser.country=US");
  return argv;
}

/** What a Kafka tool prints for these arguments (stdout and stderr, whatever its exit code); for --help probes. */
export function toolOutput(kafka: KafkaInstall, mainClass: string, args: string[]): Promise<string> {
  const [cmd, ...rest] = toolArgv(kafka, 128, mainClass, args) as [string, ...string[]];
  return new Promise((resolvePromise) =>
    execFile(cmd, rest, { timeout: 60_000, maxBuffer: 4 << 20 }, (_err, stdout, stderr) => resolvePromise(`${stdout}${stderr}`)),
  );
}

/**
 * Runs a Kafka tool against the mesh as a supervised process (own process group, recorded for the reaper, log in
 * the run directory), so an interrupt or a hung tool is stopped like any other component. Returns its output.
 */
export async function runKafkaTool(
  b: Bench,
  name: string,
  mainClass: string,
  args: string[],
  opts: { heapMb?: number; timeoutMs: number },
): Promise<string> {
  const logFile = join(b.runDir, `${name}.log`);
  const argv = toolArgv(b.kafka, opts.heapMb ?? 512, mainClass, args);
  writeFileSync(logFile, `# ${argv.map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(" ")}\n`);
  const proc = b.supervisor.spawn(name, argv, { logFile, cwd: b.runDir, stopGraceMs: 3_000 });
  let timedOut = false;
  const stop = () => void proc.stop();
  const timer = setTimeout(() => {
    timedOut = true;
    stop();
  }, opts.timeoutMs);
  b.signal.addEventListener("abort", stop, { once: true });
  let status: Awaited<typeof proc.exited>;
  try {
    status = await proc.exited;
  } finally {
    clearTimeout(timer);
    b.signal.removeEventListener("abort", stop);
  }
  if (b.signal.aborted) throw b.signal.reason;
  if (timedOut)
    throw new InfraError({
      component: name,
      message: `did not finish within ${Math.round(opts.timeoutMs / 1000)} s`,
      hint: `read ${logFile}`,
      logTail: await proc.logTail(),
      logFile,
    });
  if (status.code !== 0) throw await exitedError(proc, "with an error", `read ${logFile}; the command line is its first line`);
  return readFileSync(logFile, "utf8");
}

export interface PayloadStats {
  samples: number;
  /** Mean Avro value size in the registry wire format (5-byte header included), bytes. */
  avgValueBytes: number;
  /** `avgValueBytes` rounded: what the Kafka tools are told to send. */
  recordSize: number;
  minValueBytes: number;
  maxValueBytes: number;
  /** Key (the TFN) and headers (event-id, traceparent), which the Kafka tools do not send. */
  avgKeyBytes: number;
  avgHeaderBytes: number;
  /** Of `avgHeaderBytes`, the header names. */
  avgHeaderKeyBytes: number;
  /** How fast this process builds and encodes assessments with no Kafka involved: the generator's ceiling. */
  generateEncodePerSec: number;
}

/** Builds and encodes `samples` assessments as the lab does, and measures their size. */
export async function measureAssessments(codec: Codec, schemaId: number, seed: number, samples: number): Promise<PayloadStats> {
  const factory = new AssessmentFactory(seed, population(seed, 10_000));
  let value = 0;
  let key = 0;
  let headers = 0;
  let headerKeys = 0;
  let min = Number.POSITIVE_INFINITY;
  let max = 0;
  const t0 = performance.now();
  for (let i = 0; i < samples; i++) {
    const a = factory.next(Date.now());
    const tp = factory.traceparent();
    const buf = await codec.encode(schemaId, a);
    value += buf.length;
    min = Math.min(min, buf.length);
    max = Math.max(max, buf.length);
    key += Buffer.byteLength(a.tfn);
    const names = Buffer.byteLength("event-id") + Buffer.byteLength("traceparent");
    headerKeys += names;
    headers += names + Buffer.byteLength(a.eventId) + Buffer.byteLength(tp);
  }
  const secs = (performance.now() - t0) / 1000;
  const avgValueBytes = value / samples;
  return {
    samples,
    avgValueBytes: round(avgValueBytes, 2),
    recordSize: Math.round(avgValueBytes),
    minValueBytes: min,
    maxValueBytes: max,
    avgKeyBytes: round(key / samples, 2),
    avgHeaderBytes: round(headers / samples, 2),
    avgHeaderKeyBytes: round(headerKeys / samples, 2),
    generateEncodePerSec: Math.round(samples / secs),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Output

export const round = (v: number, digits = 3): number => {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
};

/** A number for the table: "-" when absent. */
export const cell = (v: number | undefined, digits = 2): string =>
  v === undefined || !Number.isFinite(v) ? "-" : v.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** A plain text table: the first column left-aligned, the others right-aligned. */
export function renderTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join("  ");
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

