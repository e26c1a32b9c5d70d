import { X509Certificate } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ClientTls, loadDriver, type Producer } from "../../generators/drivers/driver.ts";
import { cacheRoot } from "../../lab/install.ts";
import { Supervisor } from "../../lab/proc.ts";
import type { RunResult } from "../../reports/result.ts";
import { type Mesh, standUpMesh } from "../../topology/local/mesh.ts";
import { parseTopology } from "../../topology/spec.ts";
import { WORKLOADS } from "../../topology/spire/identity.ts";
import { ensureUsers } from "../../topology/spire/spire.ts";
import { alive, meshlab, ROOT, recordedPids, tempDir } from "./helpers.ts";

const ASSESSMENTS = "au.gov.ato.tax.assessment.v1";
const stateDir = join(cacheRoot(), "state", "runs");

const spiffeIdOf = (pem: string): string | undefined => /URI:(spiffe:\/\/\S+?)(,|$)/.exec(new X509Certificate(pem).subjectAltName ?? "")?.[1];

/** Sends `n` records and returns how many failed, with the first error. */
async function send(p: Producer, n: number): Promise<{ failed: number; error?: string }> {
  let failed = 0;
  let error: string | undefined;
  for (let i = 0; i < n; i++) {
    try {
      await p.send({ topic: ASSESSMENTS, key: `k${i}`, value: Buffer.from(`v${i}`), headers: { "event-id": `identity-test-${i}` } });
    } catch (e) {
      failed++;
      error ??= (e as Error).message;
    }
  }
  return error ? { failed, error } : { failed };
}

/** One real mTLS region: SPIRE server, agent and a spiffe-helper per workload, brokers with the SPIFFE principal builder. */
describe("the identity plane on a real SPIRE and Kafka", () => {
  const base = JSON.parse(readFileSync(join(ROOT, "topology/specs/one-region.json"), "utf8"));
  // 40 s SVIDs: the agent renews at half-life, so the test sees rotations within a minute.
  const spec = parseTopology({ ...base, security: "mtls", identity: { svidTtl: "40s" } });
  let supervisor: Supervisor;
  let mesh: Mesh;

  beforeAll(async () => {
    supervisor = new Supervisor(`test-identity-${process.pid}`, stateDir);
    mesh = await standUpMesh(spec, { runDir: tempDir("identity"), supervisor });
  });

  afterAll(async () => {
    await mesh?.[Symbol.asyncDispose]();
    await supervisor?.stopAll();
  });

  it("gives every workload class its own SPIFFE ID, attested by its Unix user", () => {
    const region = mesh.region();
    const ids = WORKLOADS.map((w) => spiffeIdOf(readFileSync(region.spire?.files(w).svid ?? "", "utf8")));
    expect(ids).toEqual(WORKLOADS.map((w) => `spiffe://one-region.meshlab.test${spec.identity.identities.find((i) => i.workload === w)?.path}`));
    const leaf = new X509Certificate(readFileSync(region.spire?.files("ato-tax-service").svid ?? "", "utf8"));
    // SPIRE backdates NotBefore by 10 s (clock skew), so a 40 s SVID spans 50 s.
    expect(Date.parse(leaf.validTo) - Date.parse(leaf.validFrom)).toBeLessThanOrEqual(51_000);
  });

  it("authorizes by SPIFFE ID: the tax service writes assessments, identities without that grant are denied", async () => {
    const driver = await loadDriver("confluent");
    const region = mesh.region();
    const as = async (w: "ato-tax-service" | "dedupe-store" | "centrelink-engine") =>
      // Not idempotent: an idempotent producer without any grant fails InitProducerId with a fatal error first,
      // and the test is about the topic's ACL.
      driver.producer({ bootstrap: region.bootstrap("ato"), clientId: `test-${w}`, props: { "message.timeout.ms": 10_000, "enable.idempotence": false }, tls: region.tls(w) as ClientTls });
    const allowed = await as("ato-tax-service");
    const noAcl = await as("dedupe-store");
    const wrongTopic = await as("centrelink-engine");
    try {
      expect(await send(allowed, 5)).toEqual({ failed: 0 });
      const denied = await send(noAcl, 2);
      expect(denied.failed).toBe(2);
      expect(denied.error).toMatch(/authori[sz]ation/i);
      expect((await send(wrongTopic, 1)).failed).toBe(1);
    } finally {
      await Promise.allSettled([allowed.close(), noAcl.close(), wrongTopic.close()]);
    }
  });

  it("refuses a client that presents no certificate", async () => {
    const driver = await loadDriver("kafkajs");
    const region = mesh.region();
    const tls = region.tls("lab") as ClientTls;
    const { Kafka, logLevel } = await import("kafkajs");
    const anonymous = new Kafka({
      brokers: region.bootstrap("lab").split(","),
      clientId: "test-anonymous",
      logLevel: logLevel.NOTHING,
      retry: { retries: 0 },
      ssl: { ca: readFileSync(tls.ca), rejectUnauthorized: true, checkServerIdentity: () => undefined },
    }).admin();
    await expect(anonymous.connect().then(() => anonymous.listTopics())).rejects.toThrow();
    await anonymous.disconnect().catch(() => {});
    // The same client with the lab's SVID is let in (so it is the missing certificate that was refused).
    const admin = await driver.admin({ bootstrap: region.bootstrap("lab"), clientId: "test-lab", tls });
    try {
      expect(await admin.brokers()).toEqual([1, 2, 3]);
    } finally {
      await admin.close();
    }
  });

  it("rotates SVIDs while traffic runs with no produce error, and refuses a rotated-out SVID once it expired", async () => {
    const driver = await loadDriver("confluent");
    const region = mesh.region();
    const files = region.spire?.files("ato-tax-service");
    if (!files) throw new Error("no SVID files");
    const keep = join(tempDir("old-svid"), "svid");
    mkdirSync(keep, { recursive: true });
    for (const f of [files.svid, files.key, files.bundle]) copyFileSync(f, join(keep, f.slice(files.dir.length + 1)));
    const old: ClientTls = { cert: join(keep, "svid.pem"), key: join(keep, "svid_key.pem"), ca: join(keep, "bundle.pem") };
    const oldSerial = new X509Certificate(readFileSync(old.cert)).serialNumber;
    const brokerSvid = region.spire?.files("broker").svid ?? "";
    const brokerSerial = new X509Certificate(readFileSync(brokerSvid)).serialNumber;

    const producer = await driver.producer({ bootstrap: region.bootstrap("ato"), clientId: "test-rotation", tls: region.tls("ato-tax-service") as ClientTls });
    let failed = 0;
    const t0 = Date.now();
    try {
      // 45 s of traffic at about 20/s: past the copied SVID's expiry (40 s TTL), over at least one rotation.
      while (Date.now() - t0 < 45_000) {
        failed += (await send(producer, 1)).failed;
        await sleep(50);
      }
    } finally {
      await producer.close();
    }
    expect(failed).toBe(0);
    expect(new X509Certificate(readFileSync(files.svid)).serialNumber).not.toBe(oldSerial);
    expect(new X509Certificate(readFileSync(brokerSvid)).serialNumber).not.toBe(brokerSerial);
    expect(Date.parse(new X509Certificate(readFileSync(old.cert)).validTo)).toBeLessThan(Date.now());

    // A new client on the current SVID is let in by brokers serving their rotated SVIDs.
    const fresh = await driver.producer({ bootstrap: region.bootstrap("ato"), clientId: "test-fresh", props: { "message.timeout.ms": 10_000 }, tls: region.tls("ato-tax-service") as ClientTls });
    try {
      expect(await send(fresh, 3)).toEqual({ failed: 0 });
    } finally {
      await fresh.close();
    }
    // The expired one is refused at the handshake: librdkafka's connect fails (or, were it to connect lazily, the
    // send), and the brokers log the failed TLS authentication on the ATO listener.
    const handshakeFailures = () => region.nodes.map((n) => (readFileSync(n.logFile, "utf8").match(/Failed authentication with .*SSL handshake failed/g) ?? []).length).reduce((a, b) => a + b, 0);
    const before = handshakeFailures();
    const stale = await driver.producer({ bootstrap: region.bootstrap("ato"), clientId: "test-stale", props: { "message.timeout.ms": 8_000 }, tls: old }).catch((e: Error) => e);
    if (stale instanceof Error) expect(stale.message).toMatch(/transport failure|handshake|ssl/i);
    else
      try {
        expect((await send(stale, 1)).failed).toBe(1);
      } finally {
        await stale.close();
      }
    expect(handshakeFailures()).toBeGreaterThan(before);
  });

  it("issues nothing to a process whose attestation fails (a Unix user no entry names)", async () => {
    const spire = mesh.region().spire;
    if (!spire) throw new Error("no SPIRE");
    const rogue = ensureUsers(["meshlab-unattested"])["meshlab-unattested"];
    if (!rogue) throw new Error("no user");
    const dir = join(spire.secrets, "svid", "unattested");
    const h = spire.startSidecar("unattested", rogue, dir);
    try {
      // Entries sync every 5 s and a matching workload gets its SVID within that; 12 s is well past it.
      await sleep(12_000);
      expect(existsSync(join(dir, "svid.pem"))).toBe(false);
      expect(readFileSync(join(spire.dir, "helpers", "unattested.helper.log"), "utf8")).toMatch(/no identity issued|PermissionDenied/i);
    } finally {
      await h.stop();
    }
  });
});

describe("./meshlab run clearance-smoke --security mtls", () => {
  it("runs the flow on SVIDs and on Ctrl-C leaves no SPIRE process, socket or key behind", async () => {
    const out = join(tempDir("mtls-run"), "out");
    const cli = meshlab(["run", "clearance-smoke", "--security", "mtls", "--duration", "5m", "--rate", "20", "--out", out]);
    await cli.waitFor(/offering \d+ clearance requests/, 240_000);
    const pids = recordedPids(stateDir, cli.pid);
    await sleep(12_000);
    cli.signal("SIGINT");
    expect(await cli.exited, cli.output()).toBe(130);
    const r = JSON.parse(readFileSync(join(out, "result.json"), "utf8")) as RunResult;
    expect(r.status).toBe("interrupted");
    expect(r.counts.completed).toBeGreaterThan(50);
    expect(r.counts).toMatchObject({ errors: 0, unexpected: 0 });
    expect(r.versions).toMatchObject({ spire: "1.13.3+helper-0.11.0" });
    expect(cli.output()).toMatch(/starting SPIRE \(1 server\(s\), trust domain one-region\.meshlab\.test\): 8 identities/);
    expect(existsSync(join(out, "spire", "syd", "agent", "agent.log"))).toBe(true);
    expect(pids.length).toBeGreaterThanOrEqual(18); // SPIRE server, agent and eight helpers besides the mesh
    expect(pids.filter(alive)).toEqual([]);
    expect(existsSync(`/tmp/meshlab-spire-${cli.pid}-syd`)).toBe(false);
    expect(statSync(out).isDirectory()).toBe(true);
  });
});
