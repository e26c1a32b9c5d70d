import type { HostFacts } from "./facts.ts";
import type { HostProfile, SysctlRule } from "./profile.ts";

/**
 * One way a host differs from its profile: what was checked, what the profile asks, what the host has, and what to
 * change. `unknown` means the fact could not be read (a container hides cpufreq, a namespace has no timedatectl):
 * preflight warns about it, and counts it as a failure only with --strict.
 */
export interface Deviation {
  check: string;
  expected: string;
  actual: string;
  status: "fail" | "unknown";
  fix: string;
}

/** Compares dotted version strings numerically ("6.1.0-18-amd64" >= "5.10"). */
export function versionAtLeast(actual: string, min: string): boolean | null {
  const a = /^(\d+(?:\.\d+)*)/.exec(actual)?.[1]?.split(".").map(Number);
  if (!a) return null;
  const m = min.split(".").map(Number);
  for (let i = 0; i < Math.max(a.length, m.length); i++) {
    const x = a[i] ?? 0;
    const y = m[i] ?? 0;
    if (x !== y) return x > y;
  }
  return true;
}

const describeRule = (r: SysctlRule): string => {
  const what = r.field !== undefined ? `field ${r.field + 1} ` : "";
  if (r.equals !== undefined) return `${what}= ${r.equals}`;
  if (r.min !== undefined && r.max !== undefined) return `${what}between ${r.min} and ${r.max}`;
  return r.min !== undefined ? `${what}>= ${r.min}` : `${what}<= ${r.max}`;
};

/** The value a sysctl should be set to, to satisfy its rule (the bound itself, or the old value with one field changed). */
const target = (r: SysctlRule, actual: string | undefined): string => {
  const v = r.equals ?? String(r.min ?? r.max);
  if (r.field === undefined || actual === undefined) return v;
  const f = actual.split(" ");
  f[r.field] = v;
  return f.join(" ");
};

function sysctlDeviation(key: string, rule: SysctlRule, raw: string | undefined): Deviation | undefined {
  const expected = describeRule(rule);
  const fix = (v: string) => `sysctl -w ${key}="${v}", and persist it in /etc/sysctl.d/90-kafka.conf`;
  if (raw === undefined) return { check: `sysctl ${key}`, expected, actual: "unknown (not readable)", status: "unknown", fix: fix(target(rule, raw)) };
  const value = rule.field !== undefined ? raw.split(" ")[rule.field] : raw;
  let ok: boolean;
  if (rule.equals !== undefined) ok = value === rule.equals;
  else {
    const n = Number(value);
    ok = Number.isFinite(n) && (rule.min === undefined || n >= rule.min) && (rule.max === undefined || n <= rule.max);
  }
  return ok ? undefined : { check: `sysctl ${key}`, expected, actual: raw, status: "fail", fix: fix(target(rule, raw)) };
}

/** Every deviation of `facts` from `profile`, in a stable order (data volume, kernel, limits, memory, CPU, clock). */
export function checkHost(profile: HostProfile, facts: HostFacts): Deviation[] {
  const out: Deviation[] = [];
  const fail = (check: string, expected: string, actual: string | null, fix: string) =>
    out.push({ check, expected, actual: actual ?? "unknown", status: actual === null ? "unknown" : "fail", fix });
  const d = facts.data;
  const mnt = d.mountPoint ?? d.resolved;

  if (profile.data.filesystems.length && !(d.fsType && profile.data.filesystems.includes(d.fsType)))
    fail(`filesystem of ${d.path}`, profile.data.filesystems.join(" or "), d.fsType ? `${d.fsType} (${d.source ?? "?"} on ${mnt})` : null, `put ${d.path} on its own ${profile.data.filesystems[0]} volume (mkfs.${profile.data.filesystems[0]}, mounted there)`);
  if (profile.data.deviceClass !== "any" && d.deviceClass !== profile.data.deviceClass)
    fail(`device under ${d.path}`, `an ${profile.data.deviceClass} device`, d.device ? `${d.device} (${d.deviceClass ?? "unknown class"})` : null, `mount an ${profile.data.deviceClass} volume on ${d.path}`);
  for (const o of profile.data.mountOptions.require)
    if (!d.mountOptions.includes(o))
      fail(`mount option ${o} on ${mnt}`, "set", d.mountPoint ? d.mountOptions.join(",") : null, `mount -o remount,${o} ${mnt}, and add ${o} to its /etc/fstab line`);
  for (const o of profile.data.mountOptions.forbid)
    if (d.mountOptions.includes(o))
      fail(`mount option ${o} on ${mnt}`, "not set (write barriers stay on)", d.mountOptions.join(","), `remove ${o} from the mount options of ${mnt} (/etc/fstab) and remount`);
  if (profile.data.schedulers.length && !(d.scheduler && profile.data.schedulers.includes(d.scheduler)))
    fail(`I/O scheduler of ${d.device ?? "the data device"}`, profile.data.schedulers.join(" or "), d.scheduler, `echo ${profile.data.schedulers[0]} > /sys/block/${(d.device ?? "<disk>").replace(/p\d+$/, "")}/queue/scheduler, and persist it with a udev rule`);

  const kernelOk = versionAtLeast(facts.kernel, profile.kernel.min);
  if (kernelOk !== true) fail("kernel", `>= ${profile.kernel.min}`, kernelOk === null ? null : facts.kernel, `upgrade the kernel to ${profile.kernel.min} or newer`);
  for (const [key, rule] of Object.entries(profile.sysctls)) {
    const dev = sysctlDeviation(key, rule, facts.sysctls[key]);
    if (dev) out.push(dev);
  }
  for (const [name, min] of Object.entries(profile.limits) as ["nofile" | "nproc", number | undefined][]) {
    if (min === undefined) continue;
    const v = facts.limits[name];
    if (v === -1 || (v !== null && v >= min)) continue;
    fail(`limit ${name}`, `>= ${min}`, v === null ? null : String(v), `raise it for the broker's user: ${name} ${min} in /etc/security/limits.d/kafka.conf, or Limit${name === "nofile" ? "NOFILE" : "NPROC"}=${min} in its systemd unit`);
  }
  for (const k of ["enabled", "defrag"] as const) {
    const allowed = profile.thp[k];
    const v = facts.thp[k];
    if (allowed.length && !(v && allowed.includes(v)))
      fail(`transparent huge pages ${k}`, allowed.join(" or "), v, `echo ${allowed[0]} > /sys/kernel/mm/transparent_hugepage/${k}, and persist it (kernel command line transparent_hugepage=${allowed[0]})`);
  }
  if (facts.memoryGiB === null || facts.memoryGiB < profile.memory.minGiB)
    fail("memory", `>= ${profile.memory.minGiB} GiB`, facts.memoryGiB === null ? null : `${facts.memoryGiB} GiB`, "use a host with more memory: the page cache is Kafka's read path");
  if (facts.cpu.cores < profile.cpu.minCores) fail("CPU cores", `>= ${profile.cpu.minCores}`, String(facts.cpu.cores), "use a host with more cores");
  if (profile.cpuGovernors.length && !(facts.cpu.governor?.split(",").every((g) => profile.cpuGovernors.includes(g))))
    fail("CPU frequency governor", profile.cpuGovernors.join(" or "), facts.cpu.governor, `cpupower frequency-set -g ${profile.cpuGovernors[0]} (or the firmware's performance profile)`);
  if (profile.clockSync && facts.clock.synchronized !== true)
    fail("clock synchronisation", "synchronised (NTP)", facts.clock.synchronized === null ? null : `not synchronised (${facts.clock.source})`, "install and enable chrony (apt-get install -y chrony), and check chronyc tracking");
  return out;
}

/** The deviations that fail preflight: `fail` always, `unknown` too when strict. */
export const failing = (devs: readonly Deviation[], strict: boolean): Deviation[] => devs.filter((d) => d.status === "fail" || strict);

/** Deviations as terminal lines: what, expected, actual, and the change to make. */
export function renderDeviations(host: string, profile: string, devs: readonly Deviation[]): string {
  if (!devs.length) return `${host}: conforms to profile ${profile}\n`;
  const lines = [`${host}: ${devs.length} deviation(s) from profile ${profile}`];
  for (const d of devs) {
    lines.push(`  ${d.status === "fail" ? "✗" : "?"} ${d.check}: expected ${d.expected}, found ${d.actual}`);
    lines.push(`      change: ${d.fix}`);
  }
  return `${lines.join("\n")}\n`;
}
