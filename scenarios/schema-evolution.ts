import { readdirSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Codec, EVOLUTION, type Registration, SCHEMAS } from "../generators/codec.ts";
import { loadDriver } from "../generators/drivers/driver.ts";
import { readWholeTopic } from "../generators/topic-reader.ts";
import { readRecordEvents } from "../lab/dead-letters.ts";
import { info } from "../lab/log.ts";
import { checkEvolution, EVOLUTION_COUNTS, type RegistrationRecord, type TopicRecord } from "../reports/schema-evolution.ts";
import type { AnalysisInput, Scenario, ScenarioContext } from "./scenario.ts";

const V2_CHANGE = "amendmentSequence added (int / int32, default 0): a new optional field";
const V3_CHANGE = "taxableIncomeCents changed from long (int64) to string: incompatible both ways";

/** What the body leaves for the analysis. */
interface EvolutionState {
  subject: string;
  compatibility: string;
  accepted: { version: number; schemaId: number }[];
  registrations: RegistrationRecord[];
  registryVersions: number[];
  topic: TopicRecord[];
}

/** Offers a version to the registry and records its answer, with the compatibility level it was judged under. */
async function offer(ctx: ScenarioContext, codec: Codec, s: EvolutionState, version: number, change: string, schema: string, compatibility = s.compatibility): Promise<Registration> {
  const r = await codec.tryRegister(ctx.workload.topics.assessment, schema, SCHEMAS[ctx.workload.encoding ?? "avro"].type);
  const atMs = ctx.mark(`v${version}-offered`, { status: r.status, compatibility });
  s.registrations.push(
    r.accepted
      ? { version, compatibility, change, atMs, accepted: true, status: r.status, schemaId: r.id }
      : { version, compatibility, change, atMs, accepted: false, status: r.status, ...(r.errorCode !== undefined ? { errorCode: r.errorCode } : {}), message: r.message },
  );
  return r;
}

/**
 * A schema rollout mid-run. A third of the way into the measured load the assessment schema's compatible v2 (a
 * new field with a default) is registered and the ATO producers switch to it; the Centrelink engines, built for v1,
 * keep decoding through their v1 reader schema. Two thirds in, an incompatible v3 (a field's type changed) is
 * offered: the registry must refuse it under FULL compatibility, and the producers keep v2. After the load the
 * assessment topic is read back whole, so the schema id of every record ever written is known.
 */
async function evolve(ctx: ScenarioContext): Promise<void> {
  const w = ctx.workload;
  const encoding = w.encoding ?? "avro";
  const codec = new Codec(ctx.mesh.region().registry.ccompatUrl, ctx.mesh.region().tls("lab"));
  const topic = w.topics.assessment;
  const s: EvolutionState = { subject: `${topic}-value`, compatibility: "", accepted: [{ version: 1, schemaId: ctx.flow.assessmentSchemaId }], registrations: [], registryVersions: [], topic: [] };
  ctx.state.evolution = s;
  s.compatibility = await codec.compatibility(topic);

  await ctx.atMeasured(w.durationMs / 3);
  let v2 = await offer(ctx, codec, s, 2, V2_CHANGE, EVOLUTION[encoding].v2);
  if (!v2.accepted && s.compatibility === "FULL") {
    // Apicurio checks a Protobuf schema's forward compatibility by reading the older version as the newer one,
    // which "removes" the new field without reserving it: under FULL a Protobuf message cannot grow. The step a
    // team takes is recorded: BACKWARD for the one registration, FULL again before anything else is offered.
    await codec.setCompatibility(topic, "BACKWARD");
    v2 = await offer(ctx, codec, s, 2, V2_CHANGE, EVOLUTION[encoding].v2, "BACKWARD");
    await codec.setCompatibility(topic, "FULL");
  }
  if (v2.accepted) {
    ctx.flow.useAssessmentWriter({ schemaId: v2.id, version: 2, extend: (_, seq) => ({ amendmentSequence: seq % 3 }) });
    s.accepted.push({ version: 2, schemaId: v2.id });
    ctx.phase("v2");
  } else info(`v2 was refused (HTTP ${v2.status}): ${v2.message}; the producers stay on v1`);

  await ctx.atMeasured((2 * w.durationMs) / 3);
  const v3 = await offer(ctx, codec, s, 3, V3_CHANGE, EVOLUTION[encoding].v3);
  info(v3.accepted ? `v3 was ACCEPTED (id ${v3.id}); it is not used` : `v3 refused as it must be: HTTP ${v3.status}: ${v3.message.slice(0, 200)}`);

  await ctx.atMeasured(w.durationMs);
  for (let t = Date.now(); ctx.flow.inFlight > 0 && Date.now() - t < w.drainTimeoutMs; ) await sleep(100);
  s.registryVersions = await codec.versions(topic);
  const records = await readWholeTopic(await loadDriver(w.driver), { ...ctx.mesh.region(ctx.flow.writeRegions[0]).lab(), topic, clientId: "meshlab-audit-evolution" });
  s.topic = records.map((r) => ({ at: `${r.partition}@${r.offset}`, eventId: r.headers["event-id"], schemaId: r.value && r.value.length >= 5 && r.value[0] === 0 ? r.value.readInt32BE(1) : null }));
}

function analyse(input: AnalysisInput): Record<string, unknown> {
  const s = input.state.evolution as EvolutionState | undefined;
  if (!s) throw new Error("the scenario's body recorded nothing (it failed before its first step)");
  const files = readdirSync(input.runDir)
    .filter((f) => f.endsWith(".events.ndjson"))
    .map((f) => join(input.runDir, f));
  const { result, counts } = checkEvolution({
    encoding: input.workload.encoding ?? "avro",
    subject: s.subject,
    compatibility: s.compatibility,
    accepted: s.accepted,
    registrations: s.registrations,
    mustRefuse: [3],
    knownRefusals: input.workload.encoding === "protobuf" ? [{ version: 2, compatibility: "FULL" }] : [],
    registryVersions: s.registryVersions,
    entries: input.history.entries,
    topic: s.topic,
    deliveries: readRecordEvents(files),
  });
  return { schemaEvolution: result, counts };
}

/**
 * Schema evolution under load, for Avro (the default) or Protobuf (`--encoding protobuf`): a compatible v2 rolled
 * out mid-run and read by v1 consumers, an incompatible v3 refused by the registry and never used.
 */
export const schemaEvolution: Scenario = {
  name: "schema-evolution",
  description:
    "a compatible v2 of the assessment schema registered mid-run and used by the producers, decoded by v1 consumers; an incompatible v3 refused under FULL compatibility and never sent (every record's schema id read back)",
  topology: "one-region",
  workload: { durationMs: "30s", warmupMs: "5s", rate: { kind: "constant", perSecond: 50 }, centrelink: { instances: 3 } },
  counts: EVOLUTION_COUNTS,
  slo: [
    { metric: "counts.lost", max: 0 },
    { metric: "counts.v3Records", max: 0 },
    { metric: "counts.v3Accepted", max: 0 },
    { metric: "counts.undecodedByV1", max: 0 },
    { metric: "counts.evolutionProblems", max: 0 },
  ],
  body: evolve,
  analyse,
};
