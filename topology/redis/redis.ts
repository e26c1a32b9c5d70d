import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, rmSync, statSync } from "node:fs";
import { createConnection } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { createClient } from "redis";
import { type ClientTls, nodeTlsOptions } from "../../generators/drivers/driver.ts";
import { join } from "node:path";
import { InfraError } from "../../lab/errors.ts";
import { type Launcher, type ProcessHandle, waitUntil } from "../../lab/proc.ts";
import { addr, type Endpoint } from "../plan.ts";

/** Redis comes from Debian (`redis-server`), which the `meshlab` wrapper installs with the build packages. */
export function redisVersion(): string {
  try {
    return /v=(\S+)/.exec(execFileSync("redis-server", ["--version"], { encoding: "utf8" }))?.[1] ?? "unknown";
  } catch {
    throw new InfraError({
      component: "redis",
      message: "redis-server is not installed",
      hint: "run ./meshlab setup as root, or: apt-get install -y redis-server",
    });
  }
}

/** Where TLS material comes from on an mTLS mesh: Redis's own SVID (dedupe-store) and the lab's, for its checks. */
export interface RedisTls {
  server: ClientTls;
  lab: ClientTls;
}

/** One PING over a fresh socket (mutual TLS with the lab's SVID on an mTLS mesh): readiness without a client library. */
function ping(at: Endpoint, tls?: ClientTls): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tls
      ? tlsConnect({ host: at.host, port: at.port, ...nodeTlsOptions(tls) })
      : createConnection(at.port, at.host);
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(1000, () => done(false));
    s.once("error", () => done(false));
    s.once("data", (d) => done(d.toString().startsWith("+PONG")));
    s.write("PING\r\n");
  });
}

/** Copies Redis's current SVID into a new generation directory (a new path, so CONFIG SET always reloads it). */
function stageCert(dir: string, gen: number, from: ClientTls): { cert: string; key: string; ca: string } {
  const d = join(dir, "tls", String(gen));
  mkdirSync(d, { recursive: true, mode: 0o700 });
  const out = { cert: join(d, "svid.pem"), key: join(d, "svid_key.pem"), ca: join(d, "bundle.pem") };
  for (const k of ["cert", "key", "ca"] as const) copyFileSync(from[k], out[k]);
  return out;
}

/** `redis-server` arguments for TLS only (no plaintext port), client certificates required, chained to the bundle. */
export function tlsArgs(port: number, files: { cert: string; key: string; ca: string }): string[] {
  return ["--port", "0", "--tls-port", String(port), "--tls-cert-file", files.cert, "--tls-key-file", files.key, "--tls-ca-cert-file", files.ca, "--tls-auth-clients", "yes"];
}

/**
 * The mesh's dedupe store: a real Redis, memory only (the TTL store of the idempotent consumers needs no
 * persistence for a run). `set-proc-title no` keeps its command line as started, which orphan reaping matches on.
 */
export class StartedRedis implements AsyncDisposable {
  readonly process: ProcessHandle;
  readonly url: string;
  readonly version: string;
  /** SVID reloads done (an mTLS mesh: one per rotation of Redis's SVID). */
  reloads = 0;
  #watch: NodeJS.Timeout | undefined;

  private constructor(process: ProcessHandle, url: string, version: string) {
    this.process = process;
    this.url = url;
    this.version = version;
  }

  static async start(opts: { supervisor: Launcher; bind: Endpoint; dir: string; tls?: RedisTls | undefined }): Promise<StartedRedis> {
    const version = redisVersion();
    mkdirSync(opts.dir, { recursive: true });
    const listen = opts.tls ? tlsArgs(opts.bind.port, stageCert(opts.dir, 0, opts.tls.server)) : ["--port", String(opts.bind.port)];
    const proc = opts.supervisor.spawn(
      "redis",
      ["redis-server", "--bind", opts.bind.host, ...listen, "--save", "", "--appendonly", "no", "--dir", opts.dir, "--set-proc-title", "no", "--protected-mode", "no", "--daemonize", "no"],
      { logFile: join(opts.dir, "redis.log"), cwd: opts.dir, stopGraceMs: 2_000, host: opts.bind.host },
    );
    await waitUntil("redis to answer PING", async () => ((await ping(opts.bind, opts.tls?.lab)) ? true : undefined), {
      timeoutMs: 15_000,
      intervalMs: 100,
      process: proc,
      hint: `read ${join(opts.dir, "redis.log")}`,
    });
    const r = new StartedRedis(proc, `${opts.tls ? "rediss" : "redis"}://${addr(opts.bind)}`, version);
    if (opts.tls) r.#reloadOnRotation(opts.dir, opts.tls);
    return r;
  }

  /**
   * Redis reads its certificate at start and on `CONFIG SET tls-*`: when spiffe-helper rewrites Redis's SVID, the
   * lab copies it to a new path and points Redis at it, so it serves the rotated SVID without a restart.
   */
  #reloadOnRotation(dir: string, tls: RedisTls): void {
    let seen = statSync(tls.server.cert).mtimeMs;
    let busy = false;
    this.#watch = setInterval(async () => {
      const now = statSync(tls.server.cert, { throwIfNoEntry: false })?.mtimeMs;
      if (busy || now === undefined || now === seen) return;
      busy = true;
      try {
        const gen = this.reloads + 1;
        const files = stageCert(dir, gen, tls.server);
        await command(this.url, tls.lab, ["CONFIG", "SET", "tls-cert-file", files.cert, "tls-key-file", files.key, "tls-ca-cert-file", files.ca]);
        rmSync(join(dir, "tls", String(gen - 1)), { recursive: true, force: true });
        this.reloads = gen;
        seen = now;
      } catch {
        // A half-written rotation, or Redis busy: the next look tries again.
      } finally {
        busy = false;
      }
    }, 2_000);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    clearInterval(this.#watch);
    await this.process.stop();
  }
}

/** node-redis options for a client: mutual TLS with the workload's SVID files on an mTLS mesh. */
export function redisSocket(tls: ClientTls | undefined): ({ tls: true } & ReturnType<typeof nodeTlsOptions>) | Record<string, never> {
  return tls ? { tls: true, ...nodeTlsOptions(tls) } : {};
}

/** One command over a short-lived mutual-TLS client (the lab's SVID). */
async function command(url: string, tls: ClientTls, args: string[]): Promise<unknown> {
  const c = createClient({ url, socket: { ...redisSocket(tls), reconnectStrategy: false } });
  c.on("error", () => {});
  await c.connect();
  try {
    return await c.sendCommand(args);
  } finally {
    await c.quit().catch(() => c.destroy());
  }
}
