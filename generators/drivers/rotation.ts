import { statSync } from "node:fs";
import type { Admin, ClientTls, ConsumedRecord, Consumer, ConsumerOptions, DeliveryCallback, KafkaDriver, PreparedRecord, Producer, ProduceRecord, TopicCreate } from "./driver.ts";
import { hasSendWith, readSvidPems } from "./driver.ts";

/**
 * SVID rotation for long-lived clients. librdkafka (2.15) and kafkajs read a client certificate once, when the
 * client is made, and have no way to load a renewed one; connections made with it outlive its expiry, but every
 * reconnect after that (a broker restart, a leader on a broker not yet connected, an idle connection closed by
 * the broker) fails the handshake. So a client made with an SVID is made again with each new SVID:
 *
 * - a producer: the new one takes every send from the moment it is connected; the old one flushes what it holds
 *   and closes;
 * - a consumer: the new one joins the same group and runs the same handler; once it owns partitions (or after
 *   `joinWaitMs`) the old one leaves, committing what it handled. A cooperative group moves only the old member's
 *   partitions; an eager one stops the world twice. Records the old one fetched but had not committed are
 *   delivered again (at-least-once: the engines' idempotence store drops them).
 */

/** What the wrappers need to know about rotations; the run reports them. */
export interface RotationEvent {
  client: string;
  kind: "producer" | "consumer";
  /** Wall-clock ms when the new client took over. */
  atMs: number;
  /** How long making the new client took. */
  tookMs: number;
  serial: string;
}

export interface RotationOptions {
  /** How often the SVID files are looked at; default 1 s. */
  everyMs?: number;
  /** How long a new consumer may take to own partitions before the old one leaves anyway; default 30 s. */
  joinWaitMs?: number;
  onRotate?: (e: RotationEvent) => void;
  onError?: (e: Error) => void;
}

/**
 * Calls `renew` whenever the SVID files hold a new certificate (a new serial, key matching). A failed renewal is
 * tried again at the next look; only one renewal runs at a time.
 */
export class SvidWatch {
  readonly #tls: ClientTls;
  readonly #timer: NodeJS.Timeout;
  #serial: string;
  #stamp: string;
  #busy = false;

  constructor(tls: ClientTls, serial: string, renew: (serial: string) => Promise<void>, o: Pick<RotationOptions, "everyMs" | "onError"> = {}) {
    this.#tls = tls;
    this.#serial = serial;
    this.#stamp = this.#stampNow();
    this.#timer = setInterval(() => void this.#look(renew, o.onError), o.everyMs ?? 1_000);
    this.#timer.unref();
  }

  #stampNow(): string {
    try {
      return `${statSync(this.#tls.cert).mtimeMs}/${statSync(this.#tls.key).mtimeMs}`;
    } catch {
      return "";
    }
  }

  async #look(renew: (serial: string) => Promise<void>, onError?: (e: Error) => void): Promise<void> {
    const stamp = this.#stampNow();
    if (this.#busy || stamp === this.#stamp) return;
    this.#busy = true;
    try {
      const { serial } = readSvidPems(this.#tls, 1);
      if (serial !== this.#serial) {
        await renew(serial);
        this.#serial = serial;
      }
      this.#stamp = stamp;
    } catch (e) {
      onError?.(e as Error); // half-written files or a client that failed to connect: the next look tries again
    } finally {
      this.#busy = false;
    }
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

class RotatingProducer implements Producer {
  #current: Producer;
  readonly #closing = new Set<Promise<void>>();
  readonly #watch: SvidWatch;

  constructor(first: Producer, tls: ClientTls, serial: string, make: () => Promise<Producer>, name: string, o: RotationOptions) {
    this.#current = first;
    this.#watch = new SvidWatch(
      tls,
      serial,
      async (next) => {
        const t0 = Date.now();
        const fresh = await make();
        const old = this.#current;
        this.#current = fresh;
        o.onRotate?.({ client: name, kind: "producer", atMs: Date.now(), tookMs: Date.now() - t0, serial: next });
        const closing = old.close().finally(() => this.#closing.delete(closing));
        this.#closing.add(closing);
      },
      o,
    );
  }

  send(r: ProduceRecord) {
    return this.#current.send(r);
  }

  /** Prepared by the current client: a client made on rotation is of the same driver, so it reads the same form. */
  prepare(r: ProduceRecord): PreparedRecord {
    const c = this.#current;
    return hasSendWith(c) ? c.prepare(r) : { topic: r.topic, prepared: true, native: r };
  }

  /** Present whatever the current client is: one without the capability still ends in the callback. */
  sendWith(r: ProduceRecord | PreparedRecord, done: DeliveryCallback): void {
    const c = this.#current;
    if (hasSendWith(c)) c.sendWith(r, done);
    else c.send("prepared" in r ? (r.native as ProduceRecord) : r).then((d) => done(undefined, d), (e: unknown) => done(e instanceof Error ? e : new Error(String(e)), undefined));
  }

  flush(timeoutMs?: number): Promise<void> {
    return this.#current.flush(timeoutMs);
  }

  async close(): Promise<void> {
    this.#watch.stop();
    await Promise.all([this.#current.close(), ...this.#closing]);
  }
}

class RotatingConsumer implements Consumer {
  #current: Consumer;
  #handler: ((r: ConsumedRecord) => Promise<void>) | undefined;
  readonly #leaving = new Set<Consumer>();
  readonly #watch: SvidWatch;

  constructor(first: Consumer, tls: ClientTls, serial: string, make: () => Promise<Consumer>, name: string, o: RotationOptions) {
    this.#current = first;
    this.#watch = new SvidWatch(tls, serial, (next) => this.#renew(make, name, next, o), o);
  }

  async #renew(make: () => Promise<Consumer>, name: string, serial: string, o: RotationOptions): Promise<void> {
    const t0 = Date.now();
    const fresh = await make();
    if (this.#handler) await fresh.run(this.#handler);
    const old = this.#current;
    this.#current = fresh;
    this.#leaving.add(old);
    const until = Date.now() + (o.joinWaitMs ?? 30_000);
    while (this.#handler && fresh.assignment().length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    await old.close().finally(() => this.#leaving.delete(old));
    o.onRotate?.({ client: name, kind: "consumer", atMs: Date.now(), tookMs: Date.now() - t0, serial });
  }

  async run(handler: (r: ConsumedRecord) => Promise<void>): Promise<void> {
    this.#handler = handler;
    await this.#current.run(handler);
  }

  assignment() {
    return [this.#current, ...this.#leaving].flatMap((c) => c.assignment());
  }

  /** Each point goes to the client (the new one, or one still leaving) that owns its partition; others are dropped. */
  async commit(points: { topic: string; partition: number; offset: string }[]): Promise<void> {
    const owned = (c: Consumer) => (p: { topic: string; partition: number }) => c.assignment().some((a) => a.topic === p.topic && a.partition === p.partition);
    await Promise.all(
      [this.#current, ...this.#leaving].map((c) => {
        const mine = points.filter(owned(c));
        return mine.length ? c.commit(mine) : undefined;
      }),
    );
  }

  async close(): Promise<void> {
    this.#watch.stop();
    await Promise.all([this.#current, ...this.#leaving].map((c) => c.close()));
  }
}

/**
 * An admin client is made again lazily: a renewal only marks it stale, and the next call makes the new one (most
 * admin clients live for one call; a long-lived one, the lag sampler's, renews between samples). Making it in the
 * background would also make it against a region that is down, for nobody.
 */
class RotatingAdmin implements Admin {
  #current: Admin;
  #stale = false;
  readonly #make: () => Promise<Admin>;
  readonly #watch: SvidWatch;

  constructor(first: Admin, tls: ClientTls, serial: string, make: () => Promise<Admin>, o: RotationOptions) {
    this.#current = first;
    this.#make = make;
    this.#watch = new SvidWatch(
      tls,
      serial,
      async () => {
        this.#stale = true;
      },
      o,
    );
  }

  async #admin(): Promise<Admin> {
    if (this.#stale) {
      const [old, fresh] = [this.#current, await this.#make()];
      [this.#current, this.#stale] = [fresh, false];
      void old.close().catch(() => {});
    }
    return this.#current;
  }

  brokers = async () => (await this.#admin()).brokers();
  createTopics = async (t: TopicCreate[]) => (await this.#admin()).createTopics(t);
  topic = async (name: string) => (await this.#admin()).topic(name);
  describeGroup = async (groupId: string) => (await this.#admin()).describeGroup(groupId);
  groupLag = async (groupId: string, topic: string) => (await this.#admin()).groupLag(groupId, topic);

  async close(): Promise<void> {
    this.#watch.stop();
    await this.#current.close();
  }
}

/** A driver whose clients made with an SVID are made again whenever it rotates. Clients without `tls` are the inner driver's own. */
export function rotating(inner: KafkaDriver, o: RotationOptions = {}): KafkaDriver {
  return {
    name: inner.name,
    async admin(opts) {
      if (!opts.tls) return inner.admin(opts);
      const serial = readSvidPems(opts.tls).serial;
      return new RotatingAdmin(await inner.admin(opts), opts.tls, serial, () => inner.admin(opts), o);
    },
    async producer(opts) {
      if (!opts.tls) return inner.producer(opts);
      const serial = readSvidPems(opts.tls).serial; // read first: a rotation meanwhile only renews once more
      return new RotatingProducer(await inner.producer(opts), opts.tls, serial, () => inner.producer(opts), opts.clientId, o);
    },
    async consumer(opts: ConsumerOptions) {
      if (!opts.tls) return inner.consumer(opts);
      const serial = readSvidPems(opts.tls).serial;
      return new RotatingConsumer(await inner.consumer(opts), opts.tls, serial, () => inner.consumer(opts), opts.clientId, o);
    },
  };
}
