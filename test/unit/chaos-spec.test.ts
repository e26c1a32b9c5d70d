import { describe, expect, it } from "vitest";
import { BadInputError } from "../../lab/errors.ts";
import { describeSelector, parseFaults } from "../../chaos/spec.ts";

const problemsOf = (input: unknown): string[] => {
  try {
    parseFaults(input);
  } catch (e) {
    if (e instanceof BadInputError) return [...e.problems];
    throw e;
  }
  return [];
};

describe("fault specs", () => {
  it("parse durations, fill defaults and keep the selector", () => {
    const [f] = parseFaults([{ kind: "latency", target: { pick: "one", of: "brokers" }, links: ["centrelink"], latencyMs: 200, at: "10s", duration: "5s" }]);
    expect(f).toMatchObject({ kind: "latency", at: 10_000, duration: 5_000, latencyMs: 200, jitterMs: 0, direction: "downstream", target: { pick: "one", of: "brokers" } });
  });

  it("accept every selector form", () => {
    const faults = parseFaults([
      { kind: "kill", target: { pick: "minority", of: "controllers", region: "syd" }, at: 0, duration: "1s" },
      { kind: "pause", target: { leaderOf: { topic: "t", key: "123" } }, at: 0, duration: "1s" },
      { kind: "stop", target: { quorumLeader: true }, at: 0, duration: "1s" },
      { kind: "rolling-restart", target: { region: "syd" }, at: 0 },
      { kind: "heartbeat-loss", target: { named: "centrelink-1" }, at: 0, duration: "20s" },
      { kind: "partition", target: { pick: "one", of: "nodes" }, at: 0, duration: "5s" },
      { kind: "disk-fill", target: { named: "syd-1" }, percent: 85, at: 0, duration: "5s" },
    ]);
    expect(faults.map((f) => describeSelector(f.target))).toEqual([
      "minority controllers of syd",
      "leader of t key 123",
      "quorum leader",
      "region syd",
      "centrelink-1",
      "one nodes",
      "syd-1",
    ]);
    expect(faults[4]).toMatchObject({ mode: "cut", group: "centrelink-clearance-engine" });
    expect(faults[6]).toMatchObject({ percent: 85, fill: "records" });
  });

  it("take a disk fill of Kafka records or of a plain file, nothing else", () => {
    expect(parseFaults([{ kind: "disk-fill", target: { named: "syd-1" }, percent: 100, fill: "file", at: 0, duration: "5s" }])[0]).toMatchObject({ fill: "file" });
    expect(problemsOf([{ kind: "disk-fill", target: { named: "syd-1" }, percent: 101, fill: "sand", at: 0, duration: "5s" }])).toEqual([
      "faults[0].percent: 101 is above the maximum 100",
      'faults[0].fill: "sand" is not one of "records", "file"',
    ]);
  });

  it("report every problem with its path at once", () => {
    const problems = problemsOf([
      { kind: "latency", target: { pick: "one" }, links: [], at: "soon", duration: "5s" },
      { kind: "explode", target: { named: "x" }, at: 0 },
      { kind: "kill", target: { leaderOf: { topic: "t", partition: 1, key: "k" } }, at: 0, duration: "1s", colour: "red" },
      { kind: "heartbeat-loss", target: { pick: "all", of: "brokers" }, at: 0, duration: "1s" },
      { kind: "pause", target: { wherever: true }, at: 0, duration: "1s" },
      { kind: "bandwidth", target: { named: "syd-1" }, links: ["ato"], at: 0, duration: "1s" },
      { kind: "kill", target: { named: "syd-1" }, at: 0 },
    ]);
    expect(problems).toEqual(
      expect.arrayContaining([
        "faults[0].at: \"soon\" is not a duration (examples: 500ms, 30s, 5m, 1h)",
        "faults[0].links: needs at least 1 item(s), has 0",
        "faults[0].latencyMs: a latency fault needs latencyMs above 0",
        expect.stringMatching(/^faults\[1\]\.kind: "explode" is not one of latency, /),
        "faults[2].colour: unknown key (allowed: at, duration, target, name, kind)",
        "faults[2].target.leaderOf: give exactly one of partition or key",
        expect.stringMatching(/^faults\[3\]\.target: heartbeat-loss targets consumer instances/),
        expect.stringMatching(/^faults\[4\]\.target: unknown selector \(keys: wherever\)/),
        "faults[5].rateKBps: a bandwidth fault needs rateKBps above 0",
        "faults[6].duration: kill needs a duration above 0",
      ]),
    );
  });

  it("refuse network faults aimed at consumers", () => {
    expect(problemsOf([{ kind: "cut", target: { pick: "all", of: "consumers" }, links: ["ato"], at: 0, duration: "1s" }])).toEqual([
      "faults[0].target: cut targets Kafka nodes, not consumers",
    ]);
  });

  it("parse the SPIRE faults with the ATO tax service as their default workload, and name a bad one", () => {
    const faults = parseFaults([
      { kind: "attestation-failure", target: { region: "syd" }, at: "30s", duration: "50s" },
      { kind: "svid-expiry", target: { region: "syd" }, workload: "centrelink-engine", at: 0, duration: "45s" },
      { kind: "spire-server-down", target: { region: "syd" }, at: 0, duration: "15s" },
    ]);
    expect(faults.map((f) => [f.kind, (f as { workload?: string }).workload])).toEqual([
      ["attestation-failure", "ato-tax-service"],
      ["svid-expiry", "centrelink-engine"],
      ["spire-server-down", "ato-tax-service"],
    ]);
    expect(problemsOf([{ kind: "attestation-failure", target: { region: "syd" }, workload: "nobody", at: 0 }])).toEqual([
      expect.stringMatching(/^faults\[0\]\.workload: .*"nobody"/),
      "faults[0].duration: attestation-failure needs a duration above 0",
    ]);
  });
});
