import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { request } from "node:http";
import { dirname } from "node:path";
import { type ContainerRuntimeClient, GenericContainer, getContainerRuntimeClient, ImageName, PullPolicy } from "testcontainers";
import { BadInputError, InfraError, InterruptedError } from "../../lab/errors.ts";
import { cacheRoot } from "../../lab/install.ts";
import { progress } from "../../lab/log.ts";
import { type ExitStatus, isSameProcess, type ProcessHandle, procStat, readTail, type SpawnOptions, thisRunner } from "../../lab/proc.ts";
import type { Backend, BackendContext } from "../backend.ts";
import type { Placement } from "../plan.ts";
import { ensureEngine, hostLimits } from "./engine.ts";
import { ensureImage, IMAGE_JAVA_HOME, imageName } from "./image.ts";
import { containersProblems } from "./limits.ts";

/** Every container and network the lab creates carries this label (and the run's, and its runner's). */
export const LAB_LABEL = "meshlab.lab";
const RUN_LABEL = "meshlab.run";
/** `<pid>:<start time>` of the runner that created it: the next start removes what a dead runner left. */
export const RUNNER_LABEL = "meshlab.runner";

/**
 * The `containers` backend: every component process in its own container on one user-defined network per mesh,
 * through testcontainers on a Docker-compatible API (rootful Podman here). Each component gets a fixed address
 * in the network's subnet, so the plan is made before anything starts and the lab on this machine reaches every
 * address (a rootful bridge routes to it). Files reach the containers by bind mounts at their own paths: the run
 * directory and the lab's cache. Signals map onto the engine: SIGKILL/SIGTERM are `kill`, SIGSTOP/SIGCONT are
 * `pause`/`unpause`.
 */
export async function containersBackend(ctx: BackendContext): Promise<Backend> {
  const problems = containersProblems(ctx.spec);
  if (problems.length) throw new BadInputError(`topology ${ctx.spec.name}`, problems, "see README, \"Backends\"");
  const done = progress("containers: engine, image and network");
  const { socket, engine } = await ensureEngine(ctx.supervisor);
  const client = await getContainerRuntimeClient();
  // The lab builds the image into its own Podman; an engine someone else runs (DOCKER_HOST) must have it already.
  const image = engine === "docker-api" ? imageName() : await ensureImage();
  if (!(await client.image.exists(ImageName.fromString(image))))
    throw new InfraError({
      component: "containers",
      message: `the engine at ${socket} has no image ${image}`,
      hint: "the lab never pulls: build the rootfs as README \"Backends\" says and import it (docker import rootfs.tar <that name>), or unset DOCKER_HOST to use the lab's Podman",
    });
  const reaped = await reapContainers(socket);
  const id = randomBytes(4).toString("hex");
  const network = `meshlab-${id}`;
  const runner = thisRunner();
  const labels = { [LAB_LABEL]: "true", [RUN_LABEL]: id, [RUNNER_LABEL]: `${runner.pid}:${runner.startTime}` };
  const net = await client.network.create({ Name: network, Driver: "bridge", Labels: labels, CheckDuplicate: true });
  const subnet = (await client.network.getById(net.id).inspect()).IPAM?.Config?.[0]?.Subnet ?? "";
  const m = /^(\d+\.\d+\.\d+)\.0\/24$/.exec(subnet);
  if (!m) {
    await client.network.remove(client.network.getById(net.id)).catch(() => {});
    throw new InfraError({ component: "containers", message: `network ${network} got subnet "${subnet}"; the lab needs a /24`, hint: "the engine's default network pool should hand out /24s (Podman's 10.89.x.0/24 does)" });
  }
  done(`${engine}, ${image}, network ${network} (${subnet})${reaped ? `, ${reaped} left-over object(s) removed` : ""}`);

  const hosts = new Map<string, string>(); // component -> address
  const placement: Placement = {
    perSourceLinks: false,
    hostOf(component) {
      let h = hosts.get(component);
      if (!h) {
        if (hosts.size >= 240) throw new Error(`containers: more than 240 components in network ${network}`);
        h = `${m[1]}.${10 + hosts.size}`;
        hosts.set(component, h);
      }
      return h;
    },
  };
  const containerName = (host: string): string => {
    const component = [...hosts].find(([, h]) => h === host)?.[0];
    if (!component) throw new Error(`containers: no component at ${host} (addresses come from the plan: ${[...hosts.values()].join(", ")})`);
    return `${network}-${component.replace(/[^a-zA-Z0-9_.-]/g, "-")}`;
  };
  const latest = new Map<string, ContainerHandle>(); // per host: a restart replaces the container at that address
  let closed = false;
  return {
    name: "containers",
    placement,
    details: { engine, image, network, subnet },
    spawn(name: string, argv: readonly string[], opts: SpawnOptions): ProcessHandle {
      if (closed) throw new InterruptedError(`teardown (not starting ${name})`);
      if (!opts.host) throw new Error(`${name}: the containers backend needs the address the process serves on (SpawnOptions.host)`);
      if (opts.user) throw new Error(`${name}: the containers backend does not run processes as other users (an mTLS mesh needs that)`);
      const cname = containerName(opts.host);
      const before = latest.get(opts.host);
      const h = new ContainerHandle(name, cname, opts.logFile, opts.stopGraceMs ?? 10_000, client, async () => {
        await before?.removed();
        return new MeshContainer(image, network, opts.host as string)
          .withName(cname)
          .withLabels({ ...labels, "meshlab.component": name })
          .withCommand([...argv])
          .withWorkingDir(opts.cwd ?? ctx.runDir)
          .withEnvironment(Object.fromEntries(Object.entries(opts.env ?? {}).filter((e): e is [string, string] => e[1] !== undefined)))
          .withBindMounts(mountsFor(argv, ctx.runDir))
          .withUlimits(Object.fromEntries(Object.entries(hostLimits()).map(([k, n]) => [k, { soft: n, hard: n }])))
          .withPullPolicy(PullPolicy.neverPull())
          .withLogConsumer((s) => s.pipe(createWriteStream(opts.logFile, { flags: "a" })))
          .start()
          .then((c) => c.getId());
      });
      latest.set(opts.host, h);
      return h;
    },
    async [Symbol.asyncDispose]() {
      closed = true;
      await Promise.allSettled([...latest.values()].map((h) => h.stop()));
      await Promise.allSettled([...latest.values()].map((h) => h.removed()));
      await client.network.remove(client.network.getById(net.id)).catch(async (e: unknown) => {
        throw new InfraError({ component: "containers", message: `could not remove network ${network}: ${(e as Error).message}`, hint: "the next containers run removes it (by label)", cause: e });
      });
    },
  };
}

/** The run directory and the lab's cache at their own paths, and a JVM of this machine that the image has not. */
function mountsFor(argv: readonly string[], runDir: string): { source: string; target: string; mode: "rw" | "ro" }[] {
  const mounts: { source: string; target: string; mode: "rw" | "ro" }[] = [
    { source: runDir, target: runDir, mode: "rw" },
    { source: cacheRoot(), target: cacheRoot(), mode: "rw" },
  ];
  const cmd = argv[0] ?? "";
  if (cmd.startsWith("/usr/lib/jvm/") && !cmd.startsWith(`${IMAGE_JAVA_HOME}/`)) {
    const home = dirname(dirname(cmd));
    mounts.push({ source: home, target: home, mode: "ro" });
  }
  return mounts;
}

/** A container on the mesh's network at a fixed address (testcontainers has no option for one, the API has). */
class MeshContainer extends GenericContainer {
  constructor(image: string, network: string, ip: string) {
    super(image);
    this.hostConfig.NetworkMode = network;
    this.createOpts.NetworkingConfig = { EndpointsConfig: { [network]: { IPAMConfig: { IPv4Address: ip } } } };
  }
}

const SIGNAL_EXIT: Record<number, NodeJS.Signals> = { 137: "SIGKILL", 143: "SIGTERM" };

/** One component's container as a ProcessHandle: what chaos and readiness already use for local processes. */
class ContainerHandle implements ProcessHandle {
  readonly name: string;
  readonly logFile: string;
  readonly exited: Promise<ExitStatus>;
  #status: ExitStatus | undefined;
  #pid = 0;
  readonly #started: Promise<string | undefined>;
  readonly #client: ContainerRuntimeClient;
  readonly #graceMs: number;
  #ops: Promise<unknown> = Promise.resolve();
  #stopping: Promise<ExitStatus> | undefined;
  #removed: Promise<void> | undefined;

  readonly #containerName: string;

  constructor(name: string, containerName: string, logFile: string, graceMs: number, client: ContainerRuntimeClient, start: () => Promise<string>) {
    this.name = name;
    this.#containerName = containerName;
    this.logFile = logFile;
    this.#client = client;
    this.#graceMs = graceMs;
    let settle: (s: ExitStatus) => void = () => {};
    this.exited = new Promise((r) => (settle = r));
    const finish = (s: ExitStatus) => {
      this.#status ??= s;
      settle(this.#status);
    };
    this.#started = start().then(
      async (id) => {
        const c = client.container.getById(id);
        this.#pid = (await c.inspect()).State.Pid ?? 0;
        // The engine's own wait polls the runtime (Podman 4.3: `runc state` four times a second per container, half
        // a core for a mesh): the container's process is watched from this machine instead, and asked once at exit.
        const self = { pid: this.#pid, startTime: procStat(this.#pid) ?? "" };
        const watch = setInterval(async () => {
          if (isSameProcess(self)) return;
          clearInterval(watch);
          const code = await c.inspect().then(
            (i) => i.State.ExitCode,
            () => undefined,
          );
          finish(code === undefined ? { code: null, signal: null } : { code: SIGNAL_EXIT[code] ? null : code, signal: SIGNAL_EXIT[code] ?? null });
        }, 250);
        return id;
      },
      (e: unknown) => {
        // A container that could not start is a process that exited at once: the reason goes to its log.
        createWriteStream(logFile, { flags: "a" }).end(`meshlab: container for ${name} did not start: ${(e as Error).message}\n`);
        finish({ code: 125, signal: null });
        return undefined;
      },
    );
  }

  get pid(): number {
    return this.#pid;
  }

  running(): boolean {
    return this.#status === undefined;
  }

  /** The engine's operations, one after another (a pause must land before its unpause). */
  #op(what: (c: ReturnType<ContainerRuntimeClient["container"]["getById"]>) => Promise<unknown>): Promise<void> {
    const next = this.#ops.then(async () => {
      const id = await this.#started;
      if (id && this.running()) await what(this.#client.container.getById(id)).catch(() => {});
    });
    this.#ops = next;
    return next;
  }

  signal(sig: NodeJS.Signals): void {
    if (!this.running()) return;
    if (sig === "SIGSTOP") void this.#op((c) => c.pause());
    else if (sig === "SIGCONT") void this.#op((c) => c.unpause());
    else void this.#op((c) => c.kill({ signal: sig }));
  }

  stop(graceMs = this.#graceMs): Promise<ExitStatus> {
    this.#stopping ??= (async () => {
      await this.#op(async (c) => {
        await c.unpause().catch(() => {}); // a paused process cannot act on SIGTERM
        await c.stop({ t: Math.ceil(graceMs / 1000) });
      });
      return this.exited;
    })();
    return this.#stopping;
  }

  /** Settles once the container is gone from the engine (a restart at the same address needs its name). */
  removed(): Promise<void> {
    this.#removed ??= (async () => {
      await this.stop();
      // A container that failed to start may still exist under its name.
      const id = (await this.#started) ?? this.#containerName;
      await this.#client.container.getById(id).remove({ force: true, v: true }).catch(() => {});
    })();
    return this.#removed;
  }

  async logTail(lines = 30): Promise<string> {
    return readTail(this.logFile, lines);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.removed();
  }
}

/** One call to the engine's API on its socket (listing by label, which testcontainers' client has not). */
function engineApi<T>(socket: string, method: string, path: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, method, path, timeout: 30_000 }, (res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => ((res.statusCode ?? 500) < 300 ? resolve((body ? JSON.parse(body) : undefined) as T) : reject(new Error(`${method} ${path}: ${res.statusCode} ${body.slice(0, 300)}`))));
    });
    req.on("error", reject);
    req.on("timeout", () => req.destroy(new Error(`${method} ${path}: timed out`)));
    req.end();
  });
}

/**
 * Removes the containers and networks of lab runs whose runner is gone (a killed run leaves them, as conmon keeps
 * containers alive). Another live run's objects are left alone: its runner's pid and start time still match.
 * Returns how many objects were removed.
 */
export async function reapContainers(socket: string): Promise<number> {
  const filter = encodeURIComponent(JSON.stringify({ label: [`${LAB_LABEL}=true`] }));
  const orphaned = (labels: Record<string, string> | null | undefined): boolean => {
    const [pid, startTime] = (labels?.[RUNNER_LABEL] ?? "").split(":");
    return !isSameProcess({ pid: Number(pid), startTime: startTime ?? "" });
  };
  const containers = await engineApi<{ Id: string; Labels: Record<string, string> }[]>(socket, "GET", `/containers/json?all=true&filters=${filter}`);
  const networks = await engineApi<{ Id: string; Labels: Record<string, string> | null }[]>(socket, "GET", `/networks?filters=${filter}`);
  const dead = containers.filter((c) => orphaned(c.Labels));
  await Promise.all(dead.map((c) => engineApi(socket, "DELETE", `/containers/${c.Id}?force=true&v=true`)));
  const deadNets = networks.filter((n) => orphaned(n.Labels));
  for (const n of deadNets) await engineApi(socket, "DELETE", `/networks/${n.Id}`);
  return dead.length + deadNets.length;
}
