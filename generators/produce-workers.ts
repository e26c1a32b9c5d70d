/**
 * Runs an open-model schedule through several generator worker processes (`produce-worker.ts`), each owning an
 * interleaved slice, and merges what they wrote exactly: the ledgers by sequence number (`slices.ts`, which proves
 * every request is there once) and the interval logs bucket by bucket (`reports/hlog.ts`).
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { InfraError, InterruptedError } from "../lab/errors.ts";
import { exitedError, type ProcessHandle, type Supervisor, waitUntil } from "../lab/proc.ts";
import { type LatencySummary, newHistogram, summarize } from "../reports/hdr.ts";
import { decodeHistogram, forEachInterval, mergeIntervalLogs } from "../reports/hlog.ts";
import type { LedgerEntry } from "./ledger.ts";
import { ledgerFile, parseLedgerLine, readyFile, resultFile, startFile, type WorkerConfig, type WorkerResult, workerHlogDir } from "./produce-worker.ts";
import { type MergedLedger, mergeSlices } from "./slices.ts";

const WORKER_MAIN = new URL("./produce-worker.ts", import.meta.url).pathname;

/** The merged outcome of one multi-worker run. */
export interface WorkersRun {
  dir: string;
  workers: WorkerResult[];
  requests: number;
  acked: number;
  failed: number;
  unsettled: number;
  ledger: MergedLedger;
  /** The merged `produceAck.hlog` and its whole-run summary (from the intended time, measured requests only). */
  hlogFile: string;
  produceAck: LatencySummary;
  produceAckMeanMs: number;
  /** From the start of load to the last acknowledgement of any worker (ms). */
  elapsedMs: number;
}

export interface WorkersOptions {
  supervisor: Supervisor;
  signal: AbortSignal;
  /** Extra node flags for every worker (e.g. `--cpu-prof`). */
  nodeArgs?: string[];
  /** How long after all are ready the load starts (ms): time for the start file to reach every worker. */
  startDelayMs?: number;
}

/** Starts `workers` workers on one schedule, waits for them, and merges their ledgers and logs into `dir`. */
export async function runProduceWorkers(config: Omit<WorkerConfig, "index">, o: WorkersOptions): Promise<WorkersRun> {
  const handles = Array.from({ length: config.workers }, (_, index) => spawnWorker({ ...config, index }, o));
  const stopAll = () => void Promise.allSettled(handles.map((h) => h.stop()));
  o.signal.addEventListener("abort", stopAll, { once: true });
  try {
    for (const [k, h] of handles.entries())
      await waitUntil(`generator worker ${k} to be ready`, async () => (existsSync(readyFile(config.dir, k)) ? true : undefined), {
        timeoutMs: 60_000,
        intervalMs: 50,
        process: h,
        hint: `read ${h.logFile}`,
      });
    writeFileSync(startFile(config.dir), JSON.stringify({ startWallMs: Date.now() + (o.startDelayMs ?? 300) }));
    const exits = await Promise.all(handles.map((h) => h.exited));
    if (o.signal.aborted) throw o.signal.reason ?? new InterruptedError("abort");
    for (const [k, st] of exits.entries()) if (st.code !== 0) throw await exitedError(handles[k] as ProcessHandle, "while offering its slice", `read ${handles[k]?.logFile}`);
  } finally {
    o.signal.removeEventListener("abort", stopAll);
  }
  return mergeWorkers(config.dir, config.workers);
}

function spawnWorker(c: WorkerConfig, o: WorkersOptions): ProcessHandle {
  const name = `produce-worker-${c.index}`;
  return o.supervisor.spawn(name, [process.execPath, "--disable-warning=ExperimentalWarning", ...(o.nodeArgs ?? []), WORKER_MAIN, JSON.stringify(c)], {
    logFile: join(c.dir, `${name}.log`),
    stopGraceMs: 5_000,
  });
}

/** Reads what `workers` workers wrote into `dir` and merges it; writes `ledger.ndjson` and `produceAck.hlog` there. */
export function mergeWorkers(dir: string, workers: number): WorkersRun {
  const results: WorkerResult[] = [];
  const parts: LedgerEntry[][] = [];
  const logs: string[] = [];
  for (let k = 0; k < workers; k++) {
    try {
      results.push(JSON.parse(readFileSync(resultFile(dir, k), "utf8")) as WorkerResult);
      parts.push(readWorkerLedger(dir, k));
      logs.push(readFileSync(join(workerHlogDir(dir, k), "produceAck.hlog"), "utf8"));
    } catch (e) {
      throw new InfraError({ component: `produce-worker-${k}`, message: `its results are incomplete: ${(e as Error).message}`, hint: `read ${join(dir, `produce-worker-${k}.log`)}` });
    }
  }
  const requests = results.reduce((s, r) => s + r.requests, 0);
  const ledger = mergeSlices(parts, requests);
  writeFileSync(join(dir, "ledger.ndjson"), ledger.entries.map((e) => `${JSON.stringify(e)}\n`).join(""));
  const hlogFile = join(dir, "produceAck.hlog");
  const merged = mergeIntervalLogs(logs);
  writeFileSync(hlogFile, merged);
  const total = totalOf(merged);
  return {
    dir,
    workers: results,
    requests,
    acked: results.reduce((s, r) => s + r.acked, 0),
    failed: results.reduce((s, r) => s + r.failed, 0),
    unsettled: results.reduce((s, r) => s + r.unsettled, 0),
    ledger,
    hlogFile,
    produceAck: summarize(total),
    produceAckMeanMs: total.totalCount ? Math.round(total.mean) / 1000 : 0,
    elapsedMs: Math.max(0, ...results.map((r) => r.lastAckUs)) / 1000,
  };
}

export function readWorkerLedger(dir: string, k: number): LedgerEntry[] {
  return readFileSync(ledgerFile(dir, k), "utf8")
    .split("\n")
    .filter((l) => l.length > 0)
    .map(parseLedgerLine);
}

/** The whole-run histogram of an interval log: its intervals added. */
export function totalOf(log: string) {
  const h = newHistogram();
  forEachInterval(log, (i) => h.add(decodeHistogram(i.encoded)));
  return h;
}
