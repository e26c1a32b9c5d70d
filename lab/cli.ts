import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { ENCODINGS, type Encoding } from "../generators/codec.ts";
import { NAMED_PROFILES } from "../generators/profiles.ts";
import { findScenario, scenarios, suites } from "../scenarios/index.ts";
import { writeStarter } from "../scenarios/starter.ts";
import { loadScenarioFile } from "../scenarios/user.ts";
import { ensureImage } from "../topology/containers/image.ts";
import { installMeshComponents } from "../topology/local/mesh.ts";
import { installKafka, KAFKA_VERSIONS } from "../topology/kafka/install.ts";
import { loadTopology } from "../topology/spec.ts";
import { looksLikePath } from "./data-file.ts";
import { BadInputError, describeError, ExitCode, exitCodeOf } from "./errors.ts";
import { repoRoot } from "./install.ts";
import { info } from "./log.ts";
import { reportCommands } from "./report-commands.ts";
import { resolveRun, runRepeated, runScenario, SOAK_DURATION_MS } from "./runner.ts";
import { findMax, findMaxConflicts } from "./find-max.ts";
import { runSuite } from "./suite.ts";
import { runVariants } from "./variants.ts";
import { parseDuration } from "./validate.ts";
import { preflightCommand } from "./preflight-command.ts";

export interface Command {
  summary: string;
  usage: string;
  help: string;
  options: Record<string, { type: "string" | "boolean"; short?: string; multiple?: boolean }>;
  /** Options that take every argument after them up to the next option (`--baseline a b c`); declare them `multiple`. */
  lists?: string[];
  run(values: Record<string, string | boolean | string[] | undefined>, positionals: string[]): Promise<number>;
}

/** `--baseline a b --candidate c` -> `--baseline a --baseline b --candidate c`, for the options in `lists`. */
function expandLists(args: readonly string[], lists: readonly string[]): string[] {
  const out: string[] = [];
  let list: string | undefined;
  for (const a of args) {
    if (a.startsWith("-")) {
      list = lists.find((l) => a === `--${l}`);
      if (!list) out.push(a);
      continue;
    }
    out.push(...(list ? [`--${list}`, a] : [a]));
  }
  return out;
}

const commands: Record<string, Command> = {
  run: {
    summary: "stand up a mesh, run a scenario, write result.json and the HDR files",
    usage: "./meshlab run <scenario | FILE.ts | FILE.yaml | FILE.json> [--repeat N] [--topology NAME|FILE] [--duration 30s | --soak] [--rate N | --profile seed-steady|seed-eofy | --replay FILE.csv] [--scale X] [--seed N] [--out DIR] [--driver confluent|kafkajs] [--consumers N] [--security mtls|plaintext] [--backend local|containers] [--encoding avro|protobuf] [--warmup-max D] [--find-max [--max-steps N] [--capacity-records N]]",
    help: `Runs a scenario end to end on real components (Kafka, Apicurio, Toxiproxy) as local processes: a built-in
one by name, or a scenario file of your own (an argument with a '/' or ending in .ts, .json, .yaml or .yml;
./meshlab init writes a starter).

Options:
  --topology T     run on another topology: a spec of topology/specs by name, or a path to a JSON/YAML spec
  --duration D     how long load is offered (e.g. 30s, 5m, 8h); the drain comes after
  --soak           a soak: 8 h unless --duration says otherwise (README: "Soak")
  --rate N         constant arrival rate, clearance requests per second
  --profile NAME   the seed's load: seed-steady (42,000/s) or seed-eofy (steady, ramp to 115,000/s, hold, back);
                   step, spike, ramp, diurnal and stages profiles are set in a scenario's workload.rate
  --replay FILE    replay a per-second rate trace from a CSV file (one rate a line, or time,rate)
  --scale X        multiply every rate of the profile (e.g. 0.002: seed-steady becomes 84/s)
  --seed N         seed for the generated taxpayers, assessments and debts
  --out DIR        run directory (default runs/<scenario>-<time>); must not hold an earlier run
  --driver NAME    Kafka client driver: confluent (librdkafka, default) or kafkajs
  --consumers N    Centrelink consumer-engine instances
  --security S     mtls (the default: SPIRE SVIDs on every link) or plaintext (for comparison), over the topology
  --backend B      where the mesh runs, over the topology's backend: local (processes, the default) or containers
                   (Podman or Docker through testcontainers; plaintext meshes only)
  --encoding E     payload encoding of both topics: avro or protobuf, over the scenario's workload.encoding
  --repeat N       run it N times, each on a freshly stood-up mesh, into <out>/rep-1..N (default out:
                   runs/<scenario>-<time>-xN): a set for ./meshlab compare --baseline/--candidate
  --warmup-max D   warm up until the flow is caught up (backlog near zero for 3 s), at most D, before measuring;
                   result.json's warmup says how long it took; a flow that never settles fails the run
  --find-max       find the highest rate the mesh holds within the SLO: steps from --rate (default 50/s) up,
                   doubling, then bisecting, each held for --duration (default 20s) after a warm-up until steady
                   (5-20 s); also measures Kafka's raw produce capacity on the same mesh; writes
                   find-max.json/.md/.html (README: "The highest rate the mesh holds")
  --max-steps N    with --find-max: steps at most (default 12)
  --capacity-records N  with --find-max: records Kafka's ProducerPerformance sends for the capacity (default 50000)

Writes report.html, junit.xml and summary.md next to result.json at the end.
Exit codes: 0 SLO passed, 1 SLO breached, 2 bad input, 3 infrastructure failure, 130 interrupted.
Scenarios: ${Object.keys(scenarios).join(", ")}; suites: ${Object.keys(suites).join(", ")} (see ./meshlab list).`,
    options: {
      duration: { type: "string" },
      rate: { type: "string" },
      profile: { type: "string" },
      replay: { type: "string" },
      scale: { type: "string" },
      seed: { type: "string" },
      out: { type: "string" },
      driver: { type: "string" },
      consumers: { type: "string" },
      security: { type: "string" },
      backend: { type: "string" },
      topology: { type: "string" },
      encoding: { type: "string" },
      soak: { type: "boolean" },
      repeat: { type: "string" },
      "find-max": { type: "boolean" },
      "warmup-max": { type: "string" },
      "max-steps": { type: "string" },
      "capacity-records": { type: "string" },
    },
    async run(v, pos) {
      const [name, ...extra] = pos;
      if (!name) throw new BadInputError("run: which scenario?", [], `usage: ${commands.run?.usage}`);
      if (extra.length) throw new BadInputError(`run: unexpected argument(s) ${extra.join(" ")}`, [], `usage: ${commands.run?.usage}`);
      const problems: string[] = [];
      const number = (flag: string, min: number, integer: boolean): number | undefined => {
        const raw = v[flag];
        if (raw === undefined) return undefined;
        const n = Number(raw);
        if (!Number.isFinite(n) || n < min || (integer && !Number.isInteger(n))) problems.push(`--${flag} ${raw}: expected ${integer ? "an integer" : "a number"} >= ${min}`);
        return n;
      };
      let durationMs: number | undefined;
      if (v.duration !== undefined) {
        durationMs = parseDuration(v.duration);
        if (durationMs === undefined || durationMs <= 0) problems.push(`--duration ${v.duration}: expected a duration such as 30s, 5m or 1h`);
      } else if (v.soak) durationMs = SOAK_DURATION_MS;
      let warmupMaxMs: number | undefined;
      if (v["warmup-max"] !== undefined) {
        warmupMaxMs = parseDuration(v["warmup-max"]);
        if (warmupMaxMs === undefined || warmupMaxMs <= 0) problems.push(`--warmup-max ${v["warmup-max"]}: expected a duration such as 60s`);
      }
      const overrides = {
        durationMs,
        warmupMaxMs,
        perSecond: number("rate", 0.001, false),
        profile: v.profile as string | undefined,
        replay: v.replay as string | undefined,
        scale: number("scale", 0.000001, false),
        seed: number("seed", 0, true),
        consumers: number("consumers", 1, true),
        out: v.out as string | undefined,
        driver: v.driver as string | undefined,
        security: v.security as "mtls" | "plaintext" | undefined,
        backend: v.backend as "local" | "containers" | undefined,
        topology: topologyArg(v.topology as string | undefined),
        encoding: v.encoding as Encoding | undefined,
      };
      if (v.encoding !== undefined && !(ENCODINGS as readonly unknown[]).includes(v.encoding)) problems.push(`--encoding ${v.encoding}: expected ${ENCODINGS.join(" or ")}`);
      if (v.security !== undefined && v.security !== "mtls" && v.security !== "plaintext") problems.push(`--security ${v.security}: expected mtls or plaintext`);
      if (v.backend !== undefined && v.backend !== "local" && v.backend !== "containers") problems.push(`--backend ${v.backend}: expected local or containers (hosts is not available yet)`);
      if ([v.rate, v.profile, v.replay].filter((x) => x !== undefined).length > 1) problems.push("--rate, --profile and --replay each set the rate: give one");
      if (v.profile !== undefined && !NAMED_PROFILES.includes(v.profile as string))
        problems.push(`--profile ${v.profile}: expected ${NAMED_PROFILES.join(" or ")} (other profiles take parameters: set them in the scenario's workload.rate)`);
      const repeat = number("repeat", 1, true);
      const search = { maxSteps: number("max-steps", 1, true), capacityRecords: number("capacity-records", 1000, true) };
      if (v["find-max"]) problems.push(...findMaxConflicts({ suite: suites[name] !== undefined, repeat, profile: v.profile, replay: v.replay, soak: v.soak }));
      else if (search.maxSteps !== undefined || search.capacityRecords !== undefined) problems.push("--max-steps and --capacity-records: only with --find-max");
      if (problems.length) throw new BadInputError("run: bad option(s)", problems, "./meshlab run --help lists the options");
      const suite = suites[name];
      if (suite) {
        if (repeat !== undefined && repeat > 1) throw new BadInputError("run: bad option(s)", [`--repeat ${repeat}: ${name} is a suite of scenarios; repeat it from a script instead`], "./meshlab run --help lists the options");
        return runSuite(suite, overrides);
      }
      const scenario = looksLikePath(name) ? await loadScenarioFile(name) : findScenario(name);
      if (repeat !== undefined && repeat > 1) {
        if (scenario.variants) throw new BadInputError("run: bad option(s)", [`--repeat ${repeat}: ${scenario.name} runs variants already; repeat it from a script instead`], "./meshlab run --help lists the options");
        return runRepeated(scenario, overrides, repeat);
      }
      if (v["find-max"]) return findMax(scenario, overrides, search);
      if (scenario.variants) return runVariants(scenario, overrides);
      return runScenario(resolveRun(scenario, overrides), overrides);
    },
  },

  init: {
    summary: "write a commented starter scenario of your own (TypeScript, or YAML by the file's ending)",
    usage: "./meshlab init [FILE.ts | FILE.yaml]",
    help: `Writes a commented starter scenario (default ./my-scenario.ts) that imports the lab's Scenario type from this
checkout, ready for ./meshlab run ./my-scenario.ts. A .yaml or .yml file gets the data-only form. Never overwrites
an existing file (exit 2).`,
    options: {},
    async run(_v, pos) {
      if (pos.length > 1) throw new BadInputError(`init: one file at most, got ${pos.length}`, [], `usage: ${commands.init?.usage}`);
      const file = writeStarter(pos[0]);
      info(`wrote ${file}; run it with: ${join(repoRoot(), "meshlab")} run ${file}`);
      return ExitCode.ok;
    },
  },

  list: {
    summary: "list the scenarios",
    usage: "./meshlab list",
    help: "Lists every scenario with what it does.",
    options: {},
    async run() {
      for (const s of Object.values(scenarios)) process.stdout.write(`${s.name.padEnd(20)} ${s.description}\n`);
      for (const s of Object.values(suites)) process.stdout.write(`${s.name.padEnd(20)} (suite: ${s.rows.map((r) => r.scenario).join(", ")}) ${s.description}\n`);
      return ExitCode.ok;
    },
  },

  setup: {
    summary: "install every component into the cache (idempotent; run implicitly by run and test)",
    usage: "./meshlab setup",
    help: `Fetches and builds what the lab runs, pinned, into ~/.cache/meshlab (MESHLAB_CACHE overrides):
  Node LTS and npm packages (by ./meshlab itself), Kafka jars and tools (Maven Central), MirrorMaker 2
  (Maven Central), Apicurio Registry (Maven Central), Toxiproxy (go install), SPIRE and spiffe-helper (built from
  the Go module proxy: about 10 CPU minutes the first time) and the lab's Kafka SPIFFE plug-ins; Redis comes from
  Debian with the build packages. The containers backend's image is built from Debian's packages with mmdebstrap
  and imported into Podman (1-2.5 minutes the first time). A warm cache makes this a few stat calls.`,
    options: {},
    async run() {
      const [versions, image] = await Promise.all([installEverything(), ensureImage()]);
      info(`ready: ${Object.entries(versions).map(([k, v]) => `${k} ${v}`).join(", ")}, node ${process.version}, container image ${image}`);
      return ExitCode.ok;
    },
  },

  test: {
    summary: "type-check, lint, and run the unit and integration tests",
    usage: "./meshlab test [--unit | --integration] [-- vitest args]",
    help: `Runs the TypeScript type checker (strict), the linter (Biome), then the tests with Vitest:
  unit tests (pure logic) and integration tests (real Kafka, Apicurio and Toxiproxy processes).
  --unit / --integration   run only that project (type check and lint still run)`,
    options: { unit: { type: "boolean" }, integration: { type: "boolean" } },
    async run(v, pos) {
      const root = repoRoot();
      const bin = (n: string) => join(root, "node_modules", ".bin", n);
      const step = (what: string, argv: string[]): number => {
        info(what);
        const r = spawnSync(argv[0] as string, argv.slice(1), { cwd: root, stdio: "inherit" });
        return r.status ?? 1;
      };
      if (step("type check (tsc --strict)", [bin("tsc"), "-p", "tsconfig.json"]) !== 0) return ExitCode.sloBreached;
      if (step("lint (biome)", [bin("biome"), "lint", "--error-on-warnings", "."]) !== 0) return ExitCode.sloBreached;
      const projects = v.unit ? ["--project", "unit"] : v.integration ? ["--project", "integration"] : [];
      // Everything the integration tests start, before any of them runs: a build inside a test (SPIRE takes
      // about 10 CPU minutes on a fresh machine) would eat its timeout.
      if (!v.unit) await Promise.all([installEverything(), ensureImage()]);
      return step("tests (vitest)", [bin("vitest"), "run", ...projects, ...pos]) === 0 ? ExitCode.ok : ExitCode.sloBreached;
    },
  },

  ...reportCommands,
  preflight: preflightCommand,
};

/** `--topology`: a name stays a name; a path counts from the directory the command was run in. */
const topologyArg = (ref: string | undefined): string | undefined => (ref !== undefined && looksLikePath(ref) ? resolve(ref) : ref);

/** A spec that needs every component: two regions (MirrorMaker 2 besides the one-region set) on mTLS (SPIRE). */
const everyComponent = () => ({ ...loadTopology("two-region"), security: "mtls" as const });
/** Every component, and every pinned Kafka version (a rolling upgrade runs two side by side). */
const installEverything = async () => (await Promise.all([installMeshComponents(everyComponent()), ...KAFKA_VERSIONS.map((v) => installKafka(v))]))[0];

function globalHelp(): string {
  return [
    "meshlab: simulation and chaos test lab for the event-driven data mesh",
    "",
    "Usage: ./meshlab <command> [options]    (./meshlab <command> --help for more)",
    "",
    ...Object.entries(commands).map(([n, c]) => `  ${n.padEnd(10)} ${c.summary}`),
    "",
    "First time: ./meshlab run clearance-smoke   (sets everything up, then runs the flagship scenario)",
  ].join("\n");
}

// kafkajs (unmaintained) arms its request-queue timer with a negative delay when nothing is pending; Node clamps
// it to 1 ms and prints a TimeoutNegativeWarning into the run's output. Every other warning is still printed.
process.removeAllListeners("warning");
process.on("warning", (w) => {
  if (w.name !== "TimeoutNegativeWarning") console.error(`(node) ${w.name}: ${w.message}`);
});

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    const target = name === "help" ? rest[0] : undefined;
    process.stdout.write(`${target && commands[target] ? `${commands[target].usage}\n\n${commands[target].help}` : globalHelp()}\n`);
    return ExitCode.ok;
  }
  if (name === "--version") {
    process.stdout.write(`meshlab ${JSON.parse(readFileSync(join(repoRoot(), "package.json"), "utf8")).version}\n`);
    return ExitCode.ok;
  }
  const cmd = commands[name];
  if (!cmd) throw new BadInputError(`unknown command "${name}"`, [], `commands: ${Object.keys(commands).join(", ")} (./meshlab --help)`);
  const dashdash = rest.indexOf("--");
  const own = dashdash >= 0 ? rest.slice(0, dashdash) : rest;
  const passthrough = dashdash >= 0 ? rest.slice(dashdash + 1) : [];
  if (own.includes("--help") || own.includes("-h")) {
    process.stdout.write(`${cmd.usage}\n\n${cmd.help}\n`);
    return ExitCode.ok;
  }
  let parsed: { values: Record<string, string | boolean | string[] | undefined>; positionals: string[] };
  try {
    parsed = parseArgs({ args: expandLists(own, cmd.lists ?? []), options: cmd.options, allowPositionals: true, strict: true }) as typeof parsed;
  } catch (e) {
    throw new BadInputError(`${name}: ${(e as Error).message}`, [], `usage: ${cmd.usage}`);
  }
  return cmd.run(parsed.values, [...parsed.positionals, ...passthrough]);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`${describeError(e)}\n`);
    process.exit(exitCodeOf(e));
  },
);
