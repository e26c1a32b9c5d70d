import { X509Certificate } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import type { Alert, AlertBook, Condition } from "../../lab/alerts.ts";
import type { SpireRegion } from "./spire.ts";
import type { Workload } from "./identity.ts";

/** What the watcher saw of one region's identity plane at one moment. */
export interface IdentityObservation {
  region: string;
  serverReady: boolean;
  agentRunning: boolean;
  /** Each workload's SVID on disk: its expiry (epoch ms), or null when there is none. */
  svids: { workload: Workload; notAfterMs: number | null }[];
}

/**
 * The alert rules of the identity plane, pure: what an operator of the seed's mesh is paged for. A workload's SVID
 * is renewed by its agent at half its lifetime, so one with less than a quarter left was not renewed (the server
 * or agent is gone, or its attestation fails); one past its expiry is cut off for every new connection.
 */
export function identityConditions(observations: IdentityObservation[], nowMs: number, ttlMs: number | ((workload: string) => number)): Condition[] {
  const ttlOf = typeof ttlMs === "number" ? () => ttlMs : ttlMs;
  const out: Condition[] = [];
  for (const o of observations) {
    if (!o.serverReady)
      out.push({ name: "spire-server-unreachable", severity: "critical", subject: `spire-server ${o.region}`, message: "not ready: agents serve cached SVIDs until they expire; nothing new is issued or registered" });
    if (!o.agentRunning)
      out.push({ name: "spire-agent-down", severity: "critical", subject: `spire-agent ${o.region}`, message: "not running: no workload of the region gets a new SVID" });
    for (const s of o.svids) {
      const subject = `${s.workload} in ${o.region}`;
      if (s.notAfterMs === null) out.push({ name: "svid-missing", severity: "critical", subject, message: "no SVID on disk" });
      else if (s.notAfterMs <= nowMs)
        out.push({ name: "svid-expired", severity: "critical", subject, message: `SVID expired at ${new Date(s.notAfterMs).toISOString()}: cut off for new connections` });
      else if (s.notAfterMs - nowMs < ttlOf(s.workload) / 4)
        out.push({ name: "svid-rotation-stalled", severity: "warning", subject, message: `SVID not renewed at half its lifetime; expires in ${Math.ceil((s.notAfterMs - nowMs) / 1000)} s` });
    }
  }
  return out;
}

/** An SVID file's serial and expiry now, or undefined when it cannot be read. */
export function svidOf(file: string): { serial: string; notAfterMs: number } | undefined {
  try {
    const c = new X509Certificate(readFileSync(file));
    return { serial: c.serialNumber, notAfterMs: Date.parse(c.validTo) };
  } catch {
    return undefined;
  }
}

/** An SVID file's expiry, parsed again only when the file changed. */
class SvidExpiry {
  readonly file: string;
  #mtimeMs = -1;
  #notAfterMs: number | null = null;
  constructor(file: string) {
    this.file = file;
  }
  read(): number | null {
    const m = statSync(this.file, { throwIfNoEntry: false })?.mtimeMs;
    if (m === undefined || m === this.#mtimeMs) return this.#notAfterMs;
    // Half-written by a rotation: what was last read stands until the next look.
    const s = svidOf(this.file);
    if (s) [this.#notAfterMs, this.#mtimeMs] = [s.notAfterMs, m];
    return this.#notAfterMs;
  }
}

/** A workload's new SVID, seen on disk `atMs` after the run started. */
export interface SvidRenewal {
  region: string;
  workload: string;
  atMs: number;
}

/**
 * Samples every region's SPIRE once a second while a run goes (server readiness over its health endpoint, the
 * agent's process, each workload's SVID on disk) and feeds the alert rules into the run's alert book.
 */
export class IdentityWatch {
  readonly #regions: SpireRegion[];
  readonly #book: AlertBook;
  readonly #ttlMs: number | ((workload: string) => number);
  readonly #runMs: () => number;
  readonly #onFire: (a: Alert) => void;
  readonly #expiry = new Map<string, SvidExpiry>();
  readonly #lastNotAfter = new Map<string, number>();
  readonly #renewals: SvidRenewal[] = [];
  #timer: NodeJS.Timeout | undefined;
  #sampling: Promise<void> = Promise.resolve();

  /** `onFire` hears of each alert as it fires (the runner prints it). */
  constructor(opts: { regions: SpireRegion[]; book: AlertBook; ttlMs: number | ((workload: string) => number); runMs: () => number; onFire?: (a: Alert) => void }) {
    this.#onFire = opts.onFire ?? (() => {});
    this.#regions = opts.regions;
    this.#book = opts.book;
    this.#ttlMs = opts.ttlMs;
    this.#runMs = opts.runMs;
  }

  start(everyMs = 1_000): this {
    this.#timer = setInterval(() => {
      this.#sampling = this.#sampling.then(() => this.sample()).catch(() => {});
    }, everyMs);
    return this;
  }

  async sample(): Promise<void> {
    const observations = await Promise.all(this.#regions.map((r) => this.#observe(r)));
    for (const a of this.#book.observe(identityConditions(observations, Date.now(), this.#ttlMs), this.#runMs())) this.#onFire(a);
  }

  async #observe(r: SpireRegion): Promise<IdentityObservation> {
    const serverReady = await fetch(r.readyUrl, { signal: AbortSignal.timeout(900) }).then((x) => x.ok, () => false);
    const svids = r.workloads().map((workload) => ({ workload, notAfterMs: this.#expiryOf(r.files(workload).svid).read() }));
    for (const v of svids) this.#noteRenewal(r.name, v.workload, v.notAfterMs);
    return { region: r.name, serverReady, agentRunning: r.agent?.running() ?? false, svids };
  }

  /** A later expiry than last seen is a new SVID on disk: the moment every client of that workload renews. */
  #noteRenewal(region: string, workload: string, notAfterMs: number | null): void {
    if (notAfterMs === null) return;
    const key = `${region}/${workload}`;
    const last = this.#lastNotAfter.get(key);
    this.#lastNotAfter.set(key, Math.max(last ?? 0, notAfterMs));
    if (last !== undefined && notAfterMs > last) this.#renewals.push({ region, workload, atMs: this.#runMs() });
  }

  /** SVID renewals seen while the run went (the first SVID of each workload is not one). */
  renewals(): SvidRenewal[] {
    return [...this.#renewals];
  }

  #expiryOf(file: string): SvidExpiry {
    const e = this.#expiry.get(file) ?? new SvidExpiry(file);
    this.#expiry.set(file, e);
    return e;
  }

  /**
   * Stops sampling; with `lastLook`, after one more sample so the alerts say how the run ended (not after an
   * interrupt, whose teardown may already have stopped SPIRE).
   */
  async stop(lastLook: boolean): Promise<void> {
    clearInterval(this.#timer);
    await this.#sampling;
    if (lastLook) await this.sample().catch(() => {});
  }
}
