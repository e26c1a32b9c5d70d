import { describe, expect, it } from "vitest";
import type { Counts } from "../../reports/checker.ts";
import type { RunResult } from "../../reports/result.ts";
import { reconciliationFigures } from "../../reports/reconciliation.ts";
import { checkEvolution } from "../../reports/schema-evolution.ts";
import { renderSummary } from "../../reports/summary.ts";

const counts = (over: Partial<Counts> = {}): Counts => ({
  intended: 1500,
  sent: 1498,
  acked: 1497,
  completed: 1494,
  lost: 3,
  duplicated: 0,
  businessDuplicates: 0,
  errors: 1,
  unexpected: 0,
  inFlight: 0,
  ...over,
});

function result(over: Partial<RunResult> = {}): RunResult {
  return {
    resultFormat: 1,
    scenario: "broker-crash",
    status: "completed",
    spec: {},
    startedAt: "2026-01-01T00:00:00.000Z",
    durationMs: 45_250,
    trafficStartMs: 12_300,
    counts: counts(),
    latencyMs: {
      clearance: { count: 1494, p50: 12.375, p95: 250.5, p99: 412.8, p999: 900.1, max: 1234.5 },
      produceAck: { count: 1497, p50: 1.5, p95: 3.25, p99: 7.125, p999: 9, max: 11 },
    },
    slo: {
      passed: false,
      checks: [
        { name: "latencyMs.clearance.p95 <= 300", limit: 300, actual: 250.5, passed: true },
        { name: "latencyMs.clearance.p99 <= 300", limit: 300, actual: 412.8, passed: false },
        { name: "counts.lost <= 0", limit: 0, actual: 3, passed: false },
      ],
    },
    checker: {
      valid: "invalid",
      evidence: {
        lost: ["ev-lost-1", "ev-lost-2", "ev-lost-3"],
        duplicated: [],
        businessDuplicates: [],
        errors: [{ eventId: "ev-err-1", error: "Local: Message timed out" }],
        unexpected: [],
        outOfOrder: [],
      },
      outOfOrderCount: 0,
    },
    versions: {},
    machine: { hostname: "h", cpus: 2, cpuModel: "cpu", memoryGiB: 4, kernel: "k", node: "v26" },
    files: { hgrm: [], hlog: [], ledger: "ledger.jsonl", logs: [] },
    ...over,
  };
}

const lineStarting = (text: string, prefix: string): string => {
  const line = text.split("\n").find((l) => l.trimStart().startsWith(prefix));
  if (line === undefined) throw new Error(`no line starting ${prefix} in\n${text}`);
  return line;
};

describe("renderSummary", () => {
  const text = renderSummary(result(), "runs/x/result.json");

  it("opens with the scenario, status, duration, when traffic started and how the mesh was secured", () => {
    expect(text.split("\n")[0]).toBe("scenario broker-crash: completed, 45.3 s (traffic from 12.3 s), plaintext (no TLS, no ACLs, unsigned events)");
    expect(renderSummary(result({ spec: { topology: { security: "mtls" } } }), "r.json").split("\n")[0]).toMatch(/, mTLS \(SPIRE SVIDs, ACLs by SPIFFE ID, signed events\)$/);
  });

  it("names every crashed process with its time, exit and the last line of its log, and nothing when none crashed", () => {
    const crashes = [{ name: "centrelink-2", atMs: 49_451, code: 1, signal: null, tail: "      ^\n\nKafkaJSError: Assignment can only be called while connected.\n    at Consumer.assignment (_consumer.js:1948:13)\n}\n\nNode.js v26.10.0\n" }];
    expect(renderSummary(result({ crashes }), "r.json")).toContain(
      "  CRASHED: centrelink-2 exited by itself (code 1) at +49.5 s: KafkaJSError: Assignment can only be called while connected.",
    );
    expect(text).not.toContain("CRASHED");
  });

  it("shows every count", () => {
    expect(lineStarting(text, "requests")).toBe(
      "  requests  intended 1500  sent 1498  acked 1497  completed 1494  lost 3  duplicated 0  business duplicates 0  errors 1  unexpected 0",
    );
  });

  it("shows in-flight requests only when there are some", () => {
    expect(text).not.toContain("in flight");
    expect(renderSummary(result({ counts: counts({ inFlight: 4 }) }), "r.json")).toContain("  in flight 4");
  });

  it("lays out a latency row per metric, two decimals below 100 ms and none above", () => {
    expect(lineStarting(text, "clearance").trim().split(/\s+/)).toEqual(["clearance", "1494", "12.38", "251", "413", "900", "1235"]);
    expect(lineStarting(text, "produceAck").trim().split(/\s+/)).toEqual(["produceAck", "1497", "1.50", "3.25", "7.13", "9.00", "11.00"]);
  });

  it("lists the alerts a run raised, and whether any still fires", () => {
    const alerts = [
      { name: "spire-server-unreachable", severity: "critical" as const, subject: "spire-server syd", message: "not ready", firedAtMs: 22_400, resolvedAtMs: 33_000 },
      { name: "svid-rotation-stalled", severity: "warning" as const, subject: "broker in syd", message: "expires in 9 s", firedAtMs: 30_100, resolvedAtMs: null },
    ];
    const t = renderSummary(result({ alerts }), "r.json");
    expect(t).toContain("  alerts: 2 fired, 1 still firing");
    expect(t).toContain("    CRIT +22.4 s spire-server-unreachable on spire-server syd (resolved +33.0 s)");
    expect(t).toContain("    warn +30.1 s svid-rotation-stalled on broker in syd\n");
    expect(text).not.toContain("alerts:");
  });

  it("says how the flow fared near SVID renewals, only when there were some", () => {
    const w = (requests: number, p50: number, p99: number) => ({ requests, completed: requests, errors: 0, lost: 0, latencyMs: { count: requests, p50, p95: p99, p99, p999: p99, max: p99 } });
    const svidRotation = { renewals: [], clients: [], latency: { renewals: 9, windowMs: 5_000, near: w(120, 48, 310), away: w(680, 31, 95) } };
    const t = renderSummary(result({ svidRotation }), "r.json");
    expect(t).toContain("  SVID rotation: 9 renewals of the flow's SVIDs; near one (-1 s..+5 s): 120 requests, p50 48 ms, p99 310 ms, 0 errors, 0 lost; otherwise: 680 requests, p50 31 ms, p99 95 ms, 0 errors, 0 lost");
    expect(text).not.toContain("SVID rotation");
  });

  it('says "BREACHED" when the SLO failed and marks each failed check with its actual value', () => {
    expect(text).toContain("  SLO BREACHED");
    expect(text).toContain("    ok   latencyMs.clearance.p95 <= 300 (actual 251)");
    expect(text).toContain("    FAIL latencyMs.clearance.p99 <= 300 (actual 413)");
    expect(text).toContain("    FAIL counts.lost <= 0 (actual 3.00)");
  });

  it('says "passed" when the SLO held, and "n/a" for a check with no data', () => {
    const ok = renderSummary(
      result({ slo: { passed: true, checks: [{ name: "latencyMs.clearance.p99 <= 300", limit: 300, actual: null, passed: true }] } }),
      "r.json",
    );
    expect(ok).toContain("  SLO passed");
    expect(ok).not.toContain("BREACHED");
    expect(ok).toContain("(actual n/a)");
  });

  it("names the lost event ids and the first error", () => {
    expect(text).toContain("  lost event ids: ev-lost-1, ev-lost-2, ev-lost-3");
    expect(text).toContain("  first error: ev-err-1: Local: Message timed out");
  });

  it("names at most five lost ids and then gives the total", () => {
    const lost = Array.from({ length: 100 }, (_, i) => `ev-${i}`);
    const r = result({ counts: counts({ lost: 150 }) });
    r.checker.evidence.lost = lost;
    const t = renderSummary(r, "r.json");
    expect(lineStarting(t, "lost event ids")).toBe("  lost event ids: ev-0, ev-1, ev-2, ev-3, ev-4 ... (150 in all)");
  });

  it("shows duplicates with their multiplicity and order inversions when there are any", () => {
    const r = result({ counts: counts({ lost: 0, duplicated: 2 }) });
    r.checker = {
      valid: "invalid",
      evidence: { lost: [], duplicated: [{ eventId: "d1", times: 2 }, { eventId: "d2", times: 3 }], businessDuplicates: [], errors: [], unexpected: [], outOfOrder: [] },
      outOfOrderCount: 4,
    };
    const t = renderSummary(r, "r.json");
    expect(t).toContain("  duplicated event ids: d1 x2, d2 x3");
    expect(t).toContain("  per-key order: 4 inversion(s)");
    expect(t).not.toContain("lost event ids");
    expect(t).not.toContain("first error");
  });

  it("omits the traffic start when traffic never started, and shows the run's error", () => {
    const t = renderSummary(
      result({ status: "failed", trafficStartMs: null, error: { message: "did not start within 60 s", component: "kafka syd-1" } }),
      "r.json",
    );
    expect(t.split("\n")[0]).toBe("scenario broker-crash: failed, 45.3 s, plaintext (no TLS, no ACLs, unsigned events)");
    expect(t).toContain("  error: kafka syd-1: did not start within 60 s");
  });

  it("shows the consumer-timeout row's decisions, reconciliation and every discrepancy's event id, from the result alone", () => {
    const recon = reconciliationFigures(
      [
        { eventId: "p1", seq: 1, key: "k", intendedUs: 0, sentUs: 0, ackedUs: 1, completedUs: [400_000], decision: "provisional", decidedUs: 100_000, provisionalOutcome: "CLEARED", discrepancy: true },
        { eventId: "f1", seq: 2, key: "k", intendedUs: 0, sentUs: 0, ackedUs: 1, completedUs: [40_000], decision: "final", decidedUs: 40_000 },
      ],
      100,
    ).result;
    const t = renderSummary(result({ reconciliation: { ...recon, retryEvents: { topic: "t.retry", sent: 1, acked: 1, failed: 0 } } }), "r.json");
    expect(t).toContain("  decisions past the budget:");
    expect(t).toContain("    decisions: 2: final 1 (of which after the budget 0), provisional 1, pending (cold cache) 0");
    expect(lineStarting(t, "discrepancies")).toBe("    discrepancies: 1 (50.00 % of decisions, 500000.0 ppm): p1");
  });

  it("shows the schema-evolution table when the scenario recorded one", () => {
    const { result: evolution } = checkEvolution({
      encoding: "avro",
      subject: "t-value",
      compatibility: "FULL",
      accepted: [{ version: 1, schemaId: 1 }],
      registrations: [{ version: 3, compatibility: "FULL", change: "a type changed", atMs: 9_000, accepted: false, status: 409, message: "Incompatible" }],
      mustRefuse: [3],
      registryVersions: [1],
      entries: [],
      topic: [],
      deliveries: [],
    });
    const t = renderSummary(result({ scenarioResult: { schemaEvolution: evolution } }), "r.json");
    expect(t).toContain("  schema evolution:");
    expect(t).toContain("    v3 offered under FULL at +9.0 s: REFUSED (HTTP 409): a type changed; registry: Incompatible");
  });

  it("ends with the path of the result file", () => {
    expect(text.split("\n").at(-1)).toBe("  result: runs/x/result.json");
  });
});
