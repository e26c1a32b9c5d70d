import { readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ASSESSMENT_SCHEMA, Codec } from "../../generators/codec.ts";
import { createInjector } from "../../chaos/injectors.ts";
import { parseFaults } from "../../chaos/spec.ts";
import { openDedupeStore } from "../../generators/dedupe.ts";
import { AssessmentFactory, population, type TaxAssessment } from "../../generators/domain.ts";
import { loadDriver, withTls } from "../../generators/drivers/driver.ts";
import { cacheRoot } from "../../lab/install.ts";
import { Supervisor } from "../../lab/proc.ts";
import { type Mesh, standUpMesh } from "../../topology/local/mesh.ts";
import { commitTranslatedOffsets, committedOffsets, latestCheckpoints, readCheckpoints, readToEnd } from "../../topology/mirrormaker/checkpoints.ts";
import { remoteTopic } from "../../topology/mirrormaker/config.ts";
import { addr } from "../../topology/plan.ts";
import { parseTopology } from "../../topology/spec.ts";
import { alive, ROOT, recordedPids, tempDir } from "./helpers.ts";

const ASSESSMENTS = "au.gov.ato.tax.assessment.v1";

/** Two one-node regions with MirrorMaker 2 both ways, the replicated registry and Redis: real components only. */
describe("two regions with MirrorMaker 2", () => {
  const spec = parseTopology(JSON.parse(readFileSync(join(ROOT, "topology/specs/two-region-small.json"), "utf8")));
  const stateDir = join(cacheRoot(), "state", "runs");
  let supervisor: Supervisor;
  let mesh: Mesh;
  let pids: number[] = [];

  beforeAll(async () => {
    supervisor = new Supervisor(`test-two-region-${process.pid}`, stateDir);
    mesh = await standUpMesh(spec, { runDir: tempDir("two-region"), supervisor });
    pids = recordedPids(stateDir, process.pid);
  });

  afterAll(async () => {
    await mesh?.[Symbol.asyncDispose]();
    await supervisor?.stopAll();
  });

  const produce = async (region: string, n: number, tag: string) => {
    const driver = await loadDriver("confluent");
    const r = mesh.region(region);
    const p = await driver.producer({ bootstrap: r.bootstrap("ato"), clientId: `test-${tag}`, ...withTls(r.tls("lab")) });
    try {
      return await Promise.all(
        Array.from({ length: n }, (_, i) =>
          p.send({ topic: ASSESSMENTS, key: `k${i % 17}`, value: Buffer.from(`${tag}-${i}`), headers: { "event-id": `${tag}-${i}` } }).then((d) => ({ id: `${tag}-${i}`, ...d })),
        ),
      );
    } finally {
      await p.close();
    }
  };

  it("replicates a record in each enabled direction, renamed by the replication policy", async () => {
    expect(mesh.probe?.flows.sort()).toEqual(["mel->syd", "syd->mel"]);
    for (const [source, target] of [
      ["syd", "mel"],
      ["mel", "syd"],
    ] as const) {
      const tag = `cross-${source}-${Date.now()}`;
      await produce(source, 5, tag);
      const targetLab = mesh.region(target).lab();
      let seen: string[] = [];
      for (let i = 0; i < 60 && seen.length < 5; i++) {
        seen = (await readToEnd(targetLab, remoteTopic(source, ASSESSMENTS))).map((r) => r.headers["event-id"] ?? "").filter((id) => id.startsWith(tag));
        if (seen.length < 5) await sleep(500);
      }
      expect(seen.sort()).toEqual(Array.from({ length: 5 }, (_, i) => `${tag}-${i}`).sort());
    }
  });

  it("serves a schema registered in the primary region from the other region's registry, with the same id", async () => {
    const syd = new Codec(mesh.region("syd").registry.ccompatUrl, mesh.region("syd").tls("lab"));
    const mel = new Codec(mesh.region("mel").registry.ccompatUrl, mesh.region("mel").tls("centrelink-engine"));
    const id = await syd.register(ASSESSMENTS, ASSESSMENT_SCHEMA);
    const a = new AssessmentFactory(7, population(7, 100)).next(Date.now());
    const wire = await syd.encode(id, a);
    let decoded: TaxAssessment | undefined;
    for (let i = 0; i < 60 && !decoded; i++) {
      decoded = await mel.decode<TaxAssessment>(wire).catch(() => undefined);
      if (!decoded) await sleep(500);
    }
    expect(decoded?.eventId).toBe(a.eventId);
  });

  it("resumes a failed-over consumer group in the other region near its translated position", async () => {
    const group = `failover-test-${Date.now()}`;
    const sent = await produce("syd", 300, `fo-${Date.now()}`);
    const offsetOf = new Map(sent.map((s) => [s.id, s]));
    const driver = await loadDriver("confluent");
    // Consume part of the stream in syd, then stop (committing on close), as a group does when its region fails.
    const before = new Set<string>();
    const c = await driver.consumer({ bootstrap: mesh.region("syd").bootstrap("centrelink"), clientId: "test-before", groupId: group, topics: [ASSESSMENTS], ...withTls(mesh.region("syd").tls("lab")) });
    await c.run(async (r) => {
      // Past 150 the handler fails, so those records are neither processed nor committed: the other region owes them.
      if (before.size >= 150) throw new Error("held back for the failover");
      before.add(r.headers["event-id"] ?? "");
    });
    for (let i = 0; i < 100 && before.size < 150; i++) await sleep(200);
    await c.close();
    const committed = await committedOffsets(mesh.region("syd").lab(), group, [ASSESSMENTS]);
    expect([...committed.values()].reduce((a, b) => a + b, 0)).toBeGreaterThan(0);

    // Wait until MM2 has checkpointed the group's final position, then translate and start the group in mel.
    const melLab = mesh.region("mel").lab();
    let cps = latestCheckpoints(await readCheckpoints(melLab, "syd"), group);
    for (let i = 0; i < 60 && !cps.every((cp) => cp.upstreamOffset === committed.get(`${ASSESSMENTS}:${cp.partition}`)) || cps.length < committed.size; i++) {
      await sleep(500);
      cps = latestCheckpoints(await readCheckpoints(melLab, "syd"), group);
    }
    expect(cps.length).toBe(committed.size);
    await commitTranslatedOffsets(melLab, group, cps);

    const after: { id: string; partition: number; offset: number }[] = [];
    const firstOffset = new Map<number, number>();
    const m = await driver.consumer({ bootstrap: mesh.region("mel").bootstrap("centrelink"), clientId: "test-after", groupId: group, topics: [remoteTopic("syd", ASSESSMENTS)], ...withTls(mesh.region("mel").tls("lab")) });
    await m.run(async (r) => {
      const id = r.headers["event-id"] ?? "";
      if (!firstOffset.has(r.partition)) firstOffset.set(r.partition, Number(r.offset));
      if (offsetOf.has(id)) after.push({ id, partition: r.partition, offset: Number(r.offset) });
    });
    const notYet = sent.filter((s) => (committed.get(`${ASSESSMENTS}:${s.partition}`) ?? 0) <= Number(s.offset));
    for (let i = 0; i < 100 && !notYet.every((s) => after.some((a) => a.id === s.id)); i++) await sleep(200);
    await m.close();

    // Nothing the group had not committed is skipped...
    expect(notYet.filter((s) => !after.some((a) => a.id === s.id))).toEqual([]);
    // ...it starts exactly at the translated offsets...
    console.info(`translated: ${JSON.stringify(cps.map((c) => [c.partition, c.upstreamOffset, c.downstreamOffset]))}; committed upstream: ${JSON.stringify([...committed])}`);
    // (A partition the group had read to its end in syd has nothing left to deliver in mel.)
    for (const cp of cps) if (firstOffset.has(cp.partition)) expect(firstOffset.get(cp.partition), `partition ${cp.partition}`).toBe(cp.downstreamOffset);
    expect(firstOffset.size).toBeGreaterThan(0);
    // ...and redelivers only part of what the group had processed (translation is conservative since Kafka 3.5,
    // so some redelivery is expected; starting from zero would redeliver all of it).
    const redelivered = after.filter((a) => Number(offsetOf.get(a.id)?.offset ?? 0) < (committed.get(`${ASSESSMENTS}:${offsetOf.get(a.id)?.partition}`) ?? 0));
    console.info(`failover: ${before.size} processed in syd, ${redelivered.length} redelivered in mel`);
    expect(redelivered.length).toBeLessThan(before.size);
  });

  it("keeps idempotence state in the mesh's Redis: one claimant processes, others wait, the processed is dropped", async () => {
    const url = mesh.redis?.url;
    expect(url).toMatch(/^rediss:\/\/127\.0\.0\.1:\d+$/); // TLS with client certificates (mTLS by default)
    const tls = mesh.region("syd").tls("lab");
    const a = await openDedupeStore(url, 60, 1, tls);
    const b = await openDedupeStore(url, 60, 1, tls);
    try {
      const id = `ev-${Date.now()}`;
      expect(await a.claim(id, "syd-1")).toBe("claimed");
      expect(await b.claim(id, "mel-1")).toBe("busy");
      await a.remember(id);
      expect(await b.claim(id, "mel-1")).toBe("done");
      // A claim of an instance that died expires, and another instance takes the event over.
      const orphan = `ev-orphan-${Date.now()}`;
      expect(await a.claim(orphan, "syd-2")).toBe("claimed");
      await sleep(1_200);
      expect(await b.claim(orphan, "mel-2")).toBe("claimed");
      // A failed processing gives its claim back at once.
      await b.release(orphan, "mel-2");
      expect(await a.claim(orphan, "syd-2")).toBe("claimed");
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("cuts region-to-region traffic with a chaos fault on syd's replication links, and heals it", async () => {
    const ctx = { regions: mesh.regions, toxiproxyApi: mesh.plan.toxiproxyApi && addr(mesh.plan.toxiproxyApi), seed: 42 };
    const fault = parseFaults([{ at: 0, duration: "1s", kind: "cut", target: { region: "syd" }, links: ["replication"], direction: "both" }])[0];
    const melLab = mesh.region("mel").lab();
    const crossed = async (tag: string) =>
      (await readToEnd(melLab, remoteTopic("syd", ASSESSMENTS))).some((r) => (r.headers["event-id"] ?? "").startsWith(tag));
    const cut = await createInjector(ctx)(fault as never);
    let healed = false;
    try {
      const tag = `cut-${Date.now()}`;
      await produce("syd", 3, tag);
      // Produced locally (the ATO links are untouched), but nothing reaches mel while the link is cut.
      await sleep(5_000);
      expect(await crossed(tag)).toBe(false);
      await cut.heal();
      healed = true;
      let arrived = false;
      for (let i = 0; i < 90 && !arrived; i++) {
        arrived = await crossed(tag);
        if (!arrived) await sleep(1_000);
      }
      expect(arrived).toBe(true);
    } finally {
      if (!healed) await cut.heal();
    }
  });

  it("tears everything down, MirrorMaker and Redis included", async () => {
    expect(pids.length).toBeGreaterThanOrEqual(7); // toxiproxy, redis, 2 nodes, 2 registries, 2 MirrorMakers
    await mesh[Symbol.asyncDispose]();
    await supervisor.stopAll();
    for (const pid of pids) expect(alive(pid), `pid ${pid}`).toBe(false);
  });
});
