import type { DeviceClass } from "./profile.ts";

/**
 * What a host is, as recorded in every result: the data volume (device, filesystem, mount options, scheduler),
 * kernel parameters, limits, CPU and clock. Collected by one POSIX shell script (the same locally and over SSH)
 * that prints raw /proc and /sys contents in sections; `parseFacts` turns that text into facts, so the logic is
 * tested on recorded output and the script stays dumb. A fact that could not be read is `null`, never a guess.
 */
export interface HostFacts {
  hostname: string;
  kernel: string;
  cpu: { model: string; cores: number; governor: string | null };
  memoryGiB: number | null;
  data: DataVolumeFacts;
  /** Raw values by sysctl name (`vm.swappiness` -> "60"); a parameter the kernel does not have is left out. */
  sysctls: Record<string, string>;
  /** Soft limits of the shell the lab starts processes from; `unlimited` as -1. */
  limits: { nofile: number | null; nproc: number | null };
  thp: { enabled: string | null; defrag: string | null };
  clock: { synchronized: boolean | null; source: string };
}

export interface DataVolumeFacts {
  /** The data directory asked about, and the existing directory the facts are of (its nearest existing ancestor). */
  path: string;
  resolved: string;
  mountPoint: string | null;
  source: string | null;
  fsType: string | null;
  /** Per-mount and superblock options together (`noatime`, `attr2`, `inode64` ...). */
  mountOptions: string[];
  /** Kernel name of the block device (`nvme0n1p1`, `loop3`); null for a filesystem without one (tmpfs, overlay). */
  device: string | null;
  deviceClass: DeviceClass | null;
  scheduler: string | null;
  rotational: boolean | null;
}

/** Every sysctl a result records, whatever the profile (so two runs can always be compared). */
export const RECORDED_SYSCTLS = [
  "vm.swappiness",
  "vm.dirty_background_ratio",
  "vm.dirty_ratio",
  "vm.max_map_count",
  "vm.overcommit_memory",
  "net.core.somaxconn",
  "net.core.rmem_max",
  "net.core.wmem_max",
  "net.core.netdev_max_backlog",
  "net.ipv4.tcp_rmem",
  "net.ipv4.tcp_wmem",
  "net.ipv4.tcp_window_scaling",
  "net.ipv4.tcp_max_syn_backlog",
  "fs.file-max",
];

const MARK = "@@meshlab ";

/** Single-quotes a word for a POSIX shell. */
export const shq = (s: string): string => `'${s.replaceAll("'", `'\\''`)}'`;

/**
 * The collector: a POSIX sh script that only reads (no root needed, nothing changed), for the data directory
 * `dataDir` and the sysctls `keys`. Run it with `sh -c` locally or `sh -s` over SSH.
 */
export function factsScript(dataDir: string, keys: readonly string[] = RECORDED_SYSCTLS): string {
  return [
    `sec() { printf '\\n%s%s\\n' '${MARK}' "$1"; }`,
    "sec hostname; hostname",
    "sec kernel; uname -r",
    "sec cpuinfo; grep -E '^(processor|model name)' /proc/cpuinfo",
    "sec meminfo; grep -E '^MemTotal' /proc/meminfo",
    "sec governor; cat /sys/devices/system/cpu/cpu*/cpufreq/scaling_governor 2>/dev/null | sort -u",
    ...keys.map((k) => `sec ${shq(`sysctl ${k}`)}; cat ${shq(`/proc/sys/${k.replaceAll(".", "/")}`)} 2>/dev/null`),
    "sec limits; cat /proc/self/limits",
    "sec thp.enabled; cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null",
    "sec thp.defrag; cat /sys/kernel/mm/transparent_hugepage/defrag 2>/dev/null",
    "sec timedatectl; timedatectl show -p NTPSynchronized --value 2>/dev/null",
    "sec chronyc; chronyc -n tracking 2>/dev/null | grep -i '^leap status'",
    `sec datadir; d=${shq(dataDir)}; while [ ! -e "$d" ]; do d=$(dirname "$d"); done; readlink -f "$d"`,
    "sec mountinfo; cat /proc/self/mountinfo",
    // One line per block device: name|major:minor|scheduler|rotational (a partition's queue is its disk's).
    "sec blockdevs; for b in /sys/class/block/*; do r=$(readlink -f \"$b\"); q=$r/queue; [ -d \"$q\" ] || q=$(dirname \"$r\")/queue;" +
      ' printf \'%s|%s|%s|%s\\n\' "$(basename "$b")" "$(cat "$r/dev" 2>/dev/null)" "$(cat "$q/scheduler" 2>/dev/null)" "$(cat "$q/rotational" 2>/dev/null)"; done',
    "",
  ].join("\n");
}

/** Splits the collector's output into its sections. */
export function sections(raw: string): Map<string, string> {
  const out = new Map<string, string>();
  let name: string | undefined;
  let lines: string[] = [];
  const flush = () => {
    if (name !== undefined) out.set(name, lines.join("\n").trim());
  };
  for (const line of raw.split("\n")) {
    if (line.startsWith(MARK)) {
      flush();
      name = line.slice(MARK.length).trim();
      lines = [];
    } else lines.push(line);
  }
  flush();
  return out;
}

/** `[never] madvise always` -> "never". */
export const bracketed = (s: string | undefined): string | null => /\[([^\]]+)\]/.exec(s ?? "")?.[1] ?? (s?.trim() || null);

/** Octal escapes in mountinfo paths (`\040` is a space). */
const unescapeMount = (s: string): string => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));

interface Mount {
  dev: string;
  mountPoint: string;
  options: string[];
  fsType: string;
  source: string;
}

/** /proc/self/mountinfo lines (man 5 proc): id parent major:minor root mountpoint options [optional...] - fstype source superoptions. */
export function parseMountinfo(text: string): Mount[] {
  const out: Mount[] = [];
  for (const line of text.split("\n")) {
    const f = line.trim().split(" ");
    const dash = f.indexOf("-");
    if (dash < 6 || f.length < dash + 3) continue;
    const opts = [...(f[5] ?? "").split(","), ...(f[dash + 3] ?? "").split(",")].filter(Boolean);
    out.push({ dev: f[2] as string, mountPoint: unescapeMount(f[4] as string), options: [...new Set(opts)], fsType: f[dash + 1] as string, source: unescapeMount(f[dash + 2] as string) });
  }
  return out;
}

/** The mount a path lives on: the longest mount point that is a prefix of it (the last one mounted, if stacked). */
export function mountOf(mounts: readonly Mount[], path: string): Mount | undefined {
  let best: Mount | undefined;
  for (const m of mounts) {
    const inside = m.mountPoint === "/" || path === m.mountPoint || path.startsWith(`${m.mountPoint}/`);
    if (inside && (!best || m.mountPoint.length >= best.mountPoint.length)) best = m;
  }
  return best;
}

export function deviceClassOf(name: string, rotational: boolean | null): DeviceClass | null {
  if (name.startsWith("nvme")) return "nvme";
  if (name.startsWith("loop")) return "loop";
  if (rotational === null) return null;
  return rotational ? "hdd" : "ssd";
}

const intOrNull = (s: string | undefined): number | null => {
  const t = s?.trim();
  if (!t) return null;
  if (t === "unlimited") return -1;
  const n = Number(t);
  return Number.isInteger(n) ? n : null;
};

/** The soft limit of one row of /proc/<pid>/limits ("Max open files  20000  20000  files"). */
const softLimit = (limits: string | undefined, row: string): number | null =>
  intOrNull(
    (limits ?? "")
      .split("\n")
      .find((l) => l.startsWith(row))
      ?.slice(row.length)
      .trim()
      .split(/\s+/)[0],
  );

/** Parses the collector's output (factsScript) into facts; `dataDir` is the directory that was asked about. */
export function parseFacts(raw: string, dataDir: string): HostFacts {
  const s = sections(raw);
  const cpuinfo = s.get("cpuinfo") ?? "";
  const memKb = /MemTotal:\s+(\d+)\s*kB/.exec(s.get("meminfo") ?? "")?.[1];
  const governors = (s.get("governor") ?? "").split("\n").filter(Boolean);
  const sysctls: Record<string, string> = {};
  for (const [k, v] of s) if (k.startsWith("sysctl ") && v) sysctls[k.slice(7)] = v.replace(/\s+/g, " ");
  const resolved = s.get("datadir") || dataDir;
  const mount = mountOf(parseMountinfo(s.get("mountinfo") ?? ""), resolved);
  const block = (s.get("blockdevs") ?? "")
    .split("\n")
    .map((l) => l.split("|"))
    .find((f) => mount && f[1] === mount.dev && !mount.dev.startsWith("0:"));
  const rotational = block?.[3] === "1" ? true : block?.[3] === "0" ? false : null;
  const ntp = s.get("timedatectl");
  const chrony = s.get("chronyc");
  const clock: HostFacts["clock"] =
    ntp === "yes" || ntp === "no"
      ? { synchronized: ntp === "yes", source: "timedatectl" }
      : chrony
        ? { synchronized: /normal/i.test(chrony), source: "chronyc" }
        : { synchronized: null, source: "none (no timedatectl or chronyc answered)" };
  return {
    hostname: s.get("hostname") ?? "unknown",
    kernel: s.get("kernel") ?? "unknown",
    cpu: {
      model: /model name\s*:\s*(.+)/.exec(cpuinfo)?.[1]?.trim() ?? "unknown",
      cores: cpuinfo.split("\n").filter((l) => l.startsWith("processor")).length,
      governor: governors.length ? governors.join(",") : null,
    },
    memoryGiB: memKb ? Math.round((Number(memKb) / 2 ** 20) * 10) / 10 : null,
    data: {
      path: dataDir,
      resolved,
      mountPoint: mount?.mountPoint ?? null,
      source: mount?.source ?? null,
      fsType: mount?.fsType ?? null,
      mountOptions: mount?.options ?? [],
      device: block?.[0] ?? null,
      deviceClass: block ? deviceClassOf(block[0] as string, rotational) : null,
      scheduler: bracketed(block?.[2]),
      rotational,
    },
    sysctls,
    limits: { nofile: softLimit(s.get("limits"), "Max open files"), nproc: softLimit(s.get("limits"), "Max processes") },
    thp: { enabled: bracketed(s.get("thp.enabled")), defrag: bracketed(s.get("thp.defrag")) },
    clock,
  };
}
