import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { RunResult } from "../../reports/result.ts";
import { meshlab, tempDir } from "./helpers.ts";

/** The seed's payload format on real Kafka and Apicurio: Protobuf registered as PROTOBUF, framed with message indexes. */
describe("./meshlab run clearance-protobuf", () => {
  it("completes every clearance in Protobuf and refuses the mismatched payloads with the Protobuf serializer", async () => {
    const out = join(tempDir("protobuf"), "out");
    const cli = meshlab(["run", "clearance-protobuf", "--duration", "4s", "--rate", "40", "--out", out]);
    // Exit 1 is allowed: on a loaded 2-core machine the latency check may fail; the checks below may not.
    expect([0, 1], cli.output()).toContain(await cli.exited);
    const r = JSON.parse(readFileSync(join(out, "result.json"), "utf8")) as RunResult;
    expect(r.status).toBe("completed");
    expect(r.spec).toMatchObject({ workload: { encoding: "protobuf" } });
    // Decoding looks each schema id's type up in the registry: had Apicurio not stored the schemas as PROTOBUF, the
    // engines would have decoded the frames as Avro and failed, and nothing would have completed.
    expect(r.counts.intended).toBeGreaterThan(500);
    expect(r.counts).toMatchObject({ acked: r.counts.intended, completed: r.counts.intended, lost: 0, unexpected: 0, duplicated: 0 });
    const m = r.deadLetters?.schemaMismatch;
    expect(m?.valid).toBe("valid");
    expect(m?.counts.refused).toBe(r.counts.mismatched);
    expect(m?.counts.inDlqOnce).toBe(r.counts.mismatched);
    expect(Object.keys(m?.byKind ?? {}).sort()).toEqual(["missing-field", "unknown-symbol", "wrong-type"]);
    expect(readFileSync(join(out, "syd", "registry", "apicurio.log"), "utf8")).not.toMatch(/ERROR.*(Protobuf|PROTOBUF)/);
  });
});
