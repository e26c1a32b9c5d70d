/**
 * The lab's public scenario API: what a scenario written outside this repository imports. Import types only, by
 * the absolute path of this file (Node erases type imports, so nothing of the lab is loaded into your file):
 *
 * ```ts
 * import type { Scenario } from "/path/to/meshlab/scenarios/api.ts";
 * export default { name: "my-scenario", description: "...", topology: "one-region", workload: {} } satisfies Scenario;
 * ```
 *
 * and run it with `./meshlab run ./my-scenario.ts`. `./meshlab init` writes a commented starter with the path
 * filled in. A scenario may also be data only (JSON or YAML, the same fields without `body` and `analyse`).
 *
 * Stability: the `Scenario` fields and these members of `ScenarioContext` keep their meaning; new optional fields
 * may be added, nothing is removed or renamed without a note in the README: `topology`, `workload`, `runDir`,
 * `signal`, `nowMs`, `toRunMs`, `atMeasured`, `phase`, `mark`, `findings`, `state`. `mesh`, `flow` and
 * `supervisor` are the lab's own handles (topology/local/mesh.ts, generators/clearance.ts, lab/proc.ts), offered
 * for what the stable members cannot do; they change with the lab.
 */
export type { AnalysisInput, Scenario, ScenarioContext } from "./scenario.ts";
export type { SloCheckSpec } from "../reports/slo.ts";
export type { TopologySpec } from "../topology/spec.ts";
export type { WorkloadSpec } from "../generators/workload.ts";
