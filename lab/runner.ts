import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { analyseGroup, readEngineHistory, withRequests } from "../chaos/analysis.ts";
import { disposeAll, limitDir } from "../chaos/disk.ts";
import { createInjector } from "../chaos/injectors.ts";
import { svidTtlOf } from "../topology/spire/identity.ts";
import { IdentityWatch } from "../topology/spire/watch.ts";
import { rotationLatency } from "../reports/rotation.ts";
import { AlertBook } from "./alerts.ts";
import { PillLog } from "../chaos/poison.ts";
import { FaultSchedule, realClock } from "../chaos/schedule.ts";
import { type FaultSpec, MTLS_ONLY_FAULTS, parseFaults } from "../chaos/spec.ts";
import { ClearanceFlow, latencyMetricsOf, monotonicClock } from "../generators/clearance.ts";
import { RECONCILIATION_COUNTS, reconciliationFigures } from "../reports/reconciliation.ts";
import type { LedgerEntry } from "../generators/ledger.ts";
import { loadDriver, withTls } from "../generators/drivers/driver.ts";
import { parseWorkload, type WorkloadSpec } from "../generators/workload.ts";
import type { Encoding } from "../generators/codec.ts";
import { LatencyRecorder } from "../reports/hdr.ts";
import { LagSampler } from "../reports/lag.ts";
import { brokerMetricsResult, runScopes } from "../reports/broker-metrics.ts";
import { type MetricsSampler, startMeshMetrics } from "../topology/metrics/index.ts";
import { LedgerStream } from "../reports/ledger-stream.ts";
import { crashCause, machineInfo, type RunResult, writeResult } from "../reports/result.ts";
import { DEFAULT_SLO, evaluateSlo, parseSlo, type SloCheckSpec } from "../reports/slo.ts";
import { renderSummary } from "../reports/summary.ts";
import { writeRunReports } from "../reports/write.ts";
import { closePhases, lagSummary, phaseResults } from "../reports/timeline.ts";
import type { Scenario, ScenarioContext } from "../scenarios/scenario.ts";
import { type Mesh, standUpMesh } from "../topology/local/mesh.ts";
import { addr, LAB_CLASS } from "../topology/plan.ts";
import type { Backend } from "../topology/backend.ts";
import { createBackend } from "../topology/backends.ts";
import { containersProblems } from "../topology/containers/limits.ts";
import { loadTopology, parseTopology, type TopologySpec } from "../topology/spec.ts";
import { BadInputError, ExitCode, InfraError, InterruptedError } from "./errors.ts";
import { auditDeadLetters, DEAD_LETTER_COUNTS, type DeadLetterAudit, prepareDeadLetters } from "./dead-letters.ts";
import { onInterrupt } from "./interrupt.ts";
import { cacheRoot, repoRoot } from "./install.ts";
import { info, progress, warn } from "./log.ts";
import { localFacts } from "./preflight-command.ts";
import { reapOrphans, Supervisor } from "./proc.ts";

export interface RunOverrides {
  durationMs?: number;
  /** Warm-up until steady, at most this long (workload.warmupMaxMs). */
  warmupMaxMs?: number;
  perSecond?: number;
  /** A named load profile without parameters (`seed-steady`, `seed-eofy`), replacing the scenario's rate. */
  profile?: string;
  /** A per-second rate trace (CSV) to replay, replacing the scenario's rate. */
  replay?: string;
  /** Multiplies every rate of the profile in force. */
  scale?: number;
  seed?: number;
  out?: string;
  driver?: string;
  consumers?: number;
  /** Overrides the topology's `security` (the bench runs one scenario both ways). */
  security?: "mtls" | "plaintext";
  /** `--topology`: a spec of topology/specs/ by name, or an absolute path to a JSON/YAML spec; replaces the scenario's. */
  topology?: string;
  /** Overrides the workload's payload encoding. */
  encoding?: Encoding;
  /** Overrides the topology's `backend`: where the mesh's processes run (topology/backends.ts). */
  backend?: TopologySpec["backend"];
}

export interface ResolvedRun {
  scenario: Scenario;
  topology: TopologySpec;
  workload: WorkloadSpec;
  slo: SloCheckSpec[];
  /** The scenario's fault schedule (chaos/spec.ts), run alongside the load; empty for a healthy run. */
  faults: FaultSpec[];
}

/** `--soak` without `--duration`: long enough for a slow leak to show as drift. */
export const SOAK_DURATION_MS = 8 * 3_600_000;

/** The counts an SLO check may name (`counts.<name>`). */
export const COUNT_NAMES = [
  ...["intended", "sent", "acked", "completed", "lost", "duplicated", "businessDuplicates", "errors", "unexpected", "inFlight"],
  ...DEAD_LETTER_COUNTS,
  ...RECONCILIATION_COUNTS,
];

/** Resolves a scenario and the command-line overrides into validated specs; nothing is started yet. */
/** The lab's simulated services (not the mesh's components): one of them crashing is the lab's failure. */
const WORKLOAD_PROCESS = /^centrelink-/;

export function resolveRun(scenario: Scenario, o: RunOverrides): ResolvedRun {
  const ref = o.topology ?? scenario.topology;
  const base = typeof ref === "string" ? loadTopology(ref) : parseTopology(ref, `scenario ${scenario.name}`);
  // The scenario's broker settings go over the topology's (a disk scenario's retention check interval ...).
  const configured = scenario.kafkaConfig ? { ...base, kafka: { ...base.kafka, config: { ...base.kafka.config, ...scenario.kafkaConfig } } } : base;
  const secured = o.security ? { ...configured, security: o.security } : configured;
  const topology = o.backend ? { ...secured, backend: o.backend } : secured;
  const w = structuredClone(scenario.workload) as Record<string, unknown>;
  if (o.durationMs !== undefined) w.durationMs = o.durationMs;
  if (o.warmupMaxMs !== undefined) w.warmupMaxMs = o.warmupMaxMs;
  if (o.perSecond !== undefined) w.rate = { kind: "constant", perSecond: o.perSecond };
  if (o.profile !== undefined) w.rate = { kind: o.profile };
  if (o.replay !== undefined) w.rate = { kind: "replay", file: o.replay };
  if (o.scale !== undefined) w.rate = { ...((w.rate as object | undefined) ?? { kind: "constant", perSecond: 50 }), scale: o.scale };
  if (o.seed !== undefined) w.seed = o.seed;
  if (o.driver !== undefined) w.driver = o.driver;
  if (o.encoding !== undefined) w.encoding = o.encoding;
  if (o.consumers !== undefined) w.centrelink = { ...(w.centrelink as object), instances: o.consumers };
  const workload = parseWorkload(w, `scenario ${scenario.name}`);
  const slo = parseSlo(scenario.slo ?? DEFAULT_SLO, latencyMetricsOf(workload), [...COUNT_NAMES, ...(scenario.counts ?? [])]);
  for (const r of workload.regions)
    if (!topology.regions.some((x) => x.name === r))
      throw new BadInputError(`scenario ${scenario.name}`, [`workload.regions: no region "${r}" in topology ${topology.name}`], `use one of ${topology.regions.map((x) => x.name).join(", ")}`);
  for (const t of [workload.topics.assessment, workload.topics.clearance])
    if (!topology.topics.some((x) => x.name === t))
      throw new BadInputError(`scenario ${scenario.name}`, [`workload topic "${t}" is not in topology ${topology.name}`], "add it to the topology's topics");
  const faults = parseFaults(scenario.faults ?? [], `scenario ${scenario.name}`);
  const needIdentity = faults.map((f, i) => ({ f, i })).filter(({ f }) => (MTLS_ONLY_FAULTS as readonly string[]).includes(f.kind));
  if (topology.security !== "mtls" && needIdentity.length)
    throw new BadInputError(
      `scenario ${scenario.name}`,
      needIdentity.map(({ f, i }) => `faults[${i}].kind: ${f.kind} acts on the identity plane, which a ${topology.security} mesh has not`),
      "run it with --security mtls (or on a topology with \"security\": \"mtls\")",
    );
  const backendProblems = [
    ...(topology.backend === "containers" ? containersProblems(topology) : []),
    ...faults.flatMap((f, i) => (topology.backend === "containers" && f.kind === "partition" ? [`faults[${i}].kind: partition needs a source address per node on the proxy (per-source links), which the containers backend has not (one address per container)`] : [])),
  ];
  if (backendProblems.length)
    throw new BadInputError(
      `scenario ${scenario.name} on the ${topology.backend} backend`,
      backendProblems,
      topology.security === "mtls" ? "add --security plaintext, or run it with --backend local (which runs mTLS)" : "run it with --backend local (partitions cut per-source links there)",
    );
  return { scenario, topology, workload, slo, faults };
}

const runStamp = (): string => new Date().toISOString().replace(/[-:]/g, "").replace(/\..*/, "").replace("T", "-");

/** Picks the run directory; an existing non-empty one is refused so no earlier result is overwritten. */
export function prepareRunDir(scenario: string, out: string | undefined): string {
  const dir = resolve(out ?? join(repoRoot(), "runs", `${scenario}-${runStamp()}`));
  if (existsSync(dir) && readdirSync(dir).length > 0)
    throw new BadInputError(`run directory ${dir} is not empty`, [], "pass another --out, or move the earlier run away (results are never overwritten)");
  mkdirSync(dir, { recursive: true });
  return dir;
}

/**
 * Runs a scenario end to end: stand up, offer load, drain, check, report, tear down. Teardown always runs, and
 * result.json is written whatever happened (completed, interrupted, failed), with what was measured so far.
 */
export async function runScenario(run: ResolvedRun, o: RunOverrides): Promise<ExitCode> {
  const { scenario, topology, workload, slo, faults } = run;
  const runDir = prepareRunDir(scenario.name, o.out);
  const stateDir = join(cacheRoot(), "state", "runs");
  for (const r of reapOrphans(stateDir)) if (r.killed.length) warn(`reaped ${r.killed.length} process(es) left by run ${r.runId}: ${r.killed.join(", ")}`);

  const runId = `${scenario.name}-${process.pid}-${Date.now()}`;
  const startedAt = new Date();
  const supervisor = new Supervisor(runId, stateDir, (c) =>
    warn(`${c.name} exited by itself (${c.signal ?? `code ${c.code}`}) at +${((c.atMs - startedAt.getTime()) / 1000).toFixed(1)} s: ${crashCause(c.tail)} (its log is in ${runDir})`),
  );
  const abort = new AbortController();
  const t0 = performance.now();
  info(`run ${scenario.name} -> ${runDir}`);

  const uninstall = onInterrupt(supervisor, abort, "load");

  const metrics = latencyMetricsOf(workload);
  const recorder = new LatencyRecorder(runDir, metrics, startedAt.getTime());
  let mesh: Mesh | undefined;
  let backend: Backend | undefined;
  let flow: ClearanceFlow | undefined;
  let lag: LagSampler | undefined;
  let brokerMetrics: MetricsSampler | undefined;
  let trafficStartMs: number | null = null;
  let failure: unknown;
  let chaos: FaultSchedule | undefined;
  let deadLetters: DeadLetterAudit | undefined;
  const alerts = new AlertBook();
  let identityWatch: IdentityWatch | undefined;
  const pills = new PillLog();
  const forged = new PillLog();
  // The ledger goes to disk as the run goes (memory stays flat on a soak; a crash leaves it readable).
  const ledgerFile = new LedgerStream(join(runDir, "ledger.ndjson"), scenario.ledgerGraceMs ? { graceMs: scenario.ledgerGraceMs, windowMs: scenario.ledgerGraceMs * 2 } : {});
  const releaser = setInterval(() => flow && ledgerFile.drain(flow.ledger, monotonicClock.nowUs()), 1_000);

  const untilAborted = <T>(p: Promise<T>): Promise<T> => {
    p.catch(() => {});
    return Promise.race([
      p,
      new Promise<T>((_, reject) => {
        if (abort.signal.aborted) reject(abort.signal.reason);
        abort.signal.addEventListener("abort", () => reject(abort.signal.reason), { once: true });
      }),
    ]);
  };

  const toRunMs = (us: number) => Math.round((us / 1000 - t0) * 10) / 10;
  const nowMs = () => Math.round(performance.now() - t0);
  const phaseStarts: { name: string; startMs: number }[] = [];
  const marks: { name: string; atMs: number; details?: Record<string, unknown> }[] = [];
  const findings: Record<string, unknown> = {};
  const state: Record<string, unknown> = {};

  const mounts: AsyncDisposable[] = [];
  // The local backend: every node on this machine, its data under the run directory.
  const hostFacts = localFacts(runDir).then(
    (facts) => [{ name: "local", facts }],
    (e) => void warn(`could not read this machine's host facts: ${(e as Error).message}`),
  );
  try {
    for (const [node, mb] of Object.entries(scenario.logDirLimitsMb ?? {})) {
      const region = topology.regions.find((r) => r.nodes.some((n) => n.id === node));
      if (!region) throw new BadInputError(`scenario ${scenario.name}`, [`logDirLimitsMb.${node}: no such node in topology ${topology.name}`], "name a node of the topology");
      mounts.push(limitDir(join(runDir, region.name, node, "data"), mb));
    }
    const starting = createBackend({ spec: topology, runDir, supervisor });
    // Kept even if the run is aborted meanwhile: what it created is torn down below.
    void starting.then((b) => (backend = b), () => {});
    backend = await untilAborted(starting);
    mesh = await untilAborted(standUpMesh(topology, { runDir, supervisor, backend }));
    brokerMetrics = startMeshMetrics(mesh, runDir, startedAt.getTime());
    flow = new ClearanceFlow({ workload, mesh, recorder });
    await untilAborted(flow.start(supervisor, runDir));
    await untilAborted(prepareDeadLetters(mesh, workload, faults));
    mesh.probe?.sample(1000);
    lag = await startLagSampler(mesh, workload, runDir, startedAt.getTime());
    const spire = mesh.spire;
    if (spire)
      identityWatch = new IdentityWatch({ regions: spire.regions, book: alerts, ttlMs: (w) => svidTtlOf(spire.plane, w), runMs: nowMs, onFire: (a) => warn(`alert ${a.name} (${a.severity}) on ${a.subject} at +${(a.firedAtMs / 1000).toFixed(1)} s: ${a.message}`) }).start();
    trafficStartMs = nowMs();
    info(`traffic starts ${(trafficStartMs / 1000).toFixed(1)} s after the command`);
    if (faults.length) {
      const ctx = { regions: mesh.regions, toxiproxyApi: mesh.plan.toxiproxyApi && addr(mesh.plan.toxiproxyApi), consumers: flow.consumerControl(), seed: workload.seed, pills, forged, assessments: flow.foreignAssessments(), dependencyFaultFile: flow.dependencyFaultFile };
      chaos = new FaultSchedule(faults, createInjector(ctx), realClock(t0), (r) =>
        info(`fault ${r.name ?? r.kind} on ${r.target}: ${r.outcome === "active" ? "injected" : r.outcome} at +${((r.endMs ?? r.startMs) / 1000).toFixed(1)} s`),
      );
      chaos.start(abort.signal).catch(() => {});
      info(`fault schedule: ${faults.length} fault(s), the first at +${(Math.min(...faults.map((f) => f.at)) / 1000).toFixed(0)} s`);
    }
    const load = flow.offerLoad(abort.signal);
    let body: Promise<void> | undefined;
    if (scenario.body) {
      const f = flow;
      const ctx: ScenarioContext = {
        mesh,
        flow,
        topology,
        workload,
        supervisor,
        runDir,
        signal: abort.signal,
        nowMs,
        toRunMs,
        async atMeasured(ms) {
          // offerLoad sets the measuring start synchronously; a warm-up until steady moves it later, so it is read again.
          for (;;) {
            const at = toRunMs(f.measureFromUs) + ms;
            if (nowMs() >= at) return;
            if (abort.signal.aborted) throw abort.signal.reason;
            await sleep(Number.isFinite(at) ? Math.min(200, at - nowMs()) : 200);
          }
        },
        phase(name) {
          phaseStarts.push({ name, startMs: nowMs() });
          info(`phase ${name}`);
        },
        mark(name, details) {
          const atMs = nowMs();
          marks.push({ name, atMs, ...(details ? { details } : {}) });
          return atMs;
        },
        findings,
        state,
      };
      // A failing body stops the load: the run is failed, and what was measured is still written.
      body = scenario.body(ctx).catch((e) => {
        if (!abort.signal.aborted) abort.abort(e);
        throw e;
      });
    }
    // The body may outlast the load (a failback): keep one interval per second in the logs meanwhile.
    let between: NodeJS.Timeout | undefined;
    void load.then(
      () => (between = setInterval(() => recorder.flush(Date.now()), 1_000)),
      () => {},
    );
    try {
      await Promise.all([load, body]);
    } finally {
      clearInterval(between);
    }
    const done = progress("draining outstanding clearances");
    const ms = await flow.drain(abort.signal);
    done(`${flow.ledger.outstanding()} outstanding after ${(ms / 1000).toFixed(1)} s`);
    if (abort.signal.aborted) throw abort.signal.reason;
  } catch (e) {
    failure = e;
  } finally {
    // Heal before anything is measured or torn down: also on abort, Ctrl-C and a crash of the load.
    if (chaos) {
      const healing = progress("healing every active fault");
      await chaos.stop();
      healing(`${chaos.timeline().length} fault(s) on the timeline`);
    }
  }
  // The dead-letter rows are read back once every fault is healed (no pill still being written), mesh still up.
  if (failure === undefined && mesh && flow)
    deadLetters = await auditDeadLetters(mesh, flow, workload, faults, { pills, forged }).catch((e: unknown) => {
      failure = e;
      return undefined;
    });

  await lag?.stop();
  await brokerMetrics?.stop();
  await identityWatch?.stop(failure === undefined);
  const status: RunResult["status"] = failure === undefined ? "completed" : failure instanceof InterruptedError ? "interrupted" : "failed";
  clearInterval(releaser);
  const check = ledgerFile.finish(flow?.ledger);
  const latencyMs = recorder.finish(Date.now()) as RunResult["latencyMs"];
  const endMs = nowMs();
  // Phases and the scenario's analysis read the whole history back from the ledger file, as any report would.
  const budgetMs = workload.ato.budgetMs;
  // When measuring started: after the fixed warm-up, or later when the warm-up went on until steady.
  const measureFromMs = flow && Number.isFinite(flow.measureFromUs) ? toRunMs(flow.measureFromUs) : trafficStartMs === null ? null : trafficStartMs + workload.warmupMs;
  const needHistory = phaseStarts.length > 0 || chaos !== undefined || identityWatch !== undefined || (scenario.analyse !== undefined && flow !== undefined) || budgetMs !== undefined;
  const entries = needHistory ? readLedger(join(runDir, "ledger.ndjson")) : [];
  let scenarioResult: Record<string, unknown> | undefined = Object.keys(findings).length ? { ...findings } : undefined;
  let scenarioCounts: Record<string, number> = {};
  if (scenario.analyse && flow) {
    try {
      const history = { entries, unexpected: [] };
      const { counts: own, ...figures } = scenario.analyse({ history, findings, state, marks, toRunMs, startedAtMs: startedAt.getTime(), runDir, workload, slo });
      scenarioCounts = (own as Record<string, number> | undefined) ?? {};
      scenarioResult = { ...findings, ...figures };
    } catch (e) {
      warn(`the scenario's analysis failed: ${(e as Error).message}`);
      scenarioResult = { ...findings, analysisError: (e as Error).message };
    }
  }
  // The consumer-timeout row: decisions past the budget and their reconciliation, from the ledger as written.
  const slowWindowsUs = (chaos?.timeline() ?? []).filter((f) => f.kind === "slow-dependency").map((f) => ({ fromUs: (f.startMs + t0) * 1000, toUs: ((f.endMs ?? endMs) + t0) * 1000 }));
  const recon = budgetMs && flow ? reconciliationFigures(entries, budgetMs, slowWindowsUs) : undefined;
  if (recon) scenarioCounts = { ...scenarioCounts, ...recon.counts };
  const crashes = supervisor.crashes().map((c) => ({ ...c, atMs: c.atMs - startedAt.getTime() }));
  // A crashed workload service (a Centrelink engine) invalidates the run's figures, whatever else they say.
  const crashed = crashes.filter((c) => WORKLOAD_PROCESS.test(c.name)).length;
  if (crashed) scenarioCounts = { ...scenarioCounts, crashed };
  const checks = crashed ? [...slo, { metric: "counts.crashed", max: 0 }] : slo;
  const result: RunResult = {
    resultFormat: 1,
    scenario: scenario.name,
    status,
    spec: { topology, workload, slo },
    startedAt: startedAt.toISOString(),
    durationMs: Math.round(performance.now() - t0),
    trafficStartMs,
    ...(flow?.warmup ? { warmup: flow.warmup } : {}),
    monotonicOriginUs: Math.round(t0 * 1000),
    counts: { ...check.counts, ...deadLetters?.counts, ...scenarioCounts },
    latencyMs,
    slo: evaluateSlo(checks, { latencyMs, counts: { ...check.counts, ...deadLetters?.counts, ...scenarioCounts } }),
    ...(crashes.length ? { crashes } : {}),
    checker: { valid: check.valid, evidence: check.evidence, outOfOrderCount: check.outOfOrderCount },
    ...(phaseStarts.length
      ? {
          phases: phaseResults(
            entries,
            closePhases(phaseStarts, endMs),
            toRunMs,
            mesh?.probe?.samples.map((s) => ({ flow: s.flow, atMs: s.sentAtMs - startedAt.getTime(), lagMs: s.lagMs })),
          ),
        }
      : {}),
    ...(marks.length ? { marks } : {}),
    ...(mesh?.probe ? { replicationLagMs: lagSummary(mesh.probe.samples) } : {}),
    ...(brokerMetrics ? { brokerMetrics: brokerMetricsResult(brokerMetrics, runScopes(endMs, closePhases(phaseStarts, endMs), chaos?.timeline() ?? [])) } : {}),
    ...(scenarioResult ? { scenarioResult } : {}),
    ...(deadLetters ? { deadLetters: deadLetters.result } : {}),
    ...(recon && flow ? { reconciliation: { ...recon.result, retryEvents: { topic: workload.topics.retry ?? "", ...flow.retryEvents } } } : {}),
    ...(identityWatch ? { alerts: alerts.list(), svidRotation: svidRotationOf(identityWatch, flow, entries, toRunMs, measureFromMs ?? endMs) } : {}),
    versions: { ...(mesh?.versions ?? {}), node: process.version, driver: workload.driver },
    machine: machineInfo(),
    ...((await hostFacts) ? { hosts: await hostFacts } : {}),
    ...(chaos
      ? {
          faults: withRequests(chaos.timeline(), entries, (us) => us / 1000 - t0),
          consumerGroup: analyseGroup({
            entries,
            engines: readEngineHistory(flow?.engineEventFiles ?? [], startedAt.getTime()),
            partitions: topology.topics.find((t) => t.name === workload.topics.assessment)?.partitions ?? 0,
            usToRunMs: (us) => us / 1000 - t0,
            faults: chaos.timeline(),
            endMs: Math.round(performance.now() - t0),
            ...(measureFromMs !== null ? { measureFromMs } : {}),
          }),
        }
      : {}),
    files: {
      hgrm: metrics.map((m) => `${m}.hgrm`),
      hlog: metrics.map((m) => `${m}.hlog`),
      ledger: "ledger.ndjson",
      lag: lag ? "lag.ndjson" : undefined,
      ...(brokerMetrics ? { metrics: "metrics.ndjson" } : {}),
      logs: listLogs(runDir),
    },
  };
  if (failure !== undefined && status !== "interrupted") {
    const e = failure as Error;
    result.error = { message: e?.message ?? String(failure), ...(failure instanceof InfraError ? { component: failure.component, hint: failure.hint } : {}) };
  }
  const file = writeResult(runDir, result);

  const down = progress("tearing down");
  // Clients first, while the brokers can still answer their leave-group and close calls: a librdkafka consumer
  // whose brokers are gone can block a worker thread for ever, and with it the process exit.
  await withTimeout(flow?.[Symbol.asyncDispose](), 20_000);
  // Bounded: a component's stop is bounded by the supervisor below, a stuck client close is not.
  await withTimeout(mesh ? Promise.resolve(mesh[Symbol.asyncDispose]()) : undefined, 90_000);
  // The backend's own leftovers (containers, the mesh's network) go before the supervisor stops its engine API.
  await withTimeout(backend ? Promise.resolve(backend[Symbol.asyncDispose]()).catch((e: unknown) => warn((e as Error).message)) : undefined, 60_000);
  await supervisor.stopAll();
  await disposeAll(mounts);
  down("nothing left running");
  uninstall();

  await writeReports(runDir);
  process.stdout.write(`${renderSummary(result, file)}\n`);
  if (failure !== undefined && status === "failed") throw failure;
  if (status === "interrupted") return ExitCode.interrupted;
  return result.slo.passed ? ExitCode.ok : ExitCode.sloBreached;
}

/**
 * `run --repeat N`: N runs of one scenario with the same flags and seed into `<out>/rep-1` .. `rep-N`, each on a
 * freshly stood-up mesh (runScenario stands one up and tears it down), so the set shows how much runs of one
 * build differ. Stops at an interrupt or an infrastructure failure (the runs done so far stay); the exit code is
 * the worst of the runs'. Ends by printing the compare command for the set.
 */
export async function runRepeated(scenario: Scenario, o: RunOverrides, n: number): Promise<ExitCode> {
  const setDir = resolve(o.out ?? join(repoRoot(), "runs", `${scenario.name}-${runStamp()}-x${n}`));
  if (existsSync(setDir) && readdirSync(setDir).length > 0)
    throw new BadInputError(`run directory ${setDir} is not empty`, [], "pass another --out for the set (results are never overwritten)");
  const run = resolveRun(scenario, o);
  let worst: ExitCode = ExitCode.ok;
  for (let i = 1; i <= n; i++) {
    info(`repeat ${i} of ${n}`);
    const code = await runScenario(run, { ...o, out: join(setDir, `rep-${i}`) });
    if (code === ExitCode.interrupted) return code;
    if (code !== ExitCode.ok) worst = code;
  }
  const inside = relative(process.cwd(), setDir);
  const shown = inside && !inside.startsWith("..") ? inside : setDir;
  process.stdout.write(
    `\n${n} runs of ${scenario.name} in ${shown}/rep-1..${n}. Compare them with another set (e.g. the same command on the other build):\n  ./meshlab compare --baseline ${shown} --candidate <other set> [--fail-if-worse]\n`,
  );
  return worst;
}

/**
 * Consumer lag of the Centrelink and ATO groups in every region, once a second, into lag.ndjson. Through the pure-JS
 * kafkajs admin on the lab listener, whatever the run's driver: a librdkafka admin client held across a region's
 * kill and restart aborts the whole runner (assertion `eonce->refcnt > 0` in rd_kafka_enq_once_del_source_return,
 * seen twice in region-failover), and a lag sample is not worth a run.
 */
async function startLagSampler(mesh: Mesh, w: WorkloadSpec, runDir: string, originMs: number): Promise<LagSampler> {
  const kafkajs = await loadDriver("kafkajs");
  const targets = [];
  for (const r of mesh.regions) {
    const admin = await kafkajs.admin({ bootstrap: r.plan.bootstrap[LAB_CLASS] ?? "", clientId: `meshlab-lag-${r.plan.name}`, ...withTls(r.tls("lab")) });
    const at = mesh.regions.length > 1 ? `@${r.plan.name}` : "";
    // A region that is gone (a region failover) is not asked until it is back: there is nothing to learn, and its
    // requests would only time out.
    const live = () => r.ready();
    targets.push(
      { label: `${w.centrelink.groupId}${at}`, groupId: w.centrelink.groupId, topic: w.topics.assessment, admin, live },
      { label: `${w.ato.groupId}${at}`, groupId: w.ato.groupId, topic: w.topics.clearance, admin, live },
    );
  }
  return new LagSampler({ file: join(runDir, "lag.ndjson"), targets, originMs });
}

/** report.html, junit.xml and summary.md next to result.json; a rendering problem never changes the run's verdict. */
async function writeReports(runDir: string): Promise<void> {
  try {
    const w = await writeRunReports(runDir);
    info(`report: ${w.html}`);
  } catch (e) {
    warn(`could not render the report (result.json is intact; retry with ./meshlab report ${runDir}): ${(e as Error).message}`);
  }
}

/** The run's ledger as written (one request per line). */
function readLedger(file: string): LedgerEntry[] {
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as LedgerEntry)
    .sort((a, b) => a.seq - b.seq);
}

async function withTimeout(p: Promise<unknown> | undefined, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p?.catch(() => {}), new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}

function listLogs(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) {
        if (e.name !== "data" && e.name !== "metadata") walk(p);
      } else if (e.name.endsWith(".log")) out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

/** Every SVID renewal the watch saw, and what renewals of the flow's workloads did to its latency. */
function svidRotationOf(watch: IdentityWatch, flow: ClearanceFlow | undefined, entries: readonly LedgerEntry[], toRunMs: (us: number) => number, fromMs: number) {
  const renewals = watch.renewals();
  const clients = (flow?.rotations ?? []).map(({ client, kind, tookMs }) => ({ client, kind, tookMs }));
  return { renewals, clients, latency: rotationLatency(entries, renewals, toRunMs, { fromMs }) };
}
