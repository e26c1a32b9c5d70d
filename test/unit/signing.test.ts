import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { FORGERY_SHAPES, forgedHeaders, selfSignedKey } from "../../chaos/forged.ts";
import { FileSigner, SIGNATURE_HEADERS, SignatureError, SvidExpiredError, signEvent, signingKeyOf, Verifier } from "../../generators/signing.ts";

const TD = "spiffe://t.test";
const TAX = `${TD}/ato/core-tax-service`;
const TOPIC = "au.gov.ato.tax.assessment.v1";

/** A root, an intermediate (as a SPIRE server's CA) and leaf SVIDs, made by openssl like the lab's root CA. */
class Pki {
  readonly dir = mkdtempSync(join(tmpdir(), "meshlab-sig-"));
  #n = 0;

  ca(name: string, issuer?: { cert: string; key: string }): { cert: string; key: string } {
    const key = join(this.dir, `${name}.key`);
    const cert = join(this.dir, `${name}.pem`);
    execFileSync("openssl", ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key]);
    const ext = join(this.dir, `${name}.ext`);
    writeFileSync(ext, "basicConstraints=critical,CA:true\nkeyUsage=critical,keyCertSign,cRLSign\n");
    if (!issuer) execFileSync("openssl", ["req", "-x509", "-new", "-key", key, "-out", cert, "-days", "2", "-subj", `/CN=${name}`, "-addext", "basicConstraints=critical,CA:true", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
    else this.#issue(key, cert, `/CN=${name}`, ext, issuer);
    return { cert, key };
  }

  /** A leaf SVID for `spiffeId`: chain PEM (leaf, intermediate) and PKCS#8 key PEM. */
  leaf(spiffeId: string, issuer: { cert: string; key: string }): { chain: string; key: string } {
    const n = ++this.#n;
    const ecKey = join(this.dir, `leaf${n}.ec`);
    const key = join(this.dir, `leaf${n}.key`);
    const cert = join(this.dir, `leaf${n}.pem`);
    execFileSync("openssl", ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", ecKey]);
    execFileSync("openssl", ["pkcs8", "-topk8", "-nocrypt", "-in", ecKey, "-out", key]);
    const ext = join(this.dir, `leaf${n}.ext`);
    writeFileSync(ext, `basicConstraints=critical,CA:false\nkeyUsage=critical,digitalSignature\nsubjectAltName=URI:${spiffeId}\n`);
    this.#issue(key, cert, "/O=SPIRE", ext, issuer);
    return { chain: `${readFileSync(cert, "utf8")}${readFileSync(issuer.cert, "utf8")}`, key: readFileSync(key, "utf8") };
  }

  #issue(key: string, cert: string, subj: string, ext: string, issuer: { cert: string; key: string }): void {
    const csr = `${cert}.csr`;
    execFileSync("openssl", ["req", "-new", "-key", key, "-out", csr, "-subj", subj]);
    execFileSync("openssl", ["x509", "-req", "-in", csr, "-CA", issuer.cert, "-CAkey", issuer.key, "-CAcreateserial", "-out", cert, "-days", "1", "-extfile", ext], { stdio: "ignore" });
  }
}

describe("signed events", () => {
  const pki = new Pki();
  let bundle: string;
  let tax1: { chain: string; key: string };
  let tax2: { chain: string; key: string };
  let engine: { chain: string; key: string };
  let foreign: { chain: string; key: string };
  const allowed = (topic: string) => (topic === TOPIC ? TAX : undefined);
  const payload = Buffer.from("an assessment");

  beforeAll(() => {
    const root = pki.ca("root");
    const spire = pki.ca("spire-server", root);
    bundle = readFileSync(root.cert, "utf8");
    tax1 = pki.leaf(TAX, spire);
    tax2 = pki.leaf(TAX, spire); // the same identity after a rotation: new key, new certificate
    engine = pki.leaf(`${TD}/centrelink/clearance-engine`, spire);
    const otherRoot = pki.ca("other-root");
    foreign = pki.leaf(TAX, otherRoot); // the right SPIFFE ID from a CA the bundle does not hold
  }, 30_000);

  it("verifies what the allowed signer signed, and names the signer", () => {
    const h = signEvent(signingKeyOf(tax1.chain, tax1.key), TOPIC, "e1", payload);
    expect(Object.keys(h).sort()).toEqual(Object.values(SIGNATURE_HEADERS).sort());
    expect(new Verifier(bundle, allowed).verify(TOPIC, "e1", payload, h)).toBe(TAX);
  });

  it("keeps a signature verifiable after the signer rotated: the chain rides with the event", () => {
    const v = new Verifier(bundle, allowed);
    const before = signEvent(signingKeyOf(tax1.chain, tax1.key), TOPIC, "e1", payload);
    const after = signEvent(signingKeyOf(tax2.chain, tax2.key), TOPIC, "e2", payload);
    expect(v.verify(TOPIC, "e2", payload, after)).toBe(TAX);
    expect(v.verify(TOPIC, "e1", payload, before)).toBe(TAX);
  });

  it("checks validity at the signing time, not at verification", () => {
    const k = signingKeyOf(tax1.chain, tax1.key);
    const leaf = new X509Certificate(tax1.chain);
    const v = new Verifier(bundle, allowed);
    expect(v.verify(TOPIC, "e1", payload, signEvent(k, TOPIC, "e1", payload, Date.parse(leaf.validFrom) + 1_000))).toBe(TAX);
    expect(() => v.verify(TOPIC, "e1", payload, signEvent(k, TOPIC, "e1", payload, Date.parse(leaf.validTo) + 1_000))).toThrow(/not-valid-at-signing/);
  });

  it("refuses, with the reason: a changed payload, another event's signature, the wrong signer, a foreign CA, no signature", () => {
    const v = new Verifier(bundle, allowed);
    const h = signEvent(signingKeyOf(tax1.chain, tax1.key), TOPIC, "e1", payload);
    const reason = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return e instanceof SignatureError ? e.reason : `not a SignatureError: ${e}`;
      }
      return "verified";
    };
    expect(reason(() => v.verify(TOPIC, "e1", Buffer.from("an assessment, edited"), h))).toBe("bad-signature");
    expect(reason(() => v.verify(TOPIC, "e2", payload, h))).toBe("bad-signature");
    expect(reason(() => v.verify(TOPIC, "e1", payload, signEvent(signingKeyOf(engine.chain, engine.key), TOPIC, "e1", payload)))).toBe("wrong-signer");
    expect(reason(() => v.verify(TOPIC, "e1", payload, signEvent(signingKeyOf(foreign.chain, foreign.key), TOPIC, "e1", payload)))).toBe("untrusted-chain");
    expect(reason(() => v.verify(TOPIC, "e1", payload, {}))).toBe("unsigned");
    expect(reason(() => v.verify(TOPIC, "e1", payload, { ...h, [SIGNATURE_HEADERS.signer]: "forged" }))).toBe("verified"); // the chain, not the claim, names the signer
  });

  it("refuses every forgery the forged-signature fault writes, each at its own step", () => {
    const v = new Verifier(bundle, allowed);
    const keys = { ato: signingKeyOf(tax1.chain, tax1.key), impostor: signingKeyOf(engine.chain, engine.key), selfSigned: selfSignedKey(TAX) };
    expect(keys.selfSigned.spiffeId).toBe(TAX); // it claims the right identity; only the chain gives it away
    const other = Buffer.from("another assessment");
    const reasons = FORGERY_SHAPES.map((shape) => {
      try {
        v.verify(TOPIC, "f1", payload, forgedHeaders(shape, keys, TOPIC, "f1", payload, other));
        return "verified";
      } catch (e) {
        return e instanceof SignatureError ? e.reason : String(e);
      }
    });
    expect(Object.fromEntries(FORGERY_SHAPES.map((s, i) => [s, reasons[i]]))).toEqual({ unsigned: "unsigned", tampered: "bad-signature", "wrong-signer": "wrong-signer", "self-signed": "untrusted-chain" });
  });

  it("refuses a key that does not match its certificate (a rotation caught half-way)", () => {
    expect(() => signingKeyOf(tax1.chain, tax2.key)).toThrow(/does not match/);
  });

  it("a file signer picks up rotated SVID files and keeps the last good key while they are half-written", () => {
    const dir = mkdtempSync(join(tmpdir(), "meshlab-svid-"));
    const files = { cert: join(dir, "svid.pem"), key: join(dir, "svid_key.pem") };
    writeFileSync(files.cert, tax1.chain);
    writeFileSync(files.key, tax1.key);
    const s = new FileSigner(files);
    const first = s.current(0).chain;
    writeFileSync(files.cert, tax2.chain); // the certificate is new, its key not yet
    expect(s.current(5_000).chain).toBe(first);
    writeFileSync(files.key, tax2.key);
    expect(s.current(10_000).chain).not.toBe(first);
    expect(new Verifier(bundle, allowed).verify(TOPIC, "e3", payload, s.sign(TOPIC, "e3", payload))).toBe(TAX);
  });

  it("signs nothing once its SVID expired and no new one came (a verifier would refuse it)", () => {
    const dir = mkdtempSync(join(tmpdir(), "meshlab-signer-"));
    const files = { cert: join(dir, "svid.pem"), key: join(dir, "svid_key.pem") };
    writeFileSync(files.cert, tax1.chain);
    writeFileSync(files.key, tax1.key);
    const s = new FileSigner(files);
    const notAfter = Date.parse(new X509Certificate(tax1.chain).validTo);
    expect(() => s.sign(TOPIC, "e4", payload, notAfter - 1_000)).not.toThrow();
    expect(() => s.sign(TOPIC, "e5", payload, notAfter + 1_000)).toThrow(SvidExpiredError);
    expect(() => s.sign(TOPIC, "e5", payload, notAfter + 1_000)).toThrow(/expired at .* no new one was issued/);
  });
});
