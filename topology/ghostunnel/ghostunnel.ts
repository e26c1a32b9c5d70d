import { join } from "node:path";
import { goBuild, type Installed, installOnce } from "../../lab/install.ts";
import type { Launcher, ProcessHandle } from "../../lab/proc.ts";
import { addr, type Endpoint } from "../plan.ts";

/**
 * ghostunnel, a TLS proxy with mutual authentication (Square's, Apache-2.0), built from the Go module proxy. The
 * lab puts it in front of a component that cannot require client certificates itself: Apicurio's Quarkus build fixes
 * `quarkus.http.ssl.client-auth` to NONE at build time, so the registry's API gets its mTLS, and its
 * authorization by SPIFFE ID, from ghostunnel (`--allow-uri`), as a sidecar would give it in production.
 */
export const GHOSTUNNEL_VERSION = "1.8.4";

export async function installGhostunnel(): Promise<Installed & { bin: string }> {
  const inst = await installOnce("ghostunnel", GHOSTUNNEL_VERSION, (dir) => goBuild("ghostunnel", "github.com/ghostunnel/ghostunnel", GHOSTUNNEL_VERSION, dir, ["."]));
  return { ...inst, bin: join(inst.dir, "ghostunnel") };
}

export interface TlsFrontOptions {
  supervisor: Launcher;
  name: string;
  logFile: string;
  /** Where clients connect (TLS). */
  listen: Endpoint;
  /** The component's own plain listener on loopback. */
  target: Endpoint;
  /** The component's SVID files: its server certificate; the bundle is the trust store for client certificates. */
  tls: { svid: string; key: string; bundle: string };
  /** SPIFFE IDs allowed in; every other client certificate, valid or not, is refused at the handshake. */
  allow: string[];
  /** How often the SVID files are read again (spiffe-helper rewrites them at half-life). */
  reloadSeconds?: number;
}

/** The ghostunnel server command line for a TLS front (pure, for tests and the process). */
export function tlsFrontArgs(bin: string, o: Omit<TlsFrontOptions, "supervisor" | "name" | "logFile">): string[] {
  return [
    bin,
    "server",
    `--listen=${addr(o.listen)}`,
    `--target=${addr(o.target)}`,
    `--cert=${o.tls.svid}`,
    `--key=${o.tls.key}`,
    `--cacert=${o.tls.bundle}`,
    `--timed-reload=${o.reloadSeconds ?? 5}s`,
    "--quiet=conns",
    "--shutdown-timeout=2s",
    ...o.allow.map((id) => `--allow-uri=${id}`),
  ];
}

/** Starts a TLS front; the caller waits for readiness through it (a request that reaches the target). */
export async function startTlsFront(o: TlsFrontOptions): Promise<ProcessHandle> {
  if (!o.allow.length) throw new Error(`${o.name}: a TLS front with nobody allowed in`);
  const { bin } = await installGhostunnel();
  return o.supervisor.spawn(o.name, tlsFrontArgs(bin, o), { logFile: o.logFile, stopGraceMs: 2_000 });
}
