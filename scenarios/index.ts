import { BadInputError } from "../lab/errors.ts";
import { activeActive } from "./active-active.ts";
import { chaosSmoke } from "./chaos-smoke.ts";
import { consumerTimeout, consumerTimeoutLastOutcome } from "./consumer-timeout.ts";
import { clearanceProtobuf } from "./clearance-protobuf.ts";
import { clearanceSmoke } from "./clearance-smoke.ts";
import { diskExhaustion } from "./disk-exhaustion.ts";
import { enginePipeline } from "./engine-pipeline.ts";
import { failureMatrix } from "./failure-matrix.ts";
import { heartbeatIncident, heartbeatIncidentShort } from "./heartbeat-incident.ts";
import { identityFaults } from "./identity-faults.ts";
import { regionFailover } from "./region-failover.ts";
import { rollingUpgrade } from "./rolling-upgrade.ts";
import type { Scenario, Suite } from "./scenario.ts";
import { deadLetters, poisonPill } from "./poison-pill.ts";
import { schemaEvolution } from "./schema-evolution.ts";
import { schemaMismatch } from "./schema-mismatch.ts";
import { spireOutage } from "./spire-outage.ts";
import { svidRotation } from "./svid-rotation.ts";

/** Every scenario `./meshlab run` knows, by name. */
export const scenarios: Record<string, Scenario> = {
  [clearanceSmoke.name]: clearanceSmoke,
  [regionFailover.name]: regionFailover,
  [activeActive.name]: activeActive,
  [chaosSmoke.name]: chaosSmoke,
  [diskExhaustion.name]: diskExhaustion,
  [heartbeatIncident.name]: heartbeatIncident,
  [heartbeatIncidentShort.name]: heartbeatIncidentShort,
  [schemaMismatch.name]: schemaMismatch,
  [poisonPill.name]: poisonPill,
  [deadLetters.name]: deadLetters,
  [clearanceProtobuf.name]: clearanceProtobuf,
  [schemaEvolution.name]: schemaEvolution,
  [consumerTimeout.name]: consumerTimeout,
  [consumerTimeoutLastOutcome.name]: consumerTimeoutLastOutcome,
  [enginePipeline.name]: enginePipeline,
  [identityFaults.name]: identityFaults,
  [spireOutage.name]: spireOutage,
  [svidRotation.name]: svidRotation,
  [rollingUpgrade.name]: rollingUpgrade,
};

/** Suites: several scenarios run one after another and tabulated (lab/suite.ts). */
export const suites: Record<string, Suite> = {
  [failureMatrix.name]: failureMatrix,
};

export function findScenario(name: string): Scenario {
  const s = scenarios[name];
  if (!s)
    throw new BadInputError(`unknown scenario "${name}"`, [], `known scenarios: ${Object.keys(scenarios).join(", ")} (./meshlab list describes them); a scenario file of your own is named by its path (./${name}.ts, .yaml or .json; ./meshlab init writes a starter)`);
  return s;
}
