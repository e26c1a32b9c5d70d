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
 * memory and a crash keeps every sample. The sampler owns the targets' admin clients and closes them on `stop()`.
 * Each cluster (admin client) is sampled on its own schedule, so a region that is down never stalls the others. A
 * failed sample is skipped, not fatal (the gap in the series shows it), and a cluster whose every target failed is
 * asked again only after a back-off (2 s doubling to 30 s): hammering a dead cluster's admin API helps nobody.
 */
export class LagSampler {
  readonly #file: string;
  readonly #targets: LagTarget[];
  readonly #originMs: number;
  readonly #now: () => number;
  readonly #intervalMs: number;
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #inFlight = new Set<Promise<void>>();
  #stopped = false;
  /** Rounds taken (one per cluster per tick) and target samples that failed. */
  samples = 0;
  failures = 0;

  constructor(opts: { file: string; targets: LagTarget[]; originMs: number; intervalMs?: number; now?: () => number }) {
    this.#file = opts.file;
    this.#targets = opts.targets;
    this.#originMs = opts.originMs;
    this.#now = opts.now ?? Date.now;
    this.#intervalMs = opts.intervalMs ?? 1_000;
    writeFileSync(this.#file, "");
    for (const admin of new Set(this.#targets.map((t) => t.admin))) this.#loop(this.#targets.filter((t) => t.admin === admin), 0);
  }

  #loop(targets: LagTarget[], failedRounds: number): void {
    if (this.#stopped) return;
    const round = this.#round(targets);
    this.#inFlight.add(round.then(() => {}));
    void round.then((ok) => {
      if (this.#stopped) return;
      const failed = ok ? 0 : failedRounds + 1;
      const wait = failed ? Math.min(this.#intervalMs * 2 ** failed, 30 * this.#intervalMs) : this.#intervalMs;
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        this.#loop(targets, failed);
      }, wait);
      this.#timers.add(timer);
    });
  }

  /** Takes one sample of every target now (outside the schedule). */
  async sample(): Promise<void> {
    await this.#round(this.#targets);
  }

  /** Samples one cluster's targets now; false when every target asked failed (none asked is not a failure). */
  async #round(targets: LagTarget[]): Promise<boolean> {
    const tMs = this.#now() - this.#originMs;
    const lines: string[] = [];
    let asked = 0;
    await Promise.all(
      targets.map(async (t) => {
        if (t.live && !t.live()) return;
        asked++;
        try {
          lines.push(JSON.stringify({ tMs, group: t.label, lag: await t.admin.groupLag(t.groupId, t.topic) }));
        } catch {
          this.failures++;
        }
      }),
    );
    if (lines.length) appendFileSync(this.#file, `${lines.join("\n")}\n`);
    this.samples++;
    return asked === 0 || lines.length > 0;
  }

  /** Stops sampling (waits for samples in progress) and closes the admin clients. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const t of this.#timers) clearTimeout(t);
    // A sample against a cluster that is down can retry for a while; the run's end does not wait for it.
    await Promise.race([Promise.allSettled([...this.#inFlight]), new Promise((r) => setTimeout(r, 5_000).unref())]);
    await Promise.allSettled([...new Set(this.#targets.map((t) => t.admin))].map((a) => a.close()));
  }
}
