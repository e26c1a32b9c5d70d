/**
 * The Centrelink engine's pipelined at-least-once consumption, as pure parts:
 * - `CommitWatermark`: records of a partition finish out of order; the offset that may be committed is the first
 *   one not yet finished (or one past the last started), so a crash never skips an unanswered record;
 * - `KeyedPipeline`: records run concurrently across keys and one after another within a key (order per key
 *   holds), at most `maxInFlight` at once; `admit` waits while the pipeline is full, which is what holds the
 *   consumer's fetch loop back;
 * - `Committer` and `PipelinedHandler`, which put them together for a consumer.
 */

import type { ConsumedRecord } from "./drivers/driver.ts";

const tp = (topic: string, partition: number) => `${topic}\u0000${partition}`;

export interface CommitPoint {
  topic: string;
  partition: number;
  /** The next offset to read: every record below it has finished. */
  offset: string;
}

export class CommitWatermark {
  /** Per partition: offsets started and not finished. */
  readonly #open = new Map<string, Set<number>>();
  /** Per partition: one past the highest offset started. */
  readonly #next = new Map<string, number>();
  /** Per partition: the last commit point handed out. */
  readonly #committed = new Map<string, number>();
  /** Per partition: bumped when it is forgotten, so a finish from an earlier ownership is told apart. */
  readonly #epoch = new Map<string, number>();

  /** Marks a record started; returns the ownership epoch `finish` must be given. */
  start(topic: string, partition: number, offset: string): number {
    const k = tp(topic, partition);
    const o = Number(offset);
    const open = this.#open.get(k) ?? new Set<number>();
    this.#open.set(k, open);
    open.add(o);
    this.#next.set(k, Math.max(this.#next.get(k) ?? 0, o + 1));
    // Where this ownership started reading: committing it again would say nothing new.
    if (!this.#committed.has(k)) this.#committed.set(k, o);
    return this.#epoch.get(k) ?? 0;
  }

  /** Marks a record finished; returns the partition's new commit point when it moved forward. */
  finish(topic: string, partition: number, offset: string, epoch: number): CommitPoint | undefined {
    const k = tp(topic, partition);
    if (epoch !== (this.#epoch.get(k) ?? 0)) return undefined; // started before the partition was revoked
    const open = this.#open.get(k);
    if (!open?.delete(Number(offset))) return undefined; // forgotten (revoked) or never started
    const point = this.#pointOf(k);
    if (point === undefined || point <= (this.#committed.get(k) ?? -1)) return undefined;
    this.#committed.set(k, point);
    return { topic, partition, offset: String(point) };
  }

  /** Drops what is known about partitions this member no longer owns: late finishes of theirs commit nothing. */
  forget(partitions: readonly { topic: string; partition: number }[]): void {
    for (const p of partitions) {
      const k = tp(p.topic, p.partition);
      this.#open.delete(k);
      this.#next.delete(k);
      this.#committed.delete(k);
      this.#epoch.set(k, (this.#epoch.get(k) ?? 0) + 1);
    }
  }

  /** Records started and not finished, over all partitions. */
  get open(): number {
    let n = 0;
    for (const s of this.#open.values()) n += s.size;
    return n;
  }

  #pointOf(k: string): number | undefined {
    const open = this.#open.get(k);
    if (open?.size) return Math.min(...open);
    return this.#next.get(k);
  }
}

export class KeyedPipeline {
  readonly #maxInFlight: number;
  /** Per key: the promise of its last admitted record (the next one of that key runs after it). */
  readonly #tails = new Map<string, Promise<void>>();
  readonly #waiting: (() => void)[] = [];
  #inFlight = 0;
  #peak = 0;

  constructor(maxInFlight: number) {
    if (!Number.isInteger(maxInFlight) || maxInFlight < 1) throw new Error(`maxInFlight must be a positive integer, got ${maxInFlight}`);
    this.#maxInFlight = maxInFlight;
  }

  /**
   * Waits for room, then starts `work` after the key's earlier records; resolves once it is admitted (not done).
   * `work` must not reject: it handles its own failures.
   */
  async admit(key: string, work: () => Promise<void>): Promise<void> {
    while (this.#inFlight >= this.#maxInFlight) await new Promise<void>((r) => this.#waiting.push(r));
    this.#inFlight++;
    this.#peak = Math.max(this.#peak, this.#inFlight);
    const run = (this.#tails.get(key) ?? Promise.resolve())
      .then(work)
      .catch(() => {}) // work handles its own failures; a stray one must not stop the key's later records
      .finally(() => {
      this.#inFlight--;
      if (this.#tails.get(key) === run) this.#tails.delete(key);
      this.#waiting.shift()?.();
    });
    this.#tails.set(key, run);
  }

  /** Resolves when every admitted record has finished (or the timeout passed; then false). */
  async drain(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.#inFlight > 0 && Date.now() < deadline) await Promise.race([...this.#tails.values(), new Promise((r) => setTimeout(r, 50))]);
    return this.#inFlight === 0;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /** The most records in flight at once so far. */
  get peak(): number {
    return this.#peak;
  }
}

/**
 * Commits as the watermark moves: one commit at a time, the newest point per partition when the previous one is
 * done (so a busy partition costs one commit per round trip, not one per record). Commit errors (a rebalance in
 * progress) are reported and dropped: the next point, or a redelivery to the new owner, covers them.
 */
export class Committer {
  readonly #commit: (points: CommitPoint[]) => Promise<void>;
  readonly #onError: (e: unknown) => void;
  readonly #due = new Map<string, CommitPoint>();
  #running: Promise<void> | undefined;
  commits = 0;

  constructor(commit: (points: CommitPoint[]) => Promise<void>, onError: (e: unknown) => void) {
    this.#commit = commit;
    this.#onError = onError;
  }

  offer(point: CommitPoint): void {
    this.#due.set(tp(point.topic, point.partition), point);
    this.#running ??= this.#loop().finally(() => {
      this.#running = undefined;
    });
  }

  /** Drops points of partitions no longer owned. */
  forget(partitions: readonly { topic: string; partition: number }[]): void {
    for (const p of partitions) this.#due.delete(tp(p.topic, p.partition));
  }

  /** Resolves when every offered point has been committed (or failed). */
  async settled(): Promise<void> {
    while (this.#running) await this.#running;
  }

  async #loop(): Promise<void> {
    while (this.#due.size) {
      const points = [...this.#due.values()];
      this.#due.clear();
      try {
        await this.#commit(points);
        this.commits++;
      } catch (e) {
        this.#onError(e);
      }
    }
  }
}

export interface PipelinedOptions {
  /** The engine's handler for one record: resolves once its response is acknowledged. */
  handle: (r: ConsumedRecord) => Promise<void>;
  commit: (points: CommitPoint[]) => Promise<void>;
  maxInFlight: number;
  /** A handler failed; it is tried again after a back-off (its offset is not committed meanwhile). */
  onRetry?: (r: ConsumedRecord, error: unknown, attempt: number) => void;
  onCommitError?: (error: unknown) => void;
  /** Back-off between attempts: doubling from min to max (ms); default 100 to 2,000. */
  retryMs?: { min: number; max: number };
}

/**
 * The consumer's record handler of a pipelined engine: `accept` returns as soon as the record is admitted (so the
 * consumer fetches on), the handler runs in the pipeline, and the partition's commit point moves as the watermark
 * does. A failed handler is retried in place, never skipped; at `stop` what has not finished stays uncommitted and
 * is delivered again to whoever owns the partition next.
 */
export class PipelinedHandler {
  readonly #o: PipelinedOptions;
  readonly #watermark = new CommitWatermark();
  readonly #pipeline: KeyedPipeline;
  readonly #committer: Committer;
  #stopping = false;
  retries = 0;

  constructor(o: PipelinedOptions) {
    this.#o = o;
    this.#pipeline = new KeyedPipeline(o.maxInFlight);
    this.#committer = new Committer(o.commit, o.onCommitError ?? (() => {}));
  }

  readonly accept = async (r: ConsumedRecord): Promise<void> => {
    if (this.#stopping) return; // not started, so not committed: delivered again after the restart
    const epoch = this.#watermark.start(r.topic, r.partition, r.offset);
    const key = r.key ? r.key.toString("latin1") : `${r.topic}/${r.partition}/${r.offset}`;
    await this.#pipeline.admit(key, async () => {
      if (!(await this.#handleUntilDone(r))) return;
      const point = this.#watermark.finish(r.topic, r.partition, r.offset, epoch);
      if (point) this.#committer.offer(point);
    });
  };

  /** Partitions this member lost: their late finishes commit nothing (the new owner reads from the last commit). */
  revoked(partitions: readonly { topic: string; partition: number }[]): void {
    this.#watermark.forget(partitions);
    this.#committer.forget(partitions);
  }

  /** Stops admitting, waits up to `timeoutMs` for records in flight, and commits how far they got. */
  async stop(timeoutMs: number): Promise<{ drained: boolean }> {
    this.#stopping = true;
    const drained = await this.#pipeline.drain(timeoutMs);
    await this.#committer.settled();
    return { drained };
  }

  get stats(): { inFlight: number; peakInFlight: number; commits: number; retries: number } {
    return { inFlight: this.#pipeline.inFlight, peakInFlight: this.#pipeline.peak, commits: this.#committer.commits, retries: this.retries };
  }

  async #handleUntilDone(r: ConsumedRecord): Promise<boolean> {
    const { min, max } = this.#o.retryMs ?? { min: 100, max: 2_000 };
    for (let attempt = 1; !this.#stopping; attempt++) {
      try {
        await this.#o.handle(r);
        return true;
      } catch (e) {
        this.retries++;
        this.#o.onRetry?.(r, e, attempt);
        await new Promise((res) => setTimeout(res, Math.min(max, min * 2 ** (attempt - 1))));
      }
    }
    return false;
  }
}
