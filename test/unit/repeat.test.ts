import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ExitCode } from "../../lab/errors.ts";
import { repeatedRuns } from "../../reports/run-data.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const cli = (args: string[]) => spawnSync(process.execPath, ["--disable-warning=ExperimentalWarning", join(ROOT, "lab/cli.ts"), ...args], { encoding: "utf8" });

/** `run --repeat` refuses bad input before anything is stood up (the runs themselves: test/integration/compare-noise). */
describe("./meshlab run --repeat, bad input", { timeout: 60_000 }, () => {
  it("lists every bad option at once, --repeat among them, and exits 2", () => {
    const r = cli(["run", "clearance-smoke", "--repeat", "two", "--rate", "fast"]);
    expect(r.status).toBe(ExitCode.badInput);
    expect(r.stderr).toContain("--rate fast: expected a number >= 0.001");
    expect(r.stderr).toContain("--repeat two: expected an integer >= 1");
    expect(cli(["run", "clearance-smoke", "--repeat", "0"]).stderr).toContain("--repeat 0: expected an integer >= 1");
  });

  it("refuses a scenario that runs variants already", () => {
    const r = cli(["run", "heartbeat-incident", "--repeat", "2"]);
    expect(r.status).toBe(ExitCode.badInput);
    expect(r.stderr).toContain("--repeat 2: heartbeat-incident runs variants already");
  });

  it("refuses a set directory that holds anything, and leaves it as it was", () => {
    const dir = mkdtempSync(join(tmpdir(), "meshlab-repeat-"));
    writeFileSync(join(dir, "keep.txt"), "earlier");
    const r = cli(["run", "clearance-smoke", "--repeat", "3", "--out", dir]);
    expect(r.status).toBe(ExitCode.badInput);
    expect(r.stderr).toContain(`run directory ${dir} is not empty`);
    expect(readFileSync(join(dir, "keep.txt"), "utf8")).toBe("earlier");
    rmSync(dir, { recursive: true, force: true });
  });
});

describe("repeatedRuns", () => {
  it("lists rep-1..N in numeric order, and nothing for a run directory or a folder without reps", () => {
    const dir = mkdtempSync(join(tmpdir(), "meshlab-reps-"));
    for (const r of ["rep-10", "rep-2", "rep-1", "notes"]) mkdirSync(join(dir, r));
    writeFileSync(join(dir, "rep-3"), "a file, not a run");
    expect(repeatedRuns(dir)).toEqual([join(dir, "rep-1"), join(dir, "rep-2"), join(dir, "rep-10")]);
    expect(repeatedRuns(join(dir, "notes"))).toBeUndefined();
    writeFileSync(join(dir, "result.json"), "{}");
    expect(repeatedRuns(dir)).toBeUndefined();
    rmSync(dir, { recursive: true, force: true });
  });
});
