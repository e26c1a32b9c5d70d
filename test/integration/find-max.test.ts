import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { FindMaxResult } from "../../lab/find-max.ts";
import { judgeStep } from "../../reports/find-max.ts";
import { meshlab, tempDir } from "./helpers.ts";

/** A short search on one (plaintext) region, through the real entry point: two steps, then the answer. */
describe("./meshlab run clearance-smoke --find-max", () => {
  it("steps the rate up on one mesh, judges each step, and reports the highest rate held and Kafka's capacity", async () => {
    const out = join(tempDir("find-max"), "out");
    const cli = meshlab(["run", "clearance-smoke", "--find-max", "--security", "plaintext", "--rate", "10", "--duration", "4s", "--max-steps", "2", "--capacity-records", "10000", "--out", out]);
    const code = await cli.exited;
    const r = JSON.parse(readFileSync(join(out, "find-max.json"), "utf8")) as FindMaxResult;
    expect(r.status, cli.output()).toBe("completed");
    expect(r.steps.map((s) => s.rate)).toEqual(r.steps[0]?.held ? [10, 20] : [10, 5]);
    for (const s of r.steps) {
      // Each step warms up until steady (at least 5 s, the scenario's 10 s capped; at most 20 s), then holds its
      // rate for 4 s; a step whose warm-up never settles measures nothing and is not held.
      expect(s.settled, JSON.stringify(s)).toBeDefined();
      if (s.settled) {
        expect(s.warmupMs).toBeGreaterThanOrEqual(5_000);
        expect(s.intended).toBe(s.rate * 4);
      } else expect([s.intended, s.held, s.warmupMs]).toEqual([0, false, 20_000]);
      expect(judgeStep(s, { p99Ms: 300, startRate: 10 }).held).toBe(s.held);
      if (s.settled) expect(s.heldMs).toBe(4_000);
    }
    const held = r.steps.filter((s) => s.held).map((s) => s.rate);
    expect(r.maxHeldRate).toBe(held.length ? Math.max(...held) : null);
    expect(code).toBe(r.maxHeldRate === null ? 1 : 0);
    expect(r.produceCapacity).toBeGreaterThan(0);
    if (r.maxHeldRate !== null) expect(r.ratioToCapacity).toBeCloseTo(r.maxHeldRate / (r.produceCapacity as number), 3);
    expect(readFileSync(join(out, "find-max.md"), "utf8")).toMatch(/\| step \| rate \/s \| warm-up s \|/);
    expect(readFileSync(join(out, "find-max.html"), "utf8")).toContain('aria-label="clearance p99 against offered rate"');
    expect(cli.output()).toMatch(r.maxHeldRate === null ? /No rate was held/ : new RegExp(`Highest rate held: ${r.maxHeldRate}/s`));
  }, 300_000);
});
