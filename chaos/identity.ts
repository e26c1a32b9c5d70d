import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { connect as tlsConnect } from "node:tls";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { nodeTlsOptions } from "../generators/drivers/driver.ts";
import type { StartedRegion } from "../topology/local/mesh.ts";
import { LAB_CLASS } from "../topology/plan.ts";
import type { Workload } from "../topology/spire/identity.ts";
import type { SpireRegion, SvidFiles } from "../topology/spire/spire.ts";
import { svidOf } from "../topology/spire/watch.ts";
import type { Injection } from "./schedule.ts";

/** A uid no user of the machine has: an entry pointed at it matches no process (its attestation fails). */
export const UNATTESTABLE_UID = 2_147_000_000;

/** One Kafka ApiVersions (v0) request: the smallest thing a broker answers once the TLS handshake let us in. */
export function apiVersionsRequest(correlationId: number, clientId = "meshlab-svid-probe"): Buffer {
  const id = Buffer.from(clientId, "utf8");
  const body = Buffer.alloc(2 + 2 + 4 + 2 + id.length);
  body.writeInt16BE(18, 0);
  body.writeInt16BE(0, 2);
  body.writeInt32BE(correlationId, 4);
  body.writeInt16BE(id.length, 8);
  id.copy(body, 10);
  const size = Buffer.alloc(4);
  size.writeInt32BE(body.length, 0);
  return Buffer.concat([size, body]);
}

export type Handshake = { accepted: true } | { accepted: false; reason: string };

/**
 * Whether a broker lets in a new connection presenting these SVID files now, as a re-created client of the workload
 * would (the lab's librdkafka clients keep the certificate they were created with): mutual TLS, then an ApiVersions
 * request, which the broker answers only on a connection it authenticated. The broker's own SVID is checked
 * against the bundle too, so an expired broker certificate is a refusal as well.
 */
export function handshake(host: string, port: number, files: SvidFiles, timeoutMs = 3_000): Promise<Handshake> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (h: Handshake) => {
      if (done) return;
      done = true;
      socket.destroy();
      resolve(h);
    };
    let socket: ReturnType<typeof tlsConnect>;
    try {
      socket = tlsConnect({ host, port, ...nodeTlsOptions({ cert: files.svid, key: files.key, ca: files.bundle }) });
    } catch (e) {
      return resolve({ accepted: false, reason: `no usable SVID files: ${(e as Error).message}` });
    }
    socket.setTimeout(timeoutMs, () => finish({ accepted: false, reason: "no answer within the timeout" }));
    socket.once("secureConnect", () => socket.write(apiVersionsRequest(1)));
    socket.once("data", () => finish({ accepted: true }));
    socket.once("error", (e: NodeJS.ErrnoException) => finish({ accepted: false, reason: e.code ?? e.message }));
    socket.once("close", () => finish({ accepted: false, reason: "closed by the broker" }));
  });
}

/**
 * Probes, once a second while a fault lasts and after its heal, whether a workload's current SVID still opens a
 * connection to one of the region's brokers, and notes every SVID the region's workloads hold.
 */
class SvidProbe {
  readonly #host: string;
  readonly #port: number;
  readonly #files: SvidFiles;
  readonly #region: SpireRegion;
  readonly #t0 = Date.now();
  readonly #serials = new Map<Workload, Set<string>>();
  readonly expired = new Set<Workload>();
  accepted = 0;
  refused = 0;
  firstRefusedMs: number | undefined;
  firstReason: string | undefined;
  #timer: NodeJS.Timeout | undefined;
  #busy: Promise<void> = Promise.resolve();
  #frozen: { probesAccepted: number; probesRefused: number; expiredDuringFault: Workload[]; renewedDuringFault: Workload[] } | undefined;

  constructor(region: StartedRegion, spire: SpireRegion, workload: Workload) {
    const bind = region.nodes.find((n) => n.running())?.plan.listeners.find((l) => l.klass === LAB_CLASS)?.bind;
    if (!bind) throw new Error(`no running broker in ${region.plan.name} to probe`);
    [this.#host, this.#port, this.#files, this.#region] = [bind.host, bind.port, spire.files(workload), spire];
    for (const w of spire.workloads()) this.#serials.set(w, new Set([svidOf(spire.files(w).svid)?.serial ?? "none"]));
  }

  start(): this {
    this.#timer = setInterval(() => {
      this.#busy = this.#busy.then(async () => void (await this.tick()));
    }, 1_000);
    return this;
  }

  async tick(): Promise<boolean> {
    for (const w of this.#region.workloads()) {
      const s = svidOf(this.#region.files(w).svid);
      if (!s) continue;
      this.#serials.get(w)?.add(s.serial);
      if (s.notAfterMs <= Date.now()) this.expired.add(w);
    }
    const h = await handshake(this.#host, this.#port, this.#files);
    if (h.accepted) this.accepted++;
    else {
      this.refused++;
      this.firstRefusedMs ??= Date.now() - this.#t0;
      this.firstReason ??= h.reason;
    }
    return h.accepted;
  }

  /** Workloads that were issued a new SVID since the probe started. */
  renewed(): Workload[] {
    return [...this.#serials].filter(([, s]) => s.size > 1).map(([w]) => w);
  }

  /** Waits after a heal until every workload holds a valid SVID and the probed one is let in again; ms taken. */
  async recovered(timeoutMs = 90_000): Promise<number | null> {
    const t = Date.now();
    const allValid = () => this.#region.workloads().every((w) => (svidOf(this.#region.files(w).svid)?.notAfterMs ?? 0) > Date.now());
    while (Date.now() - t < timeoutMs) {
      await this.#busy;
      if (allValid() && (await this.tick())) return Date.now() - t;
      await sleep(500);
    }
    return null;
  }

  /** What the fault itself did, taken when its heal begins (recovery renews every SVID). */
  freeze(): void {
    this.#frozen ??= { probesAccepted: this.accepted, probesRefused: this.refused, expiredDuringFault: [...this.expired], renewedDuringFault: this.renewed() };
  }

  async stop(): Promise<Record<string, unknown>> {
    clearInterval(this.#timer);
    await this.#busy;
    this.freeze();
    return {
      ...this.#frozen,
      probesRefusedAfterHeal: this.refused - (this.#frozen?.probesRefused ?? 0),
      ...(this.firstRefusedMs !== undefined ? { cutOffAfterMs: this.firstRefusedMs, firstRefusal: this.firstReason } : {}),
    };
  }
}

const spireOf = (region: StartedRegion, kind: string): SpireRegion => {
  if (!region.spire) throw new Error(`${kind}: the mesh has no identity plane (security plaintext); run it with --security mtls`);
  return region.spire;
};

/** How often a SPIRE agent syncs its registration entries with the server (its default). */
const AGENT_SYNC_MS = 5_000;

/** Milliseconds each workload's SVID had left when the fault began. */
const lifetimes = (spire: SpireRegion): Record<string, number> =>
  Object.fromEntries(spire.workloads().map((w) => [w, Math.max(0, (svidOf(spire.files(w).svid)?.notAfterMs ?? 0) - Date.now())]));

/**
 * `attestation-failure`: the workload's registration entry is pointed at a uid nobody runs as, so its agent no longer
 * attests it: no new SVID, and once the one it holds expires, new connections presenting it are refused. The heal
 * points the entry back; the fault reports when the probe was first refused and how long recovery took.
 */
export async function attestationFailure(region: StartedRegion, workload: Workload): Promise<Injection> {
  const spire = spireOf(region, "attestation-failure");
  const { entryId } = await spire.setEntryUid(workload, UNATTESTABLE_UID);
  // The agent sees the changed entry at its next sync (every 5 s): a renewal due meanwhile (one delayed by an
  // earlier outage) is still issued, seen once as "renewed during the fault" with a cut-off 30 s late. The fault's
  // figures count from when the agent can no longer attest the workload.
  await sleep(AGENT_SYNC_MS + 1_000);
  const svidExpiresInMs = lifetimes(spire)[workload];
  const probe = new SvidProbe(region, spire, workload);
  probe.start();
  return {
    target: `${workload} in ${region.plan.name}`,
    details: { workload, region: region.plan.name, entryId, selector: `unix:uid:${UNATTESTABLE_UID}`, svidExpiresInMs },
    heal: async () => {
      probe.freeze();
      await spire.setEntryUid(workload);
      const recoveryMs = await probe.recovered();
      return { ...(await probe.stop()), recoveryMs };
    },
  };
}

/** `svid-expiry`: the region's SPIRE agent is stopped; past the TTL every SVID it served has expired. */
export async function svidExpiry(region: StartedRegion, workload: Workload): Promise<Injection> {
  const spire = spireOf(region, "svid-expiry");
  const left = lifetimes(spire);
  const probe = new SvidProbe(region, spire, workload);
  await spire.agent.stop();
  probe.start();
  return {
    target: `spire-agent ${region.plan.name}`,
    details: { region: region.plan.name, probedAs: workload, svidLifetimeLeftMs: left },
    heal: async () => {
      probe.freeze();
      await restartStopped(spire);
      const recoveryMs = await probe.recovered();
      return { ...(await probe.stop()), recoveryMs };
    },
  };
}

/**
 * `spire-server-down`: the region's SPIRE server is stopped. Agents keep serving the SVIDs they cached until those
 * expire. Two seconds in, the fault tries what a deployment would: a new registration (refused with no server) and
 * a new instance of an already registered workload (served from the agent's cache, if it still holds its SVID).
 */
export async function spireServerDown(region: StartedRegion, workload: Workload): Promise<Injection> {
  const spire = spireOf(region, "spire-server-down");
  const probe = new SvidProbe(region, spire, workload);
  await spire.server.stop();
  probe.start();
  const attempts = (async () => {
    await sleep(2_000);
    const registration = await spire.setEntryUid(workload).then(() => "accepted", (e: Error) => `refused: ${e.message.split("\n")[0]}`);
    return { newRegistration: registration, newInstanceGotSvid: await newInstanceGetsSvid(spire, workload) };
  })();
  return {
    target: `spire-server ${region.plan.name}`,
    details: { region: region.plan.name, probedAs: workload, svidLifetimeLeftMs: lifetimes(spire) },
    heal: async () => {
      const tried = await attempts;
      probe.freeze();
      spire.startServer();
      await spire.serverHealthy();
      await restartStopped(spire);
      const recoveryMs = await probe.recovered();
      return { ...tried, ...(await probe.stop()), recoveryMs };
    },
  };
}

/** Starts the agent and any SVID sidecar that is not running (one that gave up on a gone agent, say) on their own data. */
async function restartStopped(spire: SpireRegion): Promise<void> {
  if (!spire.agent.running()) {
    spire.startAgent();
    await spire.agentHealthy();
  }
  for (const w of spire.workloads()) spire.startHelper(w);
}

/** Starts one more sidecar under the workload's user and says whether the agent gave it an SVID within 10 s. */
async function newInstanceGetsSvid(spire: SpireRegion, workload: Workload): Promise<boolean> {
  const user = spire.userOf(workload);
  const dir = mkdtempSync(join(spire.secrets, "svid", `${workload}-new-`));
  const h = spire.startSidecar(`${workload}-new`, user, dir);
  try {
    for (let i = 0; i < 20 && !existsSync(join(dir, "svid.pem")); i++) await sleep(500);
    return existsSync(join(dir, "svid.pem"));
  } finally {
    await h.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
