import { execFile, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { InfraError } from "./errors.ts";
import { progress } from "./log.ts";
import { pidAlive } from "./proc.ts";

/** Root of the download cache, shared by every checkout (`MESHLAB_CACHE` overrides it). */
export const cacheRoot = (): string => process.env.MESHLAB_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "meshlab");

/** The repository root. */
export const repoRoot = (): string => process.env.MESHLAB_ROOT ?? join(dirname(new URL(import.meta.url).pathname), "..");

export interface Installed {
  component: string;
  version: string;
  dir: string;
}

/**
 * Installs a component once into `<cache>/<component>/<version>`: a finished install leaves a marker file, so a
 * warm cache costs one stat. The install writes into a scratch folder that is renamed into place only when it
 * succeeded, so an interrupted install never looks finished.
 */
export async function installOnce(
  component: string,
  version: string,
  install: (dir: string) => Promise<void>,
): Promise<Installed> {
  const dir = join(cacheRoot(), component, version);
  const marker = join(dir, ".installed");
  if (existsSync(marker)) return { component, version, dir };
  // One install per folder in this process too: Kafka's is asked for by the mesh and by the SPIFFE plug-ins'
  // install at once (seen on a fresh machine), and two would share (and delete) one scratch folder.
  const running = inProcess.get(dir);
  if (running) return running;
  const p = installFresh(component, version, dir, marker, install);
  inProcess.set(dir, p);
  try {
    return await p;
  } finally {
    inProcess.delete(dir);
  }
}

const inProcess = new Map<string, Promise<Installed>>();

async function installFresh(component: string, version: string, dir: string, marker: string, install: (dir: string) => Promise<void>): Promise<Installed> {
  // Another live process is installing it (a test and a run started together): wait for it, not build it twice.
  if (await otherInstall(dir, marker)) return { component, version, dir };
  const scratch = `${dir}.partial-${process.pid}`;
  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(scratch, { recursive: true });
  const done = progress(`installing ${component} ${version}`);
  try {
    await install(scratch);
    writeFileSync(join(scratch, ".installed"), `${new Date().toISOString()}\n`);
    rmSync(dir, { recursive: true, force: true });
    renameSync(scratch, dir);
    done("done");
  } catch (e) {
    done("failed");
    rmSync(scratch, { recursive: true, force: true });
    throw e;
  }
  return { component, version, dir };
}

/**
 * Waits while another live process has a scratch folder of this install (`<dir>.partial-<pid>`); true if that
 * install finished, false if there is none (or it died) and this process should install itself.
 */
async function otherInstall(dir: string, marker: string, pollMs = 2_000): Promise<boolean> {
  const builders = (): number[] => {
    const parent = dirname(dir);
    const prefix = `${dir.slice(parent.length + 1)}.partial-`;
    if (!existsSync(parent)) return [];
    return readdirSync(parent)
      .filter((n) => n.startsWith(prefix))
      .map((n) => Number(n.slice(prefix.length)))
      .filter((pid) => pid !== process.pid && pid > 0 && pidAlive(pid));
  };
  if (!builders().length) return false;
  const done = progress(`waiting for process ${builders().join(", ")} to finish installing ${dir.slice(cacheRoot().length + 1)}`);
  while (builders().length && !existsSync(marker)) await new Promise((r) => setTimeout(r, pollMs));
  done(existsSync(marker) ? "installed" : "it stopped; installing here");
  return existsSync(marker);
}

export const isInstalled = (component: string, version: string): boolean =>
  existsSync(join(cacheRoot(), component, version, ".installed"));

/** Runs a setup command to completion; on failure the error names the command and quotes its output. */
export async function runTool(
  component: string,
  argv: string[],
  opts: { cwd?: string; env?: Record<string, string>; hint: string; timeoutMs?: number },
): Promise<string> {
  const [cmd, ...args] = argv as [string, ...string[]];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    const timer = opts.timeoutMs ? setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs) : undefined;
    child.on("error", (e) =>
      reject(new InfraError({ component, message: `could not run ${cmd}: ${e.message}`, hint: opts.hint, cause: e })),
    );
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) return resolve(out);
      reject(
        new InfraError({
          component,
          message: `\`${argv.join(" ")}\` failed (exit ${code ?? signal})`,
          hint: opts.hint,
          logTail: out.split("\n").slice(-25).join("\n"),
        }),
      );
    });
  });
}

/** Finds a Java runtime of at least `major` (for Apicurio 3, which needs 21): JAVA_HOME, PATH, /usr/lib/jvm. */
const javaFound = new Map<string, Promise<string>>();

/** Memoized: each stand-up asks several times, and every probe starts a JVM. */
export function findJava(major: number, envVar: string): Promise<string> {
  const key = `${major}:${envVar}`;
  let found = javaFound.get(key);
  if (!found) {
    found = probeJava(major, envVar);
    found.catch(() => javaFound.delete(key));
    javaFound.set(key, found);
  }
  return found;
}

async function probeJava(major: number, envVar: string): Promise<string> {
  const candidates = [
    process.env[envVar] && join(process.env[envVar] as string, "bin/java"),
    process.env.JAVA_HOME && join(process.env.JAVA_HOME, "bin/java"),
    "java",
  ].filter((c): c is string => !!c);
  try {
    const { readdirSync } = await import("node:fs");
    for (const d of readdirSync("/usr/lib/jvm").sort().reverse()) candidates.push(join("/usr/lib/jvm", d, "bin/java"));
  } catch {}
  for (const java of candidates) {
    try {
      const { stderr } = await promisify(execFile)(java, ["-version"]);
      const m = /version "(\d+)/.exec(stderr);
      if (m && Number(m[1]) >= major) return java;
    } catch {}
  }
  throw new InfraError({
    component: "java",
    message: `no Java ${major} or newer found (looked at $${envVar}, $JAVA_HOME, PATH and /usr/lib/jvm)`,
    hint: `install a JDK ${major}+ (e.g. a Temurin ${major} package) or set ${envVar} to its home`,
  });
}

export function readJson<T>(file: string): T {
  return JSON.parse(readFileSync(file, "utf8")) as T;
}

const goEnv = (): Record<string, string> => ({
  // `go install pkg@version` asks the proxy for the version list, which it refuses for some modules here (SPIRE,
  // ghostunnel); a module download does not.
  GOFLAGS: "-mod=mod",
  GOTOOLCHAIN: "local",
});

const goModDir = (module: string, version: string): string =>
  join(execFileSync("go", ["env", "GOMODCACHE"], { encoding: "utf8" }).trim(), `${module}@v${version}`);

/** Builds `cmds` of a Go module at a version from the Go module proxy into `out` (a component's install folder). */
export async function goBuild(component: string, module: string, version: string, out: string, cmds: string[]): Promise<void> {
  const hint = "the Go module proxy must be reachable and Go (`go version`) installed; then retry ./meshlab setup";
  await runTool(`${component} download`, ["go", "mod", "download", `${module}@v${version}`], { env: goEnv(), hint, cwd: out });
  const src = goModDir(module, version);
  await runTool(`${component} dependencies`, ["go", "mod", "download"], { cwd: src, env: goEnv(), hint });
  await runTool(`${component} build`, ["go", "build", "-trimpath", "-o", `${out}/`, ...cmds], { cwd: src, env: goEnv(), hint, timeoutMs: 45 * 60_000 });
}
