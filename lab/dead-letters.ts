import type { FaultSpec } from "../chaos/spec.ts";
import type { ClearanceFlow } from "../generators/clearance.ts";
import { ensureDlqTopic, readDeadLetterEvidence } from "../generators/dlq-audit.ts";
import { dlqTopicOf } from "../generators/dlq.ts";
import { loadDriver } from "../generators/drivers/driver.ts";
import type { WorkloadSpec } from "../generators/workload.ts";
import type { Counts } from "../reports/checker.ts";
import { checkMismatches, type DeadLetterResult } from "../reports/dead-letters.ts";
import type { Mesh } from "../topology/local/mesh.ts";
import { LAB_CLASS } from "../topology/plan.ts";
import { progress } from "./log.ts";

/** Counts a dead-letter row adds to result.json (and that SLO checks may name). */
export const DEAD_LETTER_COUNTS = ["mismatched", "dlq", "dlqViolations", "mismatchesReachingConsumers"] as const;

export interface DeadLetterAudit {
  counts: Partial<Counts>;
  result: DeadLetterResult;
}

/** Rows of the failure matrix that need the DLQ in this run. */
const needsDlq = (w: WorkloadSpec, faults: FaultSpec[]): boolean => (w.schemaMismatch?.share ?? 0) > 0 || faults.some((f) => (f.kind as string) === "poison-pill");

const dlqOf = (w: WorkloadSpec): string => w.topics.dlq ?? dlqTopicOf(w.topics.assessment);

/** Creates the DLQ topic in every region before load, when the run will write to it. */
export async function prepareDeadLetters(mesh: Mesh, w: WorkloadSpec, faults: FaultSpec[]): Promise<void> {
  if (!needsDlq(w, faults)) return;
  for (const r of mesh.regions) {
    const admin = await r.admin();
    try {
      await ensureDlqTopic(admin, dlqOf(w), w.topics.assessment);
    } finally {
      await admin.close();
    }
  }
}

/**
 * After the drain, while the mesh is up: waits for the last dead-letter writes, reads the DLQ and the
 * assessment topic back whole, and checks the rows the run exercised.
 */
export async function auditDeadLetters(mesh: Mesh, flow: ClearanceFlow, w: WorkloadSpec, faults: FaultSpec[]): Promise<DeadLetterAudit | undefined> {
  if (!needsDlq(w, faults)) return undefined;
  const done = progress(`reading back ${dlqOf(w)} and ${w.topics.assessment}`);
  await flow.deadLetters.settled();
  // The region the writes went to first holds both topics (dead letters are not replicated across regions here).
  const region = mesh.region(flow.writeRegions[0]);
  const evidence = await readDeadLetterEvidence(await loadDriver(w.driver), region.plan.bootstrap[LAB_CLASS] ?? "", { source: w.topics.assessment, dlq: dlqOf(w) });
  const result: DeadLetterResult = { topic: dlqOf(w), records: evidence.dlq.length };
  const counts: Partial<Counts> = { dlq: evidence.dlq.length };
  if ((w.schemaMismatch?.share ?? 0) > 0) {
    const m = checkMismatches({
      routed: flow.deadLetters.routed,
      dlq: evidence.dlq,
      assessmentTopic: evidence.sourceTopic,
      schemaId: flow.assessmentSchemaId,
      sourceTopic: w.topics.assessment,
    });
    result.schemaMismatch = m;
    counts.mismatched = m.counts.mismatched;
    counts.dlqViolations = m.counts.missingFromDlq + m.counts.duplicatedInDlq;
    counts.mismatchesReachingConsumers = m.counts.reachedConsumers;
  }
  done(`${evidence.dlq.length} dead letter(s), ${evidence.sourceTopic.length} record(s) on the source topic`);
  return { counts, result };
}
