import { describe, expect, it } from "vitest";
import { brokerMetricsCharts, brokerMetricsTable } from "../../reports/html/broker-metrics.ts";
import { regionTicks, runScopes, summariseMetrics } from "../../reports/broker-metrics.ts";
import type { RunData } from "../../reports/run-data.ts";
import { agentsNeeded, planAgents } from "../../topology/metrics/index.ts";
import { metricsAgent } from "../../topology/metrics/jolokia.ts";
import { bulkRequest, parseReadings, readsOf, toSample } from "../../topology/metrics/mbeans.ts";
import type { MetricsSample } from "../../topology/metrics/sampler.ts";
import { parseTopology } from "../../topology/spec.ts";

const ok = (value: unknown) => ({ request: {}, value, status: 200, timestamp: 1796653043 });
const missing = { request: {}, error_type: "javax.management.InstanceNotFoundException", error: "no such MBean", status: 404 };

/** A combined node's bulk response, shaped as Jolokia 2.2 answered it from a Kafka 4.3.1 node. */
function combinedResponse(o: { urp: number; shrinks: number; idleNs: number; produceP99?: unknown }): unknown[] {
  const byName: Record<string, unknown> = {
    underReplicated: ok(o.urp),
    isrShrinksPerSec: ok(o.shrinks),
    isrExpandsPerSec: ok(0),
    produceP99Ms: ok(o.produceP99 ?? 12.5),
    fetchConsumerP99Ms: ok(501.2),
    fetchFollowerP99Ms: missing,
    handlerIdleRatio: ok(o.idleNs),
    offlinePartitions: ok(0),
    activeControllers: ok(1),
  };
  return readsOf("broker,controller").map((r) => byName[r.name]);
}

describe("Jolokia bulk reads", () => {
  it("asks a combined node for broker and controller figures, MirrorMaker for its replication latency only", () => {
    expect(readsOf("broker,controller").map((r) => r.name)).toEqual(expect.arrayContaining(["underReplicated", "activeControllers", "handlerIdleRatio"]));
    expect(readsOf("controller").map((r) => r.name)).toEqual(["offlinePartitions", "activeControllers"]);
    expect(bulkRequest("mirrormaker")).toEqual([
      { type: "read", mbean: "kafka.connect.mirror:type=MirrorSourceConnector,*", attribute: "replication-latency-ms-max" },
      { type: "read", mbean: "kafka.connect.mirror:type=MirrorSourceConnector,*", attribute: "replication-latency-ms-avg" },
    ]);
  });

  it("keeps what answered and leaves out MBeans that are absent or hold no number", () => {
    const r = parseReadings("broker,controller", combinedResponse({ urp: 4, shrinks: 17, idleNs: 5e9, produceP99: "NaN" }));
    expect(r).toEqual({ underReplicated: 4, isrShrinksPerSec: 17, isrExpandsPerSec: 0, fetchConsumerP99Ms: 501.2, handlerIdleRatio: 5e9, offlinePartitions: 0, activeControllers: 1 });
  });

  it("takes max and mean over MirrorMaker's per-partition MBeans, skipping partitions with no sample yet", () => {
    const beans = (attr: string, vs: (number | string)[]) =>
      ok(Object.fromEntries(vs.map((v, i) => [`kafka.connect.mirror:partition=${i},source=syd,target=mel,topic=t,type=MirrorSourceConnector`, { [attr]: v }])));
    const r = parseReadings("mirrormaker", [beans("replication-latency-ms-max", [120, 480, "NaN"]), beans("replication-latency-ms-avg", [40, 80, "NaN"])]);
    expect(r).toEqual({ replicationLatencyMaxMs: 480, replicationLatencyAvgMs: 60 });
    expect(parseReadings("mirrormaker", [missing, missing])).toEqual({});
  });

  it("refuses a body that is no bulk response of the reads asked", () => {
    expect(() => parseReadings("mirrormaker", { error: "forbidden" })).toThrow(/not a Jolokia bulk response of 2 reads/);
    expect(() => parseReadings("mirrormaker", [ok(1)])).toThrow(/2 reads/);
  });
});

describe("samples from readings", () => {
  const at = (atMs: number, o: Parameters<typeof combinedResponse>[0]) => ({ atMs, readings: parseReadings("broker,controller", combinedResponse(o)) });

  it("turns counts into per-second rates and idle nanoseconds into the idle share of the interval", () => {
    const prev = at(1_000, { urp: 0, shrinks: 10, idleNs: 50e9 });
    // 2 s later: 6 shrinks, and 0.5 s idle per handler thread out of 2 s.
    const s = toSample("broker,controller", at(3_000, { urp: 3, shrinks: 16, idleNs: 50.5e9 }), prev);
    expect(s).toMatchObject({ underReplicated: 3, isrShrinksPerSec: 3, isrExpandsPerSec: 0, handlerIdleRatio: 0.25, activeControllers: 1, produceP99Ms: 12.5 });
  });

  it("leaves counts out of the first sample, and after a restart (a count that went down), rather than guess", () => {
    const first = toSample("broker,controller", at(1_000, { urp: 0, shrinks: 10, idleNs: 50e9 }));
    expect(first).not.toHaveProperty("isrShrinksPerSec");
    expect(first).not.toHaveProperty("handlerIdleRatio");
    expect(first).toHaveProperty("underReplicated", 0);
    const restarted = toSample("broker,controller", at(9_000, { urp: 0, shrinks: 1, idleNs: 1e9 }), at(2_000, { urp: 0, shrinks: 10, idleNs: 50e9 }));
    expect(restarted).not.toHaveProperty("isrShrinksPerSec");
    expect(restarted).not.toHaveProperty("handlerIdleRatio");
  });

  it("caps the idle share at 1 (a handler marks its idle time up to 300 ms late)", () => {
    expect(toSample("broker,controller", at(2_000, { urp: 0, shrinks: 0, idleNs: 2.3e9 }), at(1_000, { urp: 0, shrinks: 0, idleNs: 1e9 })).handlerIdleRatio).toBe(1);
  });
});

const sample = (tMs: number, node: string, region: string, figures: Record<string, number>): MetricsSample => ({ tMs, node, region, role: "broker,controller", ...figures });

describe("per-region figures and per-scope summary", () => {
  const samples = [
    sample(1_000, "syd-1", "syd", { underReplicated: 0, activeControllers: 1, handlerIdleRatio: 0.9, produceP99Ms: 5, offlinePartitions: 0 }),
    sample(1_000, "syd-2", "syd", { underReplicated: 0, activeControllers: 0, handlerIdleRatio: 0.8, produceP99Ms: 7, offlinePartitions: 0 }),
    // syd-1 killed: no sample from it; the two others each lead partitions it followed.
    sample(12_000, "syd-2", "syd", { underReplicated: 4, activeControllers: 1, handlerIdleRatio: 0.3, produceP99Ms: 90, offlinePartitions: 0 }),
    sample(12_000, "syd-3", "syd", { underReplicated: 3, activeControllers: 0, handlerIdleRatio: 0.5, produceP99Ms: 40, offlinePartitions: 0 }),
    sample(12_000, "mirrormaker->mel", "mel", { replicationLatencyMaxMs: 800, replicationLatencyAvgMs: 100 }),
    sample(30_000, "syd-2", "syd", { underReplicated: 0, activeControllers: 1, handlerIdleRatio: 0.95, produceP99Ms: 60, offlinePartitions: 0 }),
  ];

  it("adds under-replicated partitions over leaders, takes the worst broker's time and idle ratio", () => {
    const t = regionTicks(samples).filter((x) => x.region === "syd");
    expect(t.map((x) => x.tMs)).toEqual([1_000, 12_000, 30_000]);
    expect(t[1]?.figures).toEqual({ underReplicated: 7, activeControllers: 1, handlerIdleRatio: 0.3, produceP99Ms: 90, offlinePartitions: 0 });
  });

  it("gives each scope (run, phase, fault) the range of every region figure within it", () => {
    const scopes = runScopes(40_000, [{ name: "before", startMs: 0, endMs: 10_000 }, { name: "after", startMs: 10_000, endMs: 40_000 }], [{ kind: "kill", target: "syd-1", startMs: 8_000, endMs: null }]);
    expect(scopes.map((s) => s.scope)).toEqual(["run", "phase before", "phase after", "fault kill syd-1"]);
    const [run, before, , fault] = summariseMetrics(samples, scopes);
    expect(run?.regions.syd?.underReplicated).toEqual({ min: 0, max: 7 });
    expect(run?.regions.syd?.handlerIdleRatio).toEqual({ min: 0.3, max: 0.95 });
    expect(run?.regions.mel).toEqual({ replicationLatencyMaxMs: { min: 800, max: 800 }, replicationLatencyAvgMs: { min: 100, max: 100 } });
    expect(run?.ticks).toBe(3);
    expect(before?.regions.syd?.underReplicated).toEqual({ min: 0, max: 0 });
    expect(fault).toMatchObject({ startMs: 8_000, endMs: 40_000, ticks: 2 });
    expect(fault?.regions.syd?.produceP99Ms).toEqual({ min: 60, max: 90 });
  });

  it("draws the charts with phase and fault bands, leaves out a chart with no figure, and tabulates the summary", () => {
    const run = { brokerMetrics: samples } as RunData;
    const html = brokerMetricsCharts(run, 0, 40_000, [{ kind: "fault", label: "kill syd-1", start: 8_000, end: 20_000, color: "red" }]);
    expect([...html.matchAll(/<svg id="([^"]+)"/g)].map((m) => m[1])).toEqual(["broker-partitions", "broker-requests", "broker-idle", "mm2-latency"]);
    expect(html).toContain('data-label="kill syd-1"');
    expect(html).toContain('data-series="under-replicated @syd"');
    expect(brokerMetricsCharts({ brokerMetrics: [] } as unknown as RunData, 0, 1, [])).toBe("");
    const table = brokerMetricsTable({ file: "metrics.ndjson", samples: 6, gaps: 1, scopes: summariseMetrics(samples, runScopes(40_000, [], [])) });
    expect(table).toContain("<td>run</td><td>syd</td><td>7</td><td>0</td><td>1</td><td></td><td>90</td><td></td><td>0.300</td>");
  });
});

describe("agents", () => {
  const spec = parseTopology({
    name: "t",
    security: "plaintext",
    regions: [
      { name: "syd", nodes: [{ id: "syd-1", nodeId: 1, roles: ["broker", "controller"], az: "a" }] },
      { name: "mel", nodes: [{ id: "mel-1", nodeId: 1, roles: ["broker", "controller"], az: "a" }] },
    ],
    replication: { flows: [{ source: "syd", target: "mel" }] },
    topics: [{ name: "x", partitions: 1, replicationFactor: 1, config: { "min.insync.replicas": "1" } }],
  });

  it("one loopback agent per Kafka node and per MirrorMaker process, reads-only policy, no discovery", () => {
    expect(agentsNeeded(spec)).toBe(3);
    const agents = planAgents(spec, { jar: "/c/agent.jar", policy: "/c/policy.xml" }, [21001, 21002, 21003]);
    expect([...agents.keys()]).toEqual(["syd-1", "mel-1", "mirrormaker->mel"]);
    expect(agents.get("mirrormaker->mel")).toEqual(metricsAgent({ jar: "/c/agent.jar", policy: "/c/policy.xml" }, { host: "127.0.0.1", port: 21003 }));
    expect(agents.get("syd-1")).toEqual({
      url: "http://127.0.0.1:21001/jolokia/",
      jvmOption: "-javaagent:/c/agent.jar=host=127.0.0.1,port=21001,discoveryEnabled=false,policyLocation=file:///c/policy.xml",
    });
    expect(() => planAgents(spec, { jar: "j", policy: "p" }, [1])).toThrow(/1 ports for 3 JVMs/);
  });
});
