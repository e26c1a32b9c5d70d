import { describe, expect, it } from "vitest";
import { BadInputError } from "../../lab/errors.ts";
import type { Counts } from "../../reports/checker.ts";
import type { LatencySummary } from "../../reports/hdr.ts";
import { DEFAULT_SLO, evaluateSlo, validateSlo } from "../../reports/slo.ts";

const counts = (over: Partial<Counts> = {}): Counts => ({
  intended: 100,
  sent: 100,
  acked: 100,
  completed: 100,
  lost: 0,
  duplicated: 0,
  businessDuplicates: 0,
  errors: 0,
  unexpected: 0,
  inFlight: 0,
  ...over,
});

const latency = (over: Partial<LatencySummary> = {}): LatencySummary => ({ count: 100, p50: 10, p95: 100, p99: 200, p999: 400, max: 500, ...over });

const figures = (clearance: Partial<LatencySummary> = {}, c: Partial<Counts> = {}) => ({
  latencyMs: { clearance: latency(clearance), produceAck: latency() },
  counts: counts(c),
});

const LATENCY_METRICS = ["clearance", "produceAck"];
const COUNT_NAMES = ["intended", "sent", "acked", "completed", "lost", "duplicated", "errors", "unexpected", "inFlight"];

describe("evaluateSlo with DEFAULT_SLO", () => {
  it("checks clearance p95 and p99 against 300 ms and lost against 0", () => {
    expect(DEFAULT_SLO).toEqual([
      { metric: "latencyMs.clearance.p95", max: 300 },
      { metric: "latencyMs.clearance.p99", max: 300 },
      { metric: "counts.lost", max: 0 },
    ]);
  });

  it("passes when p95 and p99 are exactly 300 ms and nothing was lost", () => {
    const r = evaluateSlo(DEFAULT_SLO, figures({ p95: 300, p99: 300 }));
    expect(r.passed).toBe(true);
    expect(r.checks).toEqual([
      { name: "latencyMs.clearance.p95 <= 300", limit: 300, actual: 300, passed: true },
      { name: "latencyMs.clearance.p99 <= 300", limit: 300, actual: 300, passed: true },
      { name: "counts.lost <= 0", limit: 0, actual: 0, passed: true },
    ]);
  });

  it("fails when p99 is 300.5 ms, naming the failed check only", () => {
    const r = evaluateSlo(DEFAULT_SLO, figures({ p95: 250, p99: 300.5 }));
    expect(r.passed).toBe(false);
    expect(r.checks.map((c) => [c.name, c.actual, c.passed])).toEqual([
      ["latencyMs.clearance.p95 <= 300", 250, true],
      ["latencyMs.clearance.p99 <= 300", 300.5, false],
      ["counts.lost <= 0", 0, true],
    ]);
  });

  it("fails when a single acknowledged request was lost", () => {
    const r = evaluateSlo(DEFAULT_SLO, figures({}, { lost: 1 }));
    expect(r.passed).toBe(false);
    expect(r.checks[2]).toEqual({ name: "counts.lost <= 0", limit: 0, actual: 1, passed: false });
  });

  it("fails a latency check with no samples: the actual value is null", () => {
    const r = evaluateSlo(DEFAULT_SLO, figures({ count: 0, p95: 0, p99: 0 }));
    expect(r.passed).toBe(false);
    expect(r.checks[0]).toEqual({ name: "latencyMs.clearance.p95 <= 300", limit: 300, actual: null, passed: false });
    expect(r.checks[1]?.actual).toBeNull();
    expect(r.checks[2]?.passed).toBe(true);
  });

  it("fails a check on a metric the figures do not have", () => {
    const r = evaluateSlo([{ metric: "latencyMs.registry.p99", max: 1000 }], figures());
    expect(r.checks[0]).toMatchObject({ actual: null, passed: false });
  });

  it("passes an empty list of checks", () => {
    expect(evaluateSlo([], figures())).toEqual({ passed: true, checks: [] });
  });

  it("evaluates custom checks on any latency field and count", () => {
    const r = evaluateSlo(
      [
        { metric: "latencyMs.produceAck.max", max: 500 },
        { metric: "counts.duplicated", max: 2 },
        { metric: "counts.errors", max: 0 },
      ],
      figures({}, { duplicated: 2, errors: 3 }),
    );
    expect(r.checks.map((c) => [c.actual, c.passed])).toEqual([
      [500, true],
      [2, true],
      [3, false],
    ]);
    expect(r.passed).toBe(false);
  });
});

describe("validateSlo", () => {
  it("accepts the default SLO and every latency field and count name", () => {
    expect(() => validateSlo(DEFAULT_SLO, LATENCY_METRICS, COUNT_NAMES)).not.toThrow();
    const all = [
      ...["count", "p50", "p95", "p99", "p999", "max"].map((f) => ({ metric: `latencyMs.produceAck.${f}`, max: 1 })),
      ...COUNT_NAMES.map((c) => ({ metric: `counts.${c}`, max: 0 })),
    ];
    expect(() => validateSlo(all, LATENCY_METRICS, COUNT_NAMES)).not.toThrow();
  });

  it("lists every bad metric path and non-finite limit in one BadInputError", () => {
    let thrown: unknown;
    try {
      validateSlo(
        [
          { metric: "latencyMs.clearance.p99", max: 300 },
          { metric: "latencyMs.clearance.p42", max: 300 },
          { metric: "latencyMs.registry.p99", max: 300 },
          { metric: "latencyMs.clearance", max: 300 },
          { metric: "latencyMs.clearance.p99.extra", max: 300 },
          { metric: "counts.vanished", max: 0 },
          { metric: "counts.lost.total", max: 0 },
          { metric: "lost", max: 0 },
          { metric: "counts.lost", max: Number.NaN },
        ],
        LATENCY_METRICS,
        COUNT_NAMES,
      );
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(BadInputError);
    const err = thrown as BadInputError;
    expect(err.problems).toEqual([
      'slo[1].metric: "latencyMs.clearance.p42" is not a result metric',
      'slo[2].metric: "latencyMs.registry.p99" is not a result metric',
      'slo[3].metric: "latencyMs.clearance" is not a result metric',
      'slo[4].metric: "latencyMs.clearance.p99.extra" is not a result metric',
      'slo[5].metric: "counts.vanished" is not a result metric',
      'slo[6].metric: "counts.lost.total" is not a result metric',
      'slo[7].metric: "lost" is not a result metric',
      "slo[8].max: must be a number",
    ]);
    expect(err.hint).toContain("latencyMs.<clearance|produceAck>.<p50|p95|p99|p999|max>");
    expect(err.hint).toContain("counts.<intended|");
  });
});
