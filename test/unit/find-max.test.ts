import { describe, expect, it } from "vitest";
import { backlogAt, type FindMaxOptions, judgeStep, nextRate, searchState, type StepFigures } from "../../reports/find-max.ts";

const opts: FindMaxOptions = { p99Ms: 300, startRate: 50, factor: 2, tolerance: 0.1, maxSteps: 12 };

/** A recorded step: held unless told otherwise. */
const step = (rate: number, o: Partial<StepFigures> = {}): StepFigures => ({ rate, intended: rate * 20, lost: 0, p99Ms: 40, backlogStart: 5, backlogEnd: 8, heldMs: 20_000, ...o });

/** Runs the search against a mesh that holds every rate up to `capacity` (a recorded outcome per rate). */
function search(capacity: number, o: FindMaxOptions = opts): StepFigures[] {
  const steps: StepFigures[] = [];
  for (let r = nextRate(steps, o); r !== undefined; r = nextRate(steps, o)) steps.push(r <= capacity ? step(r) : step(r, { p99Ms: 2_000 }));
  return steps;
}

describe("judgeStep", () => {
  it("holds a step with nothing lost, p99 within the SLO and a steady backlog", () => {
    expect(judgeStep(step(100), opts)).toEqual({ held: true, reasons: [] });
    expect(judgeStep(step(100, { p99Ms: 300 }), opts).held).toBe(true);
  });

  it("names every reason a step was not held", () => {
    const v = judgeStep(step(100, { lost: 2, p99Ms: 301, backlogStart: 10, backlogEnd: 400 }), opts);
    expect(v.held).toBe(false);
    expect(v.reasons).toEqual(["2 lost", "clearance p99 301 ms above the SLO's 300 ms", "backlog grew by 390 (from 10 to 400; more than 100, 1 s of the rate)"]);
  });

  it("lets the backlog grow by up to the allowed seconds of the rate", () => {
    expect(judgeStep(step(100, { backlogStart: 0, backlogEnd: 100 }), opts).held).toBe(true);
    expect(judgeStep(step(100, { backlogStart: 0, backlogEnd: 101 }), opts).held).toBe(false);
    expect(judgeStep(step(100, { backlogStart: 0, backlogEnd: 250 }), { ...opts, backlogSeconds: 3 }).held).toBe(true);
  });

  it("does not hold a step whose warm-up never settled", () => {
    const v = judgeStep(step(100, { settled: false, warmupMs: 20_000, intended: 0, backlogEnd: 900, p99Ms: 0 }), opts);
    expect(v.reasons).toEqual(["the warm-up did not settle within 20 s (backlog 900)"]);
    expect(v.held).toBe(false);
  });

  it("does not hold a step with no requests or no p99", () => {
    expect(judgeStep(step(100, { intended: 0 }), opts).reasons).toContain("no request was intended");
    expect(judgeStep(step(100, { p99Ms: Number.NaN }), opts).held).toBe(false);
  });
});

describe("nextRate", () => {
  it("doubles from the start rate until a step is not held, then bisects to within the tolerance", () => {
    const steps = search(520);
    // 800 and 600 fail, 500 holds, 550 fails; (550 - 500) / 500 is within the 10 % tolerance.
    expect(steps.map((s) => s.rate)).toEqual([50, 100, 200, 400, 800, 600, 500, 550]);
    const s = searchState(steps, opts);
    expect([s.held, s.notHeld]).toEqual([500, 550]);
  });

  it("finds the start rate's half when even the first step is not held", () => {
    const steps = search(30);
    expect(steps.map((s) => s.rate)).toEqual([50, 25, 38, 32, 29, 31]);
    expect(searchState(steps, opts).held).toBe(29);
  });

  it("stops at the ceiling (the generator's own capacity) when every step up to it holds", () => {
    const steps = search(10_000, { ...opts, ceiling: 300 });
    expect(steps.map((s) => s.rate)).toEqual([50, 100, 200, 300]);
    const s = searchState(steps, opts);
    expect([s.held, s.notHeld]).toEqual([300, undefined]);
  });

  it("stops after maxSteps whatever the state", () => {
    expect(search(1e9, { ...opts, maxSteps: 3 }).map((s) => s.rate)).toEqual([50, 100, 200]);
  });

  it("gives up below one request a second", () => {
    expect(search(0).at(-1)?.rate).toBe(1);
  });
});

describe("searchState", () => {
  it("bounds the answer by the lowest rate not held, even when a higher one held by chance", () => {
    const s = searchState([step(100), step(200, { lost: 1 }), step(400), step(150)], opts);
    expect([s.held, s.notHeld]).toEqual([150, 200]);
  });
});

describe("backlogAt", () => {
  it("counts requests intended by then and not yet completed", () => {
    const entries = [
      { intendedUs: 0, completedUs: [500] },
      { intendedUs: 100, completedUs: [] },
      { intendedUs: 200, completedUs: [150_000] },
      { intendedUs: 900, completedUs: [950] },
    ];
    expect([backlogAt(entries, 50), backlogAt(entries, 600), backlogAt(entries, 1_000)]).toEqual([1, 2, 2]);
  });
});

describe("find-max's table and chart", () => {
  const r = {
    scenario: "clearance-smoke",
    startedAt: "2026-12-07T15:15:00Z",
    settings: { stepMs: 10_000, warmupMs: 5_000, startRate: 50, maxSteps: 6, capacityRecords: 50_000, p99Ms: 300, factor: 2, tolerance: 0.1 },
    steps: [
      { ...step(50, { intended: 0, p99Ms: 0, settled: false, warmupMs: 20_000, backlogEnd: 65 }), held: false, reasons: ["the warm-up did not settle within 20 s (backlog 65)"] },
      { ...step(25, { p99Ms: 475.6 }), held: false, reasons: ["clearance p99 475.6 ms above the SLO's 300 ms"] },
      { ...step(12, { p99Ms: 173.4, warmupMs: 5_000, settled: true }), held: true, reasons: [] },
    ],
    maxHeldRate: 12,
    heldForMs: 10_000,
    produceCapacity: 3981,
    ratioToCapacity: 0.003,
    loadAverage: { before: [45.8, 50.3, 46.5], after: [46.3, 43.9, 44.7] },
    machine: {} as never,
    status: "completed" as const,
  };

  it("tabulates every step with its verdict, and states the answer and the capacity", async () => {
    const { findMaxMarkdown } = await import("../../lab/find-max.ts");
    const md = findMaxMarkdown(r);
    expect(md).toContain("**Highest rate held: 12/s** for 10 s");
    expect(md).toContain("Kafka ProducerPerformance on the same mesh: 3981 records/s; held / capacity: 0.003 (goal >= 0.8).");
    expect(md).toContain("| 1 | 50 | 20.0 | 0 | 0 | 0 | 5 -> 65 | not held: the warm-up did not settle within 20 s (backlog 65) |");
    expect(md).toContain("| 3 | 12 | 5.0 | 240 | 173.4 | 0 | 5 -> 8 | held |");
  });

  it("draws measured steps as points (held ones filled) and a step that measured nothing as a cross", async () => {
    const { findMaxHtml } = await import("../../lab/find-max.ts");
    const html = findMaxHtml(r);
    expect(html.match(/<circle /g)).toHaveLength(2);
    expect(html.match(/fill="#2a7"/g)).toHaveLength(1);
    expect(html).toContain("✕<title>50/s: the warm-up did not settle within 20 s (backlog 65)</title>");
    expect(html).toContain("SLO p99 300 ms");
  });
});
