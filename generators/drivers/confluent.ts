import ckjs from "@confluentinc/kafka-javascript";
import {
  type Admin,
  type ClientProps,
  type ConsumedRecord,
  type Consumer,
  type ConsumerOptions,
  type CallbackProducer,
  type Delivery,
  type DeliveryCallback,
  type GroupState,
  headersToStrings,
  type PreparedRecord,
  type KafkaDriver,
  type ProduceRecord,
  sumLag,
  tlsProps,
} from "./driver.ts";

const { KafkaJS, Producer: RdProducer, ConsumerGroupStates } = ckjs;

/** Quiet librdkafka unless something is wrong; its logs go to the component's own log through the logger. */
const quietLogger = (clientId: string) => {
  const log = (level: string) => (entry: { message: string; extra?: unknown }) => {
    if (process.env.MESHLAB_CLIENT_DEBUG) process.stderr.write(`[${clientId}] ${level} ${entry.message}\n`);
  };
  return { info: log("info"), error: log("error"), warn: log("warn"), debug: () => {}, namespace() { return this; }, setLogLevel() {} };
};

/**
 * Produces through librdkafka's native producer: delivery reports come from a background thread, so acks are
 * timed when they arrive rather than on the next JS poll.
 */
/** What the binding's produce() takes, made once per record. */
interface NativeRecord {
  value: Buffer;
  key: Buffer;
  headers: Record<string, Buffer>[];
}

class RdKafkaProducer implements CallbackProducer {
  readonly #p: InstanceType<typeof RdProducer>;
  /** Sends not yet reported, by the opaque each carries (its callback): failed on close. */
  readonly #pending = new Set<DeliveryCallback>();

  constructor(p: InstanceType<typeof RdProducer>) {
    this.#p = p;
    p.on("delivery-report", (err, report) => {
      const done = report.opaque as DeliveryCallback;
      if (!this.#pending.delete(done)) return;
      if (err) done(new Error(`delivery failed: ${err.message}`), undefined);
      else done(undefined, { partition: report.partition, offset: String(report.offset) });
    });
  }

  static async connect(bootstrap: string, clientId: string, props: ClientProps): Promise<RdKafkaProducer> {
    const p = new RdProducer({
      "bootstrap.servers": bootstrap,
      "client.id": clientId,
      dr_cb: true,
      "enable.idempotence": true,
      acks: "all",
      "linger.ms": 1,
      ...props,
    } as ConstructorParameters<typeof RdProducer>[0]);
    await new Promise<void>((resolve, reject) => p.connect({ timeout: 30_000 }, (err) => (err ? reject(err) : resolve())));
    p.setPollInBackground(true);
    return new RdKafkaProducer(p);
  }

  send(r: ProduceRecord): Promise<Delivery> {
    return new Promise((resolve, reject) => this.sendWith(r, (e, d) => (e ? reject(e) : resolve(d as Delivery))));
  }

  /** Key and header values as Buffers: the binding then copies bytes instead of converting strings to UTF-8 per send. */
  prepare(r: ProduceRecord): PreparedRecord {
    const headers: Record<string, Buffer>[] = [];
    for (const k in r.headers) headers.push({ [k]: Buffer.from(r.headers[k] as string) });
    const native: NativeRecord = { value: r.value, key: Buffer.from(r.key), headers };
    return { topic: r.topic, prepared: true, native };
  }

  /** The callback itself rides along as the record's opaque, so a delivery report needs no lookup table. */
  sendWith(r: ProduceRecord | PreparedRecord, done: DeliveryCallback): void {
    const n = "prepared" in r ? (r.native as NativeRecord) : (this.prepare(r).native as NativeRecord);
    this.#pending.add(done);
    try {
      this.#p.produce(r.topic, null, n.value, n.key, Date.now(), done, n.headers);
    } catch (e) {
      this.#pending.delete(done);
      done(e instanceof Error ? e : new Error(String(e)), undefined);
    }
  }

  flush(timeoutMs = 30_000): Promise<void> {
    return new Promise((resolve, reject) => this.#p.flush(timeoutMs, (err) => (err ? reject(err) : resolve())));
  }

  async close(): Promise<void> {
    await this.flush(10_000).catch(() => {});
    await new Promise<void>((resolve) => this.#p.disconnect(5_000, () => resolve()));
    const left = [...this.#pending];
    this.#pending.clear();
    for (const done of left) done(new Error("producer closed before delivery"), undefined);
  }
}

class KafkaJsApiConsumer implements Consumer {
  readonly #c: ckjs.KafkaJS.Consumer;
  readonly #topics: string[];
  readonly #concurrency: number;
  constructor(c: ckjs.KafkaJS.Consumer, topics: string[], concurrency: number) {
    this.#c = c;
    this.#topics = topics;
    this.#concurrency = concurrency;
  }

  async run(handler: (r: ConsumedRecord) => Promise<void>): Promise<void> {
    await this.#c.subscribe({ topics: this.#topics });
    await this.#c.run({
      partitionsConsumedConcurrently: this.#concurrency,
      eachMessage: async ({ topic, partition, message }) => {
        await handler({
          topic,
          partition,
          offset: message.offset,
          key: message.key,
          value: message.value,
          headers: headersToStrings(message.headers as Record<string, unknown>),
        });
      },
    });
  }

  /**
   * What this member owns now; nothing once it is closing. (The client throws ERR__STATE while it disconnects: a
   * rotation's leaving consumer is asked in that window, and the throw once killed every engine of a run.)
   */
  assignment(): { topic: string; partition: number }[] {
    try {
      return this.#c.assignment().map((t) => ({ topic: t.topic, partition: t.partition }));
    } catch {
      return [];
    }
  }

  async commit(points: { topic: string; partition: number; offset: string }[]): Promise<void> {
    await this.#c.commitOffsets(points);
  }

  async close(): Promise<void> {
    await this.#c.disconnect();
  }
}

/**
 * Observes rebalances without changing them: the promisified consumer calls a user `rebalance_cb` first and then
 * applies the assignment itself (returning nothing keeps its default behaviour).
 */
const rebalanceTap =
  (on: NonNullable<ConsumerOptions["onRebalance"]>) =>
  (err: { code: number }, assignment: { topic: string; partition: number }[], fns: { assignmentLost(): boolean }) => {
    const type = err.code === ckjs.CODES.ERRORS.ERR__ASSIGN_PARTITIONS ? "assigned" : "revoked";
    try {
      on({ type, partitions: assignment.map((t) => ({ topic: t.topic, partition: t.partition })), lost: type === "revoked" && fns.assignmentLost() });
    } catch {}
  };

const groupStates: Record<number, GroupState["state"]> = {
  [ConsumerGroupStates.STABLE]: "stable",
  [ConsumerGroupStates.PREPARING_REBALANCE]: "rebalancing",
  [ConsumerGroupStates.COMPLETING_REBALANCE]: "rebalancing",
  [ConsumerGroupStates.EMPTY]: "empty",
  [ConsumerGroupStates.DEAD]: "dead",
};

class ConfluentAdmin implements Admin {
  readonly #admin: ckjs.KafkaJS.Admin;
  readonly #meta: InstanceType<typeof RdProducer>;
  constructor(admin: ckjs.KafkaJS.Admin, meta: InstanceType<typeof RdProducer>) {
    this.#admin = admin;
    this.#meta = meta;
  }

  #metadata(topic?: string): Promise<ckjs.Metadata> {
    return new Promise((resolve, reject) =>
      this.#meta.getMetadata(topic ? { topic, timeout: 5_000 } : { allTopics: false, timeout: 5_000 }, (err, md) => (err ? reject(err) : resolve(md))),
    );
  }

  async brokers(): Promise<number[]> {
    return (await this.#metadata()).brokers.map((b) => b.id).sort((a, b) => a - b);
  }

  async createTopics(topics: { name: string; partitions: number; replicationFactor: number; config: Record<string, string> }[]): Promise<void> {
    await this.#admin.createTopics({
      timeout: 30_000,
      topics: topics.map((t) => ({
        topic: t.name,
        numPartitions: t.partitions,
        replicationFactor: t.replicationFactor,
        configEntries: Object.entries(t.config).map(([name, value]) => ({ name, value })),
      })),
    });
  }

  async topic(name: string) {
    const md = await this.#metadata(name).catch(() => undefined);
    const t = md?.topics.find((x) => x.name === name);
    if (!t || t.partitions.length === 0) return undefined;
    return { partitions: t.partitions.map((p) => ({ id: p.id, leader: p.leader, isr: p.isrs })) };
  }

  async describeGroup(groupId: string): Promise<GroupState> {
    const { groups } = await this.#admin.describeGroups([groupId], { timeout: 5_000 });
    const g = groups[0];
    if (!g || g.error) return { state: "unknown", members: [] };
    return {
      ...(g.coordinator ? { coordinator: g.coordinator.id } : {}),
      state: groupStates[g.state] ?? "unknown",
      members: g.members.map((m) => ({
        clientId: m.clientId,
        partitions: (m.assignment as { topicPartitions?: unknown[] } | undefined)?.topicPartitions?.length ?? 0,
      })),
    };
  }

  async groupLag(groupId: string, topic: string): Promise<number> {
    const [ends, committed] = await Promise.all([
      this.#admin.fetchTopicOffsets(topic, { timeout: 5_000 } as never),
      this.#admin.fetchOffsets({ groupId, topics: [topic], timeout: 5_000 }),
    ]);
    return sumLag(ends, committed[0]?.partitions ?? []);
  }

  async close(): Promise<void> {
    await this.#admin.disconnect();
    await new Promise<void>((resolve) => this.#meta.disconnect(5_000, () => resolve()));
  }
}

export const confluentDriver: KafkaDriver = {
  name: "confluent",
  producer: ({ bootstrap, clientId, props, tls }) => RdKafkaProducer.connect(bootstrap, clientId, { ...tlsProps(tls), ...props }),

  async consumer(opts: ConsumerOptions): Promise<Consumer> {
    const kafka = new KafkaJS.Kafka({});
    const c = kafka.consumer({
      "bootstrap.servers": opts.bootstrap,
      "client.id": opts.clientId,
      "group.id": opts.groupId,
      "auto.offset.reset": "earliest",
      kafkaJS: { logger: quietLogger(opts.clientId) as never },
      ...tlsProps(opts.tls),
      ...opts.props,
      ...(opts.manualCommit ? { "enable.auto.commit": false } : {}),
      ...(opts.onRebalance ? { rebalance_cb: rebalanceTap(opts.onRebalance) } : {}),
    } as unknown as ckjs.KafkaJS.ConsumerConstructorConfig);
    await c.connect();
    return new KafkaJsApiConsumer(c, opts.topics, opts.concurrency ?? 1);
  },

  async admin({ bootstrap, clientId, tls }): Promise<Admin> {
    const kafka = new KafkaJS.Kafka({});
    const admin = kafka.admin({ "bootstrap.servers": bootstrap, "client.id": clientId, ...tlsProps(tls), kafkaJS: { logger: quietLogger(clientId) as never } } as ckjs.KafkaJS.AdminConstructorConfig);
    const meta = new RdProducer({ "bootstrap.servers": bootstrap, "client.id": `${clientId}-metadata`, ...tlsProps(tls) } as ConstructorParameters<typeof RdProducer>[0]);
    try {
      await admin.connect();
      await new Promise<void>((resolve, reject) => meta.connect({ timeout: 30_000 }, (err) => (err ? reject(err) : resolve())));
    } catch (e) {
      // A client that failed to connect still holds librdkafka threads: left to the garbage collector, its
      // finalizer can crash the process (seen as a segfault while a region restarts). Destroy both explicitly.
      await admin.disconnect().catch(() => {});
      await new Promise<void>((resolve) => meta.disconnect(5_000, () => resolve()));
      throw e;
    }
    return new ConfluentAdmin(admin, meta);
  },
};
