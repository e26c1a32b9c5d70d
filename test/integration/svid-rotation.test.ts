import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { RunResult } from "../../reports/result.ts";
import { meshlab, tempDir } from "./helpers.ts";

/** `svid-rotated` lines of the Centrelink engines' logs: the engines' own clients made again on new SVIDs. */
function engineRotations(runDir: string): { client: string; kind: string }[] {
  return readdirSync(runDir)
    .filter((f) => f.startsWith("centrelink") && f.endsWith(".log"))
    .flatMap((f) => readFileSync(join(runDir, f), "utf8").split("\n"))
    .filter((l) => l.includes('"event":"svid-rotated"'))
    .map((l) => JSON.parse(l) as { client: string; kind: string });
}

/** SVID rotation under load on real SPIRE, Kafka, Apicurio and Redis, through the real entry point (40 s SVIDs). */
describe("./meshlab run svid-rotation (every SVID rotates at least three times while clearances run)", () => {
  it("rotates brokers' and clients' SVIDs under traffic with no produce error and nothing lost, and says what it did to latency", async () => {
    const out = join(tempDir("svid-rotation"), "out");
    const cli = meshlab(["run", "svid-rotation", "--out", out]);
    const code = await cli.exited;
    const r = JSON.parse(readFileSync(join(out, "result.json"), "utf8")) as RunResult;
    expect(r.status, cli.output()).toBe("completed");
    // The verdict (latency included) is this box's to give; the exit code must agree with it.
    expect(code).toBe(r.slo.passed ? 0 : 1);
    expect(r.counts).toMatchObject({ errors: 0, lost: 0, unexpected: 0, inFlight: 0 });
    expect(r.counts.completed).toBe(r.counts.intended);

    // SPIRE renewed every SVID of the flow at least three times while traffic ran, the brokers' too.
    const rot = r.svidRotation;
    if (!rot) throw new Error("an mTLS run records svidRotation");
    const traffic = r.trafficStartMs ?? 0;
    const renewedUnderLoad = (w: string) => rot.renewals.filter((x) => x.workload === w && x.atMs > traffic).length;
    for (const w of ["broker", "ato-tax-service", "ato-tax-engine", "centrelink-engine", "dedupe-store"]) expect(renewedUnderLoad(w), w).toBeGreaterThanOrEqual(3);
    // The registry's SVID lives 15 min on this spec (svidTtlByWorkload): its KafkaSQL client cannot take a new one.
    expect(renewedUnderLoad("registry")).toBe(0);

    // The flow's clients were made again on each new SVID: the tax service's producer and the tax engine's consumer
    // here, every engine's producer and consumer in its own process.
    const kinds = (xs: { client: string; kind: string }[], re: RegExp, kind: string) => xs.filter((x) => re.test(x.client) && x.kind === kind).length;
    expect(kinds(rot.clients, /^ato-core-tax-service/, "producer")).toBeGreaterThanOrEqual(3);
    expect(kinds(rot.clients, /^ato-tax-engine/, "consumer")).toBeGreaterThanOrEqual(3);
    const engines = engineRotations(out);
    expect(kinds(engines, /-producer$/, "producer")).toBeGreaterThanOrEqual(3 * 3);
    expect(kinds(engines, /^centrelink/, "consumer")).toBeGreaterThanOrEqual(3 * 3);

    // What rotation did to latency: both sides measured, every request on one side or the other.
    expect(rot.latency.renewals).toBeGreaterThanOrEqual(9);
    expect(rot.latency.near.completed).toBeGreaterThan(0);
    expect(rot.latency.away.completed).toBeGreaterThan(0);
    expect(rot.latency.near.errors + rot.latency.away.errors).toBe(0);
    expect(cli.output()).toMatch(/SVID rotation: \d+ renewals/);
  });
});
