import { spawn } from "node:child_process";
import { InfraError } from "../lab/errors.ts";
import type { SshTarget } from "./inventory.ts";

/**
 * The OpenSSH client invocation for a host: key only (BatchMode: never a password prompt), a connect timeout, and
 * host keys checked against the inventory's known_hosts (strictly) or the user's own (a new host accepted once).
 */
export function sshArgv(t: SshTarget, remote: string): string[] {
  const keys = t.knownHosts ? ["-o", `UserKnownHostsFile=${t.knownHosts}`, "-o", "StrictHostKeyChecking=yes"] : ["-o", "StrictHostKeyChecking=accept-new"];
  return ["ssh", "-i", t.key, "-p", String(t.port), "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-o", "LogLevel=ERROR", ...keys, `${t.user}@${t.address}`, remote];
}

export interface CommandOutput {
  stdout: string;
  stderr: string;
  code: number | null;
}

/** Runs argv to completion (stdin from `input`), never throwing for a non-zero exit: the caller decides. */
export function capture(argv: readonly string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<CommandOutput> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0] as string, argv.slice(1), { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 60_000);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ stdout, stderr, code });
    });
    child.stdin.on("error", () => {});
    child.stdin.end(opts.input ?? "");
  });
}

/** Runs a shell script on a host (`sh -s`, the script on stdin); an SSH failure names the host and what to check. */
export async function sshScript(host: SshTarget & { name: string }, script: string, timeoutMs = 60_000): Promise<string> {
  const out = await capture(sshArgv(host, "sh -s"), { input: script, timeoutMs });
  // 255 is ssh's own failure (connection, authentication), anything else the script's.
  if (out.code !== 0)
    throw new InfraError({
      component: `host ${host.name}`,
      message: out.code === 255 ? `ssh ${host.user}@${host.address}:${host.port} failed` : `a command on ${host.address} exited ${out.code}`,
      hint: out.code === 255 ? `check that ssh -i ${host.key} -p ${host.port} ${host.user}@${host.address} true works (key, address, sshd)` : "the last lines say which command failed",
      logTail: `${out.stdout}${out.stderr}`.split("\n").slice(-15).join("\n"),
    });
  return out.stdout;
}
