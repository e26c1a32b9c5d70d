import { describe, expect, it } from "vitest";
import {
  AssessmentFactory,
  childTraceparent,
  completeTfn,
  DebtRegistry,
  incomeTaxCents,
  isValidTfn,
  newFaker,
  population,
  type Taxpayer,
} from "../../generators/domain.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const TRACEPARENT = /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/;

describe("TFN check digits", () => {
  it("accepts 123456782 (weighted sum 1,4,3,7,5,8,6,9,10 is 253 = 23 x 11)", () => {
    expect(isValidTfn("123456782")).toBe(true);
  });

  it("rejects the same number with any single digit changed", () => {
    const tfn = "123456782";
    for (let pos = 0; pos < 9; pos++)
      for (let d = 0; d <= 9; d++) {
        if (String(d) === tfn[pos]) continue;
        const changed = `${tfn.slice(0, pos)}${d}${tfn.slice(pos + 1)}`;
        expect(isValidTfn(changed), changed).toBe(false);
      }
  });

  it("rejects anything that is not exactly 9 digits", () => {
    for (const bad of ["", "12345678", "1234567820", "12345678a", " 123456782", "123 456 782"]) expect(isValidTfn(bad), bad).toBe(false);
  });

  it("completes 8 digits to a valid TFN, or returns undefined when no 9th digit works", () => {
    expect(completeTfn("12345678")).toBe("123456782");
    let completed = 0;
    let impossible = 0;
    for (let n = 10_000_000; n < 10_000_000 + 2000; n++) {
      const first8 = String(n);
      const tfn = completeTfn(first8);
      if (tfn === undefined) {
        impossible++;
        // No digit makes it valid.
        for (let d = 0; d <= 9; d++) expect(isValidTfn(`${first8}${d}`)).toBe(false);
        continue;
      }
      completed++;
      expect(tfn.startsWith(first8)).toBe(true);
      expect(tfn).toHaveLength(9);
      expect(isValidTfn(tfn), tfn).toBe(true);
    }
    // One residue in 11 has no check digit.
    expect(impossible).toBeGreaterThan(100);
    expect(completed).toBeGreaterThan(1700);
  });
});

describe("population", () => {
  it("is the same for the same seed", () => {
    expect(population(7, 50)).toEqual(population(7, 50));
  });

  it("differs between seeds", () => {
    const a = population(1, 50).map((p) => p.tfn);
    const b = population(2, 50).map((p) => p.tfn);
    expect(a).not.toEqual(b);
  });

  it("holds n taxpayers with unique, valid TFNs, a name and a 4-digit postcode", () => {
    const people = population(42, 2000);
    expect(people).toHaveLength(2000);
    expect(new Set(people.map((p) => p.tfn)).size).toBe(2000);
    for (const p of people) {
      expect(isValidTfn(p.tfn), p.tfn).toBe(true);
      expect(p.tfn[0]).not.toBe("0");
      expect(p.name.length).toBeGreaterThan(0);
      expect(p.postcode).toMatch(/^\d{4}$/);
    }
  });

  it("is a prefix of a larger population of the same seed", () => {
    expect(population(9, 20)).toEqual(population(9, 40).slice(0, 20));
  });
});

describe("incomeTaxCents (2025-26 resident rates)", () => {
  it.each([
    [0, 0],
    [18_200, 0],
    [18_201, 16],
    [45_000, 428_800],
    [135_000, 3_128_800],
    [190_000, 5_163_800],
    [200_000, 5_613_800],
  ])("taxes $%d at %d cents", (dollars, cents) => {
    expect(incomeTaxCents(dollars)).toBe(cents);
  });

  it("is continuous at every bracket edge (one dollar more costs one marginal rate)", () => {
    expect(incomeTaxCents(45_001) - incomeTaxCents(45_000)).toBe(30);
    expect(incomeTaxCents(135_001) - incomeTaxCents(135_000)).toBe(37);
    expect(incomeTaxCents(190_001) - incomeTaxCents(190_000)).toBe(45);
  });
});

describe("AssessmentFactory", () => {
  const people: Taxpayer[] = population(42, 200);

  it("is deterministic for a seed", () => {
    const a = new AssessmentFactory(42, people);
    const b = new AssessmentFactory(42, people);
    const first = Array.from({ length: 5 }, () => a.next(1000));
    const second = Array.from({ length: 5 }, () => b.next(1000));
    expect(first.map((x) => x.eventId)).toEqual(second.map((x) => x.eventId));
    expect(first).toEqual(second);
  });

  it("differs between seeds", () => {
    const a = new AssessmentFactory(1, people).next(0);
    const b = new AssessmentFactory(2, people).next(0);
    expect(a.eventId).not.toBe(b.eventId);
  });

  it("makes consistent assessments for members of the population", () => {
    const f = new AssessmentFactory(42, people);
    const byTfn = new Map(people.map((p) => [p.tfn, p]));
    const ids = new Set<string>();
    for (let i = 0; i < 300; i++) {
      const a = f.next(123_456);
      expect(a.eventId).toMatch(UUID);
      ids.add(a.eventId);
      const who = byTfn.get(a.tfn);
      expect(who, a.tfn).toBeDefined();
      expect(a.taxpayerName).toBe(who?.name);
      expect(a.postcode).toBe(who?.postcode);
      expect(a.assessmentYear).toBe("2025-26");
      expect(a.issuedAt).toBe(123_456);
      expect(a.taxableIncomeCents % 100).toBe(0);
      expect(a.taxPayableCents).toBe(incomeTaxCents(a.taxableIncomeCents / 100));
      expect(a.balanceCents).toBe(a.paygWithheldCents - a.taxPayableCents - a.medicareLevyCents);
      expect(["MYTAX", "TAX_AGENT", "PAPER"]).toContain(a.lodgementChannel);
      // Incomes are drawn between e^9.2 (~$9,900) and e^12.6 (~$296,559).
      expect(a.taxableIncomeCents).toBeGreaterThanOrEqual(9_897 * 100);
      expect(a.taxableIncomeCents).toBeLessThanOrEqual(296_559 * 100);
    }
    expect(ids.size).toBe(300);
  });

  it("charges the 2% Medicare levy only above the low-income threshold", () => {
    const f = new AssessmentFactory(3, people);
    for (let i = 0; i < 300; i++) {
      const a = f.next(0);
      const dollars = a.taxableIncomeCents / 100;
      expect(a.medicareLevyCents).toBe(dollars > 27_222 ? dollars * 2 : 0);
    }
  });

  it("uses the given assessment year", () => {
    expect(new AssessmentFactory(1, people, "2024-25").next(0).assessmentYear).toBe("2024-25");
  });

  it("makes sampled W3C traceparents, deterministic for a seed", () => {
    const f = new AssessmentFactory(5, people);
    const t = f.traceparent();
    expect(t).toMatch(TRACEPARENT);
    expect(new AssessmentFactory(5, people).traceparent()).toBe(t);
    expect(f.traceparent()).not.toBe(t);
  });
});

describe("childTraceparent", () => {
  it("keeps the trace id and flags and draws a new span id", () => {
    const parent = new AssessmentFactory(5, population(5, 5)).traceparent();
    const child = childTraceparent(parent, newFaker(9));
    expect(child).toMatch(TRACEPARENT);
    const [, traceId, spanId] = parent.split("-");
    const [, childTrace, childSpan] = (child ?? "").split("-");
    expect(childTrace).toBe(traceId);
    expect(childSpan).not.toBe(spanId);
  });

  it("keeps a not-sampled flag", () => {
    const parent = `00-${"a".repeat(32)}-${"b".repeat(16)}-00`;
    expect(childTraceparent(parent, newFaker(1))).toMatch(new RegExp(`^00-${"a".repeat(32)}-[0-9a-f]{16}-00$`));
  });

  it("returns undefined for a missing or malformed parent", () => {
    const f = newFaker(1);
    expect(childTraceparent(undefined, f)).toBeUndefined();
    expect(childTraceparent("", f)).toBeUndefined();
    expect(childTraceparent("00-abc-def-01", f)).toBeUndefined();
    expect(childTraceparent(`01-${"a".repeat(32)}-${"b".repeat(16)}-01`, f)).toBeUndefined();
    expect(childTraceparent(`00-${"A".repeat(32)}-${"b".repeat(16)}-01`, f)).toBeUndefined();
  });
});

describe("DebtRegistry", () => {
  const people = population(42, 10_000);

  it("gives about 8% of the population a debt (between 6% and 10%)", () => {
    const reg = new DebtRegistry(42, people);
    expect(reg.debtors).toBeGreaterThanOrEqual(600);
    expect(reg.debtors).toBeLessThanOrEqual(1000);
    expect(people.filter((p) => reg.debtOf(p.tfn) > 0)).toHaveLength(reg.debtors);
  });

  it("is deterministic for a seed", () => {
    const a = new DebtRegistry(42, people);
    const b = new DebtRegistry(42, people);
    expect(people.map((p) => a.debtOf(p.tfn))).toEqual(people.map((p) => b.debtOf(p.tfn)));
    const c = new DebtRegistry(43, people);
    expect(people.map((p) => a.debtOf(p.tfn))).not.toEqual(people.map((p) => c.debtOf(p.tfn)));
  });

  it("holds whole-dollar debts between $50 and $25,000, and 0 for everyone else", () => {
    const reg = new DebtRegistry(42, people);
    for (const p of people) {
      const d = reg.debtOf(p.tfn);
      if (d === 0) continue;
      expect(d % 100).toBe(0);
      expect(d).toBeGreaterThanOrEqual(5_000);
      expect(d).toBeLessThanOrEqual(2_500_000);
    }
    expect(reg.debtOf("123456782")).toBe(0);
  });

  it("follows the debtor share", () => {
    expect(new DebtRegistry(1, people, 0).debtors).toBe(0);
    expect(new DebtRegistry(1, people, 1).debtors).toBe(people.length);
  });
});
