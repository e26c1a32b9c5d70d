import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readDataFile } from "../../lab/data-file.ts";
import { BadInputError } from "../../lab/errors.ts";
import { resolveRun } from "../../lab/runner.ts";
import { clearanceSmoke } from "../../scenarios/clearance-smoke.ts";
import { writeStarter } from "../../scenarios/starter.ts";
import { loadScenarioFile } from "../../scenarios/user.ts";
import { loadTopology } from "../../topology/spec.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

/** A fresh folder outside the repository, as a user's own would be. */
const userDir = (): string => mkdtempSync(join(tmpdir(), "meshlab-user-"));

const write = (dir: string, name: string, text: string): string => {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
};

/** Awaits `p` expecting a BadInputError and returns it. */
async function rejection(p: Promise<unknown> | (() => unknown)): Promise<BadInputError> {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    if (e instanceof BadInputError) return e;
    throw e;
  }
  throw new Error("accepted what it should have refused");
}

/** A user's one-broker topology in YAML (plaintext). */
const smallTopologyYaml = readFileSync(new URL("../fixtures/one-broker-topology.yaml", import.meta.url), "utf8");

describe("data-only scenario files (YAML, JSON)", () => {
  it("loads a valid YAML scenario whose topology is a path relative to the scenario file", async () => {
    const dir = userDir();
    write(dir, "my-topology.yaml", smallTopologyYaml);
    const file = write(dir, "s.yaml", "name: mine\ntopology: ./my-topology.yaml\nworkload: { durationMs: 8s, rate: { kind: constant, perSecond: 10 } }\nslo: [{ metric: counts.lost, max: 0 }]\n");
    const s = await loadScenarioFile(file, "/");
    expect(s).toMatchObject({ name: "mine", description: `scenario file ${file}`, topology: join(dir, "my-topology.yaml"), slo: [{ metric: "counts.lost", max: 0 }] });
    expect(Object.keys(s)).not.toContain("faults"); // left out stays out
    const run = resolveRun(s, {});
    expect(run.topology).toMatchObject({ name: "my-mesh", security: "plaintext", regions: [{ name: "syd" }] });
    expect(run.workload).toMatchObject({ durationMs: 8000, rate: { kind: "constant", perSecond: 10 } });
    expect(run.slo).toEqual([{ metric: "counts.lost", max: 0 }]);
  });

  it("loads a JSON scenario by a relative path from the current directory", async () => {
    const dir = userDir();
    write(dir, "s.json", JSON.stringify({ name: "mine-json", description: "d", topology: "one-region", workload: {} }));
    const s = await loadScenarioFile("./s.json", dir);
    expect(resolveRun(s, {}).topology.name).toBe("one-region");
  });

  it("reports every problem at once, each with its path, as bad input", async () => {
    const dir = userDir();
    const file = write(
      dir,
      "bad.yaml",
      `name: Bad Name
colour: red
topology: ./missing-topology.yaml
workload:
  durationMs: soon
  rate: { kind: constant, perSecond: -1 }
  centrelink: { instances: 2, flavour: x }
slo:
  - { metric: latencyMs.clearance.p42, max: 300 }
  - { metric: counts.lost }
faults:
  - { kind: meteor, target: { pick: one, of: brokers }, at: 5s, duration: 1s }
body: "not allowed in data"
`,
    );
    const err = await rejection(loadScenarioFile(file));
    expect(err.message).toContain(`invalid scenario (${file})`);
    expect(err.problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^scenario\.name: "Bad Name" is not a scenario name/),
        expect.stringMatching(/^scenario\.colour: unknown key \(allowed: name, description, topology, workload/),
        expect.stringMatching(/^scenario\.body: unknown key/),
        expect.stringMatching(/^scenario\.topology: topology spec .*missing-topology\.yaml does not exist/),
        expect.stringMatching(/^scenario\.workload\.durationMs: "soon" is not a duration/),
        expect.stringMatching(/^scenario\.workload\.rate\.perSecond: -1 is below the minimum/),
        expect.stringMatching(/^scenario\.workload\.centrelink\.flavour: unknown key/),
        expect.stringMatching(/^scenario\.slo\[1\]\.max: required/),
        expect.stringMatching(/^scenario\.faults\[0\]\.kind: "meteor"/),
      ]),
    );
    expect(err.problems, err.problems.join("\n")).toHaveLength(9);
    expect(err.hint).toMatch(/code such as body or analyse needs a \.ts scenario/);
  });

  it("checks SLO metric names once every check has a metric and a limit", async () => {
    const dir = userDir();
    const file = write(dir, "slo.yaml", "name: s\ntopology: one-region\nslo:\n  - { metric: latencyMs.clearance.p42, max: 300 }\n  - { metric: counts.vanished, max: 0 }\n");
    const err = await rejection(loadScenarioFile(file));
    expect(err.problems).toEqual(['scenario.slo[0].metric: "latencyMs.clearance.p42" is not a result metric', 'scenario.slo[1].metric: "counts.vanished" is not a result metric']);
  });

  it("takes an SLO in k6 threshold syntax from a YAML file, and lists every bad threshold with its path", async () => {
    const dir = userDir();
    const good = write(dir, "k6.yaml", 'name: s\ntopology: one-region\nslo:\n  thresholds:\n    clearance: ["p(95)<300", "p(99)<300"]\n    counts.lost: ["count==0"]\n');
    const s = await loadScenarioFile(good);
    expect(resolveRun(s, {}).slo).toEqual([
      { metric: "latencyMs.clearance.p95", max: 300, strict: true },
      { metric: "latencyMs.clearance.p99", max: 300, strict: true },
      { metric: "counts.lost", max: 0 },
    ]);
    const bad = write(dir, "k6-bad.yaml", 'name: s\ntopology: one-region\nslo:\n  thresholds:\n    clearance: ["p(97)<300", "p(99)>300"]\n');
    const err = await rejection(loadScenarioFile(bad));
    expect(err.problems).toEqual([
      'scenario.slo.thresholds.clearance[0]: "p(97)<300": "p(97)" is not recorded per run; use p(50), med, p(95), p(99), p(99.9), max',
      'scenario.slo.thresholds.clearance[1]: "p(99)>300": an SLO check is an upper limit (the figure must not exceed it); use < or <=',
    ]);
  });

  it("names the inline topology's problems by their path inside the scenario", async () => {
    const dir = userDir();
    const file = write(dir, "inline.json", JSON.stringify({ name: "s", topology: { name: "t", regions: [{ name: "syd", nodes: [{ id: "a", nodeId: 1, roles: ["broker"], az: "az1" }] }], topics: [] } }));
    const err = await rejection(loadScenarioFile(file));
    expect(err.problems).toEqual(['scenario.topology.regions[0].nodes: region "syd" has no controller; give at least one node the "controller" role']);
  });

  it("reports YAML syntax errors and duplicate keys with their lines", async () => {
    const dir = userDir();
    const file = write(dir, "broken.yaml", "name: a\nname: b\nworkload: { durationMs: 8s\n");
    const err = await rejection(loadScenarioFile(file));
    expect(err.message).toContain(`scenario file ${file} is not valid YAML`);
    expect(err.problems[0]).toMatch(/^line 2, column 1: Map keys must be unique/);
    expect(err.problems[1]).toMatch(/^line 4, column 1: Flow map .* end with a }$/); // the unclosed map, at the end
  });

  it("reads YAML 1.2: `no` and `on` stay strings", () => {
    const dir = userDir();
    expect(readDataFile(write(dir, "x.yaml", "a: no\nb: on\nc: 010\n"), "x")).toEqual({ a: "no", b: "on", c: 10 });
  });

  it("refuses a file that does not exist, with a hint to init", async () => {
    const err = await rejection(loadScenarioFile("/nonexistent/dir/s.yaml"));
    expect(err.message).toBe("scenario file /nonexistent/dir/s.yaml does not exist");
    expect(err.hint).toMatch(/\.\/meshlab init FILE/);
  });
});

describe("TypeScript scenario files outside the repository", () => {
  it("imports the default export, typed against scenarios/api.ts, with its body", async () => {
    const dir = userDir();
    const file = write(
      dir,
      "mine.ts",
      `import type { Scenario, ScenarioContext } from "${ROOT}scenarios/api.ts";
const delay: number = 1_000;
export default {
  name: "mine-ts",
  description: "a user's own",
  topology: "two-region-small",
  workload: { durationMs: "8s", rate: { kind: "constant", perSecond: 10 } },
  async body(ctx: ScenarioContext) { await ctx.atMeasured(delay); ctx.mark("one-second-in"); },
} satisfies Scenario;
`,
    );
    const s = await loadScenarioFile(file);
    expect(s.name).toBe("mine-ts");
    expect(typeof s.body).toBe("function");
    const marks: string[] = [];
    await s.body?.({ atMeasured: async () => {}, mark: (n: string) => marks.push(n) } as never);
    expect(marks).toEqual(["one-second-in"]);
    expect(resolveRun(s, {}).topology.regions.map((r) => r.name)).toEqual(["syd", "mel"]);
  });

  it("validates a code scenario as strictly as data: unknown keys, a body that is no function, a bad workload", async () => {
    const dir = userDir();
    const file = write(dir, "bad.ts", `export default { name: "x", topology: "one-region", workload: { rate: 5 }, body: 42, teardown() {} };\n`);
    const err = await rejection(loadScenarioFile(file));
    expect(err.problems).toEqual([
      "scenario.teardown: unknown key (allowed: name, description, topology, workload, slo, faults, ledgerGraceMs, kafkaConfig, logDirLimitsMb, variants, body, analyse)",
      "scenario.workload.rate: expected an object, got 5",
      "scenario.body: expected a function, got number",
    ]);
  });

  // Node's refusal of TypeScript it cannot strip (an enum) is seen only through the real CLI (the integration test's
  // runs use Node); vitest compiles full TypeScript, so here a syntax error stands for a file that does not load.
  it("refuses a file without a default export, and one that does not load, as bad input", async () => {
    const dir = userDir();
    const none = await rejection(loadScenarioFile(write(dir, "none.ts", "export const x = 1;\n")));
    expect(none.message).toMatch(/exports no scenario/);
    expect(none.hint).toMatch(/export default/);
    const broken = await rejection(loadScenarioFile(write(dir, "broken.ts", "export default { name: \"x\",\n")));
    expect(broken.message).toMatch(/^scenario file .*broken\.ts could not be loaded:/);
    expect(broken.problems).toHaveLength(1);
    expect(broken.hint).toMatch(/no enums/);
  });
});

describe("--topology", () => {
  it("replaces the scenario's topology by a name or by a path to a user's YAML spec", () => {
    const dir = userDir();
    const file = write(dir, "my-topology.yaml", smallTopologyYaml);
    expect(resolveRun(clearanceSmoke, {}).topology.name).toBe("one-region");
    expect(resolveRun(clearanceSmoke, { topology: "two-region-small" }).topology.name).toBe("two-region-small");
    const run = resolveRun(clearanceSmoke, { topology: file });
    expect(run.topology.name).toBe("my-mesh");
    expect(run.topology.topics[0]).toMatchObject({ partitions: 3, replicationFactor: 1 });
    expect(run.workload.rate).toMatchObject({ perSecond: 50 }); // the scenario's workload is kept
  });

  it("reads a relative path from the given folder", () => {
    const dir = userDir();
    write(dir, "t.yaml", smallTopologyYaml);
    expect(loadTopology("./t.yaml", dir).name).toBe("my-mesh");
  });

  it("refuses a missing file, a spec that is not data, and an unknown name, each with a hint", async () => {
    const dir = userDir();
    const missing = await rejection(() => resolveRun(clearanceSmoke, { topology: join(dir, "nope.yaml") }));
    expect(missing.message).toBe(`topology spec ${join(dir, "nope.yaml")} does not exist`);
    const code = await rejection(() => loadTopology(write(dir, "t.ts", "export default {}\n")));
    expect(code.message).toMatch(/cannot read a "\.ts" file as data/);
    expect(code.hint).toMatch(/\.json, \.yaml, \.yml/);
    const unknown = await rejection(() => loadTopology("no-such-topology"));
    expect(unknown.hint).toMatch(/^name one of .*one-region, .*two-region-small, or give a path to a \.json or \.yaml spec/);
  });

  it("validates a user's topology strictly, every problem with its path", async () => {
    const dir = userDir();
    const file = write(dir, "bad.yaml", smallTopologyYaml.replace("az: az1", "az: az1, rack: r1").replaceAll("replicationFactor: 1,", "replicationFactor: 2,"));
    const err = await rejection(() => loadTopology(file));
    expect(err.message).toContain(`invalid topology spec (${file})`);
    expect(err.problems).toEqual([
      "topology.regions[0].nodes[0].rack: unknown key (allowed: id, nodeId, roles, az)",
      'topology.topics[0].replicationFactor: 2 exceeds the 1 broker(s) of region "syd"',
      'topology.topics[1].replicationFactor: 2 exceeds the 1 broker(s) of region "syd"',
    ]);
  });
});

describe("./meshlab init", () => {
  it("writes a TypeScript starter that loads and resolves, and refuses to overwrite it", async () => {
    const dir = userDir();
    const file = writeStarter(undefined, dir);
    expect(file).toBe(join(dir, "my-scenario.ts"));
    const text = readFileSync(file, "utf8");
    expect(text).toContain(`import type { Scenario } from "${ROOT}scenarios/api.ts";`);
    const s = await loadScenarioFile(file);
    expect(s.name).toBe("my-scenario");
    expect(typeof s.body).toBe("function");
    expect(resolveRun(s, {}).workload).toMatchObject({ durationMs: 30_000, rate: { perSecond: 20 }, centrelink: { instances: 2 } });
    const again = await rejection(() => writeStarter("my-scenario.ts", dir));
    expect(again.message).toBe(`init: ${file} already exists`);
    expect(readFileSync(file, "utf8")).toBe(text);
  });

  it("writes a YAML starter with the same data, named after the file", async () => {
    const dir = userDir();
    const file = writeStarter("Load Test.yaml", dir);
    const s = await loadScenarioFile(file);
    expect(s).toMatchObject({ name: "load-test", topology: "one-region", slo: [{ metric: "latencyMs.clearance.p99", max: 300 }, { metric: "counts.lost", max: 0 }] });
    expect(resolveRun(s, {}).workload).toMatchObject({ durationMs: 30_000, rate: { perSecond: 20 } });
  });

  it("refuses JSON (no comments) and other endings", async () => {
    const dir = userDir();
    expect((await rejection(() => writeStarter("s.json", dir))).hint).toMatch(/my-scenario\.yaml/);
    expect((await rejection(() => writeStarter("s.py", dir))).message).toMatch(/unknown kind of scenario file "\.py"/);
  });
});
