import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { cacheRoot } from "../../lab/install.ts";
import { Supervisor } from "../../lab/proc.ts";
import { standUpMesh } from "../../topology/local/mesh.ts";
import { parseTopology } from "../../topology/spec.ts";
import { alive, ROOT, recordedProcesses, tempDir } from "./helpers.ts";

describe("a region with dedicated controllers", () => {
  it("stands up three controllers and three brokers, with the quorum reached through the controller links", async () => {
    const spec = parseTopology(JSON.parse(readFileSync(join(ROOT, "topology/specs/one-region-split-roles.json"), "utf8")));
    const stateDir = join(cacheRoot(), "state", "runs");
    const supervisor = new Supervisor(`test-split-${process.pid}`, stateDir);
    let procs: { name: string; pid: number }[] = [];
    try {
      await using mesh = await standUpMesh(spec, { runDir: tempDir("split"), supervisor });
      procs = recordedProcesses(stateDir, process.pid);
      const admin = await mesh.region().admin();
      try {
        expect(await admin.brokers()).toEqual([1, 2, 3]); // controllers 101-103 are not brokers
      } finally {
        await admin.close();
      }
      const controller = readFileSync(mesh.region().nodes[0]?.propertiesFile ?? "", "utf8");
      expect(controller).toContain("process.roles=controller");
      expect(controller).not.toContain("inter.broker.listener.name");
      const voters = mesh.region().plan.voters.split(",");
      expect(voters.map((v) => v.split("@")[0])).toEqual(["101", "102", "103"]);
      // Voters by name at their controller links' ports; each node resolves the names to its own links.
      const controllerProxies = mesh.region().plan.links.filter((l) => l.klass === "controller" && !l.source);
      expect(voters.map((v) => v.split("@")[1])).toEqual(controllerProxies.map((l) => `${l.target}.controller.meshlab:${l.listen.port}`));
      const perSource = mesh.region().plan.links.filter((l) => l.klass === "controller" && l.source);
      expect(perSource).toHaveLength(6 * 3); // every node (3 brokers, 3 controllers) to every controller
    } finally {
      await supervisor.stopAll();
    }
    // The mesh: toxiproxy, Redis, 6 Kafka nodes, Apicurio and its TLS front; the identity plane: SPIRE's server and
    // agent and a spiffe-helper per workload that reads PEM files.
    const mesh = procs.filter((p) => !/^(spire-server|spire-agent|spiffe-helper) /.test(p.name));
    const names = mesh.map((p) => p.name).sort();
    expect(names.filter((n) => !n.startsWith("kafka ")), JSON.stringify(names)).toEqual(["redis", `registry ${spec.regions[0]?.name}`, `registry ${spec.regions[0]?.name} tls`, "toxiproxy"]);
    expect(names.filter((n) => n.startsWith("kafka "))).toHaveLength(6);
    expect(procs.filter((p) => /^spire-(server|agent) /.test(p.name))).toHaveLength(2);
    expect(procs.filter((p) => p.name.startsWith("spiffe-helper ")).length).toBeGreaterThan(0);
    expect(procs.map((p) => p.pid).filter(alive)).toEqual([]);
  });
});
