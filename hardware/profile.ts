import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { BadInputError } from "../lab/errors.ts";
import { arr, bool, num, obj, oneOf, type Problems, record, str } from "../lab/validate.ts";

/**
 * What a host must look like to run a broker, as data (`hardware/profiles/*.json`). Every rule is checked against
 * the host's recorded facts (facts.ts) by check.ts; an empty list of allowed values means "anything".
 */
export interface HostProfile {
  name: string;
  description: string;
  data: {
    /** Filesystems the data volume may have (`xfs`). */
    filesystems: string[];
    /** `nvme`, `ssd`, `hdd`, `loop`, or `any`: the class of the block device under the data volume. */
    deviceClass: DeviceClass | "any";
    /** Mount options that must be set (`noatime`) and ones that must not (`nobarrier`: write barriers stay on). */
    mountOptions: { require: string[]; forbid: string[] };
    /** I/O schedulers allowed on the data device (`none`, `mq-deadline`). */
    schedulers: string[];
  };
  /** Kernel parameters by sysctl name. */
  sysctls: Record<string, SysctlRule>;
  /** Minimum soft limits of the shell that starts the broker: open files and processes. */
  limits: { nofile?: number; nproc?: number };
  /** Allowed transparent huge page modes. */
  thp: { enabled: string[]; defrag: string[] };
  /** The clock must be synchronised (NTP/chrony): brokers, consumers and the ledger compare timestamps. */
  clockSync: boolean;
  cpuGovernors: string[];
  kernel: { min: string };
  cpu: { minCores: number };
  memory: { minGiB: number };
}

export type DeviceClass = "nvme" | "ssd" | "hdd" | "loop";

/** A numeric bound on a sysctl (on one whitespace-separated `field` of it, for `tcp_rmem`'s max), or an exact value. */
export interface SysctlRule {
  min?: number;
  max?: number;
  equals?: string;
  field?: number;
}

const names = arr(str());
const sysctlRule = obj({
  min: { check: num(), default: undefined },
  max: { check: num(), default: undefined },
  equals: { check: str(), default: undefined },
  field: { check: num({ min: 0, integer: true }), default: undefined },
});

const profileShape = obj({
  name: str({ pattern: /^[a-z][a-z0-9-]*$/, patternHint: "a lower-case identifier" }),
  description: str(),
  data: obj({
    filesystems: names,
    deviceClass: oneOf("nvme", "ssd", "hdd", "loop", "any"),
    mountOptions: obj({ require: names, forbid: names }),
    schedulers: names,
  }),
  sysctls: record(sysctlRule),
  limits: obj({
    nofile: { check: num({ min: 1, integer: true }), default: undefined },
    nproc: { check: num({ min: 1, integer: true }), default: undefined },
  }),
  thp: obj({ enabled: names, defrag: names }),
  clockSync: bool,
  cpuGovernors: names,
  kernel: obj({ min: str({ pattern: /^\d+(\.\d+)*$/, patternHint: "a kernel version such as 5.10" }) }),
  cpu: obj({ minCores: num({ min: 1, integer: true }) }),
  memory: obj({ minGiB: num({ min: 0 }) }),
});

/** Validates a profile strictly: unknown keys, wrong types and contradictory rules, every problem with its path. */
export function parseProfile(input: unknown, where = "profile"): HostProfile {
  const problems: Problems = [];
  const p = profileShape(input, where, problems);
  for (const [key, rule] of Object.entries(p?.sysctls ?? {})) {
    const at = `${where}.sysctls.${key}`;
    if (!/^[a-z0-9_]+(\.[a-z0-9_-]+)+$/.test(key)) problems.push(`${at}: "${key}" is not a sysctl name (e.g. vm.swappiness)`);
    if (rule.min === undefined && rule.max === undefined && rule.equals === undefined) problems.push(`${at}: needs min, max or equals`);
    if (rule.equals !== undefined && (rule.min !== undefined || rule.max !== undefined)) problems.push(`${at}: equals excludes min and max`);
    if (rule.min !== undefined && rule.max !== undefined && rule.min > rule.max) problems.push(`${at}: min ${rule.min} is above max ${rule.max}`);
  }
  const mo = p?.data?.mountOptions;
  for (const o of mo?.require ?? []) if (mo?.forbid?.includes(o)) problems.push(`${where}.data.mountOptions: "${o}" is both required and forbidden`);
  if (problems.length || !p) throw new BadInputError(`invalid host profile ${where}`, problems, "see hardware/README.md for the profile format");
  // Drop the undefined optionals, so the profile saved with a result is exactly what was checked.
  return JSON.parse(JSON.stringify(p)) as HostProfile;
}

export const profilesDir = (): string => join(new URL(".", import.meta.url).pathname, "profiles");

/** The profiles shipped in hardware/profiles. */
export const profileNames = (): string[] =>
  readdirSync(profilesDir())
    .filter((f) => f.endsWith(".json"))
    .map((f) => f.replace(/\.json$/, ""))
    .sort();

/** Loads a profile by name (hardware/profiles/<name>.json) or from a path to a JSON file. */
export function loadProfile(nameOrFile: string): HostProfile {
  const file = nameOrFile.endsWith(".json") ? nameOrFile : join(profilesDir(), `${nameOrFile}.json`);
  if (!existsSync(file)) throw new BadInputError(`no host profile "${nameOrFile}"`, [], `profiles: ${profileNames().join(", ")}, or a path to a .json file`);
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new BadInputError(`host profile ${file} is not JSON`, [(e as Error).message], "fix the file's syntax");
  }
  const p = parseProfile(data, nameOrFile.endsWith(".json") ? file : nameOrFile);
  if (!nameOrFile.endsWith(".json") && p.name !== nameOrFile) throw new BadInputError(`host profile ${file}`, [`name: "${p.name}" differs from the file name "${nameOrFile}"`], "name the file after the profile");
  return p;
}
