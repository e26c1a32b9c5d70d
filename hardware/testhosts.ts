import { spawnSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { InfraError } from "../lab/errors.ts";
import { type ProcessHandle, Supervisor, waitUntil } from "../lab/proc.ts";
import { capture } from "./ssh.ts";
import type { HostSpec, Inventory } from "./inventory.ts";

/**
 * Test hosts on one machine (root only): per host a network namespace joined to a bridge by a veth pair, an address
 * in the benchmarking block 198.18.0.0/15, its own sshd, and a real XFS data volume on a loop device mounted with
 * noatime. Everything made is pushed on an undo list as it is made, and `dispose` undoes it in reverse, also
 * after a failed start: no namespace, link, mount, loop device or sshd outlives it.
 */
export interface TestHosts extends AsyncDisposable {
  inventory: Inventory;
  hosts: (HostSpec & { netns: string; loopDevice: string })[];
}

const run = (argv: string[]): string => {
  const r = spawnSync(argv[0] as string, argv.slice(1), { encoding: "utf8" });
  if (r.status !== 0) throw new InfraError({ component: "test hosts", message: `\`${argv.join(" ")}\` failed (exit ${r.status})`, hint: "test hosts need root, iproute2, xfsprogs and openssh-server", logTail: `${r.stderr}${r.stdout}` });
  return r.stdout.trim();
};

/** A /24 of 198.18.0.0/15 that no interface on this machine has an address in yet. */
function freeSubnet(): number {
  const used = spawnSync("ip", ["-o", "-4", "addr"], { encoding: "utf8" }).stdout;
  for (let n = 1 + (process.pid % 200); n < 512; n++) if (!used.includes(`198.${18 + (n >> 8)}.${n & 255}.`)) return n;
  throw new Error("no free /24 in 198.18.0.0/15");
}

export async function startTestHosts(opts: { count: number; dir: string; sshd?: string; volumeMb?: number }): Promise<TestHosts> {
  const tag = (process.pid % 100000).toString(36) + Math.floor(Math.random() * 36 ** 2).toString(36);
  const n = freeSubnet();
  const net = `198.${18 + (n >> 8)}.${n & 255}`;
  const undo: (() => void)[] = [];
  const supervisor = new Supervisor(`testhosts-${tag}`, join(opts.dir, "state"));
  const dispose = async () => {
    await supervisor.stopAll();
    for (const u of undo.splice(0).reverse()) {
      try {
        u();
      } catch {}
    }
  };
  try {
    mkdirSync(opts.dir, { recursive: true });
    const key = join(opts.dir, "id_ed25519");
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key]);
    const bridge = `mlb${tag}`;
    run(["ip", "link", "add", bridge, "type", "bridge"]);
    undo.push(() => run(["ip", "link", "del", bridge]));
    run(["ip", "addr", "add", `${net}.1/24`, "dev", bridge]);
    run(["ip", "link", "set", bridge, "up"]);
    mkdirSync("/run/sshd", { recursive: true });
    const hosts: TestHosts["hosts"] = [];
    const knownHosts: string[] = [];
    const daemons: ProcessHandle[] = [];
    for (let i = 1; i <= opts.count; i++) {
      const name = `h${i}`;
      const netns = `ml-${tag}-${name}`;
      const address = `${net}.${10 + i}`;
      const hdir = join(opts.dir, name);
      mkdirSync(join(hdir, "data"), { recursive: true });
      run(["ip", "netns", "add", netns]);
      undo.push(() => run(["ip", "netns", "del", netns]));
      const veth = `mlv${tag}${i}`;
      run(["ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", netns]);
      undo.push(() => spawnSync("ip", ["link", "del", veth]));
      run(["ip", "link", "set", veth, "master", bridge, "up"]);
      const inNs = (...argv: string[]) => run(["ip", "netns", "exec", netns, ...argv]);
      inNs("ip", "addr", "add", `${address}/24`, "dev", "eth0");
      inNs("ip", "link", "set", "eth0", "up");
      inNs("ip", "link", "set", "lo", "up");
      // The data volume: a sparse image, a loop device, XFS (at least 300 MB), mounted with noatime.
      const image = join(hdir, "data.img");
      run(["truncate", "-s", `${opts.volumeMb ?? 320}M`, image]);
      const loopDevice = run(["losetup", "--find", "--show", image]);
      undo.push(() => run(["losetup", "-d", loopDevice]));
      run(["mkfs.xfs", "-q", loopDevice]);
      run(["mount", "-o", "noatime", loopDevice, join(hdir, "data")]);
      undo.push(() => run(["umount", join(hdir, "data")]));
      const hostKey = join(hdir, "ssh_host_ed25519_key");
      run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", hostKey]);
      knownHosts.push(`${address} ${run(["cat", `${hostKey}.pub`]).split(" ").slice(0, 2).join(" ")}`);
      const config = join(hdir, "sshd_config");
      writeFileSync(
        config,
        [`ListenAddress ${address}`, "Port 22", `HostKey ${hostKey}`, `AuthorizedKeysFile ${key}.pub`, "PermitRootLogin prohibit-password", "PasswordAuthentication no", "UsePAM no", "StrictModes no", `PidFile ${join(hdir, "sshd.pid")}`, ""].join("\n"),
      );
      daemons.push(supervisor.spawn(`sshd ${name}`, ["ip", "netns", "exec", netns, opts.sshd ?? "/usr/sbin/sshd", "-D", "-e", "-f", config], { logFile: join(hdir, "sshd.log"), stopGraceMs: 2_000 }));
      hosts.push({ name, address, port: 22, user: "root", key, knownHosts: join(opts.dir, "known_hosts"), az: `az${i}`, rack: "", roles: ["broker", "controller"], dataDir: join(hdir, "data", "kafka"), device: loopDevice, profile: "test-host", netns, loopDevice });
    }
    writeFileSync(join(opts.dir, "known_hosts"), `${knownHosts.join("\n")}\n`);
    for (const [i, h] of hosts.entries())
      await waitUntil(`sshd on ${h.address}`, async () => ((await capture(["bash", "-c", `exec 3<>/dev/tcp/${h.address}/22`])).code === 0 ? true : undefined), {
        timeoutMs: 15_000,
        process: daemons[i] as ProcessHandle,
        hint: "see the host's sshd.log",
      });
    return { inventory: { name: `testhosts-${tag}`, hosts }, hosts, [Symbol.asyncDispose]: async () => dispose().finally(() => rmSync(opts.dir, { recursive: true, force: true })) };
  } catch (e) {
    await dispose();
    rmSync(opts.dir, { recursive: true, force: true });
    throw e;
  }
}
