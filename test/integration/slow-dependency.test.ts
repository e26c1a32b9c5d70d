import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { LedgerEntry } from "../../generators/ledger.ts";
import type { RunResult } from "../../reports/result.ts";
import { meshlab, tempDir } from "./helpers.ts";

/** The consumer-timeout row on real Kafka: decisions past the 100 ms budget under a slowed debt lookup, reconciled. */
describe("./meshlab run consumer-timeout-last-outcome", () => {
  it("decides provisionally past the budget while the dependency is slow, publishes a retry event each time, and reconciles every one", async () => {
    const out = join(tempDir("slow-dependency"), "out");
    const cli = meshlab(["run", "consumer-timeout-last-outcome", "--duration", "8s", "--rate", "20", "--out", out]);
    expect(await cli.exited, cli.output()).toBe(0); // SLO: nothing lost, unreconciled or undecided (no latency check)
    const r = JSON.parse(readFileSync(join(out, "result.json"), "utf8")) as RunResult;
    // Injected, and healed (early when the load and drain end inside its 10 s window, as they do at --duration 8s).
    expect(r.faults?.map((f) => f.kind)).toEqual(["slow-dependency"]);
    expect(["healed", "healed-early"]).toContain(r.faults?.[0]?.outcome);
    const c = r.reconciliation;
    if (!c) throw new Error("no reconciliation in result.json");
    const early = c.provisional + c.pending;
    expect(c.provisional).toBeGreaterThan(0);
    expect(c).toMatchObject({ decided: r.counts.acked, reconciled: early, unreconciled: 0, undecided: 0 });
    expect(c.lagMs.count).toBe(early);
    expect(c.retryEvents).toMatchObject({ sent: early, acked: early, failed: 0 });
    expect(r.latencyMs.decision?.count).toBeGreaterThan(0);
    // The discrepancies, checked against the ledger on its own terms: final outcome against the provisional one.
    const ledger = readFileSync(join(out, "ledger.ndjson"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as LedgerEntry);
    const contradicted = ledger.filter((e) => e.decision === "provisional" && e.provisionalOutcome !== e.outcome).map((e) => e.eventId);
    expect(c.discrepancyEventIds.sort()).toEqual(contradicted.sort());
    expect(c.discrepancies).toBe(contradicted.length);
    // The fault took hold in the engines: lookups slower than the base range were made.
    const slow = [1, 2, 3].map((i) => {
      const stopped = readFileSync(join(out, `centrelink-${i}.log`), "utf8").trim().split("\n").filter((l) => l.includes('"event":"stopped"')).at(-1);
      return (JSON.parse(stopped ?? "{}") as { slowLookups?: number }).slowLookups ?? 0;
    });
    expect(slow.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
  });
});
