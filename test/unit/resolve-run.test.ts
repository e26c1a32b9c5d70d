import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
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
