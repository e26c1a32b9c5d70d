import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { createConnection } from "node:net";
import { join } from "node:path";
import { InfraError } from "../../lab/errors.ts";
import { type ProcessHandle, type Supervisor, waitUntil } from "../../lab/proc.ts";
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

/** One PING over a fresh socket: readiness without a client library. */
function ping(at: Endpoint): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection(at.port, at.host);
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

/**
 * The mesh's dedupe store: a real Redis, memory only (the TTL store of the idempotent consumers needs no
 * persistence for a run). `set-proc-title no` keeps its command line as started, which orphan reaping matches on.
 */
export class StartedRedis implements AsyncDisposable {
  readonly process: ProcessHandle;
  readonly url: string;
  readonly version: string;

  private constructor(process: ProcessHandle, url: string, version: string) {
    this.process = process;
    this.url = url;
    this.version = version;
  }

  static async start(opts: { supervisor: Supervisor; bind: Endpoint; dir: string }): Promise<StartedRedis> {
    const version = redisVersion();
    mkdirSync(opts.dir, { recursive: true });
    const proc = opts.supervisor.spawn(
      "redis",
      ["redis-server", "--bind", opts.bind.host, "--port", String(opts.bind.port), "--save", "", "--appendonly", "no", "--dir", opts.dir, "--set-proc-title", "no", "--protected-mode", "no", "--daemonize", "no"],
      { logFile: join(opts.dir, "redis.log"), cwd: opts.dir, stopGraceMs: 2_000 },
    );
    await waitUntil("redis to answer PING", async () => ((await ping(opts.bind)) ? true : undefined), {
      timeoutMs: 15_000,
      intervalMs: 100,
      process: proc,
      hint: `read ${join(opts.dir, "redis.log")}`,
    });
    return new StartedRedis(proc, `redis://${addr(opts.bind)}`, version);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.process.stop();
  }
}
