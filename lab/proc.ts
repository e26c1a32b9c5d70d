import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { InfraError, InterruptedError } from "./errors.ts";

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** One process the lab started: its own process group, its own log file, stoppable any number of times. */
export interface ProcessHandle extends AsyncDisposable {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  /** Settles when the process has exited, whoever stopped it. */
  readonly exited: Promise<ExitStatus>;
  running(): boolean;
  /** SIGTERM to the whole group, SIGKILL after `graceMs`. Idempotent: chaos may have killed it already. */
  stop(graceMs?: number): Promise<ExitStatus>;
  /** Sends a signal to the whole group (SIGKILL, SIGSTOP, SIGCONT ...). No-op once it has exited. */
  signal(sig: NodeJS.Signals): void;
  logTail(lines?: number): Promise<string>;
}

export interface SpawnOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  logFile: string;
  /** How long `stop()` waits after SIGTERM before SIGKILL (default 10 s). */
  stopGraceMs?: number;
  /** Run as this Unix user (uid/gid, no supplementary groups): how SPIRE's `unix:uid` selector tells workloads apart. */
  user?: { uid: number; gid: number };
  /**
   * The mesh address the process serves on (the plan's host for it). A local process ignores it; a backend that
   * runs processes elsewhere puts the process there (topology/backend.ts).
   */
  host?: string;
}

/**
 * What starts a component's process: the Supervisor (a local process group), or a backend that runs it elsewhere
 * (a container). The handle offers the same capabilities either way: signal, pause (SIGSTOP/SIGCONT), stop, logs.
 */
export interface Launcher {
  spawn(name: string, argv: readonly string[], opts: SpawnOptions): ProcessHandle;
}

/** A process that exited by itself with a failure: nobody stopped or signalled it. */
export interface Crash {
  name: string;
  atMs: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The last lines of its log (the error it died of, usually). */
  tail: string;
}

interface RecordedProcess {
  name: string;
  pid: number;
  startTime: string;
  argv: string[];
}

interface RunRecord {
  runId: string;
  runner: { pid: number; startTime: string };
  processes: RecordedProcess[];
}

/** A process's start time in clock ticks since boot (field 22 of /proc/<pid>/stat), or undefined if it is gone. */
export const procStat = (pid: number): string | undefined => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Field 22 (starttime) counts from the field after the command name, which may itself hold spaces or ')'.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
};

/** This process as a run record names its runner: pid and start time (what `isSameProcess` checks). */
export const thisRunner = (): { pid: number; startTime: string } => ({ pid: process.pid, startTime: procStat(process.pid) ?? "" });

const procArgv = (pid: number): string[] | undefined => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0$/, "").split("\0");
  } catch {
    return undefined;
  }
};

/** Whether a process with this pid exists (one of another user counts). */
export const pidAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
};

/** True while `pid` is the very process that was recorded: same start time, same command line. */
export function isSameProcess(p: { pid: number; startTime: string; argv?: string[] }): boolean {
  if (procStat(p.pid) !== p.startTime) return false;
  if (!p.argv) return true;
  const argv = procArgv(p.pid);
  return argv !== undefined && argv.join("\0") === p.argv.join("\0");
}

export async function readTail(file: string, lines = 30): Promise<string> {
  try {
    const fh = await open(file, "r");
    try {
      const { size } = await fh.stat();
      const len = Math.min(size, 64 * 1024);
      const buf = Buffer.alloc(len);
      await fh.read(buf, 0, len, size - len);
      return buf.toString("utf8").split("\n").slice(-lines - 1).join("\n");
    } finally {
      await fh.close();
    }
  } catch {
    return "";
  }
}

const hasSetpriv = existsSync("/usr/bin/setpriv");

class ChildHandle implements ProcessHandle {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  readonly exited: Promise<ExitStatus>;
  #status: ExitStatus | undefined;
  #stopping: Promise<ExitStatus> | undefined;
  /** The lab stopped it or sent it a signal that ends a process (a fault, a teardown): its exit was asked for. */
  #asked = false;
  readonly #graceMs: number;

  constructor(name: string, child: ChildProcess, logFile: string, graceMs: number, onCrash?: (c: Crash) => void) {
    this.name = name;
    this.logFile = logFile;
    this.#graceMs = graceMs;
    if (child.pid === undefined) throw new Error(`${name}: spawn returned no pid`);
    this.pid = child.pid;
    this.exited = new Promise((resolve) => {
      child.once("exit", (code, signal) => {
        this.#status = { code, signal };
        if (!this.#asked && code !== 0) void this.logTail(30).then((tail) => onCrash?.({ name, atMs: Date.now(), code, signal, tail }));
        resolve(this.#status);
      });
    });
  }

  running(): boolean {
    return this.#status === undefined;
  }

  signal(sig: NodeJS.Signals): void {
    if (!this.running()) return;
    if (sig !== "SIGSTOP" && sig !== "SIGCONT") this.#asked = true;
    try {
      process.kill(-this.pid, sig);
    } catch {
      // The group is already gone.
    }
  }

  stop(graceMs = this.#graceMs): Promise<ExitStatus> {
    if (!this.running()) return this.exited;
    this.#asked = true;
    this.#stopping ??= (async () => {
      this.signal("SIGTERM");
      this.signal("SIGCONT"); // a paused process cannot act on SIGTERM
      const t = setTimeout(() => this.signal("SIGKILL"), graceMs);
      const status = await this.exited;
      clearTimeout(t);
      this.signal("SIGKILL"); // anything the leader left behind in its group
      return status;
    })();
    return this.#stopping;
  }

  async logTail(lines = 30): Promise<string> {
    return readTail(this.logFile, lines);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

/**
 * Starts and records the processes of one run. Every process gets its own process group (so a stop reaches
 * its children too) and, via setpriv, a parent-death signal, so even a SIGKILLed runner leaves nothing behind.
 * The record on disk lets a later run reap what a killed one left, matched by pid, start time and command line.
 */
export class Supervisor implements AsyncDisposable, Launcher {
  readonly runId: string;
  readonly #recordFile: string;
  readonly #record: RunRecord;
  readonly #handles: ChildHandle[] = [];
  readonly #crashes: Crash[] = [];
  readonly #onCrash: ((c: Crash) => void) | undefined;
  #closed = false;

  /** `onCrash` hears of every process that exits with a failure no one asked for (a fault's kill does not count). */
  constructor(runId: string, stateDir: string, onCrash?: (c: Crash) => void) {
    this.runId = runId;
    this.#onCrash = onCrash;
    mkdirSync(stateDir, { recursive: true });
    this.#recordFile = join(stateDir, `${runId}.json`);
    this.#record = {
      runId,
      runner: thisRunner(),
      processes: [],
    };
    this.#save();
  }

  #save(): void {
    writeFileSync(this.#recordFile, `${JSON.stringify(this.#record, null, 1)}\n`);
  }

  spawn(name: string, argv: readonly string[], opts: SpawnOptions): ProcessHandle {
    // A stand-up abandoned by Ctrl-C may still try to start things after teardown: it must fail, not leak.
    if (this.#closed) throw new InterruptedError(`teardown (not starting ${name})`);
    const [cmd, ...args] = argv;
    if (!cmd) throw new Error(`${name}: empty command`);
    const fd = openSync(opts.logFile, "a");
    const as = opts.user ? ["--reuid", String(opts.user.uid), "--regid", String(opts.user.gid), "--clear-groups"] : [];
    const full = hasSetpriv ? ["/usr/bin/setpriv", "--pdeathsig", "KILL", ...as, "--", cmd, ...args] : [cmd, ...args];
    let child: ChildProcess;
    try {
      child = spawn(full[0] as string, full.slice(1), {
        cwd: opts.cwd,
        env: { ...process.env, ...opts.env },
        stdio: ["ignore", fd, fd],
        detached: true,
        ...(opts.user && !hasSetpriv ? { uid: opts.user.uid, gid: opts.user.gid } : {}),
      });
    } finally {
      closeSync(fd);
    }
    const handle = new ChildHandle(name, child, opts.logFile, opts.stopGraceMs ?? 10_000, (c) => {
      this.#crashes.push(c);
      this.#onCrash?.(c);
    });
    child.on("error", () => {}); // surfaced through `exited` and the readiness checks
    this.#handles.push(handle);
    this.#record.processes.push({ name, pid: handle.pid, startTime: procStat(handle.pid) ?? "", argv: [cmd, ...args] });
    this.#save();
    return handle;
  }

  /** The processes that have crashed so far, in the order they did. */
  crashes(): readonly Crash[] {
    return this.#crashes;
  }

  /** Stops every process this run started, newest first, and forgets the record. */
  async stopAll(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#handles].reverse().map((h) => h.stop()));
    rmSync(this.#recordFile, { force: true });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stopAll();
  }
}

export interface ReapReport {
  runId: string;
  killed: string[];
}

/**
 * Kills what earlier runs recorded and left behind, when their runner is gone. Only processes whose pid, start
 * time and command line all match the record are touched: never anything found by name.
 */
export function reapOrphans(stateDir: string): ReapReport[] {
  if (!existsSync(stateDir)) return [];
  const reports: ReapReport[] = [];
  for (const file of readdirSync(stateDir).filter((f) => f.endsWith(".json"))) {
    const path = join(stateDir, file);
    let rec: RunRecord;
    try {
      rec = JSON.parse(readFileSync(path, "utf8")) as RunRecord;
    } catch {
      rmSync(path, { force: true });
      continue;
    }
    if (rec.runner.pid !== process.pid && isSameProcess(rec.runner)) continue; // that run is still alive
    const killed: string[] = [];
    for (const p of rec.processes) {
      // The recorded argv is what was asked for; the process may still show setpriv's argv for an instant.
      if (procStat(p.pid) !== p.startTime) continue;
      const argv = procArgv(p.pid) ?? [];
      const same = argv.join("\0") === p.argv.join("\0") || argv.slice(4).join("\0") === p.argv.join("\0");
      if (!same) continue;
      try {
        process.kill(-p.pid, "SIGKILL");
      } catch {
        try {
          process.kill(p.pid, "SIGKILL");
        } catch {}
      }
      killed.push(`${p.name} (pid ${p.pid})`);
    }
    rmSync(path, { force: true });
    reports.push({ runId: rec.runId, killed });
  }
  return reports;
}

/** The error for a process that exited when it should not have: its exit status and last log lines. */
export async function exitedError(p: ProcessHandle, when: string, hint: string): Promise<InfraError> {
  const st = await p.exited;
  return new InfraError({
    component: p.name,
    message: `exited (code ${st.code}, signal ${st.signal}) ${when}`,
    hint,
    logTail: await p.logTail(),
    logFile: p.logFile,
  });
}

/**
 * Polls `probe` until it returns a value, failing with the component's log tail when the process dies first or
 * the deadline passes.
 */
export async function waitUntil<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  opts: { timeoutMs: number; intervalMs?: number; process?: ProcessHandle; hint: string },
): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  let lastError: unknown;
  for (;;) {
    if (opts.process && !opts.process.running()) throw await exitedError(opts.process, `before ${what}`, opts.hint);
    try {
      // A probe that never settles (a client call stuck on a dead broker) must not outlive the deadline.
      const pending = probe();
      pending.catch(() => {});
      let timer: NodeJS.Timeout | undefined;
      const v = await Promise.race([pending, new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), Math.max(0, deadline - Date.now()) + 50)))]);
      clearTimeout(timer);
      if (v !== undefined) return v;
    } catch (e) {
      if (e instanceof InfraError) throw e; // a component died: no point waiting for it
      lastError = e;
    }
    if (Date.now() > deadline) {
      throw new InfraError({
        component: opts.process?.name ?? what,
        message: `timed out after ${opts.timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${lastError instanceof Error ? lastError.message : String(lastError)})` : ""}`,
        hint: opts.hint,
        logTail: opts.process ? await opts.process.logTail() : "",
        logFile: opts.process?.logFile,
        cause: lastError,
      });
    }
    await sleep(opts.intervalMs ?? 250);
  }
}

/**
 * Like AsyncDisposableStack, but disposes everything at once: a mesh's teardown should take as long as its
 * slowest process, not the sum of them.
 */
export class DisposableGroup implements AsyncDisposable {
  #items: AsyncDisposable[] = [];

  use<T extends AsyncDisposable>(item: T): T {
    this.#items.push(item);
    return item;
  }

  /** Hands the members to a new group, so this one disposes nothing (the start-up succeeded). */
  move(): DisposableGroup {
    const g = new DisposableGroup();
    g.#items = this.#items;
    this.#items = [];
    return g;
  }

  async disposeAsync(): Promise<void> {
    const items = this.#items.splice(0);
    const results = await Promise.allSettled(items.map((i) => i[Symbol.asyncDispose]()));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.disposeAsync();
  }
}
