import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { checkHost } from "../../hardware/check.ts";
import { factsScript, parseFacts } from "../../hardware/facts.ts";
import { loadProfile } from "../../hardware/profile.ts";
import { sshScript } from "../../hardware/ssh.ts";
import { startTestHosts } from "../../hardware/testhosts.ts";

const sh = (cmd: string) => spawnSync("sh", ["-c", cmd], { encoding: "utf8" }).stdout;

describe("namespaced test hosts (root)", () => {
  it("three hosts with their own sshd and XFS volume pass the test-host profile over SSH, and leave nothing behind", async () => {
    const dir = mkdtempSync(join(tmpdir(), "meshlab-testhosts-"));
    const th = await startTestHosts({ count: 3, dir });
    const names = th.hosts.map((h) => h.netns);
    try {
      for (const h of th.hosts) {
        const facts = parseFacts(await sshScript(h, factsScript(h.dataDir)), h.dataDir);
        expect(facts.data).toMatchObject({ fsType: "xfs", source: h.loopDevice, deviceClass: "loop" });
        expect(facts.data.mountOptions).toContain("noatime");
        expect(checkHost(loadProfile("test-host"), facts)).toEqual([]);
      }
      // Hosts reach each other over their own addresses.
      const [a, b] = th.hosts as [(typeof th.hosts)[number], (typeof th.hosts)[number]];
      expect(await sshScript(a, `bash -c 'exec 3<>/dev/tcp/${b.address}/22 && echo reached'`)).toContain("reached");
    } finally {
      await th[Symbol.asyncDispose]();
    }
    const netns = sh("ip netns list");
    for (const n of names) expect(netns).not.toContain(n);
    expect(sh("losetup -a")).not.toContain(dir);
    expect(sh("cat /proc/self/mountinfo")).not.toContain(dir);
    expect(sh("ip -o link")).not.toMatch(/mlb|mlv/);
  });

  it("a start that fails half-way undoes what it made", async () => {
    const dir = mkdtempSync(join(tmpdir(), "meshlab-testhosts-"));
    await expect(startTestHosts({ count: 1, dir, sshd: "/nonexistent/sshd" })).rejects.toThrow(/sshd/);
    expect(sh("ip netns list")).not.toMatch(/^ml-/m);
    expect(sh("losetup -a")).not.toContain(dir);
    expect(sh("cat /proc/self/mountinfo")).not.toContain(dir);
  });
});
