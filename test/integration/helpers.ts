import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { onTestFinished } from "vitest";

export const ROOT = new URL("../../", import.meta.url).pathname;

export const tempDir = (prefix: string): string => mkdtempSync(join(tmpdir(), `meshlab-${prefix}-`));

export const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Pids the lab recorded for runs whose runner is `runnerPid` (read from the supervisor's state files). */
export function recordedProcesses(stateDir: string, runnerPid: number): { name: string; pid: number }[] {
  const procs: { name: string; pid: number }[] = [];
  for (const f of readdirSync(stateDir).filter((x) => x.endsWith(".json"))) {
    try {
      const rec = JSON.parse(readFileSync(join(stateDir, f), "utf8")) as { runner: { pid: number }; processes: { name: string; pid: number }[] };
      if (rec.runner.pid === runnerPid) procs.push(...rec.processes.map((p) => ({ name: p.name, pid: p.pid })));
    } catch {}
  }
  return procs;
}

export function recordedPids(stateDir: string, runnerPid: number): number[] {
  return recordedProcesses(stateDir, runnerPid).map((p) => p.pid);
}

export interface Cli {
  pid: number;
  output: () => string;
  exited: Promise<number | null>;
  waitFor: (pattern: RegExp, timeoutMs: number) => Promise<void>;
  signal: (sig: NodeJS.Signals) => void;
}

/** Runs ./meshlab as a user would, capturing stdout and stderr together. */
export function meshlab(args: string[], env: Record<string, string> = {}): Cli {
  const child = spawn(join(ROOT, "meshlab"), args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  const listeners: (() => void)[] = [];
  const onData = (d: Buffer) => {
    out += d.toString();
    for (const l of listeners) l();
  };
  child.stdout.on("data", onData);
  child.stderr.on("data", onData);
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  // A test that timed out must not leave its run going (one such run kept a mesh up for an hour): interrupted, it
  // tears its mesh down as after Ctrl-C.
  let done = false;
  void exited.then(() => {
    done = true;
  });
  try {
    onTestFinished(() => {
      if (!done) child.kill("SIGINT");
    });
  } catch {
    // called outside a test (a beforeAll): the hook's own cleanup is the caller's
  }
  return {
    pid: child.pid ?? -1,
    output: () => out,
    exited,
    signal: (sig) => child.kill(sig),
    waitFor: (pattern, timeoutMs) =>
      new Promise((resolve, reject) => {
        const check = () => {
          if (pattern.test(out)) resolve();
        };
        listeners.push(check);
        check();
        setTimeout(() => reject(new Error(`timed out waiting for ${pattern}; output so far:\n${out}`)), timeoutMs);
        void exited.then(() => setTimeout(() => reject(new Error(`meshlab exited before ${pattern}; output:\n${out}`)), 100));
      }),
  };
}
