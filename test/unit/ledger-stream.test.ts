import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Ledger, type LedgerEntry } from "../../generators/ledger.ts";
import { checkClearances } from "../../reports/checker.ts";
import { seededRandom } from "../../reports/stats.ts";
import { LedgerStream } from "../../reports/ledger-stream.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "meshlab-ledger-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const S = 1_000_000;

/**
 * Simulates `seconds` of traffic at `rate`/s on a fake clock: each request is acked after 5 ms and completed after
 * 10-60 ms, except the lost ones (never) and the duplicated ones (again 2 s later). Calls `tick(nowUs)` once a
 * simulated second, as the runner's timer does.
 */
function simulate(ledger: Ledger, seconds: number, rate: number, tick: (nowUs: number) => void, opts: { lose?: Set<number>; dup?: Set<number> } = {}): void {
  const rand = seededRandom(7);
  const pending: { at: number; run: () => void }[] = [];
  let seq = 0;
  for (let s = 0; s < seconds; s++) {
    for (let k = 0; k < rate; k++) {
      const t = s * S + (k * S) / rate;
      const n = seq++;
      const e = ledger.intend({ eventId: `id-${n}`, seq: n, key: `k${n % 50}`, intendedUs: t });
      e.sentUs = t + 100;
      e.ackedUs = t + 5000;
      if (!opts.lose?.has(n)) pending.push({ at: t + 10_000 + rand() * 50_000, run: () => ledger.complete(`id-${n}`, t + 10_000, "ato") });
      if (opts.dup?.has(n)) pending.push({ at: t + 2 * S, run: () => ledger.complete(`id-${n}`, t + 2 * S, "ato") });
    }
    const now = (s + 1) * S;
    pending.sort((a, b) => a.at - b.at);
    while (pending.length && (pending[0]?.at ?? Number.POSITIVE_INFINITY) <= now) pending.shift()?.run();
    tick(now);
  }
  for (const p of pending) p.run();
}

describe("Ledger.takeSettled", () => {
  it("releases settled requests after the grace period, in send order, and old unsettled ones after the window", () => {
    const l = new Ledger();
    const a = l.intend({ eventId: "a", seq: 0, key: "k", intendedUs: 0 });
    l.intend({ eventId: "b", seq: 1, key: "k", intendedUs: 10 });
    l.intend({ eventId: "c", seq: 2, key: "k", intendedUs: 20 });
    a.ackedUs = 5;
    l.complete("a", 100, "x");
    l.complete("c", 100, "x");
    // b is unsettled and young: it holds c back, so released entries stay in send order.
    expect(l.takeSettled(200, 50, 1000).map((e) => e.eventId)).toEqual(["a"]);
    expect(l.takeSettled(2000, 50, 1000).map((e) => e.eventId)).toEqual(["b", "c"]);
    expect(l.size).toBe(0);
    l.complete("a", 3000, "x");
    expect(l.takeUnexpected()[0]?.reason).toMatch(/later than the ledger's window/);
  });
});

describe("LedgerStream", () => {
  it("gives the same verdict, counts and evidence as checking the whole history at once", () => {
    const opts = { lose: new Set([17, 4000, 9999]), dup: new Set([5, 6000]) };
    const whole = new Ledger();
    simulate(whole, 60, 200, () => {}, opts);
    const expected = checkClearances(whole.history());

    const streamed = new Ledger();
    const stream = new LedgerStream(join(dir, "ledger.ndjson"), { graceMs: 5_000, windowMs: 20_000 });
    simulate(streamed, 60, 200, (now) => stream.drain(streamed, now), opts);
    const got = stream.finish(streamed);
    expect(got).toEqual(expected);
    expect(got.counts).toMatchObject({ intended: 12_000, lost: 3, duplicated: 2, unexpected: 0 });

    const lines = readFileSync(join(dir, "ledger.ndjson"), "utf8").trim().split("\n");
    expect(lines).toHaveLength(12_000);
    expect(lines.map((l) => (JSON.parse(l) as LedgerEntry).seq)).toEqual(Array.from({ length: 12_000 }, (_, i) => i));
  });

  it("keeps memory flat: the ledger never holds more than grace + one second of requests (plus a window of lost ones)", () => {
    const ledger = new Ledger();
    const stream = new LedgerStream(join(dir, "ledger.ndjson"), { graceMs: 5_000, windowMs: 20_000 });
    let most = 0;
    simulate(ledger, 600, 100, (now) => {
      stream.drain(ledger, now);
      most = Math.max(most, ledger.size);
    });
    expect(stream.finish(ledger).counts.intended).toBe(60_000);
    expect(most).toBeLessThanOrEqual(100 * 7);
  });
});
