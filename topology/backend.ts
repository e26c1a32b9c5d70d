import type { Launcher, Supervisor } from "../lab/proc.ts";
import type { Placement } from "./plan.ts";
import type { TopologySpec } from "./spec.ts";

/**
 * Where a mesh's processes run. Components say what to run (command, files, ports, readiness); a backend decides
 * where: which address each component listens on (`placement`), and how its process is started, signalled,
 * paused, stopped and its log brought back (`spawn`, whose handle chaos uses as it is). Files reach a process at
 * the same path they have on this machine (the run directory and the lab's cache), so config rendering is the
 * component's, unchanged.
 */
export interface Backend extends Launcher, AsyncDisposable {
  readonly name: BackendName;
  readonly placement: Placement;
  /** Facts for the result file (engine, image, network), absent for local processes. */
  readonly details?: Record<string, string>;
}

export type BackendName = TopologySpec["backend"];

export interface BackendContext {
  spec: TopologySpec;
  runDir: string;
  /** The run's process supervisor: local processes, and any helper process a backend needs (an engine's API). */
  supervisor: Supervisor;
}

/** One entry per backend: a new backend is one module plus one line here (topology/backends.ts). */
export type BackendFactory = (ctx: BackendContext) => Promise<Backend>;
