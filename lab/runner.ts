import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { analyseGroup, readEngineHistory } from "../chaos/analysis.ts";
import { disposeAll, limitDir } from "../chaos/disk.ts";
import { createInjector } from "../chaos/injectors.ts";
import { FaultSchedule, realClock } from "../chaos/schedule.ts";
import { type FaultSpec, parseFaults } from "../chaos/spec.ts";
import { ClearanceFlow, LATENCY_METRICS } from "../generators/clearance.ts";
import { parseWorkload, type WorkloadSpec } from "../generators/workload.ts";
import { checkClearances } from "../reports/checker.ts";
import { LatencyRecorder } from "../reports/hdr.ts";
import { machineInfo, type RunResult, writeResult } from "../reports/result.ts";
import { DEFAULT_SLO, evaluateSlo, type SloCheckSpec, validateSlo } from "../reports/slo.ts";
import { renderSummary } from "../reports/summary.ts";
import type { Scenario } from "../scenarios/scenario.ts";
import { type Mesh, standUpMesh } from "../topology/local/mesh.ts";
import { addr } from "../topology/plan.ts";
import { loadTopology, parseTopology, type TopologySpec } from "../topology/spec.ts";
import { BadInputError, ExitCode, InfraError, InterruptedError } from "./errors.ts";
import { onInterrupt } from "./interrupt.ts";
import { cacheRoot, repoRoot } from "./install.ts";
import { info, progress, warn } from "./log.ts";
import { reapOrphans, Supervisor } from "./proc.ts";

export interface RunOverrides {
  durationMs?: number;
  perSecond?: number;
  seed?: number;
  out?: string;
  driver?: string;
  consumers?: number;
}

export interface ResolvedRun {
  scenario: Scenario;
  topology: TopologySpec;
  workload: WorkloadSpec;
  slo: SloCheckSpec[];
  /** The scenario's fault schedule (chaos/spec.ts), run alongside the load; empty for a healthy run. */
  faults: FaultSpec[];
}

const COUNT_NAMES = ["intended", "sent", "acked", "completed", "lost", "duplicated", "errors", "unexpected", "inFlight"];

/** Resolves a scenario and the command-line overrides into validated specs; nothing is started yet. */
export function resolveRun(scenario: Scenario, o: RunOverrides): ResolvedRun {
  const topology =
    typeof scenario.topology === "string" ? loadTopology(scenario.topology) : parseTopology(scenario.topology, `scenario ${scenario.name}`);
  const w = structuredClone(scenario.workload) as Record<string, unknown>;
  if (o.durationMs !== undefined) w.durationMs = o.durationMs;
  if (o.perSecond !== undefined) w.rate = { kind: "constant", perSecond: o.perSecond };
  if (o.seed !== undefined) w.seed = o.seed;
  if (o.driver !== undefined) w.driver = o.driver;
  if (o.consumers !== undefined) w.centrelink = { ...(w.centrelink as object), instances: o.consumers };
  const workload = parseWorkload(w, `scenario ${scenario.name}`);
  const slo = scenario.slo ?? DEFAULT_SLO;
  validateSlo(slo, LATENCY_METRICS, COUNT_NAMES);
  for (const t of [workload.topics.assessment, workload.topics.clearance])
    if (!topology.topics.some((x) => x.name === t))
      throw new BadInputError(`scenario ${scenario.name}`, [`workload topic "${t}" is not in topology ${topology.name}`], "add it to the topology's topics");
  const faults = parseFaults(scenario.faults ?? [], `scenario ${scenario.name}`);
  return { scenario, topology, workload, slo, faults };
}

/** Picks the run directory; an existing non-empty one is refused so no earlier result is overwritten. */
export function prepareRunDir(scenario: string, out: string | undefined): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\..*/, "").replace("T", "-");
  const dir = resolve(out ?? join(repoRoot(), "runs", `${scenario}-${stamp}`));
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
  const supervisor = new Supervisor(runId, stateDir);
  const abort = new AbortController();
  const startedAt = new Date();
  const t0 = performance.now();
  info(`run ${scenario.name} -> ${runDir}`);

  const uninstall = onInterrupt(supervisor, abort, "load");

  const recorder = new LatencyRecorder(runDir, LATENCY_METRICS, startedAt.getTime());
  let mesh: Mesh | undefined;
  let flow: ClearanceFlow | undefined;
  let trafficStartMs: number | null = null;
  let failure: unknown;
  let chaos: FaultSchedule | undefined;

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

  const mounts: AsyncDisposable[] = [];
  try {
    for (const [node, mb] of Object.entries(scenario.logDirLimitsMb ?? {})) {
      const region = topology.regions.find((r) => r.nodes.some((n) => n.id === node));
      if (!region) throw new BadInputError(`scenario ${scenario.name}`, [`logDirLimitsMb.${node}: no such node in topology ${topology.name}`], "name a node of the topology");
      mounts.push(limitDir(join(runDir, region.name, node, "data"), mb));
    }
    mesh = await untilAborted(standUpMesh(topology, { runDir, supervisor }));
    flow = new ClearanceFlow({ workload, region: mesh.region(), recorder });
    await untilAborted(flow.start(supervisor, runDir));
    trafficStartMs = Math.round(performance.now() - t0);
    info(`traffic starts ${(trafficStartMs / 1000).toFixed(1)} s after the command`);
    if (faults.length) {
      const ctx = { regions: mesh.regions, toxiproxyApi: mesh.plan.toxiproxyApi && addr(mesh.plan.toxiproxyApi), consumers: flow.consumerControl(), seed: workload.seed };
      chaos = new FaultSchedule(faults, createInjector(ctx), realClock(t0), (r) =>
        info(`fault ${r.name ?? r.kind} on ${r.target}: ${r.outcome === "active" ? "injected" : r.outcome} at +${((r.endMs ?? r.startMs) / 1000).toFixed(1)} s`),
      );
      chaos.start(abort.signal).catch(() => {});
      info(`fault schedule: ${faults.length} fault(s), the first at +${(Math.min(...faults.map((f) => f.at)) / 1000).toFixed(0)} s`);
    }
    await flow.offerLoad(abort.signal);
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

  const status: RunResult["status"] = failure === undefined ? "completed" : failure instanceof InterruptedError ? "interrupted" : "failed";
  const history = flow?.ledger.history() ?? { entries: [], unexpected: [] };
  const check = checkClearances(history);
  const latencyMs = recorder.finish(Date.now()) as RunResult["latencyMs"];
  writeFileSync(join(runDir, "ledger.ndjson"), history.entries.map((e) => JSON.stringify(e)).join("\n") + (history.entries.length ? "\n" : ""));
  const result: RunResult = {
    resultFormat: 1,
    scenario: scenario.name,
    status,
    spec: { topology, workload, slo },
    startedAt: startedAt.toISOString(),
    durationMs: Math.round(performance.now() - t0),
    trafficStartMs,
    counts: check.counts,
    latencyMs,
    slo: evaluateSlo(slo, { latencyMs, counts: check.counts }),
    checker: { valid: check.valid, evidence: check.evidence, outOfOrderCount: check.outOfOrderCount },
    versions: { ...(mesh?.versions ?? {}), node: process.version, driver: workload.driver },
    machine: machineInfo(),
    ...(chaos
      ? {
          faults: chaos.timeline(),
          consumerGroup: analyseGroup({
            entries: history.entries,
            engines: readEngineHistory(flow?.engineEventFiles ?? [], startedAt.getTime()),
            partitions: topology.topics.find((t) => t.name === workload.topics.assessment)?.partitions ?? 0,
            usToRunMs: (us) => us / 1000 - t0,
            faults: chaos.timeline(),
            endMs: Math.round(performance.now() - t0),
            ...(trafficStartMs !== null ? { measureFromMs: trafficStartMs + workload.warmupMs } : {}),
          }),
        }
      : {}),
    files: {
      hgrm: LATENCY_METRICS.map((m) => `${m}.hgrm`),
      hlog: LATENCY_METRICS.map((m) => `${m}.hlog`),
      ledger: "ledger.ndjson",
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
  await Promise.allSettled([mesh?.[Symbol.asyncDispose]()]);
  await supervisor.stopAll();
  await disposeAll(mounts);
  down("nothing left running");
  uninstall();

  process.stdout.write(`${renderSummary(result, file)}\n`);
  if (failure !== undefined && status === "failed") throw failure;
  if (status === "interrupted") return ExitCode.interrupted;
  return result.slo.passed ? ExitCode.ok : ExitCode.sloBreached;
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
