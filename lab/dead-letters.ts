import { readFileSync } from "node:fs";
import type { PillLog } from "../chaos/poison.ts";
import type { FaultSpec } from "../chaos/spec.ts";
import type { ClearanceFlow } from "../generators/clearance.ts";
import { ensureDlqTopic, readDeadLetterEvidence } from "../generators/dlq-audit.ts";
import { type ConsumerDeadLetterReason, dlqTopicOf } from "../generators/dlq.ts";
import { loadDriver } from "../generators/drivers/driver.ts";
import type { WorkloadSpec } from "../generators/workload.ts";
import type { Counts } from "../reports/checker.ts";
import { checkMismatches, checkPills, type DeadLetterResult, type EngineRecordEvent } from "../reports/dead-letters.ts";
import type { Mesh } from "../topology/local/mesh.ts";
import { waitUntil } from "./proc.ts";
import { progress } from "./log.ts";

/** Counts a dead-letter row adds to result.json (and that SLO checks may name). */
export const DEAD_LETTER_COUNTS = ["mismatched", "dlq", "dlqViolations", "mismatchesReachingConsumers", "poisonPills", "pillsMissingFromDlq", "forged", "forgedMissingFromDlq"] as const;

export interface DeadLetterAudit {
  counts: Partial<Counts>;
  result: DeadLetterResult;
}

/** Rows of the failure matrix that need the DLQ in this run. */
const needsDlq = (w: WorkloadSpec, faults: FaultSpec[]): boolean => (w.schemaMismatch?.share ?? 0) > 0 || faults.some((f) => f.kind === "poison-pill" || f.kind === "forged-signature");

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
export async function auditDeadLetters(
  mesh: Mesh,
  flow: ClearanceFlow,
  w: WorkloadSpec,
  faults: FaultSpec[],
  logs: { pills: PillLog; forged: PillLog },
): Promise<DeadLetterAudit | undefined> {
  if (!needsDlq(w, faults)) return undefined;
  const done = progress(`reading back ${dlqOf(w)} and ${w.topics.assessment}`);
  await flow.deadLetters.settled();
  // The region the writes went to first holds both topics (dead letters are not replicated across regions here).
  const region = mesh.region(flow.writeRegions[0]);
  const evidence = await readDeadLetterEvidence(await loadDriver(w.driver), region.lab(), { source: w.topics.assessment, dlq: dlqOf(w) });
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
  const pills = faults.some((f) => f.kind === "poison-pill");
  const forged = faults.some((f) => f.kind === "forged-signature");
  if (pills || forged) {
    // Both rows need the engines' history and the group's settled lag: read and waited for once.
    const engineEvents = readRecordEvents(flow.engineEventFiles);
    const groupLagAtEnd = await settledLag(region, w.centrelink.groupId, w.topics.assessment);
    const check = (log: PillLog, reason: ConsumerDeadLetterReason) =>
      checkPills({ pills: log.pills, failures: log.failures, dlq: evidence.dlq, sourceTopic: w.topics.assessment, engineEvents, groupLagAtEnd, reason });
    if (pills) {
      const p = check(logs.pills, "undecodable");
      result.poisonPills = p;
      counts.poisonPills = p.counts.injected;
      counts.pillsMissingFromDlq = p.counts.missingFromDlq;
    }
    // A forged event answered would also show as an unexpected response (its event id is in no ledger).
    if (forged) {
      const p = check(logs.forged, "signature");
      result.forgedSignatures = p;
      counts.forged = p.counts.injected;
      counts.forgedMissingFromDlq = p.counts.missingFromDlq;
    }
  }
  done(`${evidence.dlq.length} dead letter(s), ${evidence.sourceTopic.length} record(s) on the source topic`);
  return { counts, result };
}

/**
 * The Centrelink group's committed lag on the assessment topic once it stops falling (the engines commit every few
 * seconds): 0 means every partition is committed to its end, past every pill. Undefined lag is `null`.
 */
async function settledLag(region: ReturnType<Mesh["region"]>, groupId: string, topic: string): Promise<number | null> {
  const admin = await region.admin();
  let last: number | null = null;
  try {
    await waitUntil(
      `${groupId} to commit to the end of ${topic}`,
      async () => {
        last = await admin.groupLag(groupId, topic);
        return last === 0 ? true : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 500, hint: "" },
    ).catch(() => {});
    return last;
  } finally {
    await admin.close();
  }
}

/** Deliveries and dead letters from the engines' history files (epoch ms). */
export function readRecordEvents(files: readonly string[]): EngineRecordEvent[] {
  const out: EngineRecordEvent[] = [];
  for (const f of files) {
    let text = "";
    try {
      text = readFileSync(f, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n")) {
      if (!line.includes('"consumed"') && !line.includes('"dead-lettered"')) continue;
      try {
        const e = JSON.parse(line) as { ms: number; type: string; p: number; o: number; sid?: number };
        if (e.type === "consumed" || e.type === "dead-lettered") out.push({ type: e.type, partition: e.p, offset: e.o, epochMs: e.ms, ...(e.sid !== undefined ? { schemaId: e.sid } : {}) });
      } catch {}
    }
  }
  return out;
}
