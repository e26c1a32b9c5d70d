import { DependencyFault } from "../generators/dependency.ts";
import type { Injection } from "./schedule.ts";
import type { FaultSpec } from "./spec.ts";

/**
 * `slow-dependency`: the Centrelink engines' debt-registry lookups take the fault's range for a `share` of calls
 * (1: every call) while it lasts. The engines read the fault's file on every lookup, so it takes hold at once; the
 * heal removes the file and lookups take the workload's distribution again.
 */
export function slowDependency(file: string | undefined, f: Extract<FaultSpec, { kind: "slow-dependency" }>): Injection {
  if (!file) throw new Error("slow-dependency: this run has no Centrelink engines whose dependency could be slowed");
  const slow = { share: f.share, range: f.range };
  DependencyFault.inject(file, { slow });
  return {
    target: `debt registry (${f.range.min}-${f.range.max} ms for ${Math.round(f.share * 100)} % of lookups)`,
    details: { dependency: "debt-registry", slow },
    heal: async () => {
      DependencyFault.heal(file);
      return undefined;
    },
  };
}
