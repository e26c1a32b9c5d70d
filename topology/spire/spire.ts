import { execFile, execFileSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { InfraError } from "../../lab/errors.ts";
import { runTool } from "../../lab/install.ts";
import { progress } from "../../lab/log.ts";
import { DisposableGroup, pidAlive, type ProcessHandle, type Supervisor, waitUntil } from "../../lab/proc.ts";
import { freePorts } from "../plan.ts";
import type { TopologySpec } from "../spec.ts";
import { renderAgentConf, renderHelperConf, renderServerConf, SVID_FILES } from "./config.ts";
import { agentId, type IdentityPlane, renderEntries, spiffeId, svidTtlOf, type Workload } from "./identity.ts";
import { installSpire, type SpireInstall } from "./install.ts";

/** Where a workload finds its current SVID: spiffe-helper rewrites these files on every rotation. */
export interface SvidFiles {
  dir: string;
  svid: string;
  key: string;
  bundle: string;
}

export interface UnixUser {
  name: string;
  uid: number;
  gid: number;
}

/** Creates (once) the system users the workloads run as; their uids are the agents' selectors. */
export function ensureUsers(names: string[]): Record<string, UnixUser> {
  if (process.getuid?.() !== 0)
    throw new InfraError({ component: "spire", message: "the identity plane creates a Unix user per workload and needs root", hint: 'run as root, or set "security": "plaintext" in the topology spec' });
  const out: Record<string, UnixUser> = {};
  for (const name of names) {
    const id = (flag: string) => Number(execFileSync("id", [flag, name], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim());
    try {
      id("-u");
    } catch {
      execFileSync("useradd", ["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name]);
    }
    out[name] = { name, uid: id("-u"), gid: id("-g") };
  }
  return out;
}

/** The mesh's root CA (EC P-256, self-signed), from which every region's SPIRE server takes its intermediate. */
export async function makeRootCa(dir: string, trustDomain: string): Promise<{ cert: string; key: string }> {
  mkdirSync(dir, { recursive: true });
  const cert = join(dir, "root.pem");
  const key = join(dir, "root.key");
  await runTool(
    "spire root ca",
    ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert, "-days", "30", "-subj", `/O=meshlab/CN=${trustDomain} root`,
      "-addext", "basicConstraints=critical,CA:true", "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-addext", `subjectAltName=URI:spiffe://${trustDomain}`],
    { hint: "openssl (Debian package openssl) makes the mesh's root CA" },
  );
  return { cert, key };
}

/**
 * Sockets and SVID files live outside the run directory, in a per-run directory under /tmp that every workload
 * user can traverse: a run directory may sit under a home only root can enter, and Unix socket paths are limited
 * to 107 bytes. Removed with the region (and, for a runner that is gone, by the next mesh: removeStaleSecrets); logs and
 * configs stay in the run directory.
 */
function secretsDir(region: string): string {
  const dir = join(tmpdir(), `meshlab-spire-${process.pid}-${region}`);
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  chmodSync(dir, 0o755);
  return dir;
}

/**
 * Removes the secrets directories of runners that no longer exist (one killed with SIGKILL cannot clean up): SVID
 * keys must not outlive their run. A directory whose pid is alive belongs to a run still going and is left alone.
 */
export function removeStaleSecrets(dir = tmpdir()): string[] {
  const removed: string[] = [];
  for (const name of readdirSync(dir)) {
    const pid = Number(/^meshlab-spire-(\d+)-/.exec(name)?.[1]);
    if (!pid || pidAlive(pid)) continue;
    rmSync(join(dir, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}

type SpireRegionCtx = { plane: IdentityPlane; install: SpireInstall; supervisor: Supervisor; root: { cert: string; key: string }; users: Record<string, UnixUser> };

/** One region's SPIRE: a server, a join-token agent, and one spiffe-helper per workload identity. */
export class SpireRegion implements AsyncDisposable {
  readonly name: string;
  readonly dir: string;
  readonly sockets: string;
  /** Per-run directory of the sockets and SVID files (see `secretsDir`). */
  readonly secrets: string;
  server!: ProcessHandle;
  agent!: ProcessHandle;
  readonly helpers = new Map<Workload, ProcessHandle>();
  readonly #ctx: SpireRegionCtx;
  #port = 0;
  #healthPort = 0;

  constructor(name: string, dir: string, ctx: SpireRegionCtx) {
    this.name = name;
    this.dir = dir;
    this.secrets = secretsDir(name);
    this.sockets = join(this.secrets, "sockets");
    this.#ctx = ctx;
  }

  get serverSocket(): string {
    return join(this.sockets, "server.sock");
  }
  /** The Workload API; the agent wants its admin socket outside this socket's directory. */
  get agentSocket(): string {
    return join(this.sockets, "workload", "agent.sock");
  }

  /** The server's readiness endpoint (its health_checks listener). */
  get readyUrl(): string {
    return `http://127.0.0.1:${this.#healthPort}/ready`;
  }

  /** Every workload with an identity (each has its SVID files in this region). */
  workloads(): Workload[] {
    return this.#ctx.plane.identities.map((i) => i.workload);
  }

  files(workload: Workload): SvidFiles {
    const dir = join(this.secrets, "svid", workload);
    return { dir, svid: join(dir, SVID_FILES.svid), key: join(dir, SVID_FILES.key), bundle: join(dir, SVID_FILES.bundle) };
  }

  async start(): Promise<void> {
    [this.#port, this.#healthPort] = await freePorts(2) as [number, number];
    for (const d of ["workload", "admin"]) mkdirSync(join(this.sockets, d), { recursive: true });
    this.startServer();
    await this.serverHealthy();
    await this.#createEntries();
    const token = await this.#joinToken();
    this.startAgent(token);
    await this.agentHealthy();
    for (const id of this.#ctx.plane.identities) this.startHelper(id.workload);
    await this.#svidsWritten();
  }

  /** `spire-server run`: restartable on the same data dir (chaos: spire-server-down). */
  startServer(): ProcessHandle {
    if (this.server?.running()) return this.server;
    const dir = join(this.dir, "server");
    mkdirSync(join(dir, "data"), { recursive: true });
    const conf = join(dir, "server.conf");
    writeFileSync(conf, renderServerConf({ trustDomain: this.#ctx.plane.trustDomain, port: this.#port, healthPort: this.#healthPort, dataDir: join(dir, "data"), socketPath: this.serverSocket, rootCert: this.#ctx.root.cert, rootKey: this.#ctx.root.key, caTtl: "12h" }));
    this.server = this.#ctx.supervisor.spawn(`spire-server ${this.name}`, [this.#ctx.install.server, "run", "-config", conf], { logFile: join(dir, "server.log"), cwd: dir, stopGraceMs: 3_000 });
    return this.server;
  }

  /** `spire-agent run`; the join token only on the first start, after that the agent re-attests with its own SVID. */
  startAgent(token?: string): ProcessHandle {
    if (this.agent?.running()) return this.agent;
    const dir = join(this.dir, "agent");
    mkdirSync(join(dir, "data"), { recursive: true });
    const conf = join(dir, "agent.conf");
    writeFileSync(conf, renderAgentConf({ trustDomain: this.#ctx.plane.trustDomain, serverPort: this.#port, dataDir: join(dir, "data"), socketPath: this.agentSocket, adminSocketPath: join(this.sockets, "admin", "agent.sock"), trustBundle: this.#ctx.root.cert }));
    const argv = [this.#ctx.install.agent, "run", "-config", conf, ...(token ? ["-joinToken", token] : [])];
    this.agent = this.#ctx.supervisor.spawn(`spire-agent ${this.name}`, argv, { logFile: join(dir, "agent.log"), cwd: dir, stopGraceMs: 3_000 });
    return this.agent;
  }

  /** A spiffe-helper under the workload's own Unix user: the agent attests it by uid and streams its SVIDs. */
  startHelper(workload: Workload): ProcessHandle {
    const running = this.helpers.get(workload);
    if (running?.running()) return running;
    const h = this.startSidecar(workload, this.userOf(workload), this.files(workload).dir);
    this.helpers.set(workload, h);
    return h;
  }

  /** The Unix user a workload runs as (its `unix:uid` selector). */
  userOf(workload: Workload): UnixUser {
    const id = this.#ctx.plane.identities.find((i) => i.workload === workload);
    const user = id && this.#ctx.users[id.user];
    if (!user) throw new Error(`no identity or user for ${workload}`);
    return user;
  }

  /**
   * A spiffe-helper as `user`, writing whatever SVID the agent issues that user into `dir`. For a workload's own
   * sidecar (above), and for a process the agent must refuse (a user no entry names: attestation fails).
   */
  startSidecar(name: string, user: UnixUser, dir: string): ProcessHandle {
    mkdirSync(dir, { recursive: true });
    chownSync(dir, user.uid, user.gid);
    const logs = join(this.dir, "helpers");
    mkdirSync(logs, { recursive: true });
    // The helper reads its config as its own user: next to its SVID directory, not in a run dir it may not enter.
    const conf = join(dir, "..", `${name}.helper.conf`);
    writeFileSync(conf, renderHelperConf({ agentSocket: this.agentSocket, certDir: dir }));
    return this.#ctx.supervisor.spawn(`spiffe-helper ${this.name}/${name}`, [this.#ctx.install.helper, "-config", conf], {
      logFile: join(logs, `${name}.helper.log`),
      cwd: dir,
      stopGraceMs: 1_000,
      user,
    });
  }

  async #cli(what: string, args: string[]): Promise<string> {
    return runTool(`spire-server ${this.name} ${what}`, [this.#ctx.install.server, ...args, "-socketPath", this.serverSocket], {
      hint: `read ${join(this.dir, "server", "server.log")}`,
      timeoutMs: 30_000,
    });
  }

  async serverHealthy(): Promise<void> {
    await waitUntil(`spire-server ${this.name} healthy`, () => this.#cli("healthcheck", ["healthcheck"]).then(() => true, () => undefined), {
      timeoutMs: 30_000,
      intervalMs: 200,
      process: this.server,
      hint: `read ${join(this.dir, "server", "server.log")}`,
    });
  }

  async #createEntries(): Promise<void> {
    const uids = Object.fromEntries(Object.values(this.#ctx.users).map((u) => [u.name, u.uid]));
    const file = join(this.dir, "server", "entries.json");
    writeFileSync(file, `${JSON.stringify(renderEntries(this.#ctx.plane, this.name, uids), null, 1)}\n`);
    await this.#cli("entry create", ["entry", "create", "-data", file]);
  }

  /**
   * Points a workload's registration entry at another Unix uid (`undefined`: its own user's): with a uid nobody runs
   * as, the agent can no longer attest the workload, so it issues it nothing new (chaos: attestation-failure).
   */
  async setEntryUid(workload: Workload, uid?: number): Promise<{ entryId: string; uid: number }> {
    const own = this.userOf(workload).uid;
    const spiffe = spiffeId(this.#ctx.plane, workload);
    const shown = await this.#cli("entry show", ["entry", "show", "-spiffeID", spiffe]);
    const entryId = /Entry ID\s*:\s*(\S+)/.exec(shown)?.[1];
    if (!entryId) throw new InfraError({ component: `spire-server ${this.name}`, message: `no registration entry for ${spiffe}: ${shown.trim()}`, hint: "read the server log" });
    const to = uid ?? own;
    await this.#cli("entry update", ["entry", "update", "-entryID", entryId, "-spiffeID", spiffe, "-parentID", agentId(this.#ctx.plane, this.name), "-selector", `unix:uid:${to}`, "-x509SVIDTTL", String(Math.round(svidTtlOf(this.#ctx.plane, workload) / 1000))]);
    return { entryId, uid: to };
  }

  async #joinToken(): Promise<string> {
    const out = await this.#cli("token generate", ["token", "generate", "-spiffeID", agentId(this.#ctx.plane, this.name), "-ttl", "600"]);
    const token = /Token:\s*(\S+)/.exec(out)?.[1];
    if (!token) throw new InfraError({ component: `spire-server ${this.name}`, message: `no join token in: ${out.trim()}`, hint: "read the server log" });
    return token;
  }

  async agentHealthy(): Promise<void> {
    const agent = this.#ctx.install.agent;
    await waitUntil(`spire-agent ${this.name} attested`, () => promisify(execFile)(agent, ["healthcheck", "-socketPath", this.agentSocket]).then(() => true, () => undefined), {
      timeoutMs: 30_000,
      intervalMs: 200,
      process: this.agent,
      hint: `read ${join(this.dir, "agent", "agent.log")}`,
    });
  }

  async #svidsWritten(): Promise<void> {
    const missing = () => this.#ctx.plane.identities.filter((i) => !Object.values(this.files(i.workload)).every((f) => existsSync(f)));
    await waitUntil(`SVIDs of every workload in ${this.name}`, async () => (missing().length ? undefined : true), {
      timeoutMs: 45_000,
      intervalMs: 250,
      hint: `still without an SVID: ${missing().map((i) => i.workload).join(", ")}; read ${join(this.dir, "helpers")}/*.helper.log and the agent log`,
    });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await Promise.allSettled([...this.helpers.values()].map((h) => h.stop()));
    await Promise.allSettled([this.agent?.stop(), this.server?.stop()]);
    rmSync(this.secrets, { recursive: true, force: true });
  }
}


/** The mesh's identity plane: one root CA, one SPIRE per region, every workload's SVID on disk. */
export class StartedSpire implements AsyncDisposable {
  readonly plane: IdentityPlane;
  readonly regions: SpireRegion[];
  readonly version: string;
  readonly #stack: DisposableGroup;

  private constructor(plane: IdentityPlane, regions: SpireRegion[], version: string, stack: DisposableGroup) {
    this.plane = plane;
    this.regions = regions;
    this.version = version;
    this.#stack = stack;
  }

  static async start(spec: TopologySpec, opts: { runDir: string; supervisor: Supervisor }): Promise<StartedSpire> {
    const install = await installSpire();
    const plane = spec.identity;
    const done = progress(`starting SPIRE (${spec.regions.length} server(s), trust domain ${plane.trustDomain})`);
    const users = ensureUsers(plane.identities.map((i) => i.user));
    removeStaleSecrets();
    const root = await makeRootCa(join(opts.runDir, "spire", "ca"), plane.trustDomain);
    await using stack = new DisposableGroup();
    const regions = spec.regions.map((r) => stack.use(new SpireRegion(r.name, join(opts.runDir, "spire", r.name), { plane, install, supervisor: opts.supervisor, root, users })));
    await Promise.all(regions.map((r) => r.start()));
    done(`${plane.identities.length} identities in ${regions.map((r) => r.name).join(", ")}`);
    return new StartedSpire(plane, regions, install.version, stack.move());
  }

  region(name: string): SpireRegion {
    const r = this.regions.find((x) => x.name === name);
    if (!r) throw new Error(`no SPIRE in region ${name}`);
    return r;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#stack.disposeAsync();
  }
}
