import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { type Deviation, checkHost, failing, renderDeviations } from "../hardware/check.ts";
import { type DiskBaseline, describeBaseline, fioScript, parseDiskBaseline } from "../hardware/disk.ts";
import { factsScript, type HostFacts, parseFacts } from "../hardware/facts.ts";
import { loadInventory } from "../hardware/inventory.ts";
import { loadProfile } from "../hardware/profile.ts";
import { capture, sshScript } from "../hardware/ssh.ts";
import type { Command } from "./cli.ts";
import { BadInputError, ExitCode, InfraError } from "./errors.ts";
import { repoRoot } from "./install.ts";

export interface HostCheck {
  host: string;
  profile: string;
  facts: HostFacts;
  deviations: Deviation[];
  disk?: DiskBaseline;
}

/** Reads this machine's facts for `dataDir` with the same script the hosts are read with. */
export async function localFacts(dataDir: string): Promise<HostFacts> {
  const out = await capture(["sh", "-s"], { input: factsScript(dataDir) });
  if (out.code !== 0) throw new InfraError({ component: "preflight", message: `the facts script exited ${out.code}`, hint: "run it by hand: see hardware/facts.ts", logTail: out.stderr });
  return parseFacts(out.stdout, dataDir);
}

export const preflightCommand: Command = {
  summary: "check hosts (this machine by default) against their hardware profile and print what to change",
  usage: "./meshlab preflight [--hosts inventory.json] [--profile NAME] [--data-dir DIR] [--strict] [--disk] [--json] [--out FILE]",
  help: `Reads each host's facts (data volume: device, filesystem, mount options, scheduler; sysctls; limits; transparent
huge pages; clock synchronisation; CPU governor; kernel; cores; memory) with one read-only shell script, locally
or over SSH, and checks them against the host's profile (hardware/profiles/*.json). Prints every deviation with
the change that fixes it.

  --hosts FILE     an inventory (hardware/README.md); default: this machine
  --profile NAME   profile for this machine (default nvme-broker, the seed's target); ignored with --hosts
  --data-dir DIR   data directory for this machine (default runs/ of the checkout)
  --strict         facts that could not be read count as deviations too
  --disk           also measure the data volume with fio: 4 KiB write + fsync latency, sequential write MB/s
                   (about 10 to 40 s per host; a scratch file in the data directory, removed afterwards)
  --json           print the facts, deviations and disk figures as JSON instead
  --out FILE       also write them as JSON to FILE (a record of the hosts, to keep with runs)

Exit codes: 0 every host conforms, 1 a host deviates, 2 bad input, 3 a host could not be read.`,
  options: {
    hosts: { type: "string" },
    profile: { type: "string" },
    "data-dir": { type: "string" },
    strict: { type: "boolean" },
    disk: { type: "boolean" },
    json: { type: "boolean" },
    out: { type: "string" },
  },
  async run(v, pos) {
    if (pos.length) throw new BadInputError(`preflight: unexpected argument(s) ${pos.join(" ")}`, [], `usage: ${preflightCommand.usage}`);
    const strict = v.strict === true;
    let checks: HostCheck[];
    if (v.hosts) {
      const inv = loadInventory(resolve(v.hosts as string));
      checks = await Promise.all(
        inv.hosts.map(async (h) => {
          const profile = loadProfile(h.profile);
          const facts = parseFacts(await sshScript(h, factsScript(h.dataDir)), h.dataDir);
          const deviations = checkHost(profile, facts);
          const disk = v.disk ? parseDiskBaseline(await sshScript(h, fioScript(h.dataDir), 180_000), h.dataDir) : undefined;
          if (h.device && facts.data.source !== h.device && `/dev/${facts.data.device}` !== h.device)
            deviations.unshift({ check: `device under ${h.dataDir}`, expected: h.device, actual: facts.data.source ?? "unknown", status: "fail", fix: `mount ${h.device} on ${h.dataDir}` });
          return { host: h.name, profile: profile.name, facts, deviations, ...(disk ? { disk } : {}) };
        }),
      );
    } else {
      const profile = loadProfile((v.profile as string | undefined) ?? "nvme-broker");
      const dataDir = resolve((v["data-dir"] as string | undefined) ?? resolve(repoRoot(), "runs"));
      const facts = await localFacts(dataDir);
      let disk: DiskBaseline | undefined;
      if (v.disk) {
        const out = await capture(["sh", "-s"], { input: fioScript(dataDir), timeoutMs: 180_000 });
        if (out.code !== 0) throw new InfraError({ component: "fio", message: `fio on ${dataDir} exited ${out.code}`, hint: "is fio installed (apt-get install -y fio) and the directory writable?", logTail: out.stderr });
        disk = parseDiskBaseline(out.stdout, dataDir);
      }
      checks = [{ host: `${facts.hostname} (this machine)`, profile: profile.name, facts, deviations: checkHost(profile, facts), ...(disk ? { disk } : {}) }];
    }
    if (v.json) process.stdout.write(`${JSON.stringify(checks, null, 2)}\n`);
    else
      for (const c of checks) {
        process.stdout.write(renderDeviations(c.host, c.profile, c.deviations));
        if (c.disk) process.stdout.write(`  ${describeBaseline(c.disk, c.facts)}\n`);
      }
    if (v.out) writeFileSync(resolve(v.out as string), `${JSON.stringify(checks, null, 2)}\n`);
    return checks.some((c) => failing(c.deviations, strict).length) ? ExitCode.sloBreached : ExitCode.ok;
  },
};
