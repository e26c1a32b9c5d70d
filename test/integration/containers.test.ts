import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { cacheRoot } from "../../lab/install.ts";
import type { RunResult } from "../../reports/result.ts";
import { LAB_LABEL, RUNNER_LABEL } from "../../topology/containers/backend.ts";
import { podman } from "../../topology/containers/engine.ts";
import type { TopologySpec } from "../../topology/spec.ts";
import { alive, meshlab, ROOT, recordedProcesses, tempDir } from "./helpers.ts";

const stateDir = join(cacheRoot(), "state", "runs");

/** Containers, networks and volumes with the lab's label that a runner (by pid) created, as the engine lists them now. */
async function leftBy(runnerPid: number): Promise<string[]> {
  const mine = (labels: Record<string, string> | null | undefined) => (labels?.[RUNNER_LABEL] ?? "").startsWith(`${runnerPid}:`);
  const filter = `label=${LAB_LABEL}=true`;
  const list = async (args: string[]) => JSON.parse((await podman([...args, "--filter", filter, "--format", "json"])) || "[]") as { Names?: string[]; Name?: string; Labels?: Record<string, string> | null }[];
  const [containers, networks, volumes] = await Promise.all([list(["ps", "--all"]), list(["network", "ls"]), list(["volume", "ls"])]);
  return [...containers, ...networks, ...volumes].filter((o) => mine(o.Labels)).map((o) => o.Names?.join(",") ?? o.Name ?? "?");
}

/**
 * The flagship scenario with every mesh component in a Podman container (testcontainers), and a broker killed by the
 * engine mid-run: one stand-up for both, as CI's time is short. The scenario is clearance-smoke itself (imported),
 * with the kill added.
 */
describe("the containers backend", () => {
  it("runs clearance-smoke with a broker's container killed and restarted: nothing lost, logs back, nothing left", async () => {
    const dir = tempDir("containers");
    const file = join(dir, "clearance-smoke-kill.ts");
    writeFileSync(
      file,
      [
        `import { clearanceSmoke } from ${JSON.stringify(join(ROOT, "scenarios", "clearance-smoke.ts"))};`,
        'export default { ...clearanceSmoke, name: "clearance-smoke-kill", faults: [{ kind: "kill", target: { named: "syd-2" }, at: "4s", duration: "6s" }] };',
        "",
      ].join("\n"),
    );
    const out = join(dir, "out");
    const cli = meshlab(["run", file, "--backend", "containers", "--security", "plaintext", "--duration", "8s", "--rate", "40", "--out", out]);
    await cli.waitFor(/offering \d+ clearance requests/, 230_000);
    const procs = recordedProcesses(stateDir, cli.pid);
    const code = await cli.exited;
    const r = JSON.parse(readFileSync(join(out, "result.json"), "utf8")) as RunResult;
    expect(r.status, cli.output()).toBe("completed");
    expect(code).toBe(r.slo.passed ? 0 : 1);
    const topology = (r.spec as { topology: TopologySpec }).topology;
    expect(topology).toMatchObject({ name: "one-region", backend: "containers", security: "plaintext" });
    expect(r.counts).toMatchObject({ intended: 720, sent: 720, acked: 720, completed: 720, lost: 0, unexpected: 0 });
    // Each component ran at its own address on the mesh's network, not on this machine's loopback.
    expect(cli.output()).toMatch(/containers: engine, image and network: .*localhost\/meshlab-runtime:[0-9a-f]{12}, network meshlab-[0-9a-f]{8} \(\d+\.\d+\.\d+\.0\/24\)/);
    const kafkaLog = readFileSync(join(out, "syd", "syd-1", "kafka.log"), "utf8");
    expect(kafkaLog).toMatch(/advertised\.listeners = .*LAB:\/\/\d+\.\d+\.\d+\.\d+:\d+/);
    expect(kafkaLog).not.toMatch(/LAB:\/\/127\.0\.0\.1/);
    expect(r.files.logs).toEqual(expect.arrayContaining(["toxiproxy.log", "syd/syd-1/kafka.log", "syd/registry/apicurio.log", "redis/redis.log"]));
    // The engine killed syd-2's container; the heal started a new one at the same address on the same data.
    const [kill, ...others] = r.faults ?? [];
    expect(others).toEqual([]);
    expect(kill).toMatchObject({ kind: "kill", target: "syd-2", outcome: "healed" });
    expect(kill?.details?.rejoinMs).toEqual({ "syd-2": expect.any(Number) });
    expect(readFileSync(join(out, "syd", "syd-2", "kafka.log"), "utf8").match(/Kafka Server started/g)).toHaveLength(2);
    // Torn down to nothing: no container, network or volume of this runner, no process (the engine's API included).
    expect(await leftBy(cli.pid)).toEqual([]);
    expect(procs.map((p) => p.name)).toEqual(expect.arrayContaining(["podman-api", "centrelink-1"]));
    expect(procs.filter((p) => alive(p.pid))).toEqual([]);
  });
});
