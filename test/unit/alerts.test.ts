import { describe, expect, it } from "vitest";
import { AlertBook, alertRow } from "../../lab/alerts.ts";
import { apiVersionsRequest } from "../../chaos/identity.ts";
import { type IdentityObservation, identityConditions } from "../../topology/spire/watch.ts";

const TTL = 40_000;
const NOW = 1_800_000_000_000;
const healthy = (svids: IdentityObservation["svids"] = [{ workload: "ato-tax-service", notAfterMs: NOW + 30_000 }]): IdentityObservation => ({ region: "syd", serverReady: true, agentRunning: true, svids });

describe("the alert book", () => {
  const down = { name: "spire-server-unreachable", severity: "critical" as const, subject: "spire-server syd", message: "not ready" };

  it("fires a condition once when first seen, and resolves it when first seen gone", () => {
    const book = new AlertBook();
    expect(book.observe([down], 1_000).map((a) => a.name)).toEqual(["spire-server-unreachable"]);
    expect(book.observe([down], 2_000)).toEqual([]);
    book.observe([], 3_000);
    expect(book.list()).toEqual([{ ...down, firedAtMs: 1_000, resolvedAtMs: 3_000 }]);
  });

  it("opens a new alert when the condition comes back, and leaves one still holding unresolved", () => {
    const book = new AlertBook();
    book.observe([down], 1_000);
    book.observe([], 2_000);
    book.observe([down], 5_000);
    expect(book.list().map((a) => [a.firedAtMs, a.resolvedAtMs])).toEqual([[1_000, 2_000], [5_000, null]]);
    expect(alertRow(book.list()[1] as never)).toEqual(["critical", "spire-server-unreachable", "spire-server syd", "5.0", "still firing", "not ready"]);
  });

  it("tells subjects apart: the same rule on two workloads is two alerts", () => {
    const book = new AlertBook();
    const a = { ...down, name: "svid-expired", subject: "ato-tax-service in syd" };
    book.observe([a, { ...a, subject: "broker in syd" }], 1_000);
    book.observe([a], 2_000);
    expect(book.list().map((x) => [x.subject, x.resolvedAtMs])).toEqual([["ato-tax-service in syd", null], ["broker in syd", 2_000]]);
  });
});

describe("the identity plane's alert rules", () => {
  it("raise nothing for a healthy region whose SVIDs have more than a quarter of their lifetime left", () => {
    expect(identityConditions([healthy()], NOW, TTL)).toEqual([]);
  });

  it("page for an unready server and a stopped agent", () => {
    const names = identityConditions([{ ...healthy(), serverReady: false, agentRunning: false }], NOW, TTL).map((c) => [c.name, c.subject]);
    expect(names).toEqual([["spire-server-unreachable", "spire-server syd"], ["spire-agent-down", "spire-agent syd"]]);
  });

  it("warn of an SVID not renewed at half-life, and page once it expired or is missing", () => {
    const svids = [
      { workload: "ato-tax-service" as const, notAfterMs: NOW + 9_000 },
      { workload: "broker" as const, notAfterMs: NOW },
      { workload: "lab" as const, notAfterMs: null },
      { workload: "registry" as const, notAfterMs: NOW + 11_000 },
    ];
    const c = identityConditions([healthy(svids)], NOW, TTL);
    expect(c.map((x) => [x.name, x.severity, x.subject])).toEqual([
      ["svid-rotation-stalled", "warning", "ato-tax-service in syd"],
      ["svid-expired", "critical", "broker in syd"],
      ["svid-missing", "critical", "lab in syd"],
    ]);
    expect(c[0]?.message).toMatch(/expires in 9 s/);
    expect(c[1]?.message).toMatch(/cut off for new connections/);
  });

  it("judge half-life by each workload's own lifetime when it has a longer one", () => {
    const svids = [{ workload: "registry" as const, notAfterMs: NOW + 100_000 }];
    const ttlOf = (w: string) => (w === "registry" ? 900_000 : TTL);
    expect(identityConditions([healthy(svids)], NOW, ttlOf).map((x) => [x.name, x.subject])).toEqual([["svid-rotation-stalled", "registry in syd"]]);
    expect(identityConditions([healthy(svids)], NOW, TTL)).toEqual([]);
  });
});

describe("the SVID probe's Kafka request", () => {
  it("is an ApiVersions v0 request: size, api key 18, version 0, correlation id, client id", () => {
    const b = apiVersionsRequest(7, "p");
    expect([...b]).toEqual([0, 0, 0, 11, 0, 18, 0, 0, 0, 0, 0, 7, 0, 1, 0x70]);
  });
});
