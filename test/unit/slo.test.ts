import { describe, expect, it } from "vitest";
import { BadInputError } from "../../lab/errors.ts";
import type { Counts } from "../../reports/checker.ts";
import type { LatencySummary } from "../../reports/hdr.ts";
import { DEFAULT_SLO, evaluateSlo, parseSlo, validateSlo } from "../../reports/slo.ts";

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

describe("k6 threshold syntax (parseSlo)", () => {
  const parse = (raw: unknown) => parseSlo(raw, LATENCY_METRICS, COUNT_NAMES);
  const problemsOf = (raw: unknown): BadInputError => {
    try {
      parse(raw);
    } catch (e) {
      expect(e).toBeInstanceOf(BadInputError);
      return e as BadInputError;
    }
    throw new Error("parsed without a problem");
  };

  it("maps thresholds onto the existing checks: p(95)<300 is latencyMs.clearance.p95 < 300, count==0 is counts.lost <= 0", () => {
    const checks = parse({ thresholds: { clearance: ["p(95)<300", "p(99) <= 300", "med<50", "max<2000"], "counts.lost": ["count==0"], produceAck: ["p(99.9)<1000"] } });
    expect(checks).toEqual([
      { metric: "latencyMs.clearance.p95", max: 300, strict: true },
      { metric: "latencyMs.clearance.p99", max: 300 },
      { metric: "latencyMs.clearance.p50", max: 50, strict: true },
      { metric: "latencyMs.clearance.max", max: 2000, strict: true },
      { metric: "counts.lost", max: 0 },
      { metric: "latencyMs.produceAck.p999", max: 1000, strict: true },
    ]);
  });

  it("evaluates < strictly and names it so in the result: 300 ms fails p(95)<300 and passes p(99)<=300", () => {
    const checks = parse({ thresholds: { clearance: ["p(95)<300", "p(99)<=300"], "counts.lost": ["count==0"] } });
    const r = evaluateSlo(checks, figures({ p95: 300, p99: 300 }));
    expect(r.checks).toEqual([
      { name: "latencyMs.clearance.p95 < 300", limit: 300, actual: 300, passed: false },
      { name: "latencyMs.clearance.p99 <= 300", limit: 300, actual: 300, passed: true },
      { name: "counts.lost <= 0", limit: 0, actual: 0, passed: true },
    ]);
    expect(evaluateSlo(checks, figures({ p95: 299.9, p99: 300 })).passed).toBe(true);
  });

  it("takes today's list unchanged, and both forms side by side", () => {
    expect(parse(DEFAULT_SLO)).toBe(DEFAULT_SLO);
    expect(parse({ checks: [{ metric: "counts.errors", max: 0 }], thresholds: { clearance: ["p(99)<300"] } })).toEqual([
      { metric: "counts.errors", max: 0 },
      { metric: "latencyMs.clearance.p99", max: 300, strict: true },
    ]);
  });

  it("reports every malformed threshold at once, each with its path and a hint", () => {
    const err = problemsOf({
      thresholds: {
        clearance: ["p(97)<300", "p(95)>300", "p95<300", "p(99)<300ms", { threshold: "p(99)<300", abortOnFail: true }, "avg<100", "p(99)==300"],
        "counts.lost": ["count>=0", "rate<0.01", "count==0"],
        "counts.vanished": ["count==0"],
        registry: ["p(99)<300"],
        produceAck: "p(99)<300",
      },
      extra: true,
    });
    expect(err.problems).toEqual([
      "slo.extra: unknown key (expected thresholds, checks)",
      'slo.thresholds.clearance[0]: "p(97)<300": "p(97)" is not recorded per run; use p(50), med, p(95), p(99), p(99.9), max',
      'slo.thresholds.clearance[1]: "p(95)>300": an SLO check is an upper limit (the figure must not exceed it); use < or <=',
      'slo.thresholds.clearance[2]: "p95<300": "p95" is not recorded per run; use p(50), med, p(95), p(99), p(99.9), max',
      'slo.thresholds.clearance[3]: "p(99)<300ms": "300ms" is not a number >= 0 (milliseconds)',
      'slo.thresholds.clearance[4]: {"threshold":"p(99)<300","abortOnFail":true} is not an expression string (k6\'s object form with abortOnFail is not supported)',
      'slo.thresholds.clearance[5]: "avg<100": "avg" is not recorded per run; use p(50), med, p(95), p(99), p(99.9), max',
      'slo.thresholds.clearance[6]: "p(99)==300": == is only taken as count==0 (a count is never below 0); use < or <=',
      'slo.thresholds.counts.lost[0]: "count>=0": an SLO check is an upper limit (the figure must not exceed it); use < or <=',
      'slo.thresholds.counts.lost[1]: "rate<0.01": a count takes "count", not "rate"',
      expect.stringMatching(/^slo\.thresholds\.counts\.vanished: unknown metric "counts\.vanished" \(latency: clearance, produceAck; counts: counts\.intended, /),
      expect.stringMatching(/^slo\.thresholds\.registry: unknown metric "registry"/),
      'slo.thresholds.produceAck: expected a list of expressions, e.g. ["p(95)<300"]',
    ]);
    expect(err.hint).toContain('thresholds: { "<clearance|produceAck>": ["p(95)<300"');
  });

  it("refuses an SLO that is neither form, and an empty one", () => {
    expect(problemsOf("p(95)<300").problems[0]).toMatch(/^slo: expected a list of checks or \{ "thresholds": \{\.\.\.\} \}/);
    expect(problemsOf({ thresholds: { clearance: "nope" } }).problems).toEqual(['slo.thresholds.clearance: expected a list of expressions, e.g. ["p(95)<300"]']);
    expect(problemsOf({}).problems).toEqual(["slo: no thresholds and no checks (leave slo out for the default)"]);
    expect(problemsOf({ checks: [{ metric: "counts.nope", max: 0 }] }).problems).toEqual(['slo.checks[0].metric: "counts.nope" is not a result metric']);
  });
});
