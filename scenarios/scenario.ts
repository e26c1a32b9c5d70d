import type { SloCheckSpec } from "../reports/slo.ts";

/**
 * A scenario is data plus, later, a small async body: which topology to stand up, what traffic to offer, and
 * what must hold. The runner resolves and validates all of it before anything starts.
 */
export interface Scenario {
  name: string;
  description: string;
  /** A topology spec file under topology/specs (without .json), or an inline spec. */
  topology: string | Record<string, unknown>;
  /** Workload fields (generators/workload.ts); anything left out takes its default. */
  workload: Record<string, unknown>;
  /** SLO checks; the default is the mission's (clearance p95, p99 <= 300 ms, nothing lost). */
  slo?: SloCheckSpec[];
  /** A fault schedule (chaos/spec.ts: `{ kind, target, at, duration, ...params }`), run alongside the load. */
  faults?: unknown[];
  /**
   * Size-limited log dirs (MB) by node id, for disk faults: a tmpfs is mounted on the node's log dir before the
   * node is formatted, and unmounted after the teardown. Needs root (chaos/README.md says what to do without).
   */
  logDirLimitsMb?: Record<string, number>;
  /**
   * Variants run back to back, each on a freshly stood-up mesh with the same seed and rate: a variant's workload
   * fields override the scenario's (e.g. other consumer settings), and its faults replace the scenario's if given.
   * result.json then holds one entry per variant and a comparison.
   */
  variants?: { name: string; description: string; workload?: Record<string, unknown>; faults?: unknown[]; topology?: string | Record<string, unknown> }[];
}
