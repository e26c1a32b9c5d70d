import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { BadInputError } from "../../lab/errors.ts";
import { resolveRun } from "../../lab/runner.ts";
import { diskExhaustion } from "../../scenarios/disk-exhaustion.ts";
import type { Scenario } from "../../scenarios/scenario.ts";

/** The default one-region spec as data, so a scenario can carry it inline. */
const oneRegion = JSON.parse(readFileSync(new URL("../../topology/specs/one-region.json", import.meta.url), "utf8"));

describe("resolveRun with a scenario's kafkaConfig", () => {
  it("puts the scenario's broker settings over the topology's, keeping the others", () => {
    const scenario: Scenario = {
      name: "t",
      description: "t",
      topology: { ...oneRegion, kafka: { config: { "num.io.threads": "4", "log.retention.check.interval.ms": "300000" } } },
      kafkaConfig: { "log.retention.check.interval.ms": "5000" },
      workload: {},
    };
    expect(resolveRun(scenario, {}).topology.kafka.config).toEqual({ "num.io.threads": "4", "log.retention.check.interval.ms": "5000" });
  });

  it("leaves the topology as it is without one, and gives disk-exhaustion its 5 s retention check", () => {
    expect(resolveRun({ name: "t", description: "t", topology: oneRegion, workload: {} }, {}).topology.kafka.config).toEqual({});
    expect(resolveRun(diskExhaustion, {}).topology.kafka.config["log.retention.check.interval.ms"]).toBe("5000");
  });
});

describe("resolveRun with load-profile flags", () => {
  const scenario: Scenario = { name: "t", description: "t", topology: oneRegion, workload: { rate: { kind: "constant", perSecond: 20 } } };

  it("--profile replaces the scenario's rate and --scale multiplies it", () => {
    expect(resolveRun(scenario, { profile: "seed-eofy", scale: 0.002 }).workload.rate).toEqual({ kind: "seed-eofy", scale: 0.002 });
    expect(resolveRun(scenario, { scale: 0.5 }).workload.rate).toEqual({ kind: "constant", perSecond: 20, scale: 0.5 });
    expect(resolveRun(scenario, {}).workload.rate).toEqual({ kind: "constant", perSecond: 20, scale: 1 });
  });

  it("--replay reads the trace into the resolved spec, so the result holds the rates it ran", () => {
    const file = new URL("../fixtures/trace-10s.csv", import.meta.url).pathname;
    const rate = resolveRun(scenario, { replay: file, durationMs: 10_000 }).workload.rate;
    expect(rate).toMatchObject({ kind: "replay", file, scale: 1 });
    expect(rate.kind === "replay" && rate.trace).toEqual([20, 20, 40, 80, 80, 40, 20, 20, 10, 10]);
  });
});

describe("resolveRun with faults of the identity plane", () => {
  const scenario: Scenario = {
    name: "t",
    description: "",
    topology: "one-region-mtls-short",
    workload: {},
    faults: [
      { kind: "latency", target: { region: "syd" }, links: ["ato"], latencyMs: 5, at: 0, duration: "1s" },
      { kind: "attestation-failure", target: { region: "syd" }, at: 0, duration: "1s" },
      { kind: "forged-signature", target: { region: "syd" }, at: 0, duration: "1s" },
    ],
  };

  it("runs them on an mTLS mesh", () => {
    expect(resolveRun(scenario, {}).faults).toHaveLength(3);
  });

  it("refuses them on a plaintext mesh before anything starts, naming each", () => {
    const refusal = (() => {
      try {
        resolveRun(scenario, { security: "plaintext" });
      } catch (e) {
        return e;
      }
    })();
    expect(refusal).toBeInstanceOf(BadInputError);
    expect((refusal as BadInputError).problems).toEqual([
      "faults[1].kind: attestation-failure acts on the identity plane, which a plaintext mesh has not",
      "faults[2].kind: forged-signature acts on the identity plane, which a plaintext mesh has not",
    ]);
  });
});

describe("resolveRun with an SLO in k6 threshold syntax", () => {
  const scenario = (slo: unknown): Scenario => ({ name: "t", description: "t", topology: oneRegion, workload: {}, slo: slo as Scenario["slo"] });

  it("resolves thresholds into the checks result.json carries", () => {
    const r = resolveRun(scenario({ thresholds: { clearance: ["p(95)<300", "p(99)<300"], "counts.lost": ["count==0"] } }), {});
    expect(r.slo).toEqual([
      { metric: "latencyMs.clearance.p95", max: 300, strict: true },
      { metric: "latencyMs.clearance.p99", max: 300, strict: true },
      { metric: "counts.lost", max: 0 },
    ]);
  });

  it("refuses a scenario with malformed thresholds before anything starts, naming each", () => {
    let err: unknown;
    try {
      resolveRun(scenario({ thresholds: { clearance: ["p(95)<<300"], "counts.dlq": ["count==0"], "counts.nope": ["count==0"] } }), {});
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BadInputError);
    expect((err as BadInputError).problems).toEqual([
      'slo.thresholds.clearance[0]: "p(95)<<300": "<300" is not a number >= 0 (milliseconds)',
      expect.stringMatching(/^slo\.thresholds\.counts\.nope: unknown metric/),
    ]);
  });
});

describe("resolveRun with --backend", () => {
  const scenario: Scenario = { name: "t", description: "t", topology: oneRegion, workload: {} };
  const rejection = (s: Scenario, o: Parameters<typeof resolveRun>[1]): BadInputError => {
    try {
      resolveRun(s, o);
    } catch (e) {
      if (e instanceof BadInputError) return e;
      throw e;
    }
    throw new Error("resolveRun accepted it");
  };

  it("puts the flag over the topology's backend", () => {
    expect(resolveRun(scenario, {}).topology.backend).toBe("local");
    expect(resolveRun(scenario, { backend: "containers", security: "plaintext" }).topology).toMatchObject({ backend: "containers", security: "plaintext" });
  });

  it("refuses containers for an mTLS mesh, and a partition on containers, saying why", () => {
    expect(rejection(scenario, { backend: "containers" }).problems).toEqual([expect.stringMatching(/^topology\.backend: "containers" runs plaintext meshes only/)]);
    const partitioned: Scenario = { ...scenario, faults: [{ kind: "partition", target: { named: "syd-1" }, at: "5s", duration: "5s" }] };
    expect(rejection(partitioned, { backend: "containers", security: "plaintext" }).problems).toEqual([
      "faults[0].kind: partition needs a source address per node on the proxy (per-source links), which the containers backend has not (one address per container)",
    ]);
    expect(resolveRun(partitioned, {}).faults).toHaveLength(1);
  });
});
