
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import type { ConsumedRecord, Consumer, KafkaDriver, Producer, ProduceRecord } from "../../generators/drivers/driver.ts";
import { readSvidPems, tlsProps } from "../../generators/drivers/driver.ts";
import { type RotationEvent, rotating } from "../../generators/drivers/rotation.ts";
import type { LedgerEntry } from "../../generators/ledger.ts";
import { rotationLatency } from "../../reports/rotation.ts";
import { svid, workloadFiles } from "../svid-files.ts";

/** A driver that records which certificate each client was made with (unit seam: no broker involved). */
function recordingDriver() {
  const made: { kind: string; cert: string; closed: boolean; sent: number; handler?: (r: ConsumedRecord) => Promise<void>; commits?: string[] }[] = [];
  const driver: KafkaDriver = {
    name: "recording",
    async admin(o) {
      const rec: (typeof made)[number] = { kind: "admin", cert: String(tlsProps(o.tls)["ssl.certificate.pem"]), closed: false, sent: 0 };
      made.push(rec);
      const a = {
        brokers: async () => [made.indexOf(rec)],
        createTopics: async () => {},
        topic: async () => undefined,
        describeGroup: async () => ({ state: "stable" as const, members: [] }),
        groupLag: async () => 0,
        close: async () => {
          rec.closed = true;
        },
      };
      return a;
    },
    async producer(o) {
      const rec = { kind: "producer", cert: String(tlsProps(o.tls)["ssl.certificate.pem"]), closed: false, sent: 0 };
      made.push(rec);
      const p: Producer = {
        send: async (_r: ProduceRecord) => {
          rec.sent++;
          return { partition: 0, offset: String(rec.sent) };
        },
        flush: async () => {},
        close: async () => {
          rec.closed = true;
        },
      };
      return p;
    },
    async consumer(o) {
      const rec: (typeof made)[number] = { kind: "consumer", cert: String(tlsProps(o.tls)["ssl.certificate.pem"]), closed: false, sent: 0 };
      made.push(rec);
      const c: Consumer = {
        run: async (h) => {
          rec.handler = h;
        },
        assignment: () => (rec.handler && !rec.closed ? [{ topic: "t", partition: made.indexOf(rec) }] : []),
        commit: async (points) => {
          rec.commits = [...(rec.commits ?? []), ...points.map((p) => `${p.topic}:${p.partition}@${p.offset}`)];
        },
        close: async () => {
          rec.closed = true;
        },
      };
      return c;
    },
  };
  return { driver, made };
}

const until = async (ok: () => boolean, ms = 5_000) => {
  const end = Date.now() + ms;
  while (!ok() && Date.now() < end) await sleep(20);
  expect(ok()).toBe(true);
};

describe("SVID files read consistently", () => {
  it("returns the PEMs, the leaf's serial and expiry when key and certificate match", () => {
    const { dir, tls, install } = workloadFiles();
    const a = svid(dir, "a");
    install(a);
    const pems = readSvidPems(tls);
    expect(pems.cert).toBe(readFileSync(a.cert, "utf8"));
    expect(pems.serial).toMatch(/^[0-9A-F]+$/);
    expect(pems.notAfterMs).toBeGreaterThan(Date.now());
  });

  it("refuses a certificate beside another SVID's key (a rotation half-written), naming both files", () => {
    const { dir, tls, install } = workloadFiles();
    install(svid(dir, "a"));
    copyFileSync(svid(dir, "b").key, tls.key);
    expect(() => readSvidPems(tls, 2)).toThrow(/does not match the certificate/);
  });

  it("gives librdkafka the PEMs themselves, not the paths a rotation may rewrite under it", () => {
    const { dir, tls, install } = workloadFiles();
    install(svid(dir, "a"));
    const props = tlsProps(tls);
    expect(props["ssl.certificate.pem"]).toContain("BEGIN CERTIFICATE");
    expect(props["ssl.key.pem"]).toContain("PRIVATE KEY");
    expect(props).not.toHaveProperty("ssl.certificate.location");
  });
});

describe("clients made again on SVID rotation", () => {
  it("a producer: the next send goes through a client made with the new SVID, the old one is closed", async () => {
    const { dir, tls, install } = workloadFiles();
    const [a, b] = [svid(dir, "a"), svid(dir, "b")];
    install(a);
    const { driver, made } = recordingDriver();
    const events: RotationEvent[] = [];
    const p = await rotating(driver, { everyMs: 20, onRotate: (e) => events.push(e) }).producer({ bootstrap: "x:1", clientId: "tax-service", tls });
    await p.send({ topic: "t", key: "k", value: Buffer.from("v"), headers: {} });
    install(b);
    await until(() => made.length === 2 && made[0]?.closed === true);
    await p.send({ topic: "t", key: "k", value: Buffer.from("v"), headers: {} });
    expect(made.map((m) => [m.cert === readFileSync(a.cert, "utf8") ? "a" : "b", m.sent])).toEqual([
      ["a", 1],
      ["b", 1],
    ]);
    expect(events).toMatchObject([{ client: "tax-service", kind: "producer", serial: readSvidPems(tls).serial }]);
    await p.close();
    expect(made.every((m) => m.closed)).toBe(true);
  });

  it("a consumer: the new member runs the same handler and owns partitions before the old one leaves", async () => {
    const { dir, tls, install } = workloadFiles();
    install(svid(dir, "a"));
    const { driver, made } = recordingDriver();
    const c = await rotating(driver, { everyMs: 20 }).consumer({ bootstrap: "x:1", clientId: "engine-1", groupId: "g", topics: ["t"], tls });
    const handler = async () => {};
    await c.run(handler);
    install(svid(dir, "b"));
    await until(() => made[0]?.closed === true);
    expect(made[1]?.handler).toBe(handler);
    expect(made[1]?.closed).toBe(false);
    expect(c.assignment()).toEqual([{ topic: "t", partition: 1 }]);
    // A pipelined engine's commits go to the client that owns the partition; one nobody owns here is dropped.
    await c.commit([
      { topic: "t", partition: 1, offset: "7" },
      { topic: "t", partition: 0, offset: "3" },
    ]);
    expect(made[1]?.commits).toEqual(["t:1@7"]);
    expect(made[0]?.commits).toBeUndefined();
    await c.close();
  });

  it("a rewrite of the same SVID, or a half-written one, makes no new client until the pair is whole", async () => {
    const { dir, tls, install } = workloadFiles();
    const a = svid(dir, "a");
    install(a);
    const { driver, made } = recordingDriver();
    const errors: Error[] = [];
    const p = await rotating(driver, { everyMs: 20, onError: (e) => errors.push(e) }).producer({ bootstrap: "x:1", clientId: "p", tls });
    writeFileSync(tls.cert, readFileSync(a.cert)); // touched, same SVID
    await sleep(150);
    expect(made).toHaveLength(1);
    const b = svid(dir, "b");
    copyFileSync(b.cert, tls.cert); // the certificate first, the key not yet
    await sleep(150);
    expect(made).toHaveLength(1);
    expect(errors.length).toBeGreaterThan(0);
    copyFileSync(b.key, tls.key);
    await until(() => made.length === 2);
    await p.close();
  });

  it("an admin client: a renewal marks it stale, and the next call goes through one made with the new SVID", async () => {
    const { dir, tls, install } = workloadFiles();
    install(svid(dir, "a"));
    const { driver, made } = recordingDriver();
    const admin = await rotating(driver, { everyMs: 20 }).admin({ bootstrap: "x:1", clientId: "lag", tls });
    expect(await admin.brokers()).toEqual([0]);
    install(svid(dir, "b"));
    await sleep(200);
    expect(made).toHaveLength(1); // nothing made in the background
    expect(await admin.brokers()).toEqual([1]);
    await until(() => made[0]?.closed === true);
    await admin.close();
    expect(made[1]?.closed).toBe(true);
  });

  it("clients without an SVID are the inner driver's own (plaintext meshes)", async () => {
    const { driver, made } = recordingDriver();
    const p = await rotating(driver).producer({ bootstrap: "x:1", clientId: "p" });
    expect(p.constructor.name).not.toBe("RotatingProducer");
    expect(made).toHaveLength(1);
  });
});

describe("latency near SVID renewals", () => {
  const entry = (atMs: number, latencyMs: number | undefined, extra: Partial<LedgerEntry> = {}): LedgerEntry => ({
    eventId: `e${atMs}`,
    seq: atMs,
    key: "k",
    intendedUs: atMs * 1000,
    ackedUs: atMs * 1000 + 1,
    completedUs: latencyMs === undefined ? [] : [(atMs + latencyMs) * 1000],
    ...extra,
  });

  it("splits measured requests by whether a flow workload renewed from 1 s before to the window after", () => {
    const entries = [entry(500, 10), entry(9_500, 200), entry(12_000, 300), entry(16_000, 20), entry(20_000, 30), entry(21_000, undefined), entry(22_000, undefined, { ackedUs: undefined, error: "x" })];
    const renewals = [
      { region: "syd", workload: "ato-tax-service", atMs: 10_000 },
      { region: "syd", workload: "broker", atMs: 20_000 }, // brokers re-read their files; no client is made again
      { region: "syd", workload: "centrelink-engine", atMs: 200 }, // before the measured window
    ];
    const r = rotationLatency(entries, renewals, (us) => us / 1000, { fromMs: 1_000, windowMs: 5_000 });
    expect(r.renewals).toBe(1);
    expect(r.near).toMatchObject({ requests: 2, completed: 2, lost: 0, errors: 0 });
    expect(r.near.latencyMs.max).toBeGreaterThanOrEqual(299);
    expect(r.away).toMatchObject({ requests: 4, completed: 2, lost: 1, errors: 1 });
    expect(r.away.latencyMs.max).toBeLessThan(31);
  });
});
