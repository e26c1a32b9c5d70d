import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runTool } from "../../lab/install.ts";
import type { Launcher, ProcessHandle } from "../../lab/proc.ts";
import type { MetricsAgent } from "../metrics/jolokia.ts";
import type { NodePlan, RegionPlan } from "../plan.ts";
import type { TopologySpec } from "../spec.ts";
import { type NodeTls, renderHostsFile, renderServerProperties } from "./config.ts";
import { type KafkaInstall, kafkaJavaArgv } from "./install.ts";

/**
 * A Kafka KRaft node, run by the mesh's backend (a local process, a container). Besides start/stop it is killable, pausable and restartable (with
 * the same log dir), which is what the chaos library needs.
 */
export class KafkaNode implements AsyncDisposable {
  readonly plan: NodePlan;
  readonly propertiesFile: string;
  readonly logFile: string;
  /** The JVM's own name resolution: peers' names to this node's source address (topology/plan.ts). */
  readonly hostsFile: string;
  /** The node's Jolokia agent (topology/metrics/), when its JMX figures are sampled. */
  readonly metrics: MetricsAgent | undefined;
  #install: KafkaInstall;
  readonly #supervisor: Launcher;
  readonly #heapMb: number;
  #process: ProcessHandle | undefined;
  #starts = 0;

  constructor(opts: { spec: TopologySpec; region: RegionPlan; plan: NodePlan; install: KafkaInstall; supervisor: Launcher; tls?: NodeTls; metrics?: MetricsAgent }) {
    this.plan = opts.plan;
    this.metrics = opts.metrics;
    this.#install = opts.install;
    this.#supervisor = opts.supervisor;
    this.#heapMb = opts.spec.kafka.heapMb;
    mkdirSync(this.plan.dir, { recursive: true });
    this.propertiesFile = join(this.plan.dir, "server.properties");
    this.logFile = join(this.plan.dir, "kafka.log");
    writeFileSync(this.propertiesFile, renderServerProperties(opts.spec, opts.region, opts.plan, opts.tls));
    this.hostsFile = join(this.plan.dir, "hosts");
    writeFileSync(this.hostsFile, renderHostsFile(this.plan.hosts));
  }

  get id(): string {
    return this.plan.spec.id;
  }
  /** The JVM classpath of the node: Kafka's own `lib/*` first, then the lab's plug-ins (mTLS). */
  get classpath(): string {
    return this.#install.classpath;
  }
  /** The Kafka version the node runs (or will run at its next start). */
  get version(): string {
    return this.#install.version;
  }
  /**
   * Runs another Kafka version from the next start on (a rolling upgrade: stop, switch, start), on the same log
   * and metadata dirs. `install` must carry the same plug-ins on its classpath (topology/local/mesh.ts kafkaWithPlugins).
   */
  switchVersion(install: KafkaInstall): void {
    this.#install = install;
  }
  get logDir(): string {
    return join(this.plan.dir, "data");
  }
  get process(): ProcessHandle | undefined {
    return this.#process;
  }
  running(): boolean {
    return this.#process?.running() ?? false;
  }

  #jvmOpts(): string[] {
    return Object.keys(this.plan.hosts).length ? [`-Djdk.net.hosts.file=${this.hostsFile}`] : [];
  }

  /** `kafka-storage format` for this node's dirs. */
  async format(clusterId: string): Promise<void> {
    await runTool(
      `kafka ${this.id} format`,
      kafkaJavaArgv(this.#install, 256, "kafka.tools.StorageTool", ["format", "-t", clusterId, "-c", this.propertiesFile], this.#jvmOpts(), { shortLived: true }),
      { hint: `check ${this.propertiesFile}; the log dirs must be empty or formatted for this cluster id` },
    );
  }

  /** Starts (or restarts after a kill) the node process; readiness is checked at the cluster level. */
  start(): ProcessHandle {
    if (this.#process?.running()) return this.#process;
    this.#starts++;
    this.#process = this.#supervisor.spawn(
      this.#starts === 1 ? `kafka ${this.id}` : `kafka ${this.id} (start ${this.#starts})`,
      kafkaJavaArgv(this.#install, this.#heapMb, "kafka.Kafka", [this.propertiesFile], [...this.#jvmOpts(), ...(this.metrics ? [this.metrics.jvmOption] : [])]),
      // Teardown stops every node at once, when a controlled shutdown can only wait for a lost quorum.
      { logFile: this.logFile, cwd: this.plan.dir, stopGraceMs: 2_000, host: this.plan.listeners[0]?.bind.host },
    );
    return this.#process;
  }

  async stop(graceMs?: number): Promise<void> {
    await this.#process?.stop(graceMs);
  }

  kill(): void {
    this.#process?.signal("SIGKILL");
  }
  pause(): void {
    this.#process?.signal("SIGSTOP");
  }
  resume(): void {
    this.#process?.signal("SIGCONT");
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
