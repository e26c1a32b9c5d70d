import { existsSync, writeFileSync } from "node:fs";
import { basename, extname, resolve } from "node:path";
import { BadInputError } from "../lab/errors.ts";
import { repoRoot } from "../lab/install.ts";

/**
 * `./meshlab init [FILE]`: writes a commented starter scenario, TypeScript (default `my-scenario.ts`) or YAML by
 * the file's ending, and returns its absolute path. An existing file is never overwritten.
 */
export function writeStarter(path = "my-scenario.ts", cwd = process.cwd()): string {
  const file = resolve(cwd, path);
  const ext = extname(file);
  if (ext === ".json")
    throw new BadInputError(`init: ${path}: JSON has no comments, so a starter would lose its explanations`, [], "write my-scenario.yaml (data, with comments) or my-scenario.ts; JSON scenarios run too");
  if (![".ts", ".yaml", ".yml"].includes(ext)) throw new BadInputError(`init: ${path}: unknown kind of scenario file "${ext}"`, [], "name it *.ts (data plus code) or *.yaml / *.yml (data only)");
  if (existsSync(file)) throw new BadInputError(`init: ${file} already exists`, [], "pick another file name, or move the file away (init never overwrites)");
  const name = basename(file, ext).toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/^[^a-z]+/, "") || "my-scenario";
  writeFileSync(file, ext === ".ts" ? tsStarter(name, repoRoot()) : yamlStarter(name, repoRoot()), { flag: "wx" });
  return file;
}

const tsStarter = (name: string, root: string): string => `// A meshlab scenario: data (topology, load, SLO, faults) plus an optional async body that acts while the load
// runs. Run it with:  ${root}/meshlab run ./${name}.ts   (--duration, --rate, --topology ... override it)
// Fields: ${root}/scenarios/api.ts; README "Your own scenarios and topologies".
// Node runs this file by stripping its types: keep the lab import \`import type\`, and avoid enums and namespaces.
import type { Scenario } from "${root}/scenarios/api.ts";

export default {
  // Lower-case letters, digits and '-'; it names the run directory (runs/<name>-<time>).
  name: "${name}",
  description: "What this scenario shows, in one line",
  // A spec of ${root}/topology/specs by name (one-region, two-region ...), a path to a JSON or YAML spec of
  // your own (relative to this file: "./my-topology.yaml"), or an inline spec.
  topology: "one-region",
  workload: {
    durationMs: "30s", // measured load; a 10 s warm-up comes first (checked for loss, not in the histograms)
    rate: { kind: "constant", perSecond: 20 }, // clearance requests per second (open model)
    centrelink: { instances: 2 }, // Centrelink consumer engines (one process each)
  },
  // What must hold (exit 1 when a check fails). Metrics: latencyMs.<clearance|produceAck>.<p50|p95|p99|p999|max>
  // and counts.<lost|duplicated|businessDuplicates|errors|unexpected|...>. Left out: p95, p99 <= 300 ms, lost = 0.
  slo: [
    { metric: "latencyMs.clearance.p99", max: 300 },
    { metric: "counts.lost", max: 0 },
  ],
  // Faults are data (chaos/README.md), \`at\` counting from the start of traffic, for example:
  // faults: [{ kind: "latency", target: { pick: "one", of: "brokers" }, links: ["centrelink"], latencyMs: 100, at: "15s", duration: "5s" }],
  // Runs alongside the load; times are ms since the run started.
  async body(ctx) {
    await ctx.atMeasured(5_000);
    ctx.phase("after-5s"); // result.json reports latency per phase
    ctx.mark("five-seconds-in", { brokers: ctx.topology.regions[0]?.nodes.length });
    ctx.findings.note = "set by the body"; // lands in result.json under scenarioResult
  },
} satisfies Scenario;
`;

const yamlStarter = (name: string, root: string): string => `# A meshlab scenario as data: topology, load, SLO and faults (code, such as a body, needs a .ts scenario).
# Run it with:  ${root}/meshlab run ./${name}.yaml   (--duration, --rate, --topology ... override it)
# Fields: README "Your own scenarios and topologies". Unknown keys are errors; every problem is listed at once.

# Lower-case letters, digits and '-'; it names the run directory (runs/<name>-<time>).
name: ${name}
description: What this scenario shows, in one line
# A spec of ${root}/topology/specs by name (one-region, two-region ...), a path to a JSON or YAML spec of your
# own (relative to this file: ./my-topology.yaml), or an inline spec.
topology: one-region
workload:
  durationMs: 30s          # measured load; a 10 s warm-up comes first (checked for loss, not in the histograms)
  rate:
    kind: constant
    perSecond: 20          # clearance requests per second (open model)
  centrelink:
    instances: 2           # Centrelink consumer engines (one process each)
# What must hold (exit 1 when a check fails). Metrics: latencyMs.<clearance|produceAck>.<p50|p95|p99|p999|max>
# and counts.<lost|duplicated|businessDuplicates|errors|unexpected|...>. Left out: p95, p99 <= 300 ms, lost = 0.
slo:
  - { metric: latencyMs.clearance.p99, max: 300 }
  - { metric: counts.lost, max: 0 }
# Faults are data (chaos/README.md), \`at\` counting from the start of traffic, for example:
# faults:
#   - { kind: latency, target: { pick: one, of: brokers }, links: [centrelink], latencyMs: 100, at: 15s, duration: 5s }
`;
