import { describe, expect, it } from "vitest";
import { type ChaosClock, FaultSchedule, type Injection } from "../../chaos/schedule.ts";
import { type FaultSpec, parseFaults } from "../../chaos/spec.ts";

/** A clock that only moves when the test says so; sleepers wake in time order. */
class ManualClock implements ChaosClock {
  t = 0;
  #sleepers: { until: number; wake: () => void }[] = [];
  now(): number {
    return this.t;
  }
  sleep(ms: number, signal: AbortSignal): Promise<void> {
    if (ms <= 0 || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const s = { until: this.t + ms, wake: resolve };
      this.#sleepers.push(s);
      signal.addEventListener("abort", () => resolve(), { once: true });
    });
  }
  async advanceTo(t: number): Promise<void> {
    for (;;) {
      await flush();
      const next = this.#sleepers.filter((s) => s.until <= t).sort((a, b) => a.until - b.until)[0];
      if (!next) break;
      this.t = next.until;
      this.#sleepers.splice(this.#sleepers.indexOf(next), 1);
      next.wake();
    }
    this.t = t;
    await flush();
  }
}
const flush = async () => {
  for (let i = 0; i < 20; i++) await Promise.resolve();
};

const faults = (): FaultSpec[] =>
  parseFaults([
    { kind: "pause", name: "pause-a", target: { named: "syd-1" }, at: "10s", duration: "5s" },
    { kind: "cut", target: { named: "syd-2" }, links: ["centrelink"], at: "12s", duration: "10s" },
    { kind: "kill", target: { named: "syd-3" }, at: "60s", duration: "5s" },
  ]);

/** An injector that logs what it did, so the test sees inject/heal order and timing. */
const recording = (clock: ManualClock, opts: { failInject?: string; failHeal?: string } = {}) => {
  const log: string[] = [];
  const inject = async (f: FaultSpec): Promise<Injection> => {
    const id = f.name ?? f.kind;
    if (opts.failInject === id) throw new Error("proxy refused");
    log.push(`${clock.now()} inject ${id}`);
    return {
      target: `t-${id}`,
      details: { id },
      heal: async () => {
        log.push(`${clock.now()} heal ${id}`);
        if (opts.failHeal === id) throw new Error("gone");
        return { healedBy: "test" };
      },
    };
  };
  return { log, inject };
};

describe("the fault schedule", () => {
  it("injects each fault at its time, heals it after its duration, and records the timeline relative to the run", async () => {
    const clock = new ManualClock();
    clock.t = 1_000; // the schedule starts 1 s into the run
    const { log, inject } = recording(clock);
    const s = new FaultSchedule(faults(), inject, clock);
    const done = s.start();
    await clock.advanceTo(100_000);
    await done;
    expect(log).toEqual(["11000 inject pause-a", "13000 inject cut", "16000 heal pause-a", "23000 heal cut", "61000 inject kill", "66000 heal kill"]);
    expect(s.timeline()).toEqual([
      { kind: "pause", name: "pause-a", target: "t-pause-a", startMs: 11_000, endMs: 16_000, outcome: "healed", details: { id: "pause-a", healedBy: "test" } },
      { kind: "cut", target: "t-cut", startMs: 13_000, endMs: 23_000, outcome: "healed", details: { id: "cut", healedBy: "test" } },
      { kind: "kill", target: "t-kill", startMs: 61_000, endMs: 66_000, outcome: "healed", details: { id: "kill", healedBy: "test" } },
    ]);
  });

  it("heals every active fault when stopped early (abort, Ctrl-C, end of load) and skips the rest", async () => {
    const clock = new ManualClock();
    const { log, inject } = recording(clock);
    const abort = new AbortController();
    const s = new FaultSchedule(faults(), inject, clock);
    const done = s.start(abort.signal);
    await clock.advanceTo(14_000);
    expect(s.active().map((r) => r.kind)).toEqual(["pause", "cut"]);
    abort.abort(new Error("Ctrl-C"));
    await s.stop();
    await done;
    expect(log).toEqual(["10000 inject pause-a", "12000 inject cut", "14000 heal pause-a", "14000 heal cut"]);
    expect(s.timeline().map((r) => [r.kind, r.outcome, r.endMs])).toEqual([
      ["pause", "healed-early", 14_000],
      ["cut", "healed-early", 14_000],
      ["kill", "not-injected", 14_000],
    ]);
    expect(s.active()).toEqual([]);
  });

  it("records a failed injection and a failed heal without stopping the other faults", async () => {
    const clock = new ManualClock();
    const { log, inject } = recording(clock, { failInject: "cut", failHeal: "pause-a" });
    const s = new FaultSchedule(faults(), inject, clock);
    const done = s.start();
    await clock.advanceTo(100_000);
    await done;
    expect(log).toEqual(["10000 inject pause-a", "15000 heal pause-a", "60000 inject kill", "65000 heal kill"]);
    expect(s.timeline().map((r) => r.outcome)).toEqual(["heal-failed: gone", "inject-failed: proxy refused", "healed"]);
  });

  it("heals a fault whose injection finished after the stop", async () => {
    const clock = new ManualClock();
    let release: () => void = () => {};
    const healed: string[] = [];
    const slow = async (): Promise<Injection> => {
      await new Promise<void>((r) => (release = r));
      return { target: "slow", heal: async () => void healed.push("slow") };
    };
    const s = new FaultSchedule(parseFaults([{ kind: "pause", target: { named: "syd-1" }, at: 0, duration: "30s" }]), slow, clock);
    const done = s.start();
    await flush();
    const stopping = s.stop();
    release();
    await stopping;
    await done;
    expect(healed).toEqual(["slow"]);
    expect(s.timeline()[0]?.outcome).toBe("healed-early");
  });
});
