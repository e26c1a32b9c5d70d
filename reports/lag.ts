import { appendFileSync, writeFileSync } from "node:fs";
import type { Admin } from "../generators/drivers/driver.ts";

/** One consumer group reading one topic, through one cluster's admin client; `label` names it in lag.ndjson. */
export interface LagTarget {
  label: string;
  groupId: string;
  topic: string;
  admin: Admin;
  /** Whether the target's cluster is up at all; a target that is not is skipped (a gap in the series). */
  live?: () => boolean;
}

/**
 * Samples consumer-group lag once a second through the Kafka admin API and appends each sample to `lag.ndjson`
 * as it is taken (`{"tMs": ms since startedAt, "group": ..., "lag": records}`), so a long run holds nothing in
 * memory and a crash keeps every sample. The sampler owns the targets' admin clients and closes them on `stop()`. A sample that fails (a broker down during a fault) is skipped, not
 * fatal: the gap in the series shows it. Samples never overlap; a slow one delays the next.
 */
export class LagSampler {
  readonly #file: string;
  readonly #targets: LagTarget[];
  readonly #originMs: number;
  readonly #now: () => number;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #inFlight: Promise<void> | undefined;
  samples = 0;
  failures = 0;

  constructor(opts: { file: string; targets: LagTarget[]; originMs: number; intervalMs?: number; now?: () => number }) {
    this.#file = opts.file;
    this.#targets = opts.targets;
    this.#originMs = opts.originMs;
    this.#now = opts.now ?? Date.now;
    writeFileSync(this.#file, "");
    const tick = () => {
      if (this.#stopped) return;
      this.#inFlight = this.sample().finally(() => {
        if (!this.#stopped) this.#timer = setTimeout(tick, opts.intervalMs ?? 1_000);
      });
    };
    tick();
  }

  /** Takes one sample of every target now. */
  async sample(): Promise<void> {
    const tMs = this.#now() - this.#originMs;
    const lines: string[] = [];
    await Promise.all(
      this.#targets.map(async (t) => {
        if (t.live && !t.live()) return;
        try {
          lines.push(JSON.stringify({ tMs, group: t.label, lag: await t.admin.groupLag(t.groupId, t.topic) }));
        } catch {
          this.failures++;
        }
      }),
    );
    if (lines.length) appendFileSync(this.#file, `${lines.join("\n")}\n`);
    this.samples++;
  }

  /** Stops sampling (waits for a sample in progress) and closes the admin clients. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#inFlight?.catch(() => {});
    await Promise.allSettled([...new Set(this.#targets.map((t) => t.admin))].map((a) => a.close()));
  }
}
