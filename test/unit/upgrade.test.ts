import { describe, expect, it } from "vitest";
import { withRequests } from "../../chaos/analysis.ts";
import type { FaultRecord } from "../../chaos/schedule.ts";
import { parseFaults } from "../../chaos/spec.ts";
import { finalizedLevels, type UpgradeStep, upgradeStepFigures } from "../../chaos/upgrade.ts";
import type { LedgerEntry } from "../../generators/ledger.ts";
import { resolveRun } from "../../lab/runner.ts";
import { rollingUpgrade } from "../../scenarios/rolling-upgrade.ts";
import { KAFKA_VERSION, KAFKA_VERSIONS } from "../../topology/kafka/install.ts";
import { loadTopology, parseTopology } from "../../topology/spec.ts";

describe("the rolling-upgrade fault as data", () => {
  it("upgrades to the lab's version by default, finalising the features, 5 s between nodes", () => {
    const [f] = parseFaults([{ kind: "rolling-upgrade", target: { region: "syd" }, at: "15s" }]);
    expect(f).toMatchObject({ kind: "rolling-upgrade", to: KAFKA_VERSION, intervalMs: 5_000, finalise: true, duration: 0 });
  });

  it("refuses a version the lab does not install and a finalise that is no boolean, both at once", () => {
    expect(() => parseFaults([{ kind: "rolling-upgrade", target: { region: "syd" }, at: 0, to: "3.9.0", finalise: "yes" }])).toThrow(
      /faults\[0\]\.to: .*3\.9\.0[\s\S]*faults\[0\]\.finalise/,
    );
  });

  it("takes a topology's Kafka version from the pinned list (the lab's by default)", () => {
    expect(KAFKA_VERSIONS).toContain(KAFKA_VERSION);
    expect(loadTopology("one-region-upgrade").kafka.version).toBe("4.2.2");
    expect(loadTopology("one-region").kafka.version).toBe(KAFKA_VERSION);
    const spec = loadTopology("one-region") as unknown as Record<string, unknown>;
    expect(() => parseTopology({ ...spec, kafka: { version: "4.0.0" } })).toThrow(/kafka\.version/);
  });
});

describe("the rolling-upgrade scenario", () => {
  it("starts the region on the older version and upgrades it to the lab's, judged on nothing lost", () => {
    const run = resolveRun(rollingUpgrade, {});
    expect(run.topology.kafka.version).toBe("4.2.2");
    expect(run.faults).toMatchObject([{ kind: "rolling-upgrade", to: KAFKA_VERSION, finalise: true, target: { region: "syd" } }]);
    expect(run.slo.map((c) => c.metric)).toEqual(["counts.lost"]);
  });
});

describe("kafka-features describe", () => {
  it("reads each feature's finalised level", () => {
    // As Kafka 4.3.1's FeatureCommand prints it, after its client's log lines.
    const out = [
      "[2026-12-07T15:02:34,131] INFO AdminClientConfig values: ",
      "\tbootstrap.servers = [127.0.0.1:29392]",
      "Feature: group.version                             SupportedMinVersion: 0                SupportedMaxVersion: 1                FinalizedVersionLevel: 1                Epoch: 203",
      "Feature: kraft.version                             SupportedMinVersion: 0                SupportedMaxVersion: 1                FinalizedVersionLevel: 0                Epoch: 203",
      "Feature: metadata.version                          SupportedMinVersion: 3.3-IV3          SupportedMaxVersion: 4.3-IV0          FinalizedVersionLevel: 4.2-IV1          Epoch: 203",
      "",
    ].join("\n");
    expect(finalizedLevels(out)).toEqual({ "group.version": "1", "kraft.version": "0", "metadata.version": "4.2-IV1" });
  });
});

describe("what the flow saw during each node's turn", () => {
  const entry = (seq: number, intendedMs: number, over: Partial<LedgerEntry> = {}): LedgerEntry => ({ eventId: `e${seq}`, seq, key: "k", intendedUs: intendedMs * 1000, completedUs: [], ...over });
  const done = (seq: number, intendedMs: number, latencyMs: number) => entry(seq, intendedMs, { ackedUs: intendedMs * 1000 + 500, completedUs: [(intendedMs + latencyMs) * 1000] });
  const steps: UpgradeStep[] = [
    { node: "syd-1", from: "4.2.2", to: "4.3.1", startMs: 0, endMs: 10_000, unavailableMs: 10_000, stopMs: 1_200, leadersBefore: 8, leadersAfter: 0 },
    { node: "syd-2", from: "4.2.2", to: "4.3.1", startMs: 15_000, endMs: 25_000, unavailableMs: 10_000, stopMs: 900, leadersBefore: 12, leadersAfter: 1 },
  ];
  const fault: FaultRecord = { kind: "rolling-upgrade", target: "syd-1,syd-2", startMs: 20_000, endMs: 46_000, outcome: "healed", details: { from: "4.2.2", to: "4.3.1", steps } };
  const entries = [
    done(0, 19_000, 10), // before the first turn
    done(1, 21_000, 40),
    done(2, 22_000, 900),
    entry(3, 23_000, { error: "Local: Message timed out" }),
    entry(4, 24_000, { ackedUs: 24_000_500 }), // acked, never completed
    done(5, 31_000, 15), // between the turns
    done(6, 36_000, 2_000),
  ];

  it("counts requests intended within each turn on the run's clock, their errors, losses and latency", () => {
    const [one, two] = upgradeStepFigures(fault, entries, (us) => us / 1000);
    expect(one).toMatchObject({ node: "syd-1", fromMs: 20_000, toMs: 30_000, intended: 4, produceErrors: 1, lost: 1, leadersBefore: 8, leadersAfter: 0 });
    expect(one?.latencyMs.count).toBe(2);
    expect(one?.latencyMs.max).toBeCloseTo(900, -1);
    expect(two).toMatchObject({ node: "syd-2", fromMs: 35_000, toMs: 45_000, intended: 1, produceErrors: 0, lost: 0 });
    expect(two?.latencyMs.p99).toBeCloseTo(2_000, -1);
  });

  it("adds the per-node figures to a rolling upgrade's record only", () => {
    const [up, kill] = withRequests([fault, { ...fault, kind: "kill", target: "syd-3" }], entries, (us) => us / 1000);
    expect(up?.upgradeSteps?.map((s) => s.node)).toEqual(["syd-1", "syd-2"]);
    expect(kill).not.toHaveProperty("upgradeSteps");
  });
});
