import { spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { reapOrphans, Supervisor } from "../../lab/proc.ts";
import { alive, ROOT, tempDir } from "./helpers.ts";

const startTime = (pid: number): string => {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? "";
};
const waitGone = async (pid: number) => {
  for (let i = 0; i < 50 && alive(pid); i++) await new Promise((r) => setTimeout(r, 100));
};

/** Process supervision on real OS processes (no mesh needed). */
describe("process supervision", () => {
  it("stops a process group, also a paused one, and stop() can be called twice", async () => {
    const sup = new Supervisor(`test-stop-${process.pid}`, tempDir("state"));
    const h = sup.spawn("sleeper", ["sh", "-c", "sleep 300 & sleep 300"], { logFile: join(tempDir("log"), "s.log"), stopGraceMs: 2_000 });
    await new Promise((r) => setTimeout(r, 200));
    h.signal("SIGSTOP");
    await h.stop();
    await h.stop();
    expect(h.running()).toBe(false);
    expect(alive(h.pid)).toBe(false);
    await sup.stopAll();
  });

  it("tells a crash (a failure nobody asked for) from a stop, a fault's kill and a clean exit, with the log's last lines", async () => {
    const heard: string[] = [];
    const sup = new Supervisor(`test-crash-${process.pid}`, tempDir("state"), (c) => heard.push(c.name));
    const log = (n: string) => ({ logFile: join(tempDir("log"), `${n}.log`) });
    const crasher = sup.spawn("crasher", ["sh", "-c", "sleep 0.2; echo 'KafkaJSError: Assignment can only be called while connected.'; exit 7"], log("crasher"));
    const killed = sup.spawn("killed", ["sleep", "300"], log("killed"));
    const stopped = sup.spawn("stopped", ["sleep", "300"], log("stopped"));
    const clean = sup.spawn("clean", ["true"], log("clean"));
    const paused = sup.spawn("paused", ["sleep", "300"], log("paused"));
    paused.signal("SIGSTOP");
    paused.signal("SIGCONT");
    killed.signal("SIGKILL");
    await Promise.all([crasher.exited, killed.exited, stopped.stop(), clean.exited]);
    paused.signal("SIGSEGV"); // a signal the lab sends is asked for too
    await paused.exited;
    await new Promise((r) => setTimeout(r, 200)); // the log tail is read after the exit
    expect(heard).toEqual(["crasher"]);
    expect(sup.crashes()).toMatchObject([{ name: "crasher", code: 7, signal: null }]);
    expect(sup.crashes()[0]?.tail).toContain("Assignment can only be called while connected");
    await sup.stopAll();
    expect(sup.crashes()).toHaveLength(1);
  });

  it("a runner whose output pipe was closed (its parent gone) goes on and ends, not spinning on EPIPE", async () => {
    const script = `
      const { onInterrupt } = await import(${JSON.stringify(join(ROOT, "lab/interrupt.ts"))});
      const { Supervisor } = await import(${JSON.stringify(join(ROOT, "lab/proc.ts"))});
      const { warn } = await import(${JSON.stringify(join(ROOT, "lab/log.ts"))});
      onInterrupt(new Supervisor("test-epipe-" + process.pid, ${JSON.stringify(tempDir("state"))}), new AbortController(), "load");
      for (let i = 0; i < 50; i++) { warn("still running " + i); await new Promise((r) => setTimeout(r, 20)); }
      process.stdout.write("done\\n");
      process.exit(0);`;
    const child = spawn(process.execPath, ["--disable-warning=ExperimentalWarning", "--input-type=module", "-e", script], { stdio: ["ignore", "ignore", "pipe"] });
    child.stderr.destroy(); // the reader is gone: every write now fails with EPIPE
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r("still running after 15 s"), 15_000))]);
    if (code === "still running after 15 s") child.kill("SIGKILL");
    expect(code).toBe(0);
  });

  it("refuses to start anything once teardown began, so an abandoned stand-up cannot leak a process", async () => {
    const sup = new Supervisor(`test-closed-${process.pid}`, tempDir("state"));
    await sup.stopAll();
    expect(() => sup.spawn("late", ["sleep", "300"], { logFile: join(tempDir("log"), "late.log") })).toThrow(/teardown/);
  });

  it("a runner killed with SIGKILL takes its components with it (parent-death signal)", async () => {
    const state = tempDir("state");
    const script = `
      import { Supervisor } from ${JSON.stringify(new URL("../../lab/proc.ts", import.meta.url).pathname)};
      const s = new Supervisor("victim", ${JSON.stringify(state)});
      const h = s.spawn("sleeper", ["sleep", "300"], { logFile: ${JSON.stringify(join(state, "s.log"))} });
      console.log(h.pid);
      setInterval(() => {}, 1000);`;
    const runner = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
    const childPid = await new Promise<number>((resolve) => runner.stdout.once("data", (d: Buffer) => resolve(Number(d.toString().trim()))));
    expect(alive(childPid)).toBe(true);
    runner.kill("SIGKILL");
    await waitGone(childPid);
    expect(alive(childPid)).toBe(false);
  });

  it("reaps what a dead run recorded, and only processes matching pid, start time and command line", async () => {
    const state = tempDir("state");
    const orphan = spawn("sleep", ["301"], { detached: true, stdio: "ignore" });
    const bystander = spawn("sleep", ["302"], { detached: true, stdio: "ignore" });
    const o = orphan.pid ?? -1;
    const b = bystander.pid ?? -1;
    await new Promise((r) => setTimeout(r, 100));
    writeFileSync(
      join(state, "dead-run.json"),
      JSON.stringify({
        runId: "dead-run",
        runner: { pid: 999_999_999, startTime: "1" },
        processes: [
          { name: "orphan", pid: o, startTime: startTime(o), argv: ["sleep", "301"] },
          // Same pid and start time but another command line: pid reuse, not ours; it must be left alone.
          { name: "reused pid", pid: b, startTime: startTime(b), argv: ["java", "kafka.Kafka"] },
        ],
      }),
    );
    const reports = reapOrphans(state);
    expect(reports).toEqual([{ runId: "dead-run", killed: [`orphan (pid ${o})`] }]);
    await waitGone(o);
    expect(alive(o)).toBe(false);
    expect(alive(b)).toBe(true);
    expect(existsSync(join(state, "dead-run.json"))).toBe(false);
    process.kill(b, "SIGKILL");
  });

  it("leaves the processes of a run whose runner is still alive", async () => {
    const state = tempDir("state");
    const sleeper = spawn("sleep", ["303"], { detached: true, stdio: "ignore" });
    const s = sleeper.pid ?? -1;
    await new Promise((r) => setTimeout(r, 100));
    const runner = spawn("sleep", ["304"], { detached: true, stdio: "ignore" });
    const rp = runner.pid ?? -1;
    await new Promise((r) => setTimeout(r, 100));
    writeFileSync(
      join(state, "live-run.json"),
      JSON.stringify({
        runId: "live-run",
        runner: { pid: rp, startTime: startTime(rp) },
        processes: [{ name: "sleeper", pid: s, startTime: startTime(s), argv: ["sleep", "303"] }],
      }),
    );
    expect(reapOrphans(state)).toEqual([]);
    expect(alive(s)).toBe(true);
    process.kill(s, "SIGKILL");
    process.kill(rp, "SIGKILL");
  });
});
