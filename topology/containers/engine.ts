import { execFile } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { promisify } from "node:util";
import { InfraError } from "../../lab/errors.ts";
import { cacheRoot } from "../../lab/install.ts";
import { type Supervisor, waitUntil } from "../../lab/proc.ts";

/** The Debian packages of the engine (installed by ./meshlab's setup, see APT_PACKAGES there). */
export const ENGINE_PACKAGES = ["podman", "netavark", "aardvark-dns", "runc", "iptables", "mmdebstrap"];

export const engineDir = (): string => join(cacheRoot(), "containers");

/**
 * Podman's settings for the lab, in the lab's cache (never the machine's /etc): runc (crun fails on this kernel's
 * hybrid cgroups), netavark, open-file limits a broker needs that the default would fail to set, and image
 * storage under the cache.
 */
export function engineEnv(): Record<string, string> {
  const dir = engineDir();
  const conf = join(dir, "containers.conf");
  const storage = join(dir, "storage.conf");
  mkdirSync(join(dir, "storage", "root"), { recursive: true });
  mkdirSync(join(dir, "storage", "run"), { recursive: true });
  writeFileSync(
    conf,
    `[containers]\ndefault_ulimits = ["nofile=${hostLimits().nofile}:${hostLimits().nofile}", "nproc=${hostLimits().nproc}:${hostLimits().nproc}"]\n[engine]\nruntime = "runc"\n[network]\nnetwork_backend = "netavark"\n`,
  );
  writeFileSync(storage, `[storage]\ndriver = "overlay"\ngraphroot = "${join(dir, "storage", "root")}"\nrunroot = "${join(dir, "storage", "run")}"\n`);
  return { CONTAINERS_CONF: conf, CONTAINERS_STORAGE_CONF: storage };
}

/**
 * The limits a container gets: at most this machine's hard limits for the lab. A container cannot raise them
 * ("setrlimit ... Operation not permitted"), and the engine's defaults (or none given) would try to. Processes:
 * 32768 (seen working; the machine's own hard limit of 96367 was refused too).
 */
export function hostLimits(): { nofile: number; nproc: number } {
  const limits = readFileSync("/proc/self/limits", "utf8");
  const hard = (what: string, fallback: number) => Number(new RegExp(`^${what}\\s+\\S+\\s+(\\d+)`, "m").exec(limits)?.[1] ?? fallback);
  return { nofile: Math.min(hard("Max open files", 20_000), 1_048_576), nproc: Math.min(hard("Max processes", 32_768), 32_768) };
}

/** Runs the podman CLI with the lab's settings. */
export async function podman(args: string[], timeoutMs = 600_000): Promise<string> {
  try {
    const { stdout } = await promisify(execFile)("podman", args, { env: { ...process.env, ...engineEnv() }, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string };
    throw new InfraError({
      component: "podman",
      message: err.code === "ENOENT" ? "podman is not installed" : `\`podman ${args.join(" ")}\` failed: ${(err.stderr ?? err.message).trim().slice(-600)}`,
      hint: err.code === "ENOENT" ? `run ./meshlab setup as root, or: apt-get install -y ${ENGINE_PACKAGES.join(" ")}` : "see ../shared/COMPONENTS.md \"Containers on this machine\"",
      cause: e,
    });
  }
}

/** Whether a Docker-compatible API answers on this socket. */
function answers(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath: socket, path: "/_ping", timeout: 2_000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on("error", () => resolve(false));
    req.on("timeout", () => req.destroy());
    req.end();
  });
}

/**
 * The engine's Docker-compatible API for this process: `DOCKER_HOST` if set (a Docker engine, or a Podman service
 * run by someone else), otherwise a rootful `podman system service` on a socket of this process in the lab's
 * cache, started under the run's supervisor (so it ends with the run, or with the runner if it dies). testcontainers
 * reads its settings once per process; they are set here before its first use.
 */
export async function ensureEngine(supervisor: Supervisor): Promise<{ socket: string; engine: string }> {
  process.env.TESTCONTAINERS_RYUK_DISABLED = "true"; // its reaper image cannot be had here: the lab cleans up by label
  process.env.TESTCONTAINERS_HOST_OVERRIDE ??= "127.0.0.1"; // this machine has /.dockerenv, which misleads it
  const given = process.env.DOCKER_HOST;
  if (given && !given.startsWith("unix://")) throw new InfraError({ component: "containers", message: `DOCKER_HOST=${given}: only a local unix socket is supported`, hint: "unset DOCKER_HOST to let the lab start Podman's API" });
  if (given) {
    if (!(await answers(given.slice("unix://".length)))) throw new InfraError({ component: "containers", message: `no engine answers on DOCKER_HOST=${given}`, hint: "start the engine (systemctl start docker, or podman system service), or unset DOCKER_HOST" });
    return { socket: given.slice("unix://".length), engine: "docker-api" };
  }
  const socket = join(engineDir(), `podman-${process.pid}.sock`);
  process.env.DOCKER_HOST = `unix://${socket}`;
  if (await answers(socket)) return { socket, engine: "podman" };
  rmSync(socket, { force: true });
  const version = (await podman(["--version"])).trim();
  const proc = supervisor.spawn("podman-api", ["podman", "system", "service", "--time=0", `unix://${socket}`], {
    env: engineEnv(),
    logFile: join(engineDir(), `podman-${process.pid}.log`),
    stopGraceMs: 5_000,
  });
  await waitUntil("Podman's API", async () => (existsSync(socket) && (await answers(socket)) ? true : undefined), {
    timeoutMs: 30_000,
    intervalMs: 200,
    process: proc,
    hint: `is podman installed (apt-get install -y ${ENGINE_PACKAGES.join(" ")})? its log says why the service stopped`,
  });
  return { socket, engine: version };
}
