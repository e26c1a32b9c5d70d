import { renameSync, writeFileSync } from "node:fs";
import { cpus, hostname, release, totalmem } from "node:os";
import { join } from "node:path";
import type { Alert } from "../lab/alerts.ts";
import type { SvidRenewal } from "../topology/spire/watch.ts";
import type { RotationLatency } from "./rotation.ts";
import type { GroupAnalysis } from "../chaos/analysis.ts";
import type { RunHost } from "../hardware/diff.ts";
import type { FaultRecord } from "../chaos/schedule.ts";
import type { BrokerMetricsResult } from "./broker-metrics.ts";
import type { CheckResult, Counts } from "./checker.ts";
import type { ReconciliationResult } from "./reconciliation.ts";
import type { DeadLetterResult } from "./dead-letters.ts";
import type { LatencySummary } from "./hdr.ts";
import type { SloResult } from "./slo.ts";
import type { PhaseResult } from "./timeline.ts";
import type { WarmupReport } from "../generators/warmup.ts";

export const RESULT_FORMAT = 1;

/** How the run's mesh was secured, for every report's header (read from the resolved topology; older runs: plaintext). */
export function securityOf(r: Pick<RunResult, "spec">): string {
  const security = (r.spec as { topology?: { security?: string } } | undefined)?.topology?.security;
  return security === "mtls" ? "mTLS (SPIRE SVIDs, ACLs by SPIFFE ID, signed events)" : "plaintext (no TLS, no ACLs, unsigned events)";
}

/**
 * The flat result file every report and comparison reads. Written at the end of a run, and also when it is
 * interrupted or fails (with `status` saying so), so what was measured is never lost.
 */
export interface RunResult {
  resultFormat: number;
  scenario: string;
  status: "completed" | "interrupted" | "failed";
  /** The resolved spec: topology, workload and SLO, with every default filled in. */
  spec: unknown;
  startedAt: string;
  durationMs: number;
  /** When traffic started, relative to `startedAt` (stand-up time). */
  trafficStartMs: number | null;
  /** A warm-up until steady (workload.warmupMaxMs): how long it took and whether it settled (generators/warmup.ts). */
  warmup?: WarmupReport;
  /** The ledger's monotonic clock (µs) at `startedAt`, so reports can put ledger times on the run's timeline. */
  monotonicOriginUs?: number;
  counts: Counts;
  /** Per HDR metric; `decision` only in runs with a decision budget (`workload.ato.budgetMs`). */
  latencyMs: { clearance: LatencySummary; produceAck: LatencySummary; decision?: LatencySummary };
  slo: SloResult;
  checker: Pick<CheckResult, "valid" | "evidence" | "outOfOrderCount">;
  versions: Record<string, string>;
  machine: { hostname: string; cpus: number; cpuModel: string; memoryGiB: number; kernel: string; node: string };
  /** The facts of every host the run's components ran on (hardware/facts.ts): device, filesystem, mounts, sysctls, kernel, CPU. */
  hosts?: RunHost[];
  files: { hgrm: string[]; hlog: string[]; ledger: string; lag?: string | undefined; metrics?: string; logs: string[] };
  error?: { message: string; component?: string; hint?: string };
  /** Latency per phase of the scenario's timeline (when its body names phases). */
  phases?: PhaseResult[];
  /** Points on the run's timeline (kill, failover done ...), in ms since `startedAt`. */
  marks?: { name: string; atMs: number; details?: Record<string, unknown> }[];
  /** MirrorMaker 2 replication lag per flow over the run (probe records; series in `replication-lag.ndjson`). */
  replicationLagMs?: Record<string, LatencySummary>;
  /** Broker, controller and MirrorMaker JMX figures per region, their range over the run, each phase and each fault (series in `metrics.ndjson`). */
  brokerMetrics?: BrokerMetricsResult;
  /** The scenario's own figures (failover RTO/RPO, order through replication ...). */
  scenarioResult?: Record<string, unknown>;
  /** The fault timeline of a run with a fault schedule (chaos/). */
  faults?: FaultRecord[];
  /** Rebalances, stalls and windowed latency of the Centrelink group, in a run with faults. */
  consumerGroup?: GroupAnalysis;
  /** What the run's watchers paged for (an mTLS mesh: its identity plane, topology/spire/watch.ts), fired and resolved on the run's clock. */
  alerts?: Alert[];
  /** On an mTLS mesh: every SVID renewal seen, and the flow's latency near renewals of its workloads against the rest. */
  svidRotation?: { renewals: SvidRenewal[]; clients: { client: string; kind: string; tookMs: number }[]; latency: RotationLatency };
  /**
   * Processes the lab started that exited by themselves with a failure (no fault or teardown asked): name, time on
   * the run's clock, exit code or signal, last log lines. A crashed Centrelink engine also fails `counts.crashed`.
   */
  crashes?: { name: string; atMs: number; code: number | null; signal: string | null; tail: string }[];
  /** The dead-letter rows of the failure matrix (schema mismatch, poison pills), when the run exercised them. */
  deadLetters?: DeadLetterResult;
  /** The consumer-timeout row: decisions past the budget, their reconciliation and discrepancies (reports/reconciliation.ts). */
  reconciliation?: ReconciliationResult & { retryEvents: { topic: string; sent: number; acked: number; failed: number } };
}

/** What a crashed process died of, from its log's last lines: the first error line (Node and Java print one), else the last line. */
export function crashCause(tail: string): string {
  const lines = tail.split("\n").map((l) => l.trim()).filter(Boolean);
  const error = lines.find((l) => /^([\w.$]*(Error|Exception)\b|Exception in thread|FATAL|panic:)/.test(l));
  return (error ?? lines.at(-1) ?? "").slice(0, 300);
}

/** A fault's failed requests for a table cell: "3 of 120" (intended while it lasted), or "" for older runs. */
export const failedOf = (f: Pick<FaultRecord, "requests">): string => (f.requests ? `${f.requests.failed} of ${f.requests.intended}` : "");

export function machineInfo(): RunResult["machine"] {
  const c = cpus();
  return {
    hostname: hostname(),
    cpus: c.length,
    cpuModel: c[0]?.model ?? "unknown",
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: release(),
    node: process.version,
  };
}

/** Writes result.json atomically (a crash mid-write never leaves half a file). Tests also write fixtures with it. */
export function writeResult(dir: string, result: RunResult | Omit<RunResult, "phases">): string {
  const file = join(dir, "result.json");
  writeFileSync(`${file}.tmp`, `${JSON.stringify(result, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
  return file;
}
