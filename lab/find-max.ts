/**
 * `./meshlab run <scenario> --find-max`: the highest open-model rate the mesh holds within the SLO. One mesh is
 * stood up; Kafka's ProducerPerformance measures its raw produce capacity; then steps of the clearance flow at
 * rising rates (then bisected: reports/find-max.ts) each hold their rate for the stated time. Every step has its own
 * directory (ledger figures, HDR logs, engine logs); `find-max.json`, `find-max.md` and `find-max.html` (a table
 * and p99 against rate) say what was held.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { kafkaTool } from "../bench/produce-rate.ts";
import { type Bench, createBenchTopic, measureAssessments } from "../bench/common.ts";
import { ASSESSMENT_SCHEMA, Codec } from "../generators/codec.ts";
import { ClearanceFlow, latencyMetricsOf, monotonicClock } from "../generators/clearance.ts";
import type { WorkloadSpec } from "../generators/workload.ts";
import { ClearanceChecker } from "../reports/checker.ts";
import { backlogAt, type FindMaxOptions, judgeStep, nextRate, searchState, type StepFigures } from "../reports/find-max.ts";
import { LatencyRecorder } from "../reports/hdr.ts";
import { machineInfo } from "../reports/result.ts";
import { kafkaWithPlugins, type Mesh, standUpMesh } from "../topology/local/mesh.ts";
import type { Scenario } from "../scenarios/scenario.ts";
import { ExitCode, InfraError, InterruptedError } from "./errors.ts";
import { onInterrupt } from "./interrupt.ts";
import { cacheRoot } from "./install.ts";
import { info, progress } from "./log.ts";
import { Supervisor } from "./proc.ts";
import { prepareRunDir, type ResolvedRun, resolveRun, type RunOverrides } from "./runner.ts";

export interface FindMaxSettings {
  /** How long each step holds its rate, measured (after its warm-up). */
  stepMs: number;
  /** Warm-up of every step (at the step's rate, not measured). */
  warmupMs: number;
  startRate: number;
  maxSteps: number;
  /** Records ProducerPerformance sends to measure the raw produce capacity. */
  capacityRecords: number;
}

/** What find-max.json holds. */
export interface FindMaxResult {
  scenario: string;
  startedAt: string;
  settings: FindMaxSettings & { p99Ms: number; factor: number; tolerance: number };
  steps: (StepFigures & { held: boolean; reasons: string[] })[];
  /** The highest rate held for `heldForMs`, or null when not even the lowest was. */
  maxHeldRate: number | null;
  heldForMs: number;
  /** Kafka ProducerPerformance on the same mesh (records/s), and the held rate against it (goal >= 0.8). */
  produceCapacity: number | null;
  ratioToCapacity: number | null;
  loadAverage: { before: number[]; after: number[] };
  machine: ReturnType<typeof machineInfo>;
  status: "completed" | "interrupted" | "failed";
  error?: string;
}

/** What cannot go with --find-max (each problem in words, for one BadInputError with the others). */
export function findMaxConflicts(o: { suite: boolean; repeat: number | undefined; profile: unknown; replay: unknown; soak: unknown }): string[] {
  const out: string[] = [];
  if (o.suite) out.push("--find-max: a suite runs several scenarios; name one scenario");
  if (o.repeat !== undefined && o.repeat > 1) out.push("--find-max with --repeat: run the search once; it repeats steps itself");
  if (o.profile !== undefined || o.replay !== undefined) out.push("--find-max steps a constant rate: --profile and --replay do not apply (--rate sets the first step)");
  if (o.soak) out.push("--find-max with --soak: give each step's hold time with --duration");
  return out;
}

/** `run <scenario> --find-max`: --rate is the first step, --duration each step's hold time. */
export function findMax(scenario: Scenario, o: RunOverrides, s: { maxSteps?: number | undefined; capacityRecords?: number | undefined }): Promise<ExitCode> {
  const run = resolveRun(scenario, o);
  return runFindMax(run, o, {
    stepMs: o.durationMs ?? 20_000,
    warmupMs: Math.min(run.workload.warmupMs, 5_000),
    startRate: o.perSecond ?? 50,
    maxSteps: s.maxSteps ?? 12,
    capacityRecords: s.capacityRecords ?? 50_000,
  });
}

/** The SLO's clearance p99 bound: what a step must keep (300 ms, the seed's, when the SLO has none). */
const p99Bound = (run: ResolvedRun): number => run.slo.find((c) => c.metric === "latencyMs.clearance.p99")?.max ?? 300;

export async function runFindMax(run: ResolvedRun, o: RunOverrides, fm: FindMaxSettings): Promise<ExitCode> {
  const runDir = prepareRunDir(`${run.scenario.name}-find-max`, o.out);
  const supervisor = new Supervisor(`${run.scenario.name}-find-max-${process.pid}-${Date.now()}`, join(cacheRoot(), "state", "runs"));
  const abort = new AbortController();
  const uninstall = onInterrupt(supervisor, abort, "find-max");
  const search: FindMaxOptions = { p99Ms: p99Bound(run), startRate: fm.startRate, factor: 2, tolerance: 0.1, maxSteps: fm.maxSteps };
  const result: FindMaxResult = {
    scenario: run.scenario.name,
    startedAt: new Date().toISOString(),
    settings: { ...fm, p99Ms: search.p99Ms, factor: 2, tolerance: 0.1 },
    steps: [],
    maxHeldRate: null,
    heldForMs: fm.stepMs,
    produceCapacity: null,
    ratioToCapacity: null,
    loadAverage: { before: loadavg(), after: [] },
    machine: machineInfo(),
    status: "failed",
  };
  info(`find-max ${run.scenario.name} -> ${runDir}`);
  let mesh: Mesh | undefined;
  try {
    mesh = await standUpMesh(run.topology, { runDir, supervisor });
    result.produceCapacity = await produceCapacity(run, mesh, supervisor, runDir, abort.signal, fm.capacityRecords);
    const steps: StepFigures[] = [];
    for (let rate = nextRate(steps, search); rate !== undefined; rate = nextRate(steps, search)) {
      if (abort.signal.aborted) throw abort.signal.reason ?? new InterruptedError("abort");
      const figures = await runStep(run, mesh, supervisor, { index: steps.length + 1, rate, dir: join(runDir, `step-${steps.length + 1}-${rate}`) }, fm, abort.signal);
      steps.push(figures);
      const v = judgeStep(figures, search);
      info(`step ${steps.length}: ${rate}/s ${v.held ? "held" : `not held (${v.reasons.join("; ")})`}; clearance p99 ${figures.p99Ms} ms, ${figures.lost} lost, backlog ${figures.backlogStart} -> ${figures.backlogEnd}`);
    }
    result.status = "completed";
    finishResult(result, steps, search);
  } catch (e) {
    result.status = e instanceof InterruptedError || abort.signal.aborted ? "interrupted" : "failed";
    result.error = e instanceof Error ? e.message : String(e);
  } finally {
    const down = progress("tearing down");
    await Promise.allSettled([mesh?.[Symbol.asyncDispose]()]);
    await supervisor.stopAll();
    down("nothing left running");
    uninstall();
  }
  result.loadAverage.after = loadavg();
  writeFindMax(runDir, result);
  if (result.status === "interrupted") return ExitCode.interrupted;
  if (result.status === "failed") return ExitCode.infrastructure;
  return result.maxHeldRate === null ? ExitCode.sloBreached : ExitCode.ok;
}

function finishResult(result: FindMaxResult, steps: StepFigures[], search: FindMaxOptions): void {
  const s = searchState(steps, search);
  result.steps = s.steps.map((x) => ({ ...x.figures, held: x.verdict.held, reasons: x.verdict.reasons }));
  result.maxHeldRate = s.held ?? null;
  if (result.maxHeldRate !== null && result.produceCapacity) result.ratioToCapacity = Math.round((result.maxHeldRate / result.produceCapacity) * 1000) / 1000;
}

/** Kafka's own producer on a fresh topic of the mesh (the seed's topic settings), with the flow's record size. */
async function produceCapacity(run: ResolvedRun, mesh: Mesh, supervisor: Supervisor, runDir: string, signal: AbortSignal, records: number): Promise<number> {
  const region = mesh.region();
  const b: Bench = { name: "find-max", runDir, spec: run.topology, supervisor, mesh, region, kafka: await kafkaWithPlugins(run.topology), signal, bootstrap: region.bootstrap("ato") };
  // Named under the assessment topic: on mTLS the tax service's ACLs allow nothing else.
  const topic = (await createBenchTopic(b, `${run.workload.topics.assessment}.find-max-capacity-${Date.now()}`)).name;
  const codec = new Codec(region.registry.ccompatUrl, region.tls("lab"));
  const payload = await measureAssessments(codec, await codec.register(topic, ASSESSMENT_SCHEMA), run.workload.seed, 2_000);
  return (await kafkaTool(b, { records, lingerMs: 5 }, topic, payload.recordSize)).recordsPerSec;
}

/**
 * One step: the clearance flow at `rate` on the running mesh (fresh engines), its figures from its own ledger. Each
 * step draws its own seed: the same event ids again would be dropped by the dedupe store as already processed.
 */
async function runStep(run: ResolvedRun, mesh: Mesh, supervisor: Supervisor, step: { index: number; rate: number; dir: string }, fm: FindMaxSettings, signal: AbortSignal): Promise<StepFigures> {
  const { rate, dir } = step;
  mkdirSync(dir, { recursive: true });
  // Each step warms up until its flow is caught up (at most 4x the warm-up): start-up effects stay out of its window.
  const workload: WorkloadSpec = {
    ...run.workload,
    seed: run.workload.seed + step.index,
    rate: { kind: "constant", perSecond: rate },
    durationMs: fm.stepMs,
    warmupMs: fm.warmupMs,
    warmupMaxMs: fm.warmupMs * 4,
  };
  const recorder = new LatencyRecorder(dir, latencyMetricsOf(workload), Date.now());
  const flow = new ClearanceFlow({ workload, mesh, recorder });
  try {
    await flow.start(supervisor, dir);
    const unsettled = await flow.offerLoad(signal).then(
      () => undefined,
      (e: unknown) => {
        if (e instanceof InfraError && e.component === "warm-up" && flow.warmup) return flow.warmup;
        throw e;
      },
    );
    if (unsettled) return { rate, intended: 0, lost: 0, p99Ms: 0, backlogStart: 0, backlogEnd: unsettled.backlog, heldMs: 0, warmupMs: unsettled.tookMs, settled: false };
    // The window ends a whole step after it began (the last request is intended one interval before that).
    const endUs = flow.measureFromUs + fm.stepMs * 1000;
    while (monotonicClock.nowUs() < endUs && !signal.aborted) await sleep(Math.max(1, (endUs - monotonicClock.nowUs()) / 1000));
    await flow.drain(signal);
    const { entries } = flow.ledger.history();
    const checker = new ClearanceChecker();
    for (const e of entries) checker.observe(e);
    const from = flow.measureFromUs;
    return {
      rate,
      intended: entries.filter((e) => e.intendedUs >= from).length,
      lost: checker.result().counts.lost,
      p99Ms: recorder.summary("clearance").p99,
      backlogStart: backlogAt(entries, from),
      backlogEnd: backlogAt(entries, endUs),
      heldMs: Math.round((endUs - from) / 1000),
      warmupMs: flow.warmup?.tookMs ?? fm.warmupMs,
      settled: true,
    };
  } finally {
    recorder.finish(Date.now());
    await flow[Symbol.asyncDispose]();
  }
}

function writeFindMax(runDir: string, r: FindMaxResult): void {
  writeFileSync(join(runDir, "find-max.json"), `${JSON.stringify(r, null, 2)}\n`);
  const md = findMaxMarkdown(r);
  writeFileSync(join(runDir, "find-max.md"), md);
  writeFileSync(join(runDir, "find-max.html"), findMaxHtml(r));
  process.stdout.write(`${md}\n${join(runDir, "find-max.html")}\n`);
}

/** The steps as a table, and the answer. */
export function findMaxMarkdown(r: FindMaxResult): string {
  const rows = r.steps.map(
    (s, i) =>
      `| ${i + 1} | ${s.rate} | ${((s.warmupMs ?? 0) / 1000).toFixed(1)} | ${s.intended} | ${s.p99Ms} | ${s.lost} | ${s.backlogStart} -> ${s.backlogEnd} | ${s.held ? "held" : `not held: ${s.reasons.join("; ")}`} |`,
  );
  const answer =
    r.maxHeldRate === null
      ? "No rate was held."
      : `**Highest rate held: ${r.maxHeldRate}/s** for ${(r.heldForMs / 1000).toFixed(0)} s (clearance p99 <= ${r.settings.p99Ms} ms, nothing lost, backlog steady)`;
  const capacity = r.produceCapacity ? `Kafka ProducerPerformance on the same mesh: ${Math.round(r.produceCapacity)} records/s; held / capacity: ${r.ratioToCapacity ?? "-"} (goal >= 0.8).` : "";
  return [
    `# find-max: ${r.scenario} (${r.status})`,
    "",
    answer,
    capacity,
    "",
    "| step | rate /s | warm-up s | intended | clearance p99 ms | lost | backlog | verdict |",
    "| ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ...rows,
    "",
    `Load average ${r.loadAverage.before.map((x) => x.toFixed(1)).join(" ")} before, ${r.loadAverage.after.map((x) => x.toFixed(1)).join(" ")} after.${r.error ? ` Error: ${r.error}` : ""}`,
    "",
  ].join("\n");
}

const esc = (s: string) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * The table and a chart of clearance p99 against rate (log p99 axis), the SLO as a line, held steps filled; a step
 * that measured nothing (its warm-up never settled) is a cross on the top edge.
 */
export function findMaxHtml(r: FindMaxResult): string {
  const [w, h, pad] = [640, 320, 56];
  const measured = r.steps.filter((s) => s.settled !== false && s.intended > 0 && s.p99Ms > 0);
  const p99s = measured.map((s) => s.p99Ms);
  const maxRate = Math.max(1, ...r.steps.map((s) => s.rate)) * 1.1;
  const [lo, hi] = [Math.log10(Math.min(r.settings.p99Ms, ...p99s) / 2), Math.log10(Math.max(r.settings.p99Ms, ...p99s) * 2)];
  const x = (rate: number) => pad + (rate / maxRate) * (w - 2 * pad);
  const y = (ms: number) => h - pad - ((Math.log10(ms) - lo) / (hi - lo)) * (h - 2 * pad);
  const title = (s: FindMaxResult["steps"][number]) => `<title>${s.rate}/s: ${s.held ? "held" : esc(s.reasons.join("; "))}</title>`;
  const dots = measured
    .map((s) => `<circle cx="${x(s.rate).toFixed(1)}" cy="${y(s.p99Ms).toFixed(1)}" r="5" fill="${s.held ? "#2a7" : "white"}" stroke="${s.held ? "#2a7" : "#c33"}" stroke-width="2">${title(s)}</circle>`)
    .join("");
  const crosses = r.steps
    .filter((s) => !measured.includes(s))
    .map((s) => `<text x="${x(s.rate)}" y="${pad - 6}" text-anchor="middle" font-size="14" fill="#c33">✕${title(s)}</text>`)
    .join("");
  const slo = `<line x1="${pad}" x2="${w - pad}" y1="${y(r.settings.p99Ms)}" y2="${y(r.settings.p99Ms)}" stroke="#c33" stroke-dasharray="4 3"/><text x="${w - pad}" y="${y(r.settings.p99Ms) - 4}" text-anchor="end" font-size="11" fill="#c33">SLO p99 ${r.settings.p99Ms} ms</text>`;
  const axes = `<line x1="${pad}" x2="${w - pad}" y1="${h - pad}" y2="${h - pad}" stroke="#555"/><line x1="${pad}" x2="${pad}" y1="${pad}" y2="${h - pad}" stroke="#555"/><text x="${w / 2}" y="${h - 12}" text-anchor="middle" font-size="12">offered rate (requests/s)</text><text x="14" y="${h / 2}" transform="rotate(-90 14 ${h / 2})" text-anchor="middle" font-size="12">clearance p99 (ms, log)</text>`;
  const decades = Array.from({ length: Math.floor(hi) - Math.ceil(lo) + 1 }, (_, i) => 10 ** (Math.ceil(lo) + i));
  const ticks = [
    ...r.steps.map((s) => `<text x="${x(s.rate)}" y="${h - pad + 14}" text-anchor="middle" font-size="10">${s.rate}</text>`),
    ...decades.map((ms) => `<text x="${pad - 4}" y="${y(ms) + 3}" text-anchor="end" font-size="10">${ms}</text>`),
  ].join("");
  const md = esc(findMaxMarkdown(r));
  return `<!doctype html><meta charset="utf-8"><title>find-max ${esc(r.scenario)}</title><body style="font-family:sans-serif;max-width:760px;margin:2em auto"><h1>find-max: ${esc(r.scenario)}</h1><svg width="${w}" height="${h}" role="img" aria-label="clearance p99 against offered rate">${axes}${slo}${ticks}${dots}${crosses}</svg><pre style="white-space:pre-wrap">${md}</pre></body>`;
}
