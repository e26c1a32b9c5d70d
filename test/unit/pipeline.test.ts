import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import type { ConsumedRecord } from "../../generators/drivers/driver.ts";
import { type CommitPoint, CommitWatermark, KeyedPipeline, PipelinedHandler } from "../../generators/pipeline.ts";

const rec = (partition: number, offset: number, key: string): ConsumedRecord => ({ topic: "t", partition, offset: String(offset), key: Buffer.from(key), value: null, headers: {} });

/** A promise and the function that settles it. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open = () => {};
  const wait = new Promise<void>((r) => {
    open = r;
  });
  return { wait, open };
}

describe("CommitWatermark", () => {
  it("commits a partition only up to its first unfinished record, whatever order they finish in", () => {
    const w = new CommitWatermark();
    const e = [10, 11, 12].map((o) => w.start("t", 0, String(o)));
    expect(w.finish("t", 0, "12", e[2] ?? 0)).toBeUndefined(); // 10 and 11 still open
    expect(w.finish("t", 0, "11", e[1] ?? 0)).toBeUndefined();
    expect(w.finish("t", 0, "10", e[0] ?? 0)).toEqual({ topic: "t", partition: 0, offset: "13" });
    expect(w.open).toBe(0);
  });

  it("moves forward step by step, never back, and keeps partitions apart", () => {
    const w = new CommitWatermark();
    const a = w.start("t", 0, "5");
    const b = w.start("t", 0, "6");
    const c = w.start("t", 1, "5");
    expect(w.finish("t", 0, "5", a)).toEqual({ topic: "t", partition: 0, offset: "6" });
    expect(w.finish("t", 1, "5", c)).toEqual({ topic: "t", partition: 1, offset: "6" });
    expect(w.finish("t", 0, "6", b)).toEqual({ topic: "t", partition: 0, offset: "7" });
    expect(w.finish("t", 0, "6", b)).toBeUndefined(); // finished twice: nothing new
  });

  it("ignores finishes of records started before their partition was revoked, even if it comes back", () => {
    const w = new CommitWatermark();
    const old = w.start("t", 0, "10");
    w.forget([{ topic: "t", partition: 0 }]);
    const again = w.start("t", 0, "10"); // redelivered after the partition came back
    expect(w.finish("t", 0, "10", old)).toBeUndefined(); // the earlier ownership's finish does not count
    expect(w.open).toBe(1);
    expect(w.finish("t", 0, "10", again)).toEqual({ topic: "t", partition: 0, offset: "11" });
  });
});

describe("KeyedPipeline", () => {
  it("runs different keys at once and one key's records one after another, in order", async () => {
    const p = new KeyedPipeline(10);
    const log: string[] = [];
    const gates = { a1: gate(), b1: gate() };
    await p.admit("a", async () => {
      log.push("a1 start");
      await gates.a1.wait;
      log.push("a1 end");
    });
    await p.admit("a", async () => {
      log.push("a2 start");
    });
    await p.admit("b", async () => {
      log.push("b1 start");
      await gates.b1.wait;
      log.push("b1 end");
    });
    await sleep(10);
    expect(log).toEqual(["a1 start", "b1 start"]); // b runs while a1 is in flight; a2 waits for a1
    expect(p.inFlight).toBe(3);
    gates.a1.open();
    await sleep(10);
    expect(log).toEqual(["a1 start", "b1 start", "a1 end", "a2 start"]);
    gates.b1.open();
    expect(await p.drain(1_000)).toBe(true);
    expect(p.peak).toBe(3);
  });

  it("holds the caller back while maxInFlight records are in flight", async () => {
    const p = new KeyedPipeline(2);
    const g = gate();
    await p.admit("a", () => g.wait);
    await p.admit("b", () => g.wait);
    let third = false;
    const admitted = p.admit("c", async () => {}).then(() => {
      third = true;
    });
    await sleep(20);
    expect(third).toBe(false);
    g.open();
    await admitted;
    expect(third).toBe(true);
    expect(p.peak).toBe(2);
  });

  it("a rejected record does not stop the key's later records", async () => {
    const p = new KeyedPipeline(4);
    let ran = false;
    await p.admit("a", async () => {
      throw new Error("boom");
    });
    await p.admit("a", async () => {
      ran = true;
    });
    expect(await p.drain(1_000)).toBe(true);
    expect(ran).toBe(true);
  });

  it("refuses a maxInFlight that is not a positive integer", () => {
    expect(() => new KeyedPipeline(0)).toThrow(/positive integer/);
  });
});

describe("PipelinedHandler", () => {
  const harness = (handle: (r: ConsumedRecord) => Promise<void>, maxInFlight = 8) => {
    const commits: CommitPoint[][] = [];
    const retries: string[] = [];
    const h = new PipelinedHandler({
      handle,
      maxInFlight,
      commit: async (points) => {
        commits.push(points);
      },
      onRetry: (r, _e, attempt) => retries.push(`${r.offset}#${attempt}`),
      retryMs: { min: 5, max: 20 },
    });
    const committed = () => commits.flat().filter((c) => c.partition === 0).map((c) => c.offset);
    return { h, commits, retries, committed };
  };

  it("accepts the next records while earlier ones are in flight, and commits only what every earlier record allows", async () => {
    const gates = new Map([0, 1, 2].map((o) => [o, gate()]));
    const { h, committed } = harness((r) => gates.get(Number(r.offset))?.wait ?? Promise.resolve());
    for (const o of [0, 1, 2]) await h.accept(rec(0, o, `k${o}`)); // returns at once: three in flight
    expect(h.stats.inFlight).toBe(3);
    gates.get(1)?.open();
    gates.get(2)?.open();
    await sleep(20);
    expect(committed()).toEqual([]); // offset 0 unanswered: nothing may be committed
    gates.get(0)?.open();
    await h.stop(1_000);
    expect(committed().at(-1)).toBe("3");
  });

  it("retries a failed record in place and commits past it only once it succeeded", async () => {
    let failures = 2;
    const { h, retries, committed } = harness(async (r) => {
      if (r.offset === "0" && failures-- > 0) throw new Error("produce failed");
    });
    await h.accept(rec(0, 0, "a"));
    await h.accept(rec(0, 1, "b"));
    await sleep(100);
    expect(retries).toEqual(["0#1", "0#2"]);
    expect(committed().at(-1)).toBe("2");
    await h.stop(1_000);
  });

  it("at stop, leaves what has not succeeded uncommitted (it is delivered again) and admits nothing new", async () => {
    const handled: string[] = [];
    const { h, committed } = harness(async (r) => {
      if (r.offset === "1") throw new Error("broker unreachable");
      handled.push(r.offset);
    });
    await h.accept(rec(0, 0, "a"));
    await h.accept(rec(0, 1, "b"));
    await sleep(30);
    expect(await h.stop(1_000)).toEqual({ drained: true });
    await h.accept(rec(0, 2, "c"));
    await sleep(10);
    expect(handled).toEqual(["0"]);
    expect(committed()).toEqual(["1"]); // 0 done, 1 never acknowledged
  });

  it("commits nothing for a partition revoked while its records were in flight", async () => {
    const g = gate();
    const { h, commits } = harness(() => g.wait);
    await h.accept(rec(0, 0, "a"));
    h.revoked([{ topic: "t", partition: 0 }]);
    g.open();
    await h.stop(1_000);
    expect(commits).toEqual([]);
  });
});
