import { appendFileSync, writeFileSync } from "node:fs";
import { bulkRequest, type MetricsRole, parseReadings, type Readings, toSample } from "./mbeans.ts";

/** One JVM the sampler reads: a Kafka node or a MirrorMaker process, through its Jolokia agent. */
export interface MetricsTarget {
  /** The node id (`syd-1`) or `mirrormaker-><region>`. */
  node: string;
  region: string;
  role: MetricsRole;
  /** The agent's URL (`http://127.0.0.1:<port>/jolokia/`). */
  url: string;
  /** Whether the process runs at all; one that does not (killed, stopped) is not asked: a gap in its series. */
  live: () => boolean;
}

/** A line of metrics.ndjson: when (ms since the run started), which JVM, and the figures it answered. */
export interface MetricsSample {
  tMs: number;
  node: string;
  region: string;
  role: MetricsRole;
  [figure: string]: number | string;
}

/**
 * Reads every target's JMX figures once a second (one Jolokia bulk read each, in parallel) and appends the samples
 * to `metrics.ndjson` as they are taken. A target that is down, paused (a SIGSTOP'd JVM accepts the connection and
 * never answers: the read times out) or answers nonsense leaves a gap in its series, never an error: brokers are
 * killed here on purpose. `stop()` ends it with the run.
 */
export class MetricsSampler {
  readonly file: string;
  readonly #targets: MetricsTarget[];
  readonly #originMs: number;
  readonly #intervalMs: number;
  readonly #now: () => number;
  readonly #last = new Map<string, { atMs: number; readings: Readings }>();
  #timer: NodeJS.Timeout | undefined;
  #round: Promise<void> | undefined;
  #stopped = false;
  /** Samples written, and reads that got no answer from a live target. */
  samples = 0;
  gaps = 0;

  constructor(opts: { file: string; targets: MetricsTarget[]; originMs: number; intervalMs?: number; now?: () => number }) {
    this.file = opts.file;
    this.#targets = opts.targets;
    this.#originMs = opts.originMs;
    this.#intervalMs = opts.intervalMs ?? 1_000;
    this.#now = opts.now ?? Date.now;
    writeFileSync(this.file, "");
    this.#tick();
  }

  #tick(): void {
    if (this.#stopped) return;
    const started = this.#now();
    this.#round = this.sample();
    void this.#round.then(() => {
      if (this.#stopped) return;
      this.#timer = setTimeout(() => this.#tick(), Math.max(0, this.#intervalMs - (this.#now() - started)));
    });
  }

  /** Reads every live target now; resolves when each answered or timed out. */
  async sample(): Promise<void> {
    const tMs = this.#now() - this.#originMs;
    const lines = await Promise.all(this.#targets.map((t) => this.#read(t, tMs)));
    const written = lines.filter((l): l is string => l !== undefined);
    if (written.length) appendFileSync(this.file, `${written.join("\n")}\n`);
    this.samples += written.length;
  }

  async #read(t: MetricsTarget, tMs: number): Promise<string | undefined> {
    if (!t.live()) return undefined;
    try {
      const res = await fetch(t.url, {
        method: "POST",
        body: JSON.stringify(bulkRequest(t.role)),
        headers: { "content-type": "application/json" },
        signal: AbortSignal.timeout(Math.max(100, this.#intervalMs - 100)),
      });
      const readings = parseReadings(t.role, await res.json());
      const cur = { atMs: tMs, readings };
      const values = toSample(t.role, cur, this.#last.get(t.node));
      this.#last.set(t.node, cur);
      return JSON.stringify({ tMs, node: t.node, region: t.region, role: t.role, ...values });
    } catch {
      this.gaps++;
      return undefined;
    }
  }

  /** Stops sampling after the round in progress (each read is bounded by the interval). */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#round;
  }
}
