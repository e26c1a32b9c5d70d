import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { checkHost, failing, versionAtLeast } from "../../hardware/check.ts";
import { factsScript, parseFacts, parseMountinfo, sections } from "../../hardware/facts.ts";
import { hostDifferences } from "../../hardware/diff.ts";
import { fioScript, parseDiskBaseline } from "../../hardware/disk.ts";
import { parseInventory } from "../../hardware/inventory.ts";
import { loadProfile, parseProfile } from "../../hardware/profile.ts";
import { sshArgv } from "../../hardware/ssh.ts";
import { BadInputError } from "../../lab/errors.ts";
import { compareMarkdown } from "../../reports/markdown.ts";

const recorded = (name: string) => readFileSync(new URL(`../fixtures/hostfacts/${name}`, import.meta.url), "utf8");

function problemsOf(f: () => unknown): readonly string[] {
  try {
    f();
  } catch (e) {
    if (e instanceof BadInputError) return e.problems;
    throw e;
  }
  throw new Error("accepted invalid input");
}

/** A tuned NVMe broker host, as the collector would print it. */
const nvmeHost = (over: Record<string, string> = {}): string => {
  const s: Record<string, string> = {
    hostname: "syd-b1",
    kernel: "6.1.0-18-amd64",
    cpuinfo: [0, 1, 2, 3].map((i) => `processor\t: ${i}\nmodel name\t: Intel(R) Xeon(R) Platinum 8375C`).join("\n"),
    meminfo: "MemTotal:       32654432 kB",
    governor: "performance",
    "sysctl vm.swappiness": "1",
    "sysctl vm.dirty_background_ratio": "5",
    "sysctl vm.dirty_ratio": "60",
    "sysctl vm.max_map_count": "262144",
    "sysctl net.core.somaxconn": "4096",
    "sysctl net.core.rmem_max": "2097152",
    "sysctl net.core.wmem_max": "2097152",
    "sysctl net.ipv4.tcp_rmem": "4096\t65536\t2097152",
    "sysctl net.ipv4.tcp_wmem": "4096\t65536\t2097152",
    "sysctl net.ipv4.tcp_window_scaling": "1",
    "sysctl net.ipv4.tcp_max_syn_backlog": "4096",
    limits: "Limit  Soft Limit  Hard Limit  Units\nMax processes             65536                65536                processes\nMax open files            100000               100000               files",
    "thp.enabled": "always madvise [never]",
    "thp.defrag": "always defer defer+madvise [madvise] never",
    timedatectl: "yes",
    datadir: "/var/lib/kafka",
    mountinfo: "22 1 259:1 / / rw,relatime - ext4 /dev/nvme0n1p1 rw\n40 22 259:3 / /var/lib/kafka rw,noatime - xfs /dev/nvme1n1 rw,attr2,inode64,logbufs=8,noquota",
    blockdevs: "nvme0n1|259:0|[none] mq-deadline|0\nnvme0n1p1|259:1|[none] mq-deadline|0\nnvme1n1|259:3|[none] mq-deadline|0",
    ...over,
  };
  return Object.entries(s)
    .map(([k, v]) => `\n@@meshlab ${k}\n${v}`)
    .join("\n");
};

describe("host facts: a pure parser over the collector's output", () => {
  it("reads a recorded XFS volume on a loop device: mount point, options, device class, scheduler", () => {
    const f = parseFacts(recorded("vm-xfs-loop.txt"), "/tmp/ml12x/mnt/kafka");
    expect(f.data).toMatchObject({ resolved: "/tmp/ml12x/mnt", mountPoint: "/tmp/ml12x/mnt", source: "/dev/loop0", fsType: "xfs", device: "loop0", deviceClass: "loop" });
    expect(f.data.mountOptions).toEqual(expect.arrayContaining(["noatime", "inode64"]));
    expect(f.data.scheduler).not.toBeNull();
    expect(f.kernel).toMatch(/^\d+\.\d+/);
    expect(f.cpu.cores).toBeGreaterThan(0);
    expect(f.sysctls["vm.swappiness"]).toMatch(/^\d+$/);
    expect(f.limits.nofile).toBeGreaterThan(0);
    expect(f.clock.synchronized).toBeNull(); // no timedatectl or chronyc answered on that machine
  });

  it("reads a recorded ext4 root: the nearest mount of a directory that does not exist yet", () => {
    const f = parseFacts(recorded("vm-ext4.txt"), "/work/wt-issue12/runs");
    expect(f.data).toMatchObject({ mountPoint: "/", fsType: "ext4", source: "/dev/vda", device: "vda" });
  });

  it("picks the longest mount point, unescapes paths and merges per-mount and superblock options", () => {
    const m = parseMountinfo("1 0 8:1 / / rw - ext4 /dev/sda1 rw\n2 1 8:2 / /data\\040disk rw,noatime - xfs /dev/sda2 rw,inode64\nbad line");
    expect(m.map((x) => x.mountPoint)).toEqual(["/", "/data disk"]);
    expect(m[1]?.options).toEqual(["rw", "noatime", "inode64"]);
  });

  it("takes THP modes and the scheduler from the bracketed value, and -1 for unlimited limits", () => {
    const f = parseFacts(nvmeHost({ limits: "Max processes  unlimited  unlimited  processes\nMax open files  100000 100000 files" }), "/var/lib/kafka/data");
    expect(f.thp).toEqual({ enabled: "never", defrag: "madvise" });
    expect(f.data).toMatchObject({ device: "nvme1n1", deviceClass: "nvme", scheduler: "none", rotational: false });
    expect(f.limits).toEqual({ nofile: 100000, nproc: -1 });
    expect(f.sysctls["net.ipv4.tcp_rmem"]).toBe("4096 65536 2097152");
    expect(f.memoryGiB).toBe(31.1);
  });

  it("the collector script quotes the data directory and only reads", () => {
    const s = factsScript("/data/it's here");
    expect(s).toContain(`'/data/it'\\''s here'`);
    expect(s).not.toMatch(/sysctl -w|echo .*>|mount -o|rm /);
    expect([...sections("x\n@@meshlab a\n1\n@@meshlab b\n\n2\n").entries()]).toEqual([["a", "1"], ["b", "2"]]);
  });
});

describe("checks against a profile", () => {
  const nvme = loadProfile("nvme-broker");

  it("a host tuned as the seed's target conforms", () => {
    expect(checkHost(nvme, parseFacts(nvmeHost(), "/var/lib/kafka"))).toEqual([]);
  });

  it("names every deviation with the change that fixes it", () => {
    const f = parseFacts(
      nvmeHost({
        "sysctl vm.swappiness": "60",
        "sysctl net.ipv4.tcp_rmem": "4096 131072 6291456",
        "sysctl net.ipv4.tcp_wmem": "4096 16384 4194304",
        mountinfo: "22 1 259:1 / / rw - ext4 /dev/nvme0n1p1 rw\n40 22 259:3 / /var/lib/kafka rw,relatime - xfs /dev/nvme1n1 rw,nobarrier",
        "thp.enabled": "[always] madvise never",
        timedatectl: "no",
      }),
      "/var/lib/kafka",
    );
    const devs = checkHost(nvme, f);
    expect(devs.map((d) => d.check)).toEqual(["mount option noatime on /var/lib/kafka", "mount option nobarrier on /var/lib/kafka", "sysctl vm.swappiness", "transparent huge pages enabled", "clock synchronisation"]);
    expect(devs.every((d) => d.status === "fail" && d.fix.length > 10)).toBe(true);
    expect(devs.find((d) => d.check === "sysctl vm.swappiness")?.fix).toContain('sysctl -w vm.swappiness="1"');
  });

  it("checks one field of a multi-valued sysctl and suggests the whole value", () => {
    const devs = checkHost(nvme, parseFacts(nvmeHost({ "sysctl net.ipv4.tcp_wmem": "4096 16384 4194304", "sysctl net.ipv4.tcp_rmem": "4096 65536 1048576" }), "/var/lib/kafka"));
    expect(devs).toHaveLength(1);
    expect(devs[0]).toMatchObject({ check: "sysctl net.ipv4.tcp_rmem", expected: "field 3 >= 2097152", actual: "4096 65536 1048576" });
    expect(devs[0]?.fix).toContain('"4096 65536 2097152"');
  });

  it("facts that could not be read are unknown: a warning, a failure only when strict", () => {
    const devs = checkHost(nvme, parseFacts(nvmeHost({ governor: "", timedatectl: "" }), "/var/lib/kafka"));
    expect(devs.map((d) => [d.check, d.status])).toEqual([
      ["CPU frequency governor", "unknown"],
      ["clock synchronisation", "unknown"],
    ]);
    expect(failing(devs, false)).toEqual([]);
    expect(failing(devs, true)).toHaveLength(2);
  });

  it("the recorded ext4 machine fails the broker profile on filesystem, device and tuning", () => {
    const devs = checkHost(nvme, parseFacts(recorded("vm-ext4.txt"), "/work/wt-issue12/runs"));
    expect(devs.map((d) => d.check)).toEqual(expect.arrayContaining(["filesystem of /work/wt-issue12/runs", "device under /work/wt-issue12/runs", "sysctl vm.swappiness"]));
  });

  it("the recorded XFS loop volume passes the test-host profile", () => {
    expect(checkHost(loadProfile("test-host"), parseFacts(recorded("vm-xfs-loop.txt"), "/tmp/ml12x/mnt/kafka"))).toEqual([]);
  });

  it("compares kernel versions numerically", () => {
    expect(versionAtLeast("6.1.0-18-amd64", "5.10")).toBe(true);
    expect(versionAtLeast("5.4.0", "5.10")).toBe(false);
    expect(versionAtLeast("garbage", "5.10")).toBeNull();
  });
});

describe("profile validation", () => {
  it("both shipped profiles are valid", () => {
    expect(loadProfile("nvme-broker").data.filesystems).toEqual(["xfs"]);
    expect(loadProfile("test-host").clockSync).toBe(false);
  });

  it("reports every problem at once, with its path", () => {
    const p = JSON.parse(JSON.stringify(loadProfile("nvme-broker")));
    p.sysctls["vm.swappiness"] = {};
    p.sysctls["vm.dirty_ratio"] = { min: 90, max: 80 };
    p.sysctls.Bad = { min: 1 };
    p.data.deviceClass = "floppy";
    p.data.mountOptions.forbid.push("noatime");
    p.extra = 1;
    expect(problemsOf(() => parseProfile(p, "p"))).toEqual(
      expect.arrayContaining([
        "p.extra: unknown key (allowed: name, description, data, sysctls, limits, thp, clockSync, cpuGovernors, kernel, cpu, memory)",
        'p.data.deviceClass: "floppy" is not one of "nvme", "ssd", "hdd", "loop", "any"',
        "p.sysctls.vm.swappiness: needs min, max or equals",
        "p.sysctls.vm.dirty_ratio: min 90 is above max 80",
        'p.sysctls.Bad: "Bad" is not a sysctl name (e.g. vm.swappiness)',
        'p.data.mountOptions: "noatime" is both required and forbidden',
      ]),
    );
  });
});

describe("inventory validation", () => {
  const host = (name: string, address: string, extra: object = {}) => ({ name, address, az: "az1", roles: ["broker", "controller"], dataDir: "/var/lib/kafka", profile: "nvme-broker", ...extra });

  it("fills SSH defaults and resolves key paths against the inventory's directory", () => {
    const inv = parseInventory({ name: "syd", ssh: { user: "kafka", key: "keys/id" }, hosts: [host("b1", "10.0.0.1", { device: "/dev/nvme1n1" }), host("b2", "10.0.0.2", { port: 2222 })] }, "inv", "/etc/meshlab");
    expect(inv.hosts.map((h) => [h.user, h.key, h.port, h.device, h.knownHosts])).toEqual([
      ["kafka", "/etc/meshlab/keys/id", 22, "/dev/nvme1n1", null],
      ["kafka", "/etc/meshlab/keys/id", 2222, null, null],
    ]);
  });

  it("reports every problem at once, with its path", () => {
    const problems = problemsOf(() =>
      parseInventory({ name: "syd", hosts: [host("b1", "10.0.0.1"), host("b1", "10.0.0.1", { roles: ["chef"], profile: "laptop", dataDir: "var", device: "nvme0" }), { name: "b3" }] }, "inv"),
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        'inv.hosts[1].name: host "b1" appears twice',
        "inv.hosts[1].address: 10.0.0.1:22 is another host's too",
        'inv.hosts[1].roles[0]: "chef" is not one of "broker", "controller", "registry", "toxiproxy", "mirrormaker", "redis", "generator"',
        'inv.hosts[1].profile: no profile "laptop" (profiles: nvme-broker, test-host)',
        'inv.hosts[1].dataDir: "var" is not an absolute path',
        'inv.hosts[1].device: "nvme0" is not a device path such as /dev/nvme0n1',
        "inv.hosts[2].address: required",
        "inv.hosts[2].az: required",
      ]),
    );
  });

  it("ssh never prompts, and checks host keys strictly against the inventory's known_hosts", () => {
    const [h] = parseInventory({ name: "t", ssh: { knownHosts: "/tmp/kh" }, hosts: [host("b1", "198.18.0.10")] }).hosts;
    expect(sshArgv(h as NonNullable<typeof h>, "sh -s")).toEqual(["ssh", "-i", `${process.env.HOME}/.ssh/id_ed25519`, "-p", "22", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-o", "LogLevel=ERROR", "-o", "UserKnownHostsFile=/tmp/kh", "-o", "StrictHostKeyChecking=yes", "root@198.18.0.10", "sh -s"]);
  });
});

describe("host facts across runs", () => {
  const facts = (over: Record<string, string> = {}) => parseFacts(nvmeHost(over), "/var/lib/kafka");

  it("two runs on the same host facts have no differences, whatever their data directories", () => {
    expect(hostDifferences([{ name: "local", facts: facts() }], [{ name: "local", facts: { ...facts(), data: { ...facts().data, path: "/elsewhere", resolved: "/elsewhere" } } }])).toEqual([]);
  });

  it("names each fact that differs, and a host only one run had", () => {
    const d = hostDifferences([{ name: "b1", facts: facts() }], [{ name: "b1", facts: facts({ "sysctl vm.swappiness": "60", kernel: "6.12.0" }) }, { name: "b2", facts: facts() }]);
    expect(d).toEqual([
      { host: "b1", fact: "kernel", baseline: "6.1.0-18-amd64", candidate: "6.12.0" },
      { host: "b1", fact: "sysctls.vm.swappiness", baseline: "1", candidate: "60" },
      { host: "b2", fact: "host", baseline: "absent", candidate: "present" },
    ]);
    expect(hostDifferences(undefined, [{ name: "b1", facts: facts() }])).toEqual([]);
  });

  it("compare's Markdown says when a candidate ran on different host facts", () => {
    const md = compareMarkdown({ metric: "clearance", baseline: "a", baselineRuns: ["a"], candidates: ["b"], candidateRuns: { b: ["b"] }, noiseEstimated: false, noiseFloor: 3, notes: [], rows: [], verdict: "same", method: "m", resamples: 100, minEffect: 0.05, hostDifferences: [{ candidate: "b", differences: [{ host: "local", fact: "data.fsType", baseline: "xfs", candidate: "ext4" }] }] });
    expect(md).toContain("**b ran on different host facts than the baseline** (1)");
    expect(md).toContain("| local | data.fsType | xfs | ext4 |");
  });
});

describe("disk baseline (fio)", () => {
  it("reads fsync latency and sequential throughput from fio's recorded JSON", () => {
    const b = parseDiskBaseline(recorded("fio-vm-ext4.txt"), "/tmp/ml12d/x");
    expect(b.fio).toMatch(/^fio-3\./);
    expect(b.fsync.count).toBe(4095);
    expect(b.fsync.p50Ms).toBeGreaterThan(0);
    expect(b.fsync.p99Ms).toBeGreaterThanOrEqual(b.fsync.p50Ms);
    expect(b.fsync.maxMs).toBeGreaterThanOrEqual(b.fsync.p99Ms);
    expect(b.sequentialWriteMBps).toBeGreaterThan(1);
  });

  it("the fio script works in a scratch file it always removes", () => {
    const s = fioScript("/data/kafka");
    expect(s).toContain("--fsync=1");
    expect(s).toContain("--filename='/data/kafka/.meshlab-fio'");
    expect(s).toMatch(/trap 'rm -f \/data\/kafka\/\.meshlab-fio' EXIT/);
  });
});
