import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { confluentDriver } from "../../generators/drivers/confluent.ts";
import type { Consumer, KafkaDriver } from "../../generators/drivers/driver.ts";
import { type RotationEvent, rotating } from "../../generators/drivers/rotation.ts";
import { PipelinedHandler } from "../../generators/pipeline.ts";
import { cacheRoot } from "../../lab/install.ts";
import { Supervisor } from "../../lab/proc.ts";
import { type Mesh, standUpMesh } from "../../topology/local/mesh.ts";
import { LAB_CLASS } from "../../topology/plan.ts";
import { parseTopology } from "../../topology/spec.ts";
import { svid, workloadFiles } from "../svid-files.ts";
import { tempDir } from "./helpers.ts";

const TOPIC = "rotation-group";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Three engines' consumers of one group, each made again on every SVID renewal, all renewed at the same moment
 * (the engines share one workload's SVID files), on a real broker. The SVID files are self-signed certificates
 * the rotation wrapper watches; the clients themselves connect in plaintext (the handshake is the identity tests'
 * part). While rotations run, each member's assignment is read every few ms, as an engine's stats timer does:
 * a leaving consumer is closing then, and once threw (ERR__STATE) out of that timer, killing every engine of a
 * failure-matrix run.
 */
describe("a consumer group whose members all rotate at once", () => {
  let supervisor: Supervisor;
  let mesh: Mesh;
  let bootstrap: string;

  beforeAll(async () => {
    const spec = parseTopology({
      name: "rotation-group",
      security: "plaintext",
      proxy: "none",
      clientClasses: ["centrelink"],
      regions: [{ name: "syd", nodes: [{ id: "syd-1", nodeId: 1, roles: ["broker", "controller"], az: "az1" }] }],
      topics: [{ name: TOPIC, partitions: 12, replicationFactor: 1, config: { "min.insync.replicas": "1" } }],
    });
    supervisor = new Supervisor(`test-rotation-group-${process.pid}`, join(cacheRoot(), "state", "runs"));
    mesh = await standUpMesh(spec, { runDir: tempDir("rotation-group"), supervisor });
    bootstrap = mesh.region().plan.bootstrap[LAB_CLASS] ?? "";
    const admin = await confluentDriver.admin({ bootstrap, clientId: "rotation-group-admin" });
    await admin.createTopics([{ name: TOPIC, partitions: 12, replicationFactor: 1, config: {} }]).catch(() => {});
    await admin.close();
  });

  afterAll(async () => {
    await mesh?.[Symbol.asyncDispose]();
    await supervisor?.stopAll();
  });

  it("keeps every partition owned and every record answered, and reading assignments never throws", async () => {
    const { dir, tls, install } = workloadFiles();
    install(svid(dir, "first"));
    const rotations: RotationEvent[] = [];
    const plain: KafkaDriver = { ...confluentDriver, consumer: (o) => confluentDriver.consumer({ ...o, tls: undefined }) };
    const driver = rotating(plain, { everyMs: 50, onRotate: (e) => rotations.push(e) });
    const answered = new Set<string>();
    const members: Consumer[] = [];
    for (let k = 1; k <= 3; k++) {
      let pipe: PipelinedHandler | undefined;
      const c = await driver.consumer({
        bootstrap,
        clientId: `engine-${k}`,
        groupId: "rotation-group",
        topics: [TOPIC],
        tls,
        concurrency: 4,
        manualCommit: true,
        onRebalance: (e) => (e.type === "revoked" ? pipe?.revoked(e.partitions) : undefined),
      });
      pipe = new PipelinedHandler({ handle: async (r) => void answered.add(String(r.value)), commit: (p) => c.commit(p), maxInFlight: 32 });
      await c.run(pipe.accept);
      members.push(c);
    }
    const owned = () => new Set(members.flatMap((c) => c.assignment().map((a) => a.partition))).size;
    const readErrors: string[] = [];
    const reader = setInterval(() => {
      try {
        owned();
      } catch (e) {
        readErrors.push((e as Error).message);
      }
    }, 3);
    const producer = await confluentDriver.producer({ bootstrap, clientId: "rotation-group-producer" });
    let sent = 0;
    let sending = true;
    const sends = (async () => {
      while (sending) {
        await producer.send({ topic: TOPIC, key: `k${sent % 31}`, value: Buffer.from(String(sent++)), headers: {} });
        await sleep(20);
      }
    })();
    try {
      for (let round = 1; round <= 3; round++) {
        await sleep(4_000);
        install(svid(dir, `round-${round}`));
        const want = 3 * round;
        for (const end = Date.now() + 60_000; rotations.length < want && Date.now() < end; ) await sleep(100);
        expect(rotations.length, `round ${round}: every member made again`).toBe(want);
      }
      sending = false;
      await sends;
      for (const end = Date.now() + 60_000; (answered.size < sent || owned() < 12) && Date.now() < end; ) await sleep(200);
      expect(readErrors).toEqual([]);
      expect(owned(), "partitions owned by the group after the last rotation").toBe(12);
      expect(answered.size).toBe(sent);
    } finally {
      clearInterval(reader);
      sending = false;
      await Promise.allSettled([producer.close(), ...members.map((c) => c.close())]);
    }
  }, 240_000);
});
