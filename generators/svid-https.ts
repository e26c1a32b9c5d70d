import { statSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import type { Duplex } from "node:stream";
import { type ClientTls, readSvidPems, type SvidPems } from "./drivers/driver.ts";

/**
 * HTTPS with a workload's SVID as its client certificate, for the schema registry's API on an mTLS mesh. Each new
 * connection presents the SVID as it is on disk then (spiffe-helper rewrites it at half-life), so a long-lived
 * client never opens a connection with an expired certificate; kept-alive connections go on with the one they were
 * opened with (TLS checks certificates at the handshake only). The server's chain is checked against the trust
 * bundle; its name is not (an SVID names a SPIFFE ID, links are IPs), as for every other client of the lab.
 */
export class SvidAgent extends https.Agent {
  readonly #tls: ClientTls;
  #pems: SvidPems | undefined;
  #stamp = "";

  constructor(tls: ClientTls) {
    // No TLS session cache: a resumed session would skip presenting the renewed certificate.
    super({ keepAlive: true, maxCachedSessions: 0 });
    this.#tls = tls;
  }

  /** The SVID as it is now, read again only when its files changed. */
  current(): SvidPems {
    const stamp = [this.#tls.cert, this.#tls.key].map((f) => statSync(f).mtimeMs).join("/");
    if (!this.#pems || stamp !== this.#stamp) [this.#pems, this.#stamp] = [readSvidPems(this.#tls), stamp];
    return this.#pems;
  }

  override createConnection(options: https.RequestOptions, cb?: (err: Error | null, socket: Duplex) => void): Duplex {
    const { cert, key, ca } = this.current();
    const withSvid = { ...options, cert, key, ca, rejectUnauthorized: true, checkServerIdentity: () => undefined };
    // biome-ignore lint/suspicious/noExplicitAny: Agent.createConnection is untyped in @types/node's Agent
    return (https.Agent.prototype as any).createConnection.call(this, withSvid, cb);
  }
}

/** An agent for `url`: an SVID agent for HTTPS with a certificate, else none (plain HTTP, or HTTPS without one). */
export const agentFor = (url: string, tls: ClientTls | undefined): SvidAgent | undefined => (url.startsWith("https:") && tls ? new SvidAgent(tls) : undefined);

/** GET a JSON document; `status` and the parsed body (undefined when the body is not JSON). */
export function getJson<T>(url: string, agent?: http.Agent, timeoutMs = 5_000): Promise<{ status: number; body: T | undefined }> {
  const mod = url.startsWith("https:") ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.get(url, { agent, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", reject);
      res.on("end", () => {
        let body: T | undefined;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as T;
        } catch {}
        resolve({ status: res.statusCode ?? 0, body });
      });
    });
    req.on("timeout", () => req.destroy(new Error(`GET ${url}: no answer within ${timeoutMs} ms`)));
    req.on("error", reject);
  });
}
