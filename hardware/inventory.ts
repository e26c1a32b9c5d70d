import { existsSync, readFileSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { BadInputError } from "../lab/errors.ts";
import { arr, num, obj, oneOf, optional, type Problems, str } from "../lab/validate.ts";
import { loadProfile, profileNames } from "./profile.ts";

/** What a host may run; a topology's components are placed on hosts by these. */
export const HOST_ROLES = ["broker", "controller", "registry", "toxiproxy", "mirrormaker", "redis", "generator"] as const;
export type HostRole = (typeof HOST_ROLES)[number];

/** How to reach a host over SSH. */
export interface SshTarget {
  address: string;
  port: number;
  user: string;
  /** Private key file (absolute once loaded: relative paths are relative to the inventory file). */
  key: string;
  /** A known_hosts file to check host keys against strictly; null: the user's own, accepting a new host's key once. */
  knownHosts: string | null;
}

/** One host of an inventory: where it is, what it runs, where its data lives, and the profile it must match. */
export interface HostSpec extends SshTarget {
  name: string;
  az: string;
  rack: string;
  roles: HostRole[];
  /** The broker data directory (Kafka's `log.dirs`): preflight checks the volume under it. */
  dataDir: string;
  /** The block device the data directory must be on (`/dev/nvme0n1`), or null for "whatever is mounted there". */
  device: string | null;
  profile: string;
}

export interface Inventory {
  name: string;
  hosts: HostSpec[];
}

const defaults = obj({
  user: optional(str(), "root"),
  key: optional(str(), "~/.ssh/id_ed25519"),
  port: optional(num({ min: 1, max: 65535, integer: true }), 22),
  knownHosts: optional<string | null>((v, p, pr) => (v === null ? null : str()(v, p, pr)), null),
});

const host = obj({
  name: str({ pattern: /^[a-z0-9][a-z0-9.-]*$/, patternHint: "a lower-case host name" }),
  address: str({ pattern: /^[A-Za-z0-9.:-]+$/, patternHint: "an IP address or DNS name" }),
  user: { check: str(), default: undefined },
  key: { check: str(), default: undefined },
  port: { check: num({ min: 1, max: 65535, integer: true }), default: undefined },
  az: str(),
  rack: optional(str(), ""),
  roles: arr(oneOf(...HOST_ROLES), { min: 1 }),
  dataDir: str({ pattern: /^\//, patternHint: "an absolute path" }),
  device: optional<string | null>((v, p, pr) => (v === null ? null : str({ pattern: /^\/dev\//, patternHint: "a device path such as /dev/nvme0n1" })(v, p, pr)), null),
  profile: str(),
});

const inventoryShape = obj({
  name: str({ pattern: /^[a-z][a-z0-9-]*$/, patternHint: "a lower-case identifier" }),
  ssh: optional(defaults, () => ({ user: "root", key: "~/.ssh/id_ed25519", port: 22, knownHosts: null })),
  hosts: arr(host, { min: 1 }),
});

const expandKey = (key: string, base: string): string => (key.startsWith("~/") ? resolve(process.env.HOME ?? "/root", key.slice(2)) : isAbsolute(key) ? key : resolve(base, key));

/**
 * Validates an inventory strictly (every problem with its path): unknown keys, duplicate names and addresses,
 * profiles that do not exist. `base` is the directory relative key paths are resolved against.
 */
export function parseInventory(input: unknown, where = "inventory", base = process.cwd()): Inventory {
  const problems: Problems = [];
  const inv = inventoryShape(input, where, problems);
  const seenNames = new Set<string>();
  const seenTargets = new Set<string>();
  const known = new Set(profileNames());
  const hosts: HostSpec[] = [];
  (inv?.hosts ?? []).forEach((h, i) => {
    const at = `${where}.hosts[${i}]`;
    if (h.name !== undefined) {
      if (seenNames.has(h.name)) problems.push(`${at}.name: host "${h.name}" appears twice`);
      seenNames.add(h.name);
    }
    const port = h.port ?? inv?.ssh?.port ?? 22;
    const target = `${h.address}:${port}`;
    if (h.address !== undefined && seenTargets.has(target)) problems.push(`${at}.address: ${target} is another host's too`);
    seenTargets.add(target);
    if (h.profile !== undefined && !h.profile.endsWith(".json") && !known.has(h.profile)) problems.push(`${at}.profile: no profile "${h.profile}" (profiles: ${[...known].join(", ")})`);
    if (h.profile?.endsWith(".json")) {
      try {
        loadProfile(resolve(base, h.profile));
      } catch (e) {
        problems.push(`${at}.profile: ${(e as Error).message}`);
      }
    }
    hosts.push({ ...h, port, user: h.user ?? inv?.ssh?.user ?? "root", key: expandKey(h.key ?? inv?.ssh?.key ?? "~/.ssh/id_ed25519", base), knownHosts: inv?.ssh?.knownHosts ? expandKey(inv.ssh.knownHosts, base) : null } as HostSpec);
  });
  if (problems.length || !inv) throw new BadInputError(`invalid inventory ${where}`, problems, "see hardware/README.md for the inventory format");
  return { name: inv.name, hosts: hosts.map((h) => JSON.parse(JSON.stringify(h)) as HostSpec) };
}

/** Loads an inventory file; relative key and profile paths are relative to it. */
export function loadInventory(file: string): Inventory {
  if (!existsSync(file)) throw new BadInputError(`no inventory file ${file}`, [], "pass --hosts <file.json> (hardware/README.md shows one)");
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new BadInputError(`inventory ${file} is not JSON`, [(e as Error).message], "fix the file's syntax");
  }
  return parseInventory(data, file, dirname(resolve(file)));
}
