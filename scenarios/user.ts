import { existsSync } from "node:fs";
import { dirname, extname, isAbsolute, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseFaults } from "../chaos/spec.ts";
import { LATENCY_METRICS } from "../generators/clearance.ts";
import { parseWorkload } from "../generators/workload.ts";
import { looksLikePath, readDataFile } from "../lab/data-file.ts";
import { BadInputError } from "../lab/errors.ts";
import { COUNT_NAMES } from "../lab/runner.ts";
import { arr, type Check, duration, num, obj, optional, type Problems, record, str } from "../lab/validate.ts";
import { parseSlo, type SloSpec, validateSlo } from "../reports/slo.ts";
import { loadTopology, parseTopology } from "../topology/spec.ts";
import type { Scenario } from "./scenario.ts";

/** Endings of scenario files that are code (imported by Node, types stripped) rather than data. */
const CODE_EXTENSIONS = [".ts", ".mts", ".js", ".mjs"];

/**
 * Loads a scenario file of one's own: TypeScript (its default export, typed with scenarios/api.ts) or data (JSON,
 * YAML). Either is validated strictly, every problem reported at once with its path. A topology path in the file
 * counts from the file's folder.
 */
export async function loadScenarioFile(path: string, cwd = process.cwd()): Promise<Scenario> {
  const file = resolve(cwd, path);
  if (!existsSync(file)) throw new BadInputError(`scenario file ${file} does not exist`, [], "check the path, or write a starter with ./meshlab init FILE");
  const code = CODE_EXTENSIONS.includes(extname(file));
  const input = code ? await importScenario(file) : readDataFile(file, "scenario file");
  return checkScenario(input, { code, source: file, baseDir: dirname(file) });
}

async function importScenario(file: string): Promise<unknown> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (e) {
    throw new BadInputError(
      `scenario file ${file} could not be loaded`,
      [loadProblem(e, file)],
      "Node runs it by stripping types: no enums, namespaces or parameter properties; import the lab's types with `import type`",
    );
  }
  const scenario = mod.default ?? mod.scenario;
  if (scenario === undefined)
    throw new BadInputError(`scenario file ${file} exports no scenario`, [], "end it with `export default { name, description, topology, workload, ... } satisfies Scenario`");
  return scenario;
}

/** Node's reason a module did not load, with the line its stack names first (where a syntax error is). */
function loadProblem(e: unknown, file: string): string {
  const err = e instanceof Error ? e : new Error(String(e));
  const line = err.stack?.startsWith(`${file}:`) ? /^[^\n]*:(\d+)\n/.exec(err.stack)?.[1] : undefined;
  return `${line ? `line ${line}: ` : ""}${err.message.split("\n")[0]}`;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

const fn: Check<(...args: never[]) => unknown> = (v, path, problems) => {
  if (typeof v !== "function") return void problems.push(`${path}: expected a function, got ${typeof v}`);
  return v as (...args: never[]) => unknown;
};

/**
 * Runs one of the lab's parsers (which throw BadInputError) on a part of the scenario, and keeps its problems with
 * the others, their paths moved from the parser's `root` (e.g. `workload`) to where the part sits (`path`); without
 * a root (a spec in another file, whose paths are its own) they are listed under `path`.
 */
function collect<T>(parse: () => T, problems: Problems, path: string, root?: string): T | undefined {
  try {
    return parse();
  } catch (e) {
    if (!(e instanceof BadInputError)) throw e;
    const own = e.problems.length ? e.problems : [e.message];
    problems.push(...own.map((p) => (root && p.startsWith(root) ? `${path}${p.slice(root.length)}` : `${path}: ${p}`)));
    return undefined;
  }
}

/** A topology reference or inline spec; a path becomes absolute (from the scenario's folder) and must load. */
const topologyRef =
  (baseDir: string): Check<string | Record<string, unknown>> =>
  (v, path, problems) => {
    if (isPlainObject(v)) return collect(() => parseTopology(v), problems, path, "topology") && v;
    if (typeof v !== "string" || v === "")
      return void problems.push(`${path}: expected a topology name (one-region), a path to a .json/.yaml spec, or an inline spec`);
    const ref = looksLikePath(v) && !isAbsolute(v) ? resolve(baseDir, v) : v;
    return collect(() => loadTopology(ref), problems, path) && ref;
  };

/** The raw workload, kept as written (the runner applies command-line overrides to it), once it parses. */
const workloadCheck: Check<Record<string, unknown>> = (v, path, problems) =>
  collect(() => parseWorkload(v), problems, path, "workload") && (v as Record<string, unknown>);

/** The SLO as a list of checks, or in k6's threshold syntax (`{ thresholds: { clearance: ["p(95)<300"] } }`). */
const sloCheck: Check<SloSpec> = (v, path, problems) => {
  // The threshold form is kept as written (the runner resolves it), once every threshold parses.
  if (isPlainObject(v)) return collect(() => parseSlo(v, LATENCY_METRICS, COUNT_NAMES), problems, path, "slo") && (v as SloSpec);
  const before = problems.length;
  const slo = arr(obj({ metric: str(), max: num() }))(v, path, problems);
  // Metric names are checked once every check has the shape, so a broken check is reported once.
  if (slo && problems.length === before) collect(() => validateSlo(slo, LATENCY_METRICS, COUNT_NAMES), problems, path, "slo");
  return slo;
};

const faultsCheck: Check<unknown[]> = (v, path, problems) => collect(() => parseFaults(v), problems, path, "faults") && (v as unknown[]);

/** Scenario fields that are data, shared by code and data scenario files. */
const dataFields = (baseDir: string, source: string) => ({
  name: str({ pattern: /^[a-z][a-z0-9-]*$/, patternHint: "a scenario name (lower-case letters, digits and '-', starting with a letter): it names the run directory" }),
  description: optional(str(), `scenario file ${source}`),
  topology: topologyRef(baseDir),
  workload: optional(workloadCheck, {}),
  slo: optional(sloCheck, undefined),
  faults: optional(faultsCheck, undefined),
  ledgerGraceMs: optional(duration, undefined),
  kafkaConfig: optional(record(str({ nonEmpty: false })), undefined),
  logDirLimitsMb: optional(record(num({ integer: true, min: 16 })), undefined),
  variants: optional(
    arr(obj({ name: str(), description: str(), workload: optional(workloadCheck, undefined), faults: optional(faultsCheck, undefined), topology: optional(topologyRef(baseDir), undefined) })),
    undefined,
  ),
});

/**
 * Validates a scenario read from a file: unknown keys are errors, and the workload, SLO, faults and topology are
 * checked by the same parsers the runner uses, so every problem is listed at once. A data scenario cannot carry
 * code (`body`, `analyse`).
 */
export function checkScenario(input: unknown, o: { code: boolean; source: string; baseDir: string }): Scenario {
  const problems: Problems = [];
  const fields = dataFields(o.baseDir, o.source);
  const shape = o.code ? { ...fields, body: optional(fn, undefined), analyse: optional(fn, undefined) } : fields;
  const scenario = obj(shape)(input, "scenario", problems);
  if (problems.length || !scenario)
    throw new BadInputError(
      `invalid scenario (${o.source})`,
      problems,
      `fix the fields named above; README "Your own scenarios and topologies" documents them${o.code ? "" : " (code such as body or analyse needs a .ts scenario)"}`,
    );
  // Keys left out stay out: the runner tells "not given" from "given" by presence.
  return Object.fromEntries(Object.entries(scenario).filter(([, v]) => v !== undefined)) as unknown as Scenario;
}
