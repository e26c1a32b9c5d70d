/**
 * Signed events: a producer signs each payload with its SVID's private key; a consumer verifies the signature,
 * that the signer's certificate chains to the trust bundle, and that the signer is the identity allowed to write
 * the topic. What a verifier needs rides in headers, so a signature stays verifiable after the signer's SVID has
 * rotated (and even expired): the certificate only has to have been valid when the event was signed.
 *
 * Signed bytes: `meshlab-sig-v1\n<topic>\n<event-id>\n<signed-at>\n` followed by the payload, so a signature
 * cannot be moved to another topic or event. ECDSA P-256 with SHA-256 (SPIRE's default SVID key).
 */
import { createPrivateKey, createPublicKey, type KeyObject, sign, verify, X509Certificate } from "node:crypto";
import { readFileSync, statSync } from "node:fs";

export const SIGNATURE_HEADERS = {
  /** base64 DER ECDSA signature. */
  signature: "sig",
  /** The signer's SPIFFE ID (what the verifier checks against the topic's producer). */
  signer: "sig-signer",
  /** The signer's certificate chain, leaf first: base64 DER certificates joined by `.`. */
  chain: "sig-chain",
  /** When it was signed, ms since the epoch. */
  signedAt: "sig-at",
} as const;

/** Why a verification failed; the DLQ reason says which. */
export type VerifyFailure = "unsigned" | "bad-signature" | "untrusted-chain" | "wrong-signer" | "not-valid-at-signing";

export class SignatureError extends Error {
  readonly reason: VerifyFailure;
  constructor(reason: VerifyFailure, message: string) {
    super(`${reason}: ${message}`);
    this.reason = reason;
  }
}

const signedBytes = (topic: string, eventId: string, signedAt: string, payload: Buffer): Buffer =>
  Buffer.concat([Buffer.from(`meshlab-sig-v1\n${topic}\n${eventId}\n${signedAt}\n`, "utf8"), payload]);

const pemBlocks = (pem: string): string[] => pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];

export const spiffeIdOf = (cert: X509Certificate): string | undefined => /URI:(spiffe:\/\/[^,\s]+)/.exec(cert.subjectAltName ?? "")?.[1];

/** A signing identity: key, chain and SPIFFE ID as one consistent snapshot of the SVID files. */
export interface SigningKey {
  key: KeyObject;
  chain: string;
  spiffeId: string;
  /** The leaf's expiry: a signature made after it would never verify, so nothing is signed with it then. */
  notAfterMs: number;
}

/** The workload's SVID expired and no new one came (its agent is gone or its attestation fails): it cannot sign. */
export class SvidExpiredError extends Error {}

/** Reads an SVID (chain PEM + PKCS#8 key PEM) into a signing key; throws if the key does not match the leaf. */
export function signingKeyOf(chainPem: string, keyPem: string): SigningKey {
  const certs = pemBlocks(chainPem).map((p) => new X509Certificate(p));
  const leaf = certs[0];
  if (!leaf) throw new Error("no certificate in the SVID");
  const key = createPrivateKey(keyPem);
  if (!leaf.checkPrivateKey(key)) throw new Error("the SVID key does not match its certificate (rotation in progress)");
  const spiffeId = spiffeIdOf(leaf);
  if (!spiffeId) throw new Error("the SVID has no SPIFFE ID (URI SAN)");
  return { key, chain: certs.map((c) => c.raw.toString("base64")).join("."), spiffeId, notAfterMs: Date.parse(leaf.validTo) };
}

/** Signature headers for one event. */
export function signEvent(k: SigningKey, topic: string, eventId: string, payload: Buffer, nowMs = Date.now()): Record<string, string> {
  const at = String(nowMs);
  return {
    [SIGNATURE_HEADERS.signature]: sign("sha256", signedBytes(topic, eventId, at, payload), k.key).toString("base64"),
    [SIGNATURE_HEADERS.signer]: k.spiffeId,
    [SIGNATURE_HEADERS.chain]: k.chain,
    [SIGNATURE_HEADERS.signedAt]: at,
  };
}

/**
 * A signer over SVID files spiffe-helper rewrites on rotation: it re-reads them when their modification time
 * changed (looked at no more than once a second) and keeps the last consistent key while a rotation is half-way.
 */
export class FileSigner {
  readonly #files: { cert: string; key: string };
  #current: SigningKey;
  #stamp = "";
  #checkedAt = 0;

  constructor(files: { cert: string; key: string }) {
    this.#files = files;
    this.#stamp = this.#stampNow();
    this.#current = signingKeyOf(readFileSync(files.cert, "utf8"), readFileSync(files.key, "utf8"));
  }

  #stampNow(): string {
    return [this.#files.cert, this.#files.key].map((f) => statSync(f).mtimeMs).join("/");
  }

  current(nowMs = Date.now()): SigningKey {
    if (nowMs - this.#checkedAt < 1_000) return this.#current;
    this.#checkedAt = nowMs;
    try {
      const stamp = this.#stampNow();
      if (stamp !== this.#stamp) {
        this.#current = signingKeyOf(readFileSync(this.#files.cert, "utf8"), readFileSync(this.#files.key, "utf8"));
        this.#stamp = stamp;
      }
    } catch {
      // Half-written rotation: sign with the last consistent key; the next look picks the new one up.
    }
    return this.#current;
  }

  /** Throws SvidExpiredError when the current SVID expired (a verifier would refuse what it signs). */
  sign(topic: string, eventId: string, payload: Buffer, nowMs = Date.now()): Record<string, string> {
    const k = this.current(nowMs);
    if (k.notAfterMs <= nowMs) throw new SvidExpiredError(`the SVID of ${k.spiffeId} expired at ${new Date(k.notAfterMs).toISOString()} and no new one was issued: nothing can be signed`);
    return signEvent(k, topic, eventId, payload, nowMs);
  }

  /** Signs as soon as a valid SVID is there (a workload waits for its identity to come back), or throws after `maxWaitMs`. */
  async signWhenValid(topic: string, eventId: string, payload: Buffer, maxWaitMs = 300_000, onWait: () => void = () => {}): Promise<Record<string, string>> {
    const until = Date.now() + maxWaitMs;
    for (let waited = false; ; waited = true) {
      try {
        return this.sign(topic, eventId, payload);
      } catch (e) {
        if (!(e instanceof SvidExpiredError) || Date.now() > until) throw e;
        if (!waited) onWait();
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }
}

interface TrustedSigner {
  spiffeId: string;
  publicKey: KeyObject;
  notBeforeMs: number;
  notAfterMs: number;
}

/**
 * Verifies signed events against a trust bundle and a topic -> allowed signer policy. A chain is checked once and
 * cached (every event of a signer's SVID carries the same chain), so the per-event cost is one ECDSA verify.
 */
export class Verifier {
  readonly #roots: X509Certificate[];
  readonly #allowed: (topic: string) => string | undefined;
  readonly #chains = new Map<string, TrustedSigner>();

  /** `bundlePem`: the trust bundle's certificates; `allowed(topic)`: the SPIFFE ID that may write it. */
  constructor(bundlePem: string, allowed: (topic: string) => string | undefined) {
    this.#roots = pemBlocks(bundlePem).map((p) => new X509Certificate(p));
    if (!this.#roots.length) throw new Error("the trust bundle has no certificate");
    this.#allowed = allowed;
  }

  static fromFile(bundleFile: string, allowed: (topic: string) => string | undefined): Verifier {
    return new Verifier(readFileSync(bundleFile, "utf8"), allowed);
  }

  /** Throws a SignatureError saying why (nothing else), or returns the signer's SPIFFE ID. */
  verify(topic: string, eventId: string, payload: Buffer, headers: Record<string, string | undefined>): string {
    const sig = headers[SIGNATURE_HEADERS.signature];
    const chain = headers[SIGNATURE_HEADERS.chain];
    const at = headers[SIGNATURE_HEADERS.signedAt];
    if (!sig || !chain || !at) throw new SignatureError("unsigned", `no ${SIGNATURE_HEADERS.signature}/${SIGNATURE_HEADERS.chain}/${SIGNATURE_HEADERS.signedAt} headers`);
    const signer = this.#trusted(chain);
    const allowed = this.#allowed(topic);
    if (signer.spiffeId !== allowed) throw new SignatureError("wrong-signer", `${signer.spiffeId} may not write ${topic} (only ${allowed ?? "nobody"})`);
    const atMs = Number(at);
    if (!Number.isFinite(atMs) || atMs < signer.notBeforeMs || atMs > signer.notAfterMs)
      throw new SignatureError("not-valid-at-signing", `signed at ${at}, outside the certificate's validity`);
    let valid = false;
    try {
      valid = verify("sha256", signedBytes(topic, eventId, at, payload), signer.publicKey, Buffer.from(sig, "base64"));
    } catch {} // a malformed signature: as bad as a wrong one
    if (!valid) throw new SignatureError("bad-signature", `the signature does not match the payload of ${eventId}`);
    return signer.spiffeId;
  }

  #trusted(chain: string): TrustedSigner {
    const cached = this.#chains.get(chain);
    if (cached) return cached;
    let certs: X509Certificate[];
    try {
      certs = chain.split(".").map((b) => new X509Certificate(Buffer.from(b, "base64")));
    } catch (e) {
      throw new SignatureError("untrusted-chain", `unreadable certificate chain: ${(e as Error).message}`);
    }
    const leaf = certs[0];
    if (!leaf) throw new SignatureError("untrusted-chain", "an empty certificate chain");
    // Each certificate must be signed by the next; the last by a root of the bundle.
    for (let i = 0; i < certs.length; i++) {
      const c = certs[i] as X509Certificate;
      const issuer = certs[i + 1] ?? this.#roots.find((r) => c.checkIssued(r) && c.verify(r.publicKey));
      if (!issuer || !c.checkIssued(issuer) || !c.verify(issuer.publicKey))
        throw new SignatureError("untrusted-chain", `${spiffeIdOf(leaf) ?? "the signer"}'s chain does not lead to the trust bundle`);
    }
    const spiffeId = spiffeIdOf(leaf);
    if (!spiffeId) throw new SignatureError("untrusted-chain", "the signer's certificate has no SPIFFE ID");
    const t: TrustedSigner = { spiffeId, publicKey: createPublicKey(leaf.publicKey.export({ type: "spki", format: "pem" })), notBeforeMs: Date.parse(leaf.validFrom), notAfterMs: Date.parse(leaf.validTo) };
    this.#chains.set(chain, t);
    return t;
  }
}
