import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { RunResult } from "../../reports/result.ts";
import { meshlab, tempDir } from "./helpers.ts";

/** Signed events on a real SPIRE, Kafka and Apicurio, through the real entry point: forgeries never reach business logic. */
describe("./meshlab run identity-faults (forged signatures and a rogue producer on an mTLS mesh)", () => {
  it("verifies every genuine assessment and response, dead-letters every forged event with its reason, answers none, and denies the rogue producer", async () => {
    const out = join(tempDir("forged"), "out");
    const cli = meshlab(["run", "identity-faults", "--duration", "6s", "--rate", "40", "--out", out]);
    expect(await cli.exited, cli.output()).toBe(0); // the scenario's SLO has no latency check
    const r = JSON.parse(readFileSync(join(out, "result.json"), "utf8")) as RunResult;
    expect(r.status).toBe("completed");
    expect((r.spec as { topology: unknown }).topology).toMatchObject({ security: "mtls" });
    // Every genuine request was signed, verified by an engine, answered with a signed response the tax engine verified.
    expect(r.counts).toMatchObject({ intended: 640, acked: 640, completed: 640, lost: 0, unexpected: 0, errors: 0, forged: 8, forgedMissingFromDlq: 0 });
    const f = r.deadLetters?.forgedSignatures;
    expect(f?.valid).toBe("valid");
    expect(f?.counts).toEqual({ injected: 8, inDlqOnce: 8, duplicatedInDlq: 0, missingFromDlq: 0, writeFailures: 0, otherUndecodable: 0 });
    expect(f?.committedPast).toBe(true);
    // Each forgery was refused at its own step of the verifier.
    const why = { unsigned: /^unsigned/, tampered: /^bad-signature/, "wrong-signer": /^wrong-signer/, "self-signed": /^untrusted-chain/ } as Record<string, RegExp>;
    expect(new Set(f?.pills.map((x) => x.shape))).toEqual(new Set(Object.keys(why)));
    for (const x of f?.pills ?? []) expect(x.error, x.shape).toMatch(why[x.shape] as RegExp);
    // No forged event id is a request of the run (so none could have completed one).
    const ledgerIds = new Set(readFileSync(join(out, "ledger.ndjson"), "utf8").trim().split("\n").map((l) => (JSON.parse(l) as { eventId: string }).eventId));
    expect(f?.pills.filter((x) => ledgerIds.has(x.pillId))).toEqual([]);
    const [forged, rogue] = r.faults ?? [];
    expect([forged?.kind, forged?.outcome, forged?.details?.written]).toEqual(["forged-signature", "healed", 8]);
    // The rogue producer held a valid SVID, just not one allowed to write assessments: every write was denied.
    expect(rogue).toMatchObject({ kind: "rogue-workload", outcome: "healed", details: { identity: "centrelink-engine", attempts: 8, denied: 8, accepted: 0, otherFailures: 0 } });
    expect(readFileSync(join(out, "summary.md"), "utf8")).toContain("forged events in the DLQ (reason signature)");
  });
});
