import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { cacheRoot } from "../../lab/install.ts";
import type { RunResult } from "../../reports/result.ts";
import { LAB_LABEL, RUNNER_LABEL } from "../../topology/containers/backend.ts";
import { podman } from "../../topology/containers/engine.ts";
import type { TopologySpec } from "../../topology/spec.ts";
import { alive, meshlab, recordedPids, tempDir } from "./helpers.ts";

const stateDir = join(cacheRoot(), "state", "runs");

/** Containers, networks and volumes with the lab's label that a runner (by pid) created, as the engine lists them now. */
async function leftBy(runnerPid: number): Promise<string[]> {
  const mine = (labels: Record<string, string> | null | undefined) => (labels?.[RUNNER_LABEL] ?? "").startsWith(`${runnerPid}:`);
  const filter = `label=${LAB_LABEL}=true`;
  const list = async (args: string[]) => JSON.parse((await podman([...args, "--filter", filter, "--format", "json"])) || "[]") as { Names?: string[]; Name?: string; Labels?: Record<string, string> | null }[];
  const [containers, networks, volumes] = await Promise.all([list(["ps", "--all"]), list(["network", "ls"]), list(["volume", "ls"])]);
  return [...containers, ...networks, ...volumes].filter((o) => mine(o.Labels)).map((o) => o.Names?.join(",") ?? o.Name ?? "?");
}

/** The same flagship scenario with every mesh component in a Podman container (testcontainers), and chaos on one. */
describe("the containers backend", () => {
  it("runs clearance-smoke with nothing lost, brings the logs back and tears down to nothing", async () => {
    const out = join(tempDir("containers"), "out");
    const cli = meshlab(["run", "clearance-smoke", "--backend", "containers", "--security", "plaintext", "--duration", "8s", "--rate", "40", "--out", out]);
    await cli.waitFor(/offering \d+ clearance requests/, 230_000);
    const pids = recordedPids(stateDir, cli.pid);
    const code = await cli.exited;
    const r = JSON.parse(readFileSync(join(out, "result.json"), "utf8")) as RunResult;
    expect(r.status, cli.output()).toBe("completed");
    expect(code).toBe(r.slo.passed ? 0 : 1);
    const topology = (r.spec as { topology: TopologySpec }).topology;
    expect(topology).toMatchObject({ backend: "containers", security: "plaintext" });
    expect(r.counts).toMatchObject({ intended: 720, sent: 720, acked: 720, completed: 720, lost: 0, duplicated: 0, errors: 0, unexpected: 0 });
    // Each component ran at its own address on the mesh's network, not on this machine's loopback.
    expect(cli.output()).toMatch(/containers: engine, image and network: .*localhost\/meshlab-runtime:[0-9a-f]{12}, network meshlab-[0-9a-f]{8} \(\d+\.\d+\.\d+\.0\/24\)/);
    const kafkaLog = readFileSync(join(out, "syd", "syd-1", "kafka.log"), "utf8");
    expect(kafkaLog).toMatch(/Kafka Server started/);
    expect(kafkaLog).toMatch(/advertised\.listeners = .*LAB:\/\/\d+\.\d+\.\d+\.\d+:\d+/);
    expect(kafkaLog).not.toMatch(/LAB:\/\/127\.0\.0\.1/);
    expect(r.files.logs).toEqual(expect.arrayContaining(["toxiproxy.log", "syd/syd-1/kafka.log", "syd/registry/apicurio.log", "redis/redis.log"]));
    expect(await leftBy(cli.pid)).toEqual([]);
    expect(pids.filter(alive)).toEqual([]);
  });

  it("kills a containerised broker with the engine (kill fault) and the heal starts it again on its own data", async () => {
    const dir = tempDir("containers-kill");
    const file = join(dir, "kill.json");
    writeFileSync(
      file,
      JSON.stringify({
        name: "containers-kill",
        description: "clearance-smoke with syd-2 killed for 6 s",
        topology: "one-region",
        workload: { durationMs: "12s", warmupMs: "2s", rate: { kind: "constant", perSecond: 30 }, centrelink: { instances: 2 } },
        faults: [{ kind: "kill", target: { named: "syd-2" }, at: "4s", duration: "6s" }],
        slo: [{ metric: "counts.lost", max: 0 }],
      }),
    );
    const out = join(dir, "out");
    const cli = meshlab(["run", file, "--backend", "containers", "--security", "plaintext", "--out", out]);
    const code = await cli.exited;
    const r = JSON.parse(readFileSync(join(out, "result.json"), "utf8")) as RunResult;
    expect(r.status, cli.output()).toBe("completed");
    expect(code, cli.output()).toBe(0);
    expect(r.counts).toMatchObject({ lost: 0, duplicated: 0, unexpected: 0 });
    expect(r.faults).toHaveLength(1);
    const [kill] = r.faults ?? [];
    expect(kill).toMatchObject({ kind: "kill", target: "syd-2", outcome: "healed" });
    expect(kill?.details?.rejoinMs).toEqual({ "syd-2": expect.any(Number) });
    // The killed container's log and its successor's land in the same file: two starts, one SIGKILL between.
    const log = readFileSync(join(out, "syd", "syd-2", "kafka.log"), "utf8");
    expect(log.match(/Kafka Server started/g)).toHaveLength(2);
    expect(await leftBy(cli.pid)).toEqual([]);
  });
});
