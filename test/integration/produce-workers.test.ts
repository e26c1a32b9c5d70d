import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ASSESSMENT_SCHEMA, Codec } from "../../generators/codec.ts";
import { AssessmentFactory, population } from "../../generators/domain.ts";
import { loadDriver } from "../../generators/drivers/driver.ts";
import type { WorkerConfig } from "../../generators/produce-worker.ts";
import { runProduceWorkers, type WorkersRun } from "../../generators/produce-workers.ts";
import { Schedule } from "../../generators/schedule.ts";
import { newHistogram } from "../../reports/hdr.ts";
import { cacheRoot } from "../../lab/install.ts";
import { Supervisor } from "../../lab/proc.ts";
import { type Mesh, standUpMesh } from "../../topology/local/mesh.ts";
import { parseTopology } from "../../topology/spec.ts";
import { ROOT, tempDir } from "./helpers.ts";

const RATE = 600;
const WARMUP_MS = 1_000;
const DURATION_MS = 3_000;

/**
 * Three generator worker processes share one open-model schedule on a real (plaintext) region; their ledgers and
 * interval logs merge exactly: every request once, every acknowledged record once in the topic, and the merged
 * log's figures equal those of all latencies recorded in one histogram (as one process would have recorded them).
 */
describe("generator workers on one schedule", () => {
  const spec = { ...parseTopology(JSON.parse(readFileSync(join(ROOT, "topology/specs/one-region.json"), "utf8"))), security: "plaintext" as const };
  const supervisor = new Supervisor(`test-produce-workers-${process.pid}`, join(cacheRoot(), "state", "runs"));
  const runDir = tempDir("produce-workers");
  let mesh: Mesh;

  beforeAll(async () => {
    mesh = await standUpMesh(spec, { runDir, supervisor });
  });

  afterAll(async () => {
    await mesh?.[Symbol.asyncDispose]();
    await supervisor.stopAll();
  });

  async function run(workers: number): Promise<WorkersRun & { topic: string }> {
    const region = mesh.region();
    const topic = `test-produce-workers-${workers}w-${Date.now()}`;
    const admin = await region.admin();
    try {
      await admin.createTopics([{ name: topic, partitions: 12, replicationFactor: 3, config: { "min.insync.replicas": "2" } }]);
    } finally {
      await admin.close();
    }
    const schemaId = await new Codec(region.registry.ccompatUrl).register(topic, ASSESSMENT_SCHEMA);
    const config: Omit<WorkerConfig, "index"> = {
      workers,
      rate: { kind: "constant", perSecond: RATE },
      warmupMs: WARMUP_MS,
      durationMs: DURATION_MS,
      seed: 42,
      population: 1_000,
      topic,
      bootstrap: region.bootstrap("ato"),
      driver: "confluent",
      clientId: `test-workers-${workers}`,
      props: { acks: "all", "enable.idempotence": true, "linger.ms": 5 },
      registryUrl: region.registry.ccompatUrl,
      schemaId,
      maxInFlight: 10_000,
      prepareAheadMs: 500,
      dir: join(runDir, `w${workers}`),
      drainTimeoutMs: 30_000,
    };
    mkdirSync(config.dir, { recursive: true });
    return { ...(await runProduceWorkers(config, { supervisor, signal: new AbortController().signal })), topic };
  }

  /** Records in a topic: with no group commits, a group's lag is every partition's high minus low watermark. */
  async function recordsIn(topic: string): Promise<number> {
    const admin = await (await loadDriver("confluent")).admin({ bootstrap: mesh.region().bootstrap("lab"), clientId: "test-count" });
    try {
      return await admin.groupLag(`nobody-${Date.now()}`, topic);
    } finally {
      await admin.close();
    }
  }

  it("encodes on the hot path exactly as the registry client does (Avro wire format)", async () => {
    const region = mesh.region();
    const codec = new Codec(region.registry.ccompatUrl);
    const id = await codec.register(`test-encoder-${Date.now()}`, ASSESSMENT_SCHEMA);
    const encode = await codec.encoderFor(id);
    const factory = new AssessmentFactory(7, population(7, 50));
    for (let i = 0; i < 20; i++) {
      const a = factory.next(1_000 + i);
      expect(encode(a).equals(await codec.encode(id, a))).toBe(true);
    }
  });

  it("merges three workers' ledgers and logs exactly, with the counts of a single worker on the same schedule", async () => {
    const total = new Schedule({ kind: "constant", perSecond: RATE }, { durationMs: DURATION_MS, warmupMs: WARMUP_MS }).requestsWithin(WARMUP_MS + DURATION_MS);
    const [multi, single] = [await run(3), await run(1)];
    for (const r of [multi, single]) {
      expect([r.requests, r.acked, r.failed, r.unsettled]).toEqual([total, total, 0, 0]);
      expect([r.ledger.missing, r.ledger.doubled, r.ledger.duplicateEventIds]).toEqual([[], [], []]);
      expect(r.ledger.entries.map((e) => e.seq)).toEqual(Array.from({ length: total }, (_, i) => i));
      // Every acknowledged request is one record of the topic, at its own offset: nothing lost, nothing written twice.
      expect(new Set(r.ledger.entries.map((e) => `${e.partition}@${e.offset}`)).size).toBe(total);
      expect(await recordsIn(r.topic)).toBe(total);
    }
    expect(multi.workers.map((w) => w.requests)).toEqual([Math.ceil(total / 3), Math.ceil((total - 1) / 3), Math.ceil((total - 2) / 3)]);
    // The merged log holds every measured request once, with the percentiles of all of them in one histogram.
    const measured = multi.ledger.entries.filter((e) => e.intendedUs >= WARMUP_MS * 1000);
    const one = newHistogram();
    for (const e of measured) one.recordValue(Math.max(1, (e.ackedUs as number) - e.intendedUs));
    expect(multi.produceAck.count).toBe(measured.length);
    for (const [p, got] of [[50, multi.produceAck.p50], [99, multi.produceAck.p99]] as const)
      expect(Math.abs(got - one.getValueAtPercentile(p) / 1000), `p${p}`).toBeLessThanOrEqual((one.getValueAtPercentile(p) / 1000) * 0.002 + 0.002);
  }, 240_000);
});
