import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ClientTls } from "../../generators/drivers/driver.ts";
import type { Launcher, ProcessHandle } from "../../lab/proc.ts";
import type { MetricsAgent } from "../metrics/jolokia.ts";
import type { MeshPlan } from "../plan.ts";
import type { TopologySpec } from "../spec.ts";
import { renderMirrorMakerProperties } from "./config.ts";
import type { MirrorMakerInstall } from "./install.ts";

/**
 * The MirrorMaker 2 process that writes into one region (dedicated mode, `--clusters <target>`). Readiness is
 * the replication probe's job (a record must cross), not the process's: MM2 is up long before its connectors run.
 */
export class MirrorMakerProcess implements AsyncDisposable {
  readonly target: string;
  readonly propertiesFile: string;
  readonly logFile: string;
  /** The process's Jolokia agent (topology/metrics/), when its JMX figures are sampled. */
  readonly metrics: MetricsAgent | undefined;
  readonly #install: MirrorMakerInstall;
  readonly #supervisor: Launcher;
  /** Where the backend runs it (MirrorMaker listens nowhere, but a container still needs an address). */
  readonly #host: string | undefined;
  readonly #heapMb: number;
  #process: ProcessHandle | undefined;
  #starts = 0;

  constructor(opts: { spec: TopologySpec; plan: MeshPlan; target: string; dir: string; install: MirrorMakerInstall; supervisor: Launcher; tls?: ClientTls | undefined; metrics?: MetricsAgent; host?: string }) {
    this.target = opts.target;
    this.metrics = opts.metrics;
    this.#install = opts.install;
    this.#supervisor = opts.supervisor;
    this.#host = opts.host;
    this.#heapMb = opts.spec.replication?.heapMb ?? 512;
    mkdirSync(opts.dir, { recursive: true });
    this.propertiesFile = join(opts.dir, "mm2.properties");
    this.logFile = join(opts.dir, "mirrormaker.log");
    writeFileSync(this.propertiesFile, renderMirrorMakerProperties(opts.spec, opts.plan, opts.target, opts.tls));
  }

  get process(): ProcessHandle | undefined {
    return this.#process;
  }
  running(): boolean {
    return this.#process?.running() ?? false;
  }

  start(): ProcessHandle {
    if (this.#process?.running()) return this.#process;
    this.#starts++;
    const k = this.#install;
    this.#process = this.#supervisor.spawn(
      this.#starts === 1 ? `mirrormaker ->${this.target}` : `mirrormaker ->${this.target} (start ${this.#starts})`,
      [
        k.java,
        `-Xms${this.#heapMb}m`,
        `-Xmx${this.#heapMb}m`,
        "-XX:+UseG1GC",
        "-XX:TieredStopAtLevel=1",
        ...(this.metrics ? [this.metrics.jvmOption] : []),
        "-Djava.awt.headless=true",
        `-Dlog4j2.configurationFile=${k.log4jConfig}`,
        "-cp",
        k.classpath,
        "org.apache.kafka.connect.mirror.MirrorMaker",
        this.propertiesFile,
        "--clusters",
        this.target,
      ],
      { logFile: this.logFile, stopGraceMs: 3_000, ...(this.#host ? { host: this.#host } : {}) },
    );
    return this.#process;
  }

  kill(): void {
    this.#process?.signal("SIGKILL");
  }

  async stop(graceMs?: number): Promise<void> {
    await this.#process?.stop(graceMs);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
