import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { picksMismatch } from "../../generators/dlq.ts";
import type { RunResult } from "../../reports/result.ts";
import { meshlab, tempDir } from "./helpers.ts";

/** The dead-letter rows of the seed's failure matrix on real Kafka and Apicurio, through the real entry point. */
describe("./meshlab run dead-letters (schema mismatch and poison pills at once)", () => {
  it("refuses and dead-letters every mismatched payload once, dead-letters every pill by its offset and commits past it, and loses nothing else", async () => {
    const out = join(tempDir("dlq"), "out");
    const cli = meshlab(["run", "dead-letters", "--duration", "6s", "--rate", "40", "--out", out]);
    // Exit 1 is allowed: on a loaded 2-core machine the latency check may fail; the dead-letter checks below may not.
    expect([0, 1], cli.output()).toContain(await cli.exited);
    const r = JSON.parse(readFileSync(join(out, "result.json"), "utf8")) as RunResult;
    expect(r.status).toBe("completed");
    // The producer broke exactly the requests the seed picks, and none of them is a clearance request.
    const expected = Array.from({ length: 640 }, (_, i) => picksMismatch(42, i, 0.02)).filter(Boolean).length;
    expect(expected).toBeGreaterThan(5);
    expect(r.counts.mismatched).toBe(expected);
    expect(r.counts.intended + expected).toBe(640); // (10 s warm-up + 6 s) x 40/s
    expect(r.counts).toMatchObject({ acked: r.counts.intended, completed: r.counts.intended, lost: 0, unexpected: 0, dlq: expected + 8, poisonPills: 8, pillsMissingFromDlq: 0 });
    const m = r.deadLetters?.schemaMismatch;
    expect(m?.valid).toBe("valid");
    expect(m?.counts).toEqual({ mismatched: expected, refused: expected, inDlqOnce: expected, duplicatedInDlq: 0, missingFromDlq: 0, reachedConsumers: 0, unknownInDlq: 0, badHeaders: 0 });
    expect(m?.evidence.located).toHaveLength(expected);
    // Every broken payload's event id is unknown to the ledger: no response to one ever came back.
    const ledgerIds = new Set(readFileSync(join(out, "ledger.ndjson"), "utf8").trim().split("\n").map((l) => (JSON.parse(l) as { eventId: string }).eventId));
    expect(m?.evidence.located.filter((x) => ledgerIds.has(x.eventId))).toEqual([]);
    // Poison pills: the fault wrote 8 onto the assessment topic; each is in the DLQ once, found by its source offset,
    // with the error that refused it, and the Centrelink group committed to the end of every partition.
    const p = r.deadLetters?.poisonPills;
    expect(p?.valid).toBe("valid");
    expect(p?.counts).toEqual({ injected: 8, inDlqOnce: 8, duplicatedInDlq: 0, missingFromDlq: 0, writeFailures: 0, otherUndecodable: 0 });
    expect(p?.committedPast).toBe(true);
    expect(new Set(p?.pills.map((x) => x.shape))).toEqual(new Set(["bad-magic", "unknown-schema-id", "truncated-header", "empty"]));
    expect(p?.pills.every((x) => x.dlqAt.length === 1 && x.error && x.stallMs !== null && x.stallMs >= 0)).toBe(true);
    expect(p?.longestStallMs).toBe(Math.max(...(p?.pills.map((x) => x.stallMs ?? 0) ?? [])));
    const faults = r.faults ?? [];
    expect(faults.map((f) => [f.kind, f.outcome, f.details?.written])).toEqual([["poison-pill", "healed", 8]]);
    for (const name of ["counts.lost <= 0", "counts.dlqViolations <= 0", "counts.mismatchesReachingConsumers <= 0", "counts.pillsMissingFromDlq <= 0"])
      expect(r.slo.checks.find((c) => c.name === name)?.passed, name).toBe(true);
    expect(readFileSync(join(out, "summary.md"), "utf8")).toContain("### Dead letters");
  });
});
