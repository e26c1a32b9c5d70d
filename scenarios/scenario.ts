import type { ClearanceFlow } from "../generators/clearance.ts";
import type { History } from "../generators/ledger.ts";
import type { WorkloadSpec } from "../generators/workload.ts";
import type { Supervisor } from "../lab/proc.ts";
import type { SloCheckSpec, SloSpec } from "../reports/slo.ts";
import type { Mesh } from "../topology/local/mesh.ts";
import type { TopologySpec } from "../topology/spec.ts";

/**
 * What a scenario body gets: the started mesh and flow, the run's clock, and a place for its findings. Times are
 * milliseconds since the run started, the origin of every time in result.json.
 */
export interface ScenarioContext {
  mesh: Mesh;
  flow: ClearanceFlow;
  topology: TopologySpec;
  workload: WorkloadSpec;
  supervisor: Supervisor;
  runDir: string;
  signal: AbortSignal;
  /** Now, in run milliseconds. */
  nowMs(): number;
  /** A ledger time (monotonic µs) in run milliseconds. */
  toRunMs(us: number): number;
  /** Resolves `ms` after the measured traffic starts (after the warm-up); rejects when the run is aborted. */
  atMeasured(ms: number): Promise<void>;
  /** Starts a named phase now (the previous one ends); result.json reports latency per phase. */
  phase(name: string): void;
  /** A point on the run's timeline (a kill, a failover done ...), kept in result.json under `marks`. */
  mark(name: string, details?: Record<string, unknown>): number;
  /** Scenario findings, merged into result.json under `scenarioResult`. */
  findings: Record<string, unknown>;
  /** What the body leaves for `analyse` only (ledger times, id sets): never written to result.json. */
  state: Record<string, unknown>;
}

/** After the drain: the history and the body's findings, for figures that need the final ledger (RPO, RTO ...). */
export interface AnalysisInput {
  history: History;
  findings: Record<string, unknown>;
  state: Record<string, unknown>;
  marks: { name: string; atMs: number; details?: Record<string, unknown> }[];
  toRunMs(us: number): number;
  /** `startedAt` as epoch ms (engine logs carry wall-clock times). */
  startedAtMs: number;
  runDir: string;
  workload: WorkloadSpec;
  /** The resolved SLO checks (a scenario may report against their limits). */
  slo: SloCheckSpec[];
}

/**
 * A scenario is data plus a small async body: which topology to stand up, what traffic to offer, what happens to
 * the mesh meanwhile, and what must hold. The runner resolves and validates the data before anything starts.
 */
export interface Scenario {
  name: string;
  description: string;
  /**
   * A topology spec of topology/specs by name (without .json), a path to a JSON or YAML spec (in a scenario file:
   * relative to that file), or an inline spec. `--topology` replaces it for one run.
   */
  topology: string | Record<string, unknown>;
  /** Workload fields (generators/workload.ts); anything left out takes its default. */
  workload: Record<string, unknown>;
  /**
   * SLO checks, as a list of `{ metric, max }` or in k6's threshold syntax (`{ "thresholds": { "clearance":
   * ["p(95)<300"] } }`, reports/slo.ts); the default is the mission's (clearance p95, p99 <= 300 ms, nothing lost).
   */
  slo?: SloSpec;
  /** Runs alongside the load (it may outlast it: the drain waits for it). */
  body?: (ctx: ScenarioContext) => Promise<void>;
  /**
   * How long a settled request stays in memory before the ledger streams it to disk (default 30 s). A request
   * completed again after that counts as unexpected, so scenarios whose duplicates arrive late (a failover, a
   * replicated copy) keep them longer.
   */
  ledgerGraceMs?: number;
  /**
   * Derives the scenario's figures from the final history; merged into `scenarioResult`, except its `counts`
   * (numbers by name), which go to result.json's `counts` where SLO checks can name them.
   */
  analyse?: (input: AnalysisInput) => Record<string, unknown>;
  /** The names of the counts `analyse` returns, declared so the SLO is validated before anything starts. */
  counts?: readonly string[];
  /** A fault schedule (chaos/spec.ts: `{ kind, target, at, duration, ...params }`), run alongside the load. */
  faults?: unknown[];
  /**
   * Size-limited log dirs (MB) by node id, for disk faults: a tmpfs is mounted on the node's log dir before the
   * node is formatted, and unmounted after the teardown. Needs root (chaos/README.md says what to do without).
   */
  logDirLimitsMb?: Record<string, number>;
  /** Broker settings over the topology's `kafka.config` for this scenario (e.g. a shorter retention check interval). */
  kafkaConfig?: Record<string, string>;
  /**
   * Variants run back to back, each on a freshly stood-up mesh with the same seed and rate: a variant's workload
   * fields override the scenario's (e.g. other consumer settings), and its faults replace the scenario's if given.
   * result.json then holds one entry per variant and a comparison.
   */
  variants?: { name: string; description: string; workload?: Record<string, unknown>; faults?: unknown[]; topology?: string | Record<string, unknown> }[];
}

/**
 * A suite runs registered scenarios one after another, each on its own freshly stood-up mesh, and tabulates them
 * (lab/suite.ts). The failure matrix is one: a row per failure of the seed's matrix.
 */
export interface Suite {
  name: string;
  description: string;
  rows: SuiteRow[];
}

export interface SuiteRow {
  /** The row's label, e.g. the failure matrix's "input: failure". */
  row: string;
  /** The registered scenario that runs it. */
  scenario: string;
  /** What is injected, in words (the run's fault timeline is listed beside it). */
  injected: string;
  /** The recovery the seed expects; the scenario's SLO is how the lab checks it. */
  expectedRecovery: string;
}
