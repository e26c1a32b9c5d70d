import type { LedgerEntry } from "../generators/ledger.ts";
import type { Validity } from "./checker.ts";
import type { EngineRecordEvent } from "./dead-letters.ts";

/** An engine's delivery or dead letter of one record, with the writer's schema id from its header. */
export type EngineDelivery = Pick<EngineRecordEvent, "type" | "partition" | "offset" | "schemaId">;

/** A registration the scenario asked the registry for, and its answer (HTTP status; id, or the refusal's message). */
export interface RegistrationRecord {
  version: number;
  /** The subject's compatibility level when it was offered. */
  compatibility: string;
  /** What the version changes against the previous one. */
  change: string;
  atMs: number;
  accepted: boolean;
  status: number;
  schemaId?: number;
  errorCode?: number;
  message?: string;
}

/** One record of the assessment topic as read back after the run: where it is, its event id and its schema id. */
export interface TopicRecord {
  at: string;
  eventId: string | undefined;
  /** The schema id in the value's header; null when the value is not in the registry's wire format. */
  schemaId: number | null;
}

/** Per schema version: how many requests were encoded with it, written, decoded by the v1 engines, completed, lost. */
export interface VersionFigures {
  version: number;
  schemaId: number;
  /** Requests the ATO producers encoded with this version (ledger). */
  encoded: number;
  /** Acknowledged by Kafka (ledger). */
  acked: number;
  /** Records with this schema id on the assessment topic (read back). */
  onTopic: number;
  /** Distinct records with this schema id the Centrelink engines (built for v1) delivered and did not dead-letter. */
  decoded: number;
  /** Records with this schema id the engines could not decode and dead-lettered. */
  undecodable: number;
  /** Clearances completed (ledger). */
  completed: number;
  /** Acknowledged and never completed. */
  lost: number;
}

export interface SchemaEvolutionResult {
  valid: Validity;
  encoding: string;
  subject: string;
  /** The subject's compatibility level, as the registry reported it. */
  compatibility: string;
  registrations: RegistrationRecord[];
  /** The subject's versions in the registry after the run's attempts (a refused one is not among them). */
  registryVersions: number[];
  versions: VersionFigures[];
  /** Records on the topic whose schema id is no accepted version (the incompatible one, or anything else). */
  foreignRecords: { count: number; evidence: TopicRecord[] };
  /** Why the verdict is invalid, one line each. */
  problems: string[];
}

/** Counts the scenario adds to result.json's `counts` (and that SLO checks may name). */
export const EVOLUTION_COUNTS = ["v3Accepted", "v3Records", "undecodedByV1", "evolutionProblems"] as const;
export type EvolutionCounts = Record<(typeof EVOLUTION_COUNTS)[number], number>;

const EVIDENCE_LIMIT = 100;

/**
 * The schema-evolution check, pure over what was recorded: the ledger (which schema id each request was encoded
 * with), the assessment topic read back whole, the engines' deliveries, and the registry's answers. Valid when
 * every incompatible version was refused, no record on the topic carries a schema id other than an accepted one,
 * every record of an accepted version was decoded by the engines built for v1, and nothing acknowledged was lost.
 */
export function checkEvolution(input: {
  encoding: string;
  subject: string;
  compatibility: string;
  /** The accepted versions by schema id (v1 from the run's start, v2 ...). */
  accepted: { version: number; schemaId: number }[];
  registrations: RegistrationRecord[];
  /** Versions the scenario expects the registry to refuse. */
  mustRefuse: number[];
  /** Refusals of other versions that are known behaviour, not defects (Apicurio's Protobuf FULL refuses any new field). */
  knownRefusals?: { version: number; compatibility: string }[];
  registryVersions: number[];
  entries: readonly LedgerEntry[];
  topic: readonly TopicRecord[];
  deliveries: readonly EngineDelivery[];
}): { result: SchemaEvolutionResult; counts: EvolutionCounts } {
  const problems: string[] = [];
  const acceptedIds = new Set(input.accepted.map((a) => a.schemaId));
  const versions = input.accepted.map((a) => figuresOf(a, input.entries, input.topic, input.deliveries));
  const foreign = input.topic.filter((r) => r.schemaId === null || !acceptedIds.has(r.schemaId));
  const wronglyAccepted = input.registrations.filter((r) => input.mustRefuse.includes(r.version) && r.accepted);
  for (const r of wronglyAccepted) problems.push(`v${r.version} (${r.change}) was accepted by the registry (id ${r.schemaId}) under ${r.compatibility}`);
  const known = (r: RegistrationRecord) => (input.knownRefusals ?? []).some((k) => k.version === r.version && k.compatibility === r.compatibility);
  for (const r of input.registrations.filter((x) => !input.mustRefuse.includes(x.version) && !x.accepted && !known(x)))
    problems.push(`v${r.version} (${r.change}) was refused under ${r.compatibility} (HTTP ${r.status}): ${r.message ?? ""}`);
  for (const v of new Set(input.registrations.map((r) => r.version).filter((x) => !input.mustRefuse.includes(x))))
    if (!input.registrations.some((r) => r.version === v && r.accepted)) problems.push(`v${v} was never accepted: no record was written with it`);
  for (const v of input.mustRefuse)
    if (!input.registrations.some((r) => r.version === v)) problems.push(`v${v} was never offered to the registry (the run ended before its step?)`);
  if (foreign.length) problems.push(`${foreign.length} record(s) on the topic carry a schema id that is no accepted version`);
  for (const v of versions) {
    if (v.undecodable) problems.push(`${v.undecodable} v${v.version} record(s) could not be decoded by the engines built for v1`);
    if (v.decoded < v.onTopic) problems.push(`${v.onTopic - v.decoded} v${v.version} record(s) on the topic were never decoded`);
    if (v.lost) problems.push(`${v.lost} v${v.version} request(s) lost`);
  }
  const undecodedByV1 = versions.reduce((n, v) => n + Math.max(v.onTopic - v.decoded, v.undecodable), 0);
  const result: SchemaEvolutionResult = {
    valid: versions.every((v) => v.onTopic === 0) ? "unknown" : problems.length ? "invalid" : "valid",
    encoding: input.encoding,
    subject: input.subject,
    compatibility: input.compatibility,
    registrations: input.registrations,
    registryVersions: input.registryVersions,
    versions,
    foreignRecords: { count: foreign.length, evidence: foreign.slice(0, EVIDENCE_LIMIT) },
    problems,
  };
  return { result, counts: { v3Accepted: wronglyAccepted.length, v3Records: foreign.length, undecodedByV1, evolutionProblems: problems.length } };
}

function figuresOf(a: { version: number; schemaId: number }, entries: readonly LedgerEntry[], topic: readonly TopicRecord[], deliveries: readonly EngineDelivery[]): VersionFigures {
  const mine = entries.filter((e) => e.schemaId === a.schemaId);
  const delivered = new Set<string>();
  for (const d of deliveries) if (d.type === "consumed" && d.schemaId === a.schemaId) delivered.add(`${d.partition}@${d.offset}`);
  const deadLettered = new Set(deliveries.filter((d) => d.type === "dead-lettered").map((d) => `${d.partition}@${d.offset}`));
  const undecodable = [...delivered].filter((p) => deadLettered.has(p)).length;
  return {
    version: a.version,
    schemaId: a.schemaId,
    encoded: mine.length,
    acked: mine.filter((e) => e.ackedUs !== undefined).length,
    onTopic: topic.filter((r) => r.schemaId === a.schemaId).length,
    decoded: delivered.size - undecodable,
    undecodable,
    completed: mine.filter((e) => e.completedUs.length > 0).length,
    lost: mine.filter((e) => e.ackedUs !== undefined && e.completedUs.length === 0).length,
  };
}

/** The figures as the reports lay them out (HTML, Markdown and the terminal read the same rows). */
export function evolutionRows(r: SchemaEvolutionResult | undefined): { row: string; value: string }[] {
  if (!r) return [];
  const rows = [
    { row: "verdict", value: `${r.valid}${r.problems.length ? `: ${r.problems.join("; ")}` : ""}` },
    { row: "subject", value: `${r.subject} (${r.encoding}, compatibility ${r.compatibility}); registry versions after the run: ${r.registryVersions.join(", ") || "none"}` },
  ];
  for (const g of r.registrations)
    rows.push({
      row: `v${g.version} offered under ${g.compatibility} at +${(g.atMs / 1000).toFixed(1)} s`,
      value: `${g.accepted ? `accepted, id ${g.schemaId}` : "REFUSED"} (HTTP ${g.status}${g.errorCode !== undefined ? `, error ${g.errorCode}` : ""}): ${g.change}${g.message ? `; registry: ${g.message.slice(0, 300)}` : ""}`,
    });
  for (const v of r.versions)
    rows.push({
      row: `v${v.version} (schema id ${v.schemaId})`,
      value: `encoded ${v.encoded}, acked ${v.acked}, on the topic ${v.onTopic}, decoded by v1 engines ${v.decoded}, undecodable ${v.undecodable}, completed ${v.completed}, lost ${v.lost}`,
    });
  rows.push({ row: "records with another schema id", value: `${r.foreignRecords.count}${r.foreignRecords.evidence.length ? ` (${r.foreignRecords.evidence.slice(0, 5).map((x) => `${x.at} id ${x.schemaId}`).join(", ")})` : ""}` });
  return rows;
}

/** The scenario's figures in a result file, if it has them (result.json's `scenarioResult.schemaEvolution`). */
export const evolutionOf = (scenarioResult: Record<string, unknown> | undefined): SchemaEvolutionResult | undefined =>
  scenarioResult?.schemaEvolution as SchemaEvolutionResult | undefined;
