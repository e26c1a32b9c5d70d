import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { RunResult } from "../../reports/result.ts";
import type { SchemaEvolutionResult } from "../../reports/schema-evolution.ts";
import { meshlab, tempDir } from "./helpers.ts";

/**
 * A schema rollout on real Kafka and Apicurio, once per encoding: v2 registered mid-run and used, decoded by the
 * engines built for v1; v3 refused under FULL and never on the topic (every record's schema id read back).
 */
describe.each(["avro", "protobuf"])("./meshlab run schema-evolution --encoding %s", (encoding) => {
  it("decodes v2 with v1 consumers, and the registry refuses v3, which is never sent", async () => {
    const out = join(tempDir(`evolution-${encoding}`), "out");
    const cli = meshlab(["run", "schema-evolution", "--encoding", encoding, "--duration", "6s", "--rate", "20", "--out", out]);
    expect(await cli.exited, cli.output()).toBe(0); // the scenario's SLO has no latency check
    const r = JSON.parse(readFileSync(join(out, "result.json"), "utf8")) as RunResult;
    const e = r.scenarioResult?.schemaEvolution as SchemaEvolutionResult;
    expect(e).toMatchObject({ valid: "valid", encoding, compatibility: "FULL", registryVersions: [1, 2], problems: [] });
    // Avro: v2 passes FULL. Protobuf: Apicurio's FULL refuses any new field, so v2 goes in under BACKWARD (recorded).
    const steps = e.registrations.map((g) => [g.version, g.compatibility, g.accepted, g.status]);
    expect(steps).toEqual(
      encoding === "avro"
        ? [
            [2, "FULL", true, 200],
            [3, "FULL", false, 409],
          ]
        : [
            [2, "FULL", false, 409],
            [2, "BACKWARD", true, 200],
            [3, "FULL", false, 409],
          ],
    );
    expect(e.registrations.at(-1)?.message).toMatch(/incompatib/i);
    // Both versions carried traffic; every record on the topic was decoded by the v1 engines and answered.
    for (const v of e.versions) {
      expect(v.onTopic, `v${v.version}`).toBeGreaterThan(10);
      expect(v, `v${v.version}`).toMatchObject({ encoded: v.onTopic, acked: v.onTopic, decoded: v.onTopic, completed: v.onTopic, undecodable: 0, lost: 0 });
    }
    expect(e.versions.map((v) => v.schemaId)).toEqual([...new Set(e.versions.map((v) => v.schemaId))]);
    expect(e.versions.reduce((n, v) => n + v.onTopic, 0)).toBe(r.counts.acked);
    expect(r.counts).toMatchObject({ lost: 0, unexpected: 0, v3Records: 0, v3Accepted: 0, undecodedByV1: 0, evolutionProblems: 0 });
    expect(readFileSync(join(out, "centrelink-1.log"), "utf8")).not.toContain('"dead-lettered"');
  });
});
