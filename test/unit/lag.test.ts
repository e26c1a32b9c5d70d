import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Admin, sumLag } from "../../generators/drivers/driver.ts";
import { LagSampler } from "../../reports/lag.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "meshlab-lag-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("sumLag", () => {
  it("adds high watermark minus committed offset over partitions; no commit counts from the low watermark", () => {
    const ends = [
      { partition: 0, high: "100", low: "0" },
      { partition: 1, high: "50", low: "10" },
      { partition: 2, high: "7", low: "7" },
    ];
    expect(sumLag(ends, [{ partition: 0, offset: "90" }, { partition: 1, offset: "-1" }])).toBe(10 + 40 + 0);
    expect(sumLag(ends, [{ partition: 0, offset: "100" }, { partition: 1, offset: "50" }, { partition: 2, offset: "7" }])).toBe(0);
  });
});

describe("LagSampler", () => {
  it("appends one line per group per sample as it goes, skips failed samples and closes its admin", async () => {
    let calls = 0;
    let closed = false;
    // The admin is the seam here; the real one is exercised by the flagship integration run (lag.ndjson).
    const admin = {
      groupLag: async (group: string) => {
        calls++;
        if (group === "flaky" && calls % 2 === 0) throw new Error("broker down");
        return group === "a" ? 5 : 9;
      },
      close: async () => {
        closed = true;
      },
    } as unknown as Admin;
    let now = 1_000;
    const s = new LagSampler({
      file: join(dir, "lag.ndjson"),
      targets: [
        { label: "a", groupId: "a", topic: "t1", admin },
        { label: "flaky", groupId: "flaky", topic: "t2", admin },
      ],
      originMs: 0,
      intervalMs: 5,
      now: () => (now += 1000),
    });
    await new Promise((r) => setTimeout(r, 80));
    await s.stop();
    expect(closed).toBe(true);
    const lines = readFileSync(join(dir, "lag.ndjson"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(s.samples).toBeGreaterThan(3);
    expect(lines.filter((l) => l.group === "a")).toHaveLength(s.samples);
    expect(lines.filter((l) => l.group === "flaky").length).toBe(s.samples - s.failures);
    expect(s.failures).toBeGreaterThan(0);
    expect(lines[0]).toEqual({ tMs: 2000, group: "a", lag: 5 });
    const n = lines.length;
    await new Promise((r) => setTimeout(r, 30));
    expect(readFileSync(join(dir, "lag.ndjson"), "utf8").trim().split("\n")).toHaveLength(n);
  });
});

describe("LagSampler with a region down", () => {
  it("keeps sampling the live cluster at its pace and backs off the dead one", async () => {
    const calls = { live: 0, dead: 0 };
    const closed: string[] = [];
    const admin = (name: "live" | "dead") =>
      ({
        groupLag: async () => {
          calls[name]++;
          if (name === "dead") throw new Error("all brokers down");
          return 1;
        },
        close: async () => {
          closed.push(name);
        },
      }) as unknown as Admin;
    const live = admin("live");
    const dead = admin("dead");
    const s = new LagSampler({
      file: join(dir, "lag.ndjson"),
      targets: [
        { label: "g@live", groupId: "g", topic: "t", admin: live },
        { label: "g@dead", groupId: "g", topic: "t", admin: dead },
      ],
      originMs: 0,
      intervalMs: 10,
    });
    await new Promise((r) => setTimeout(r, 400));
    await s.stop();
    expect(closed.sort()).toEqual(["dead", "live"]);
    // About 40 rounds for the live cluster; the dead one is asked at 20, 40, 80, 160 ... ms gaps: a handful.
    expect(calls.live).toBeGreaterThan(15);
    expect(calls.dead).toBeLessThanOrEqual(6);
    const lines = readFileSync(join(dir, "lag.ndjson"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(lines.every((l) => l.group === "g@live")).toBe(true);
    expect(lines).toHaveLength(calls.live);
  });
});

describe("LagSampler with a region that is gone", () => {
  it("does not ask a target whose cluster is down, and resumes when it is back", async () => {
    let up = false;
    const asked: string[] = [];
    const admin = {
      groupLag: async (group: string) => {
        asked.push(group);
        return 1;
      },
      close: async () => {},
    } as unknown as Admin;
    const s = new LagSampler({
      file: join(dir, "lag.ndjson"),
      targets: [
        { label: "g@syd", groupId: "g", topic: "t", admin, live: () => up },
        { label: "g@mel", groupId: "h", topic: "t", admin, live: () => true },
      ],
      originMs: 0,
      intervalMs: 60_000,
    });
    await s.stop();
    expect(asked).toEqual(["h"]);
    up = true;
    await s.sample();
    expect(asked.sort()).toEqual(["g", "h", "h"]);
    expect(readFileSync(join(dir, "lag.ndjson"), "utf8").trim().split("\n")).toHaveLength(3);
  });
});
