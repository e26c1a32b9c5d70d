import { join } from "node:path";
import { Toxiproxy } from "toxiproxy-node-client";
import { InfraError } from "../../lab/errors.ts";
import { type Installed, installOnce, runTool } from "../../lab/install.ts";
import { type Launcher, type ProcessHandle, waitUntil } from "../../lab/proc.ts";
import { addr, type Endpoint, type Link } from "../plan.ts";

export const TOXIPROXY_VERSION = "v2.12.0";
const MODULE = "github.com/Shopify/toxiproxy/v2/cmd/server";

/** Builds toxiproxy-server with `go install` from the Go module proxy into the cache. */
export async function installToxiproxy(): Promise<Installed & { server: string }> {
  const inst = await installOnce("toxiproxy", TOXIPROXY_VERSION, async (dir) => {
    await runTool("toxiproxy install", ["go", "install", `${MODULE}@${TOXIPROXY_VERSION}`], {
      cwd: dir,
      env: { GOBIN: join(dir, "bin"), GOFLAGS: "-mod=mod" },
      hint: "needs Go (https://go.dev) and the Go module proxy; if sum.golang.org is unreachable, set GOSUMDB=off",
    });
  });
  return { ...inst, server: join(inst.dir, "bin", "server") };
}

/** A running Toxiproxy server holding one proxy per link of the mesh. */
export class StartedToxiproxy implements AsyncDisposable {
  readonly api: Endpoint;
  readonly process: ProcessHandle;
  readonly client: Toxiproxy;

  private constructor(api: Endpoint, process: ProcessHandle) {
    this.api = api;
    this.process = process;
    this.client = new Toxiproxy(`http://${addr(api)}`);
  }

  static async start(opts: { supervisor: Launcher; api: Endpoint; logFile: string }): Promise<StartedToxiproxy> {
    const { server } = await installToxiproxy();
    const proc = opts.supervisor.spawn("toxiproxy", [server, "-host", opts.api.host, "-port", String(opts.api.port)], {
      logFile: opts.logFile,
      host: opts.api.host,
    });
    const started = new StartedToxiproxy(opts.api, proc);
    await waitUntil("the Toxiproxy API", async () => ((await started.client.getVersion()) ? true : undefined), {
      timeoutMs: 15_000,
      process: proc,
      hint: `is port ${opts.api.port} free? the log says why toxiproxy-server stopped`,
    });
    return started;
  }

  /** Creates the proxies of these links in one call. */
  async addLinks(links: Link[]): Promise<void> {
    try {
      await this.client.populate(links.map((l) => ({ name: l.name, listen: addr(l.listen), upstream: addr(l.upstream), enabled: true })));
    } catch (e) {
      throw new InfraError({
        component: "toxiproxy",
        message: `could not create proxies: ${e instanceof Error ? e.message : String(e)}`,
        hint: "a listen port may have been taken between planning and start; run again",
        logTail: await this.process.logTail(),
        logFile: this.process.logFile,
        cause: e,
      });
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.process.stop();
  }
}
