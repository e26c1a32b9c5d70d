import type { ConsumerDeadLetterReason, DeadLetterRecord, RoutedDeadLetter } from "../generators/dlq.ts";
import { EVIDENCE_LIMIT, type Validity } from "./checker.ts";

/** The schema-mismatch row of the failure matrix, as result.json keeps it. */
export interface MismatchCheck {
  /** `unknown` when no payload was broken: the run did not exercise the row. */
  valid: Validity;
  counts: {
    /** Payloads the ATO producer got wrong. */
    mismatched: number;
    /** Of those, refused by the serializer (all of them, or the serializer let a mismatch through). */
    refused: number;
    /** Mismatched payloads found in the DLQ exactly once. */
    inDlqOnce: number;
    /** Refused payloads found in the DLQ more than once. */
    duplicatedInDlq: number;
    /** Refused payloads not in the DLQ (the DLQ write failed, or the record is gone). */
    missingFromDlq: number;
    /** Refused payloads whose event id is on the assessment topic: a consumer could have read them. */
    reachedConsumers: number;
    /** Schema-mismatch dead letters nobody in this run routed. */
    unknownInDlq: number;
    /** Dead letters of refused payloads whose headers are wrong (reason, schema id, source topic, error). */
    badHeaders: number;
  };
  /** Refusals by the way the payload was broken. */
  byKind: Record<string, number>;
  evidence: {
    notRefused: { eventId: string; what: string }[];
    missing: { eventId: string; sendError?: string }[];
    duplicated: { eventId: string; times: number; at: string[] }[];
    reachedConsumers: { eventId: string; at: string }[];
    unknown: { eventId: string | undefined; at: string }[];
    badHeaders: { eventId: string; problems: string[] }[];
    /** Where each refused payload's dead letter is (DLQ partition@offset), for the first ones. */
    located: { eventId: string; at: string }[];
  };
}

const push = <T>(list: T[], x: T) => {
  if (list.length < EVIDENCE_LIMIT) list.push(x);
};

/**
 * Checks the schema-mismatch row from what the run recorded and what the topics hold afterwards: every mismatched
 * payload must be refused by the serializer and be in the DLQ exactly once, with headers saying why, which schema id was tried and its event id,
 * and none may be on the assessment topic (what is not on the topic reached no consumer, whatever consumer).
 */
export function checkMismatches(input: {
  routed: RoutedDeadLetter[];
  dlq: DeadLetterRecord[];
  /** The `event-id` header of every record on the assessment topic, read back after the run. */
  assessmentTopic: { eventId: string | undefined; at: string }[];
  schemaId: number;
  sourceTopic: string;
}): MismatchCheck {
  const counts: MismatchCheck["counts"] = { mismatched: 0, refused: 0, inDlqOnce: 0, duplicatedInDlq: 0, missingFromDlq: 0, reachedConsumers: 0, unknownInDlq: 0, badHeaders: 0 };
  const evidence: MismatchCheck["evidence"] = { notRefused: [], missing: [], duplicated: [], reachedConsumers: [], unknown: [], badHeaders: [], located: [] };
  const byKind: Record<string, number> = {};
  const letters = new Map<string, DeadLetterRecord[]>();
  for (const d of input.dlq.filter((x) => x.reason === "schema-mismatch")) {
    const list = letters.get(d.eventId ?? "") ?? [];
    list.push(d);
    letters.set(d.eventId ?? "", list);
  }
  const onTopic = new Map<string, string>();
  for (const r of input.assessmentTopic) if (r.eventId) onTopic.set(r.eventId, r.at);
  const mismatchedIds = new Set<string>();
  for (const r of input.routed) {
    counts.mismatched++;
    if (r.refused) counts.refused++;
    else push(evidence.notRefused, { eventId: r.eventId, what: r.sendError ?? r.error });
    mismatchedIds.add(r.eventId);
    byKind[r.kind] = (byKind[r.kind] ?? 0) + 1;
    const found = letters.get(r.eventId) ?? [];
    const at = found.map((d) => `${d.partition}@${d.offset}`);
    if (found.length === 0) {
      counts.missingFromDlq++;
      push(evidence.missing, { eventId: r.eventId, ...(r.sendError ? { sendError: r.sendError } : {}) });
    } else if (found.length > 1) {
      counts.duplicatedInDlq++;
      push(evidence.duplicated, { eventId: r.eventId, times: found.length, at });
    } else {
      counts.inDlqOnce++;
      push(evidence.located, { eventId: r.eventId, at: at[0] as string });
    }
    const first = found[0];
    if (first) {
      const problems: string[] = [];
      if (first.schemaId !== String(input.schemaId)) problems.push(`schema id ${first.schemaId ?? "(none)"}, expected ${input.schemaId}`);
      if (first.sourceTopic !== input.sourceTopic) problems.push(`source topic ${first.sourceTopic ?? "(none)"}, expected ${input.sourceTopic}`);
      if (!first.error) problems.push("no error header");
      if (problems.length) {
        counts.badHeaders++;
        push(evidence.badHeaders, { eventId: r.eventId, problems });
      }
    }
    const leaked = onTopic.get(r.eventId);
    if (leaked !== undefined) {
      counts.reachedConsumers++;
      push(evidence.reachedConsumers, { eventId: r.eventId, at: leaked });
    }
  }
  for (const [id, list] of letters)
    if (!mismatchedIds.has(id))
      for (const d of list) {
        counts.unknownInDlq++;
        push(evidence.unknown, { eventId: d.eventId, at: `${d.partition}@${d.offset}` });
      }
  const bad = counts.mismatched - counts.refused + counts.missingFromDlq + counts.duplicatedInDlq + counts.reachedConsumers + counts.unknownInDlq + counts.badHeaders;
  return { valid: counts.mismatched === 0 ? "unknown" : bad ? "invalid" : "valid", counts, byKind, evidence };
}

/** result.json's `deadLetters`: one entry per failure-matrix row the run exercised. */
export interface DeadLetterResult {
  /** DLQ topic read back after the run, and how many records it held (every reason). */
  topic: string;
  records: number;
  schemaMismatch?: MismatchCheck;
  poisonPills?: PillCheck;
  /** The forged-signature row: the same check over forged events and the `signature` reason. */
  forgedSignatures?: PillCheck;
}

/** One line of the dead-letter table in every report: the figure and the event ids behind it. */
export interface DeadLetterRow {
  row: string;
  value: string;
  ids: string[];
}

/** The dead-letter figures as the reports lay them out (HTML, Markdown and the terminal read the same rows). */
export function deadLetterRows(d: DeadLetterResult | undefined): DeadLetterRow[] {
  if (!d) return [];
  const rows: DeadLetterRow[] = [{ row: `records in ${d.topic}`, value: String(d.records), ids: [] }];
  const m = d.schemaMismatch;
  if (m) {
    const c = m.counts;
    const kinds = Object.entries(m.byKind)
      .map(([k, n]) => `${k} ${n}`)
      .join(", ");
    rows.push(
      { row: "schema mismatch: verdict", value: m.valid, ids: [] },
      { row: "schema mismatch: payloads broken", value: `${c.mismatched}${kinds ? ` (${kinds})` : ""}`, ids: [] },
      { row: "refused by the serializer", value: String(c.refused), ids: m.evidence.notRefused.map((x) => `${x.eventId}: ${x.what}`) },
      { row: "in the DLQ exactly once", value: String(c.inDlqOnce), ids: m.evidence.located.map((x) => `${x.eventId} at ${x.at}`) },
      { row: "missing from the DLQ", value: String(c.missingFromDlq), ids: m.evidence.missing.map((x) => `${x.eventId}${x.sendError ? `: ${x.sendError}` : ""}`) },
      { row: "in the DLQ more than once", value: String(c.duplicatedInDlq), ids: m.evidence.duplicated.map((x) => `${x.eventId} x${x.times} at ${x.at.join(", ")}`) },
      { row: "on the assessment topic (reached consumers)", value: String(c.reachedConsumers), ids: m.evidence.reachedConsumers.map((x) => `${x.eventId} at ${x.at}`) },
      { row: "dead letters with wrong headers", value: String(c.badHeaders), ids: m.evidence.badHeaders.map((x) => `${x.eventId}: ${x.problems.join("; ")}`) },
      { row: "schema-mismatch dead letters nobody routed", value: String(c.unknownInDlq), ids: m.evidence.unknown.map((x) => `${x.eventId ?? "(no id)"} at ${x.at}`) },
    );
  }
  const p = d.poisonPills;
  if (p) {
    const c = p.counts;
    rows.push(
      { row: "poison pills: verdict", value: p.valid, ids: [] },
      { row: "pills written", value: String(c.injected), ids: p.failures },
      { row: "pills in the DLQ (by source offset)", value: `${c.inDlqOnce} once, ${c.duplicatedInDlq} more than once`, ids: p.pills.map((x) => `${x.shape} at ${x.at} -> DLQ ${x.dlqAt.join(", ") || "(missing)"}${x.stallMs !== null ? `, held its partition ${x.stallMs} ms` : ""}`) },
      { row: "pills missing from the DLQ", value: String(c.missingFromDlq), ids: p.pills.filter((x) => !x.dlqAt.length).map((x) => `${x.pillId} at ${x.at}`) },
      { row: "engines committed past every pill", value: p.committedPast === null ? "not measured" : `${p.committedPast ? "yes" : "no"} (group lag ${p.groupLagAtEnd})`, ids: [] },
      { row: "longest partition stall a pill caused (ms)", value: p.longestStallMs === null ? "n/a" : String(p.longestStallMs), ids: [] },
      { row: "other undecodable dead letters", value: String(c.otherUndecodable), ids: [] },
    );
  }
  const f = d.forgedSignatures;
  if (f) {
    const c = f.counts;
    rows.push(
      { row: "forged signatures: verdict", value: f.valid, ids: [] },
      { row: "forged events written", value: String(c.injected), ids: f.failures },
      { row: "forged events in the DLQ (reason signature)", value: `${c.inDlqOnce} once, ${c.duplicatedInDlq} more than once`, ids: f.pills.map((x) => `${x.shape} ${x.pillId} at ${x.at} -> DLQ ${x.dlqAt.join(", ") || "(missing)"}${x.error ? `: ${x.error}` : ""}`) },
      { row: "forged events missing from the DLQ", value: String(c.missingFromDlq), ids: f.pills.filter((x) => !x.dlqAt.length).map((x) => `${x.pillId} at ${x.at}`) },
      { row: "other signature dead letters", value: String(c.otherUndecodable), ids: [] },
    );
  }
  return rows;
}

/** The poison-pill row: every pill in the DLQ by its source offset, the engines past it, and what it cost. */
export interface PillCheck {
  /** `unknown` when no pill was written. */
  valid: Validity;
  counts: {
    injected: number;
    /** Pills whose source partition@offset is in the DLQ once. */
    inDlqOnce: number;
    /** In the DLQ more than once (at-least-once: an engine died between its DLQ write and its commit). */
    duplicatedInDlq: number;
    missingFromDlq: number;
    /** Pill writes that failed (not on the topic, so nothing to dead-letter). */
    writeFailures: number;
    /** Dead letters of the same reason that are not pills (or forged events) of this run. */
    otherUndecodable: number;
  };
  /** Whether the Centrelink group's committed offsets reached the end of every partition (so past every pill). */
  committedPast: boolean | null;
  groupLagAtEnd: number | null;
  /**
   * The longest time a pill held its partition: from its first delivery to an engine until its dead letter was
   * acknowledged (an engine answers a partition in order, so nothing behind the pill moved meanwhile).
   */
  longestStallMs: number | null;
  pills: { pillId: string; shape: string; at: string; dlqAt: string[]; stallMs: number | null; error?: string }[];
  failures: string[];
}

/** An engine's history line that matters here: a delivery, or a dead letter written, of partition@offset. */
export interface EngineRecordEvent {
  type: "consumed" | "dead-lettered";
  partition: number;
  offset: number;
  epochMs: number;
  /** The writer's schema id in the record's header (consumed records in the registry's wire format). */
  schemaId?: number;
}

export function checkPills(input: {
  pills: { pillId: string; shape: string; partition: number; offset: string }[];
  failures: string[];
  dlq: DeadLetterRecord[];
  sourceTopic: string;
  engineEvents: EngineRecordEvent[];
  groupLagAtEnd: number | null;
  /** The DLQ reason the records must carry: `undecodable` for poison pills, `signature` for forged events. */
  reason?: ConsumerDeadLetterReason;
}): PillCheck {
  const counts: PillCheck["counts"] = { injected: 0, inDlqOnce: 0, duplicatedInDlq: 0, missingFromDlq: 0, writeFailures: input.failures.length, otherUndecodable: 0 };
  const undecodable = input.dlq.filter((d) => d.reason === (input.reason ?? "undecodable") && d.sourceTopic === input.sourceTopic);
  const byCoord = new Map<string, DeadLetterRecord[]>();
  for (const d of undecodable) {
    const k = `${d.sourcePartition}@${d.sourceOffset}`;
    byCoord.set(k, [...(byCoord.get(k) ?? []), d]);
  }
  const firstOf = (type: EngineRecordEvent["type"], k: string): number | undefined => {
    let t: number | undefined;
    for (const e of input.engineEvents) if (e.type === type && `${e.partition}@${e.offset}` === k && (t === undefined || e.epochMs < t)) t = e.epochMs;
    return t;
  };
  const pills: PillCheck["pills"] = [];
  const coords = new Set<string>();
  let longest: number | null = null;
  for (const p of input.pills) {
    counts.injected++;
    const k = `${p.partition}@${p.offset}`;
    coords.add(k);
    const found = byCoord.get(k) ?? [];
    if (found.length === 0) counts.missingFromDlq++;
    else if (found.length === 1) counts.inDlqOnce++;
    else counts.duplicatedInDlq++;
    const delivered = firstOf("consumed", k);
    const lettered = firstOf("dead-lettered", k);
    const stallMs = delivered !== undefined && lettered !== undefined ? lettered - delivered : null;
    if (stallMs !== null && (longest === null || stallMs > longest)) longest = stallMs;
    const error = found[0]?.error;
    if (pills.length < EVIDENCE_LIMIT) pills.push({ pillId: p.pillId, shape: p.shape, at: k, dlqAt: found.map((d) => `${d.partition}@${d.offset}`), stallMs, ...(error ? { error } : {}) });
  }
  for (const k of byCoord.keys()) if (!coords.has(k)) counts.otherUndecodable++;
  const committedPast = input.groupLagAtEnd === null ? null : input.groupLagAtEnd === 0;
  const valid: Validity = counts.injected === 0 ? "unknown" : counts.missingFromDlq === 0 && committedPast === true ? "valid" : "invalid";
  return { valid, counts, committedPast, groupLagAtEnd: input.groupLagAtEnd, longestStallMs: longest, pills, failures: input.failures.slice(0, EVIDENCE_LIMIT) };
}
