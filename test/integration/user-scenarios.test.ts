import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { cacheRoot } from "../../lab/install.ts";
import type { RunResult } from "../../reports/result.ts";
import { alive, meshlab, ROOT, recordedPids, tempDir } from "./helpers.ts";

const stateDir = join(cacheRoot(), "state", "runs");

/** A user's own one-broker topology (plaintext, so the default security does not matter). */
const TOPOLOGY = readFileSync(new URL("../fixtures/one-broker-topology.yaml", import.meta.url), "utf8");

/** A scenario with a body, written against the lab's exported types from outside the repository. */
const SCENARIO = `import type { Scenario } from "${ROOT}scenarios/api.ts";

export default {
  name: "my-scenario",
  description: "a user's own scenario, from outside the repository",
  topology: "one-region",
  workload: { durationMs: "8s", rate: { kind: "constant", perSecond: 10 }, centrelink: { instances: 1 } },
  slo: [{ metric: "counts.lost", max: 0 }],
  async body(ctx) {
    await ctx.atMeasured(2_000);
    ctx.phase("after-2s");
    ctx.mark("two-seconds-in", { region: ctx.topology.regions[0]?.name });
    ctx.findings.ranOn = ctx.topology.name;
  },
} satisfies Scenario;
`;

const userFolder = (): string => {
  const dir = tempDir("user-scenario");
  writeFileSync(join(dir, "my-topology.yaml"), TOPOLOGY);
  writeFileSync(join(dir, "my-scenario.ts"), SCENARIO);
  return dir;
};

const resultOf = (out: string): RunResult => JSON.parse(readFileSync(join(out, "result.json"), "utf8")) as RunResult;

// One stand-up covers both: the user's scenario file names the built-in one-region mesh (three nodes), and
// --topology puts it on the user's one-broker YAML spec instead. A mesh stand-up takes 40-100 s on this box, so
// a second run (a built-in scenario with --topology) would add that again to CI for the same code path
// (resolveRun; the unit tests cover it for a built-in scenario).
describe("scenarios and topologies of one's own, end to end", () => {
  it("runs a TypeScript scenario file from a folder outside the repository on a user's YAML topology (--topology)", async () => {
    const dir = userFolder();
    const out = join(dir, "out");
    const cli = meshlab(["run", join(dir, "my-scenario.ts"), "--topology", join(dir, "my-topology.yaml"), "--out", out]);
    await cli.waitFor(/offering \d+ clearance requests/, 180_000);
    const pids = recordedPids(stateDir, cli.pid);
    expect(await cli.exited, cli.output()).toBe(0);
    const r = resultOf(out);
    expect(r.scenario).toBe("my-scenario");
    expect(r.status).toBe("completed");
    // The user's topology replaced the scenario's three-node one-region mesh.
    const topology = (r.spec as { topology: unknown }).topology;
    expect(topology).toMatchObject({ name: "my-mesh", security: "plaintext", regions: [{ name: "syd", nodes: [{ id: "syd-1" }] }] });
    expect((topology as { regions: { nodes: unknown[] }[] }).regions[0]?.nodes).toHaveLength(1);
    expect(r.files.logs).toContain("syd/syd-1/kafka.log");
    expect(r.files.logs).not.toContain("syd/syd-2/kafka.log");
    expect(r.counts).toMatchObject({ intended: 180, acked: 180, completed: 180, lost: 0, duplicated: 0, errors: 0 }); // (10 s warm-up + 8 s) x 10/s
    expect(r.slo.checks).toEqual([{ name: "counts.lost <= 0", limit: 0, actual: 0, passed: true }]);
    // The body ran: its phase, mark and finding are in the result.
    expect(r.marks?.map((m) => [m.name, m.details])).toContainEqual(["two-seconds-in", { region: "syd" }]);
    expect(r.phases?.map((p) => p.name)).toContain("after-2s");
    expect(r.scenarioResult).toMatchObject({ ranOn: "my-mesh" });
    expect(pids.length).toBeGreaterThanOrEqual(5);
    expect(pids.filter(alive)).toEqual([]);
  });
});

describe("bad input in one's own files exits 2, before anything starts", () => {
  it.each([
    [
      "lists every problem of a YAML scenario with its path",
      "bad.yaml",
      "name: bad\ntopology: ./nowhere.yaml\nworkload: { durationMs: soon }\ncolour: red\n",
      /invalid scenario[\s\S]*scenario\.colour: unknown key[\s\S]*scenario\.topology: topology spec .*nowhere\.yaml does not exist[\s\S]*scenario\.workload\.durationMs: "soon" is not a duration[\s\S]*hint:/,
    ],
    [
      "refuses TypeScript that Node cannot run by stripping types, naming the line",
      "enum.ts",
      'enum Colour { Red }\nexport default { name: "x", topology: "one-region", workload: {}, description: String(Colour.Red) };\n',
      /could not be loaded:\n {2}- line 1: TypeScript enum is not supported in strip-only mode\n {2}hint: .*no enums/,
    ],
  ])("%s", async (_what, name, text, message) => {
    const file = join(tempDir("bad-scenario"), name);
    writeFileSync(file, text);
    const cli = meshlab(["run", file]);
    expect(await cli.exited, cli.output()).toBe(2);
    expect(cli.output()).toMatch(message);
    expect(cli.output()).not.toMatch(/ -> /); // no run directory was made
  });

  it("refuses a --topology file that does not exist", async () => {
    const cli = meshlab(["run", "clearance-smoke", "--topology", "/nonexistent/my-topology.yaml"]);
    expect(await cli.exited, cli.output()).toBe(2);
    expect(cli.output()).toMatch(/topology spec \/nonexistent\/my-topology\.yaml does not exist[\s\S]*hint: check the path/);
  });

  it("init writes a starter, and refuses to overwrite it", async () => {
    const dir = tempDir("init");
    const file = join(dir, "mine.yaml");
    const first = meshlab(["init", file]);
    expect(await first.exited, first.output()).toBe(0);
    expect(first.output()).toContain(`wrote ${file}; run it with: ${ROOT}meshlab run ${file}`);
    const text = readFileSync(file, "utf8");
    const second = meshlab(["init", file]);
    expect(await second.exited).toBe(2);
    expect(second.output()).toMatch(/already exists[\s\S]*hint: pick another file name/);
    expect(readFileSync(file, "utf8")).toBe(text);
    expect(existsSync(join(dir, "my-scenario.ts"))).toBe(false);
  });
});
