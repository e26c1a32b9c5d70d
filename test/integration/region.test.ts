import { readFileSync } from "node:fs";
import https from "node:https";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ASSESSMENT_SCHEMA, Codec } from "../../generators/codec.ts";
import { AssessmentFactory, population, type TaxAssessment } from "../../generators/domain.ts";
import { type ConsumedRecord, loadDriver, withTls } from "../../generators/drivers/driver.ts";
import { agentFor, getJson } from "../../generators/svid-https.ts";
import { cacheRoot } from "../../lab/install.ts";
import { Supervisor } from "../../lab/proc.ts";
import { type Mesh, standUpMesh } from "../../topology/local/mesh.ts";
import { LAB_CLASS } from "../../topology/plan.ts";
import { parseTopology } from "../../topology/spec.ts";
import { alive, ROOT, recordedPids, tempDir } from "./helpers.ts";

const ASSESSMENTS = "au.gov.ato.tax.assessment.v1";

/** One real region (3 KRaft nodes, Apicurio on KafkaSQL, Toxiproxy on every link), shared by the tests below. */
describe("a region stood up from the default spec (mTLS: the test's clients present the lab's SVID)", () => {
  const spec = parseTopology(JSON.parse(readFileSync(join(ROOT, "topology/specs/one-region.json"), "utf8")));
  const stateDir = join(cacheRoot(), "state", "runs");
  let supervisor: Supervisor;
  let mesh: Mesh;
  let pids: number[] = [];

  beforeAll(async () => {
    supervisor = new Supervisor(`test-region-${process.pid}`, stateDir);
    mesh = await standUpMesh(spec, { runDir: tempDir("region"), supervisor });
    pids = recordedPids(stateDir, process.pid);
  });

  afterAll(async () => {
    await mesh?.[Symbol.asyncDispose]();
    await supervisor?.stopAll();
  });

  it("has every broker in the metadata and the topics with the seed's settings", async () => {
    const admin = await mesh.region().admin();
    try {
      expect(await admin.brokers()).toEqual([1, 2, 3]);
      const t = await admin.topic(ASSESSMENTS);
      expect(t?.partitions).toHaveLength(12);
      for (const p of t?.partitions ?? []) expect(p.isr).toHaveLength(3);
    } finally {
      await admin.close();
    }
    const props = readFileSync(mesh.region().nodes[1]?.propertiesFile ?? "", "utf8");
    expect(props).toContain("broker.rack=az2");
  });

  it("carries records between client classes through their proxies", async () => {
    const driver = await loadDriver("confluent");
    const region = mesh.region();
    const producer = await driver.producer({ bootstrap: region.bootstrap("ato"), clientId: "test-ato", ...withTls(region.tls("lab")) });
    const consumer = await driver.consumer({
      bootstrap: region.bootstrap("centrelink"),
      clientId: "test-centrelink",
      groupId: `test-${Date.now()}`,
      topics: [ASSESSMENTS],
      ...withTls(region.tls("lab")),
    });
    const got: ConsumedRecord[] = [];
    try {
      await consumer.run(async (r) => void got.push(r));
      const sent = await Promise.all(
        Array.from({ length: 20 }, (_, i) => producer.send({ topic: ASSESSMENTS, key: `k${i}`, value: Buffer.from(`v${i}`), headers: { "event-id": `e${i}` } })),
      );
      expect(sent.every((d) => d.partition >= 0 && Number(d.offset) >= 0)).toBe(true);
      const deadline = Date.now() + 30_000;
      while (got.length < 20 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(got.map((r) => r.headers["event-id"]).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `e${i}`).sort());
    } finally {
      await consumer.close();
      await producer.close();
    }
    // The advertised addresses are the proxies: a client of a class only ever sees that class's links.
    const atoLinks = region.plan.links.filter((l) => l.klass === "ato");
    expect(region.bootstrap("ato").split(",")).toEqual(atoLinks.map((l) => `${l.listen.host}:${l.listen.port}`));
    expect(atoLinks.every((l) => l.listen.port !== l.upstream.port)).toBe(true);
    expect(region.plan.links.filter((l) => l.klass === LAB_CLASS).every((l) => l.listen.port === l.upstream.port)).toBe(true);
  });

  it("lets a fault on one class's links slow that class only", async () => {
    const driver = await loadDriver("confluent");
    const region = mesh.region();
    const toxiproxy = mesh.toxiproxy;
    if (!toxiproxy) throw new Error("no toxiproxy");
    const timeSends = async (klass: string) => {
      const p = await driver.producer({ bootstrap: region.bootstrap(klass), clientId: `test-${klass}`, ...withTls(region.tls("lab")) });
      try {
        await p.send({ topic: ASSESSMENTS, key: "warm", value: Buffer.from("x"), headers: {} });
        const t0 = performance.now();
        for (let i = 0; i < 5; i++) await p.send({ topic: ASSESSMENTS, key: `k${i}`, value: Buffer.from("x"), headers: {} });
        return (performance.now() - t0) / 5;
      } finally {
        await p.close();
      }
    };
    const atoLinks = region.plan.links.filter((l) => l.klass === "ato");
    const toxics = await Promise.all(
      atoLinks.map(async (l) =>
        (await toxiproxy.client.get(l.name)).addToxic<{ latency: number; jitter: number }>({
          name: "slow",
          type: "latency",
          stream: "downstream",
          toxicity: 1,
          attributes: { latency: 300, jitter: 0 },
        } as never),
      ),
    );
    try {
      const slowAto = await timeSends("ato");
      const centrelink = await timeSends("centrelink");
      expect(slowAto).toBeGreaterThan(250);
      expect(centrelink).toBeLessThan(150);
    } finally {
      await Promise.all(toxics.map((t) => t.remove()));
    }
    expect(await timeSends("ato")).toBeLessThan(150);
  });

  it("registers schemas in Apicurio (KafkaSQL, HTTPS with client certificates) and decodes them through a fresh client", async () => {
    const region = mesh.region();
    const url = region.registry.ccompatUrl;
    const [lab, engine] = [region.tls("lab"), region.tls("centrelink-engine")];
    const id = await new Codec(url, lab).register(ASSESSMENTS, ASSESSMENT_SCHEMA);
    const a = new AssessmentFactory(7, population(7, 10)).next(Date.now());
    const wire = await new Codec(url, lab).encode(id, a);
    expect(wire[0]).toBe(0); // magic byte
    expect(wire.readInt32BE(1)).toBe(id);
    const back = await new Codec(url, engine).decode<TaxAssessment>(wire);
    expect(back).toEqual(a);
    expect(url).toMatch(/^https:/);
    const subjects = await getJson<string[]>(`${url}/subjects`, agentFor(url, engine));
    expect(subjects).toMatchObject({ status: 200 });
    expect(subjects.body).toContain(`${ASSESSMENTS}-value`);
    // Without a client certificate the handshake is refused: the API is not open to whoever reaches its port.
    const bare = await getJson(`${url}/subjects`, new https.Agent({ rejectUnauthorized: false })).catch((e: Error) => e);
    expect(bare).toBeInstanceOf(Error);
    expect(String((bare as Error).message)).toMatch(/certificate|alert|socket hang up|ECONNRESET/i);
    // A valid SVID of a workload that has no business with schemas (the idempotence store's) is refused too.
    const stranger = await getJson(`${url}/subjects`, agentFor(url, region.tls("dedupe-store"))).catch((e: Error) => e);
    expect(stranger).toBeInstanceOf(Error);
    // KafkaSQL: the schema lives in a Kafka topic of the region.
    const admin = await mesh.region().admin();
    try {
      expect(await admin.topic("meshlab-registry-journal")).toBeDefined();
    } finally {
      await admin.close();
    }
  });

  it("tears down every process it started", async () => {
    expect(pids.length).toBeGreaterThanOrEqual(5); // toxiproxy, 3 Kafka nodes, Apicurio
    expect(pids.every(alive)).toBe(true);
    await mesh[Symbol.asyncDispose]();
    await supervisor.stopAll();
    expect(pids.filter(alive)).toEqual([]);
  });
});
