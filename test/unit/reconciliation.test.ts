import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseFaults } from "../../chaos/spec.ts";
import { DependencyFault, drawLatencyMs, parseRange } from "../../generators/dependency.ts";
import { parseWorkload } from "../../generators/workload.ts";
import { BadInputError } from "../../lab/errors.ts";
import type { LedgerEntry } from "../../generators/ledger.ts";
import { EligibilityCache, Reconciler } from "../../generators/reconciliation.ts";
import { reconciliationFigures, reconciliationRows } from "../../reports/reconciliation.ts";

const ms = (v: number) => v * 1000;

describe("Reconciler: the 100 ms budget as a state machine", () => {
  const reconciler = (mode: "debt-status" | "last-outcome" = "debt-status") => new Reconciler(100, new EligibilityCache(mode));

  it("decides final when the response comes within the budget, and expiring it afterwards does nothing", () => {
    const r = reconciler();
    r.sent("a", "tfn1", 500, 0);
    expect(r.responded("a", "tfn1", "CLEARED", false, ms(40))).toEqual({ decision: { eventId: "a", kind: "final", outcome: "CLEARED", atUs: ms(40) } });
    expect(r.expire("a", ms(100))).toBeUndefined();
    expect(r.open).toBe(0);
  });

  it("does not expire before the deadline (a timer that fires early)", () => {
    const r = reconciler();
    r.sent("a", "tfn1", 500, ms(10));
    expect(r.expire("a", ms(109))).toBeUndefined();
    expect(r.remainingUs("a", ms(109.5))).toBe(500);
    expect(r.expire("a", ms(110))?.kind).toBe("pending");
    expect(r.remainingUs("a", ms(111))).toBeUndefined();
  });

  it("on a cold cache decides pending, and the late response reconciles it without a discrepancy", () => {
    const r = reconciler();
    r.sent("a", "tfn1", 500, 0);
    expect(r.expire("a", ms(100))).toEqual({ eventId: "a", kind: "pending", atUs: ms(100) });
    expect(r.expire("a", ms(150))).toBeUndefined(); // decided once
    expect(r.responded("a", "tfn1", "DEBT_HOLD", true, ms(400)).reconciled).toEqual({ eventId: "a", kind: "pending", final: "DEBT_HOLD", discrepancy: false, lagUs: ms(300) });
  });

  it("debt-status: decides from the known debt and this assessment's balance, as Centrelink would", () => {
    const r = reconciler("debt-status");
    r.sent("earlier", "debtor", -100, 0);
    r.responded("earlier", "debtor", "CLEARED", true, ms(5)); // owed money: cleared, but a debtor
    r.sent("refund", "debtor", 900, ms(1000));
    r.sent("owing", "debtor", -900, ms(1000));
    expect(r.expire("refund", ms(1100))?.outcome).toBe("DEBT_HOLD");
    expect(r.expire("owing", ms(1100))?.outcome).toBe("CLEARED");
    expect(r.responded("refund", "debtor", "DEBT_HOLD", true, ms(1300)).reconciled?.discrepancy).toBe(false);
  });

  it("last-outcome: decides from the taxpayer's last outcome, and counts a discrepancy when the final one differs", () => {
    const r = reconciler("last-outcome");
    r.sent("earlier", "tfn1", -100, 0);
    r.responded("earlier", "tfn1", "CLEARED", true, ms(5));
    r.sent("b", "tfn1", 900, ms(1000));
    r.sent("c", "tfn1", -900, ms(1000));
    expect(r.expire("b", ms(1100))).toEqual({ eventId: "b", kind: "provisional", outcome: "CLEARED", atUs: ms(1100) });
    expect(r.expire("c", ms(1100))?.outcome).toBe("CLEARED");
    // b's final answer contradicts the cache; it also teaches the cache, so c's (same outcome) does not.
    expect(r.responded("b", "tfn1", "DEBT_HOLD", true, ms(1400)).reconciled).toMatchObject({ provisional: "CLEARED", final: "DEBT_HOLD", discrepancy: true, lagUs: ms(300) });
    expect(r.cache.lookup("tfn1", 1)).toBe("DEBT_HOLD");
    expect(r.responded("c", "tfn1", "CLEARED", true, ms(1500)).reconciled?.discrepancy).toBe(false);
  });

  it("ignores a response to a request it does not know (a duplicate) except to learn from it", () => {
    const r = reconciler("last-outcome");
    r.sent("a", "tfn1", 1, 0);
    r.responded("a", "tfn1", "CLEARED", false, ms(1));
    expect(r.responded("a", "tfn1", "DEBT_HOLD", true, ms(2))).toEqual({});
    expect(r.cache.lookup("tfn1", 1)).toBe("DEBT_HOLD");
  });
});

const entry = (n: number, over: Partial<LedgerEntry>): LedgerEntry => ({ eventId: `e${n}`, seq: n, key: "k", intendedUs: 0, sentUs: 0, ackedUs: 1, completedUs: [ms(50)], ...over });

describe("reconciliationFigures: the discrepancy maths", () => {
  const entries = [
    entry(1, { decision: "final", decidedUs: ms(50) }),
    entry(2, { decision: "final", decidedUs: ms(130), completedUs: [ms(130)] }), // answered after the budget, before the timer
    entry(3, { decision: "provisional", decidedUs: ms(100), provisionalOutcome: "CLEARED", discrepancy: true, completedUs: [ms(400)] }),
    entry(4, { decision: "provisional", decidedUs: ms(100), provisionalOutcome: "CLEARED", discrepancy: false, completedUs: [ms(200)] }),
    entry(5, { decision: "pending", decidedUs: ms(100), completedUs: [ms(700)] }),
    entry(6, { decision: "provisional", decidedUs: ms(100), provisionalOutcome: "DEBT_HOLD", completedUs: [] }),
    entry(7, { error: "broker down", ackedUs: undefined, completedUs: [] }), // never sent: no decision expected
  ];

  it("splits decisions by kind, the share past the budget, lag from decision to response, the rate over all decisions", () => {
    const { result, counts } = reconciliationFigures(entries, 100);
    expect(result).toMatchObject({ decided: 6, final: 2, finalLate: 1, provisional: 3, pending: 1, reconciled: 3, unreconciled: 1, discrepancies: 1, undecided: 0 });
    expect(result.provisionalShare).toBeCloseTo(4 / 6);
    expect(result.discrepancyRate).toBeCloseTo(1 / 6);
    expect(result.discrepancyRatePpm).toBeCloseTo(1e6 / 6);
    expect(result.lagMs).toEqual({ count: 3, p50: 300, p95: 600, p99: 600, max: 600 });
    expect(result.discrepancyEventIds).toEqual(["e3"]);
    expect(result.unreconciledEventIds).toEqual(["e6"]);
    expect(counts).toMatchObject({ provisional: 3, pendingDecisions: 1, discrepancies: 1, unreconciled: 1 });
  });

  it("counts an acknowledged request nobody decided, and gives 0 rates (not NaN) when nothing was decided", () => {
    expect(reconciliationFigures([entry(1, {})], 100).counts.undecided).toBe(1);
    const none = reconciliationFigures([], 100).result;
    expect([none.provisionalShare, none.discrepancyRate, none.lagMs.count]).toEqual([0, 0, 0]);
  });

  it("splits decisions past the budget by whether the request was sent while the dependency was slowed", () => {
    const windows = [{ fromUs: ms(0), toUs: ms(1) }]; // entries 1-6 were sent at 0
    const late = [...entries, entry(8, { sentUs: ms(5), decision: "final", decidedUs: ms(50) })];
    expect(reconciliationFigures(late, 100, windows).result.bySlowDependency).toEqual({ during: { decided: 6, pastBudget: 4 }, outside: { decided: 1, pastBudget: 0 } });
    expect(reconciliationFigures(late, 100).result.bySlowDependency).toBeUndefined();
  });

  it("lays out every discrepancy's event id in the report rows", () => {
    expect(reconciliationRows(reconciliationFigures(entries, 100).result).find((r) => r.row === "discrepancies")?.value).toMatch(/^1 .*: e3$/);
  });
});

describe("a dependency's latency as data", () => {
  it("parses ranges in ms or s, and refuses what is not one", () => {
    expect(parseRange("1-5ms")).toEqual({ min: 1, max: 5 });
    expect(parseRange("2ms")).toEqual({ min: 2, max: 2 });
    expect(parseRange("0.15-0.6s")).toEqual({ min: 150, max: 600 });
    expect(parseRange("fast")).toBeUndefined();
    expect(parseRange("5-")).toBeUndefined();
  });

  it("draws from the slow range with its share, else from the base", () => {
    const d = { base: { min: 1, max: 5 }, slow: { share: 0.05, range: { min: 150, max: 600 } } };
    let i = 0;
    const seq = [0.01, 0.5, 0.5, 0.5]; // slow pick then its position; base pick then its position
    const random = () => seq[i++ % seq.length] as number;
    expect(drawLatencyMs(d, random)).toBe(375);
    expect(drawLatencyMs(d, random)).toBe(3);
    const draws = Array.from({ length: 20_000 }, () => drawLatencyMs(d, Math.random));
    const slow = draws.filter((v) => v >= 150).length / draws.length;
    expect(slow).toBeGreaterThan(0.04);
    expect(slow).toBeLessThan(0.06);
    expect(Math.max(...draws)).toBeLessThanOrEqual(600);
  });
});

describe("the slow-dependency fault and the debt lookup in specs", () => {
  const problemsOf = (f: () => unknown): string[] => {
    try {
      f();
    } catch (e) {
      if (e instanceof BadInputError) return [...e.problems];
      throw e;
    }
    return [];
  };

  it("parses the fault's range and share (every lookup by default), and names a bad range with its path and form", () => {
    const [f] = parseFaults([{ kind: "slow-dependency", target: { region: "syd" }, range: "150-600ms", at: "8s", duration: "10s" }]);
    expect(f).toMatchObject({ kind: "slow-dependency", range: { min: 150, max: 600 }, share: 1, at: 8_000, duration: 10_000 });
    expect(problemsOf(() => parseFaults([{ kind: "slow-dependency", target: { region: "syd" }, range: "slow", share: 2, at: 0, duration: "1s" }]))).toEqual([
      'faults[0].range: "slow" is not a latency range; write "1-5ms", "150-600ms" or "2ms"',
      "faults[0].share: 2 is above the maximum 1",
    ]);
  });

  it("reads the debt lookup distribution, the budget and the cache mode, and refuses debtCheckMs beside debtLookup.base", () => {
    const w = parseWorkload({ centrelink: { debtLookup: { base: "1-5ms", slow: { share: 0.05, range: "150-600ms" } } }, ato: { budgetMs: 100, eligibilityCache: "last-outcome" } });
    expect(w.centrelink.debtLookup).toEqual({ base: { min: 1, max: 5 }, slow: { share: 0.05, range: { min: 150, max: 600 } } });
    expect(w.ato).toMatchObject({ budgetMs: 100, eligibilityCache: "last-outcome" });
    expect(w.topics.retry).toBe("au.gov.ato.tax.assessment.v1.retry");
    expect(problemsOf(() => parseWorkload({ centrelink: { debtCheckMs: { min: 1, max: 2 }, debtLookup: { base: "600-150ms" } }, ato: { eligibilityCache: "psychic" } }))).toEqual([
      'workload.centrelink.debtLookup.base: "600-150ms" has its lower bound above its upper bound',
      expect.stringMatching(/^workload\.ato\.eligibilityCache: .*psychic/),
      "workload.centrelink.debtLookup.base: debtCheckMs says the same; give one of them (debtLookup.base is the newer form)",
    ]);
  });
});

describe("DependencyFault: the fault's file as the engines read it", () => {
  it("replaces the slow part of the distribution while the file exists, and only then", () => {
    const file = join(mkdtempSync(join(tmpdir(), "meshlab-dep-")), "fault.json");
    const normal = { base: { min: 1, max: 5 } };
    const fault = new DependencyFault(file);
    expect(fault.current(normal)).toBe(normal);
    DependencyFault.inject(file, { slow: { share: 0.5, range: { min: 150, max: 600 } } });
    expect(fault.current(normal)).toEqual({ base: { min: 1, max: 5 }, slow: { share: 0.5, range: { min: 150, max: 600 } } });
    DependencyFault.heal(file);
    expect(fault.current(normal)).toBe(normal);
  });
});
