import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ClientTls, type KafkaDriver, loadDriver, withTls } from "../generators/drivers/driver.ts";
import { FileSigner, type SigningKey, signEvent, signingKeyOf } from "../generators/signing.ts";
import { PILL_HEADER, pacedRecords, type PillLog } from "./poison.ts";
import type { AssessmentSource } from "./injectors.ts";
import type { Injection } from "./schedule.ts";

/**
 * Forged events: well-formed, schema-encoded assessments whose signature no honest ATO tax service made. Each shape
 * fails a different step of the verifier (generators/signing.ts):
 * - `unsigned`: no signature headers at all;
 * - `tampered`: signed by the ATO tax service, then the payload swapped for another assessment;
 * - `wrong-signer`: signed with a Centrelink engine's valid SVID, an identity not allowed to write assessments;
 * - `self-signed`: a key and certificate the forger made itself, claiming the ATO tax service's SPIFFE ID.
 */
export const FORGERY_SHAPES = ["unsigned", "tampered", "wrong-signer", "self-signed"] as const;
export type ForgeryShape = (typeof FORGERY_SHAPES)[number];

/** What a forger has: the ATO tax service's SVID (for `tampered`), another workload's (for `wrong-signer`). */
export interface ForgeryKeys {
  ato: SigningKey;
  impostor: SigningKey;
  selfSigned: SigningKey;
}

/** The signature headers a forged event of `shape` carries (pure, given the keys). */
export function forgedHeaders(shape: ForgeryShape, keys: ForgeryKeys, topic: string, eventId: string, value: Buffer, other: Buffer): Record<string, string> {
  switch (shape) {
    case "unsigned":
      return {};
    case "tampered":
      return signEvent(keys.ato, topic, eventId, other);
    case "wrong-signer":
      return signEvent(keys.impostor, topic, eventId, value);
    case "self-signed":
      return signEvent(keys.selfSigned, topic, eventId, value);
  }
}

/** A P-256 key and a self-signed certificate naming `spiffeId`, made with openssl (Debian's). */
export function selfSignedKey(spiffeId: string): SigningKey {
  const dir = mkdtempSync(join(tmpdir(), "meshlab-forger-"));
  try {
    const [key, cert] = [join(dir, "key.pem"), join(dir, "cert.pem")];
    execFileSync(
      "openssl",
      ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/O=forger", "-addext", `subjectAltName=URI:${spiffeId}`],
      { stdio: "pipe" },
    );
    return signingKeyOf(readFileSync(cert, "utf8"), readFileSync(key, "utf8"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Writes `count` forged assessments onto `topic`, evenly over `durationMs`, each with a fresh event id nobody asked
 * for and a `poison-pill-id` header so the audit can find it. Logged in `log` like poison pills; the audit expects
 * every one in the DLQ with reason `signature` and none answered.
 */
export async function injectForgedEvents(opts: {
  bootstrap: string;
  /** The lab's SVID: the forger writes through the lab listener, so the broker's ACLs are not what stops it. */
  tls: ClientTls;
  ato: ClientTls;
  impostor: ClientTls;
  /** Where the forged assessments come from, and the topic they go to. */
  assessments: AssessmentSource;
  count: number;
  durationMs: number;
  log: PillLog;
  driver?: KafkaDriver;
}): Promise<Injection> {
  const topic = opts.assessments.topic;
  const ato = new FileSigner(opts.ato).current();
  const keys: ForgeryKeys = { ato, impostor: new FileSigner(opts.impostor).current(), selfSigned: selfSignedKey(ato.spiffeId) };
  const driver = opts.driver ?? (await loadDriver("kafkajs"));
  const producer = await driver.producer({ bootstrap: opts.bootstrap, clientId: "meshlab-forger", ...withTls(opts.tls) });
  return pacedRecords({ ...opts, topic, producer, what: "forged event" }, async (n) => {
    const shape = FORGERY_SHAPES[n % FORGERY_SHAPES.length] as ForgeryShape;
    const pillId = randomUUID();
    const [a, b] = [await opts.assessments.next(), await opts.assessments.next()];
    return { shape, pillId, key: a.key, value: a.value, headers: { "event-id": pillId, [PILL_HEADER]: pillId, ...forgedHeaders(shape, keys, topic, pillId, a.value, b.value) } };
  });
}
