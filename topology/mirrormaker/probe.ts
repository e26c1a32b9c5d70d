import { appendFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { type ClientTls, type Consumer, loadDriver, type Producer, withTls } from "../../generators/drivers/driver.ts";
import { InfraError } from "../../lab/errors.ts";
import { LAB_CLASS, type MeshPlan } from "../plan.ts";
import type { ReplicationFlow } from "../spec.ts";
import { PROBE_TOPIC, remoteTopic } from "./config.ts";

/** One replication-lag sample: a probe written in `source` at `sentAtMs` arrived in `target` `lagMs` later. */
export interface LagSample {
  flow: string;
  sentAtMs: number;
  lagMs: number;
}

const flowName = (f: ReplicationFlow) => `${f.source}->${f.target}`;

/**
 * Writes a timestamped probe record into every source region and watches it arrive, renamed, in the target:
 * readiness ("a record crosses in every enabled direction") and the replication-lag series of a run. It talks to
 * each region on the lab's direct listener, so a fault on the replication links shows as lag, not as a probe
 * failure.
 */
export class ReplicationProbe implements AsyncDisposable {
  readonly samples: LagSample[] = [];
  readonly #plan: MeshPlan;
  readonly #flows: ReplicationFlow[];
  readonly #producers = new Map<string, Producer>();
  readonly #consumers: Consumer[] = [];
  readonly #file: string | undefined;
  #timer: NodeJS.Timeout | undefined;
  #seq = 0;
  #closed = false;

  readonly #tls: (region: string) => ClientTls | undefined;

  constructor(plan: MeshPlan, file?: string, tls: (region: string) => ClientTls | undefined = () => undefined) {
    this.#plan = plan;
    this.#tls = tls;
    this.#flows = plan.spec.replication?.flows ?? [];
    this.#file = file;
  }

  get flows(): string[] {
    return this.#flows.map(flowName);
  }

  async #open(): Promise<void> {
    if (this.#consumers.length) return;
    const driver = await loadDriver("confluent");
    const lab = (region: string) => this.#plan.regions.find((r) => r.name === region)?.bootstrap[LAB_CLASS] ?? "";
    for (const source of new Set(this.#flows.map((f) => f.source)))
      this.#producers.set(source, await driver.producer({ bootstrap: lab(source), clientId: `meshlab-probe-${source}`, props: { "linger.ms": 0, "message.timeout.ms": 2000 }, ...withTls(this.#tls(source)) }));
    for (const target of new Set(this.#flows.map((f) => f.target))) {
      const topics = this.#flows.filter((f) => f.target === target).map((f) => remoteTopic(f.source, PROBE_TOPIC));
      const c = await driver.consumer({
        bootstrap: lab(target),
        clientId: `meshlab-probe-${target}`,
        groupId: `meshlab-probe-${target}-${process.pid}-${Date.now()}`,
        topics,
        props: { "topic.metadata.refresh.interval.ms": 1000 },
        ...withTls(this.#tls(target)),
      });
      await c.run(async (r) => {
        const m = JSON.parse(r.value?.toString() ?? "{}") as { flow?: string; sentAtMs?: number };
        if (!m.flow || m.sentAtMs === undefined) return;
        const s = { flow: m.flow, sentAtMs: m.sentAtMs, lagMs: Date.now() - m.sentAtMs };
        this.samples.push(s);
        if (this.#file) appendFileSync(this.#file, `${JSON.stringify(s)}\n`);
      });
      this.#consumers.push(c);
    }
  }

  #sendAll(): void {
    for (const f of this.#flows) {
      const p = this.#producers.get(f.source);
      const value = Buffer.from(JSON.stringify({ flow: flowName(f), sentAtMs: Date.now(), seq: this.#seq++ }));
      // A probe into a dead region fails within 2 s (not delivered late with a stale time); the gap is the evidence.
      p?.send({ topic: PROBE_TOPIC, key: flowName(f), value, headers: {} }).catch(() => {});
    }
  }

  /** Resolves once a probe has crossed every enabled flow; the error names the flows that did not. */
  async waitReady(timeoutMs: number, signal?: AbortSignal): Promise<Record<string, number>> {
    await this.#open();
    const since = Date.now();
    const deadline = since + timeoutMs;
    for (;;) {
      if (signal?.aborted) throw signal.reason;
      const arrived = Object.fromEntries(this.flows.map((f) => [f, this.samples.find((s) => s.flow === f && s.sentAtMs >= since)]));
      if (Object.values(arrived).every((s) => s)) return Object.fromEntries(Object.entries(arrived).map(([f, s]) => [f, s?.lagMs ?? 0]));
      if (Date.now() > deadline)
        throw new InfraError({
          component: "mirrormaker",
          message: `no probe record crossed ${Object.entries(arrived)
            .filter(([, s]) => !s)
            .map(([f]) => f)
            .join(", ")} within ${timeoutMs / 1000} s`,
          hint: "read mirrormaker/*.log in the run directory: connector start-up, topic creation or the replication links",
        });
      this.#sendAll();
      await sleep(1000);
    }
  }

  /** Sends one probe per flow every `intervalMs` until disposed. */
  sample(intervalMs = 1000): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => this.#sendAll(), intervalMs);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    await Promise.allSettled([...this.#consumers.map((c) => c.close()), ...[...this.#producers.values()].map((p) => p.close())]);
  }
}
