import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { disposeAll, limitDir, usage } from "../../chaos/disk.ts";
import { type ChaosContext, createInjector } from "../../chaos/injectors.ts";
import { partitionOfKey } from "../../chaos/selectors.ts";
import { parseFaults } from "../../chaos/spec.ts";
import { type ConsumedRecord, loadDriver, type Producer, withTls } from "../../generators/drivers/driver.ts";
import { cacheRoot } from "../../lab/install.ts";
import { Supervisor } from "../../lab/proc.ts";
import { type Mesh, standUpMesh } from "../../topology/local/mesh.ts";
import { addr } from "../../topology/plan.ts";
import { parseTopology } from "../../topology/spec.ts";
import { ROOT, tempDir } from "./helpers.ts";
import { regionTicks } from "../../reports/broker-metrics.ts";
import { readNdjson } from "../../reports/run-data.ts";
import { type MetricsSample, startMeshMetrics } from "../../topology/metrics/index.ts";

const TOPIC = "au.gov.ato.tax.assessment.v1";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Every network and process fault, and disk exhaustion, against one real region (3 KRaft nodes, Toxiproxy on
 * every link). syd-3's log dir is a 256 MB tmpfs, so the disk can be filled without touching the host's.
 */
describe("faults on a real region", () => {
  // Retention checked every 5 s (Kafka's default is 5 min), as the disk-exhaustion scenario does.
  const spec = parseTopology({
    ...JSON.parse(readFileSync(join(ROOT, "topology/specs/one-region.json"), "utf8")),
    kafka: { config: { "log.retention.check.interval.ms": "5000" } },
  });
  const runDir = tempDir("chaos-faults");
  let supervisor: Supervisor;
  let mesh: Mesh;
  let ctx: ChaosContext;
  let disk: AsyncDisposable | undefined;
  const producers: Producer[] = [];

  beforeAll(async () => {
    disk = limitDir(join(runDir, "syd", "syd-3", "data"), 256);
    supervisor = new Supervisor(`test-chaos-faults-${process.pid}`, join(cacheRoot(), "state", "runs"));
    mesh = await standUpMesh(spec, { runDir, supervisor });
    ctx = { regions: mesh.regions, toxiproxyApi: mesh.plan.toxiproxyApi && addr(mesh.plan.toxiproxyApi), seed: 42 };
  });

  afterAll(async () => {
    await Promise.allSettled(producers.map((p) => p.close()));
    await mesh?.[Symbol.asyncDispose]();
    await supervisor?.stopAll();
    await disposeAll([disk]);
  });

  const inject = (fault: Record<string, unknown>) => createInjector(ctx)(parseFaults([{ at: 0, duration: "1s", ...fault }])[0] as never);

  /** A key whose partition is led by `nodeId` now, so a send exercises exactly that broker's link. */
  const keyLedBy = async (nodeId: number): Promise<string> => {
    const admin = await mesh.region().admin();
    try {
      const t = await admin.topic(TOPIC);
      for (let i = 0; ; i++) {
        const key = `key-${i}`;
        if (t?.partitions.find((p) => p.id === partitionOfKey(key, 12))?.leader === nodeId) return key;
      }
    } finally {
      await admin.close();
    }
  };
  const producer = async (klass = "ato"): Promise<Producer> => {
    const p = await (await loadDriver("confluent")).producer({ bootstrap: mesh.region().bootstrap(klass), clientId: `test-${klass}-${producers.length}`, ...withTls(mesh.region().tls("lab")) });
    producers.push(p);
    return p;
  };
  const timed = async (p: Producer, key: string, bytes = 10): Promise<number> => {
    const t0 = performance.now();
    await p.send({ topic: TOPIC, key, value: Buffer.alloc(bytes, 1), headers: {} });
    return performance.now() - t0;
  };
  /** Whether a send started now completes within `ms`; the send itself is left to finish later. */
  const completesWithin = async (p: Producer, key: string, ms: number): Promise<{ done: boolean; pending: Promise<unknown> }> => {
    let done = false;
    const pending = p.send({ topic: TOPIC, key, value: Buffer.from("x"), headers: {} }).then(() => (done = true));
    pending.catch(() => {});
    await Promise.race([pending, sleep(ms)]);
    return { done, pending };
  };

  it("latency with jitter slows one broker's links of one class, and heals", async () => {
    const p = await producer();
    const key = await keyLedBy(1);
    await timed(p, key);
    const f = await inject({ kind: "latency", target: { named: "syd-1" }, links: ["ato"], latencyMs: 300, jitterMs: 50, direction: "both" });
    expect(f.target).toBe("syd-1.ato");
    const slow = await timed(p, key);
    await f.heal();
    const healed = await timed(p, key);
    expect(slow).toBeGreaterThan(500); // 300 ms each way
    expect(healed).toBeLessThan(200);
  });

  it("a bandwidth limit and slicing stretch a large send; both heal", async () => {
    const p = await producer();
    const key = await keyLedBy(2);
    const base = await timed(p, key, 64 * 1024);
    const bw = await inject({ kind: "bandwidth", target: { named: "syd-2" }, links: ["ato"], rateKBps: 16, direction: "upstream" });
    const limited = await timed(p, key, 64 * 1024);
    await bw.heal();
    const sl = await inject({ kind: "slicer", target: { named: "syd-2" }, links: ["ato"], avgBytes: 64, delayUs: 2_000, direction: "upstream" });
    const sliced = await timed(p, key, 64 * 1024);
    await sl.heal();
    expect(base).toBeLessThan(1_000);
    expect(limited).toBeGreaterThan(3_000); // 64 KB at 16 KB/s
    expect(sliced).toBeGreaterThan(1_000); // ~1000 slices, 2 ms apart
    expect(await timed(p, key, 64 * 1024)).toBeLessThan(1_000);
  });

  it.each([
    ["timeout", { kind: "timeout", timeoutMs: 500 }],
    ["reset", { kind: "reset", timeoutMs: 0 }],
    ["cut", { kind: "cut" }],
  ])("%s stops a broker's traffic of one class until healed", async (_, fault) => {
    const p = await producer();
    const key = await keyLedBy(3);
    const other = await keyLedBy(1);
    await timed(p, key);
    const f = await inject({ ...fault, target: { named: "syd-3" }, links: ["ato"], direction: "both" });
    const during = await completesWithin(p, key, 3_000);
    const elsewhere = await timed(p, other);
    await f.heal();
    expect(during.done).toBe(false);
    expect(elsewhere).toBeLessThan(1_000);
    await expect(Promise.race([during.pending.then(() => "delivered"), sleep(45_000).then(() => "stuck")])).resolves.toBe("delivered");
  });

  it("a partition isolates one node both ways: the others fence it and take over its partitions; the heal brings it back", async () => {
    const p = await producer("centrelink");
    const key = await keyLedBy(2);
    const partition = partitionOfKey(key, 12);
    await timed(p, key);
    const f = await inject({ kind: "partition", target: { named: "syd-2" }, duration: "10s" });
    const links = f.details?.links as string[];
    expect(links).toEqual(expect.arrayContaining(["syd-2.ato", "syd-2.centrelink", "syd-2.broker.from-syd-1", "syd-2.controller.from-syd-3"]));
    // syd-2's own traffic to the others is cut too (a one-way cut would leave its heartbeats to the controller).
    expect(links).toEqual(expect.arrayContaining(["syd-1.controller.from-syd-2", "syd-3.controller.from-syd-2", "syd-1.broker.from-syd-2"]));
    expect(links.filter((l) => l.endsWith(".lab") || l === "syd-2.controller.from-syd-2" || l === "syd-1.controller.from-syd-3")).toEqual([]);
    // Asked from outside the cut (Centrelink's class, whose links to syd-2 are cut): the lab's own listener would
    // also reach syd-2, which keeps answering with its stale view of the cluster.
    const admin = await (await loadDriver("confluent")).admin({ bootstrap: mesh.region().bootstrap("centrelink"), clientId: "test-partition", ...withTls(mesh.region().tls("lab")) });
    try {
      // The others fence syd-2 once its broker session expires, which needs its own heartbeats to the controller
      // cut (a cut towards it only would leave them), and elect new leaders for its partitions.
      let takenOver = false;
      for (let i = 0; i < 60 && !takenOver; i++) {
        const brokers: number[] = await admin.brokers().catch(() => [2]);
        const leader = (await admin.topic(TOPIC).catch(() => undefined))?.partitions.find((x) => x.id === partition)?.leader;
        takenOver = !brokers.includes(2) && leader !== undefined && leader >= 0 && leader !== 2;
        if (!takenOver) await sleep(500);
      }
      // A client outside the cut writes to syd-2's former partition on its new leader while syd-2 is cut off.
      const outside = takenOver ? await timed(await producer("centrelink"), key) : Number.POSITIVE_INFINITY;
      await f.heal();
      expect(takenOver).toBe(true);
      expect(outside).toBeLessThan(5_000);
      let back = false;
      for (let i = 0; i < 120 && !back; i++) {
        back = (await admin.brokers().catch((): number[] => [])).includes(2);
        if (!back) await sleep(500);
      }
      expect(back).toBe(true);
      // The producer that had a request in flight to syd-2 recovers too.
      await expect(Promise.race([timed(p, key), sleep(90_000).then(() => "stuck")])).resolves.toEqual(expect.any(Number));
    } finally {
      await admin.close();
    }
  });

  it("kill -9 of a partition leader moves leadership, and the JMX metrics show it; the heal restarts it on its log dir", async () => {
    const admin = await mesh.region().admin();
    const origin = Date.now();
    const metrics = startMeshMetrics(mesh, runDir, origin);
    let steadyAt = 0;
    let killedAt = 0;
    let restartedAt = 0;
    let killed = "";
    const samplesNow = () => readNdjson<MetricsSample>(join(runDir, "metrics.ndjson"));
    const caughtUp = () => regionTicks(samplesNow().filter((s) => s.tMs > restartedAt && s.underReplicated !== undefined)).some((t) => t.figures.underReplicated === 0);
    const answered = (n: string) => samplesNow().filter((s) => s.node === n).length;
    try {
      // A read that a busy JVM does not answer within the second is a gap: wait for two answers from each.
      for (let i = 0; i < 60 && ["syd-1", "syd-2", "syd-3"].some((n) => answered(n) < 2); i++) await sleep(500);
      // The faults before this one (a partition) may leave replicas catching up: start from an in-sync region.
      const inSync = () => regionTicks(samplesNow()).at(-1)?.figures.underReplicated === 0;
      for (let i = 0; i < 90 && !inSync(); i++) await sleep(1_000);
      steadyAt = regionTicks(samplesNow()).at(-1)?.tMs ?? 0;
      const leaderBefore = (await admin.topic(TOPIC))?.partitions.find((x) => x.id === 0)?.leader;
      const f = await inject({ kind: "kill", target: { leaderOf: { topic: TOPIC, partition: 0 } } });
      killedAt = Date.now() - origin;
      killed = f.target;
      const node = mesh.region().nodes.find((n) => n.id === f.target);
      expect(node?.plan.spec.nodeId).toBe(leaderBefore);
      await sleep(500);
      expect(node?.running()).toBe(false);
      let leaderAfter = leaderBefore;
      for (let i = 0; i < 60 && leaderAfter === leaderBefore; i++) {
        await sleep(500);
        leaderAfter = (await admin.topic(TOPIC))?.partitions.find((x) => x.id === 0)?.leader;
      }
      expect(leaderAfter).not.toBe(leaderBefore);
      await sleep(1_500);
      restartedAt = Date.now() - origin;
      const healed = await f.heal();
      expect(node?.running()).toBe(true);
      expect(healed).toMatchObject({ rejoinMs: { [f.target]: expect.any(Number) } });
      expect(await admin.brokers()).toEqual([1, 2, 3]);
      // Back in the metadata is not back in sync: wait until the leaders count no under-replicated partition.
      for (let i = 0; i < 90 && !caughtUp(); i++) await sleep(1_000);
    } finally {
      await metrics.stop();
      await admin.close();
    }
    const samples = samplesNow();
    const of = (node: string, from: number, to: number) => samples.filter((s) => s.node === node && s.tMs >= from && s.tMs < to);
    // Every node answered before the kill; the killed one left a gap (it was not asked) until its restart, and
    // answered again after it; the sampler went on meanwhile.
    for (const n of ["syd-1", "syd-2", "syd-3"]) expect(of(n, 0, killedAt).length, n).toBeGreaterThanOrEqual(2);
    expect(of(killed, killedAt + 1_000, restartedAt)).toEqual([]);
    expect(of(killed, restartedAt, Number.POSITIVE_INFINITY).length).toBeGreaterThan(0);
    // The survivors lead partitions whose replica on the killed node fell out of the ISR: under-replicated > 0.
    const during = samples.filter((s) => s.node !== killed && s.tMs > killedAt && s.tMs < restartedAt);
    expect(Math.max(...during.map((s) => Number(s.underReplicated ?? 0)))).toBeGreaterThan(0);
    // In KRaft the controller, not the leader, drops a fenced broker from the ISR: the leaders' IsrShrinksPerSec
    // stays 0. Their IsrExpandsPerSec counts the restarted node's return to every ISR.
    expect(during.every((s) => s.isrShrinksPerSec === undefined || s.isrShrinksPerSec === 0)).toBe(true);
    expect(caughtUp()).toBe(true);
    expect(samples.some((s) => s.tMs > restartedAt && Number(s.isrExpandsPerSec ?? 0) > 0)).toBe(true);
    expect(samples.filter((s) => s.tMs >= steadyAt && s.tMs < killedAt).every((s) => s.underReplicated === 0)).toBe(true);
    // One active controller in the region before the kill, and again while the node was down.
    const active = (from: number, to: number) => regionTicks(samples.filter((s) => s.tMs >= from && s.tMs < to)).map((t) => t.figures.activeControllers);
    expect(active(0, killedAt)).toEqual(expect.arrayContaining([1]));
    expect(active(killedAt, restartedAt)).toContain(1);
  });

  it("pausing the controller quorum leader (a long GC pause) elects another; resume heals", async () => {
    const view = (await import("../../chaos/injectors.ts")).targetView(ctx);
    const before = await view.quorumLeader();
    const f = await inject({ kind: "pause", target: { quorumLeader: true } });
    expect(f.target).toBe(before);
    let after = before;
    for (let i = 0; i < 20 && after === before; i++) {
      await sleep(1_000);
      after = await view.quorumLeader().catch(() => before);
    }
    await f.heal();
    expect(after).not.toBe(before);
    const admin = await mesh.region().admin();
    try {
      for (let i = 0; i < 60 && (await admin.brokers()).length < 3; i++) await sleep(500);
      expect(await admin.brokers()).toEqual([1, 2, 3]);
    } finally {
      await admin.close();
    }
  });

  it("graceful stop and restart bring a node back; a rolling restart of the region restarts every node", async () => {
    const node = mesh.region().nodes[0];
    const pid = node?.process?.pid;
    const stop = await inject({ kind: "stop", target: { named: "syd-1" } });
    expect(node?.running()).toBe(false);
    await stop.heal();
    expect(node?.running()).toBe(true);
    const restart = await inject({ kind: "restart", target: { named: "syd-1" }, duration: 0 });
    expect(restart.details).toMatchObject({ rejoinMs: { "syd-1": expect.any(Number) } });
    expect(node?.process?.pid).not.toBe(pid);
    const pids = mesh.region().nodes.map((n) => n.process?.pid);
    const rolling = await inject({ kind: "rolling-restart", target: { region: "syd" }, intervalMs: "1s", duration: 0 });
    // The restarts run in the background; the heal waits for the whole round.
    const healed = (await rolling.heal()) as { steps: { node: string; rejoinMs: number }[] };
    expect(healed.steps.map((x) => x.node)).toEqual(["syd-1", "syd-2", "syd-3"]);
    expect(mesh.region().nodes.every((n) => n.running())).toBe(true);
    expect(mesh.region().nodes.map((n) => n.process?.pid).filter((p, i) => p === pids[i])).toEqual([]);
  });

  const syd3 = () => {
    const node = mesh.region().nodes.find((n) => n.id === "syd-3");
    if (!node) throw new Error("no syd-3");
    return node;
  };
  const acked: string[] = [];
  const sendBatch = async (p: Producer, n: number, tag: string) => {
    const rs = await Promise.allSettled(Array.from({ length: n }, (_, i) => p.send({ topic: TOPIC, key: `${tag}-${i}`, value: Buffer.alloc(1024, 2), headers: { id: `${tag}-${i}` } })));
    for (const [i, r] of rs.entries()) if (r.status === "fulfilled") acked.push(`${tag}-${i}`);
    return rs.filter((r) => r.status === "fulfilled").length;
  };
  const untilDown = async (node: ReturnType<typeof syd3>) => {
    for (let i = 0; i < 60 && node.running(); i++) await sleep(500);
    return !node.running();
  };
  /** Every acknowledged write is still there, read back through the brokers. */
  const unreadAcked = async (): Promise<string[]> => {
    const consumer = await (await loadDriver("confluent")).consumer({ bootstrap: mesh.region().bootstrap("centrelink"), clientId: "test-disk", groupId: `test-disk-${Date.now()}`, topics: [TOPIC], ...withTls(mesh.region().tls("lab")) });
    const seen = new Set<string>();
    try {
      await consumer.run(async (r: ConsumedRecord) => void (r.headers.id && seen.add(r.headers.id)));
      for (let i = 0; i < 120 && acked.some((id) => !seen.has(id)); i++) await sleep(500);
    } finally {
      await consumer.close();
    }
    return acked.filter((id) => !seen.has(id));
  };

  it("disk exhaustion by a plain file: at 85 % writes go on, at 100 % the broker fails its log dir; the heal recovers", async () => {
    const node = syd3();
    const p = await producer();
    const at85 = await inject({ kind: "disk-fill", target: { named: "syd-3" }, percent: 85, fill: "file" });
    expect(usage(node.logDir).percent).toBeGreaterThanOrEqual(85);
    expect(await sendBatch(p, 200, "file85")).toBe(200);
    expect(node.running()).toBe(true);
    await at85.heal();

    const full = await inject({ kind: "disk-fill", target: { named: "syd-3" }, percent: 100, fill: "file" });
    expect(full.details?.["syd-3"]).toMatchObject({ enospc: true });
    await sendBatch(p, 300, "file100");
    const died = await untilDown(node);
    const healed = (await full.heal()) as { restartedRejoinMs: Record<string, number> };
    expect(died).toBe(true); // the only log dir failed, so the broker shut itself down
    expect(Object.keys(healed.restartedRejoinMs)).toEqual(["syd-3"]);
    expect(usage(node.logDir).percent).toBeLessThan(85);
    expect(acked.length).toBeGreaterThanOrEqual(200);
    expect(await unreadAcked()).toEqual([]);
  });

  it("disk exhaustion by Kafka's own records: retention frees the disk at 85 %, and after the broker's restart at 100 %", async () => {
    const node = syd3();
    const p = await producer();
    const at85 = await inject({ kind: "disk-fill", target: { named: "syd-3" }, percent: 85, fill: "records" });
    expect(at85.details?.["syd-3"]).toMatchObject({ with: "records", stoppedBy: "threshold", brokerRunning: true });
    expect(usage(node.logDir).percent).toBeGreaterThanOrEqual(85);
    expect(await sendBatch(p, 200, "rec85")).toBe(200);
    const r85 = ((await at85.heal()) as { retention: Record<string, Record<string, number | boolean>> }).retention["syd-3"];
    // The broker's own retention task deleted the old segments: nothing was restarted, nothing deleted by hand.
    expect(r85).toMatchObject({ retentionFreed: true, ballastDeleted: true });
    expect(r85).not.toHaveProperty("restartedRejoinMs");
    expect(Number(r85?.segmentsAfter)).toBeLessThan(Number(r85?.segmentsBefore));
    expect(Number(r85?.usedPercentAfterRetention)).toBeLessThan(20);
    expect(node.running()).toBe(true);

    const full = await inject({ kind: "disk-fill", target: { named: "syd-3" }, percent: 100, fill: "records" });
    await sendBatch(p, 300, "rec100");
    const died = await untilDown(node);
    const r100 = ((await full.heal()) as { retention: Record<string, Record<string, number | boolean>> }).retention["syd-3"];
    expect(died).toBe(true);
    // Retention runs only in a live broker: the heal restarted it on the full disk, then the old segments went.
    expect(r100).toMatchObject({ retentionFreed: true, ballastDeleted: true });
    expect(Number(r100?.restartedRejoinMs)).toBeGreaterThan(0);
    // Either it started on the full disk, or it failed to and came up once the emergency reserve was freed.
    expect(String(r100?.restartOnFullDisk)).toMatch(/^(ok|failed: kafka syd-3 \(start \d+\): exited .* before syd-3 back in the cluster.*)$/);
    expect(Number(r100?.segmentsAfter)).toBeLessThan(Number(r100?.segmentsBefore));
    expect(usage(node.logDir).percent).toBeLessThan(85);
    expect(await unreadAcked()).toEqual([]);
  });
});
