import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { connect } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ClientTls } from "../../generators/drivers/driver.ts";
import { openDedupeStore } from "../../generators/dedupe.ts";
import { cacheRoot } from "../../lab/install.ts";
import { Supervisor } from "../../lab/proc.ts";
import { freePorts } from "../../topology/plan.ts";
import { StartedRedis } from "../../topology/redis/redis.ts";
import { tempDir } from "./helpers.ts";

/** A CA and leaf certificates shaped like SVIDs (a SPIFFE ID URI SAN, chain in the file), made with openssl. */
function pki(dir: string) {
  const run = (args: string[]) => execFileSync("openssl", args, { stdio: "ignore" });
  run(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", join(dir, "ca.key"), "-out", join(dir, "ca.pem"), "-days", "1", "-subj", "/CN=test root"]);
  let n = 0;
  return (spiffeId: string): ClientTls => {
    const d = join(dir, `leaf${++n}`);
    mkdirSync(d);
    const ext = join(d, "ext");
    writeFileSync(ext, `basicConstraints=critical,CA:false\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=URI:${spiffeId}\n`);
    run(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", join(d, "svid_key.pem"), "-out", join(d, "csr"), "-subj", "/O=SPIRE"]);
    run(["x509", "-req", "-in", join(d, "csr"), "-CA", join(dir, "ca.pem"), "-CAkey", join(dir, "ca.key"), "-CAcreateserial", "-out", join(d, "svid.pem"), "-days", "1", "-extfile", ext]);
    copyFileSync(join(dir, "ca.pem"), join(d, "bundle.pem"));
    return { cert: join(d, "svid.pem"), key: join(d, "svid_key.pem"), ca: join(d, "bundle.pem") };
  };
}

/** The serial of the certificate a TLS server presents now. */
function servedSerial(port: number, tls: ClientTls): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: "127.0.0.1", port, cert: readFileSync(tls.cert), key: readFileSync(tls.key), ca: readFileSync(tls.ca), checkServerIdentity: () => undefined }, () => {
      resolve(s.getPeerX509Certificate()?.serialNumber ?? "");
      s.destroy();
    });
    s.once("error", reject);
  });
}

/** The dedupe store on a real Redis with TLS and client certificates, as on an mTLS mesh. */
describe("Redis on mutual TLS", () => {
  const dir = tempDir("redis-tls");
  const leaf = pki(dir);
  const server = leaf("spiffe://t.test/dedupe/redis");
  const lab = leaf("spiffe://t.test/meshlab/lab");
  const engine = leaf("spiffe://t.test/centrelink/clearance-engine");
  let supervisor: Supervisor;
  let redis: StartedRedis;
  let port: number;

  beforeAll(async () => {
    supervisor = new Supervisor(`test-redis-tls-${process.pid}`, join(cacheRoot(), "state", "runs"));
    [port] = (await freePorts(1)) as [number];
    redis = await StartedRedis.start({ supervisor, bind: { host: "127.0.0.1", port }, dir: join(dir, "redis"), tls: { server, lab } });
  }, 30_000);
  afterAll(async () => {
    await redis?.[Symbol.asyncDispose]();
    await supervisor?.stopAll();
  });

  it("serves only TLS, on a rediss:// URL, to a client holding a certificate from the bundle", async () => {
    expect(redis.url).toBe(`rediss://127.0.0.1:${port}`);
    const store = await openDedupeStore(redis.url, 60, 10, engine);
    try {
      expect(await store.claim("e-1", "c-1")).toBe("claimed");
      await store.remember("e-1");
      expect(await store.claim("e-1", "c-2")).toBe("done");
    } finally {
      await store.close();
    }
  });

  it("refuses a client without a certificate, and answers the same PING from one with a certificate", async () => {
    const ping = (cert?: ClientTls) =>
      new Promise<string>((resolve) => {
        const s = connect({ host: "127.0.0.1", port, ca: readFileSync(server.ca), checkServerIdentity: () => undefined, ...(cert ? { cert: readFileSync(cert.cert), key: readFileSync(cert.key) } : {}) });
        s.once("secureConnect", () => s.write("PING\r\n"));
        s.once("data", (d) => resolve(`answered ${d.toString().trim()}`));
        s.once("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
        s.once("close", () => resolve("closed"));
      });
    expect(await ping(engine)).toBe("answered +PONG");
    expect(await ping()).not.toMatch(/^answered/);
  });

  it("serves a rotated certificate without a restart when its SVID file is rewritten", async () => {
    const before = await servedSerial(port, lab);
    const rotated = leaf("spiffe://t.test/dedupe/redis");
    copyFileSync(rotated.key, server.key);
    copyFileSync(rotated.cert, server.cert);
    const want = new X509Certificate(readFileSync(rotated.cert)).serialNumber;
    const t0 = Date.now();
    while (Date.now() - t0 < 10_000 && (await servedSerial(port, lab)) !== want) await sleep(250);
    expect(await servedSerial(port, lab)).toBe(want);
    expect(want).not.toBe(before);
    expect(redis.reloads).toBe(1);
    expect(redis.process.running()).toBe(true);
  });
});
