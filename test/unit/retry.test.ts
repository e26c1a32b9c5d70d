import { describe, expect, it } from "vitest";
import { type Attempt, withRetries } from "../../lab/retry.ts";

describe("withRetries", () => {
  const attempts = (results: Attempt<string>[]) => {
    let i = 0;
    return async () => results[i++] ?? { retryable: new Error("no more") };
  };

  it("returns the first success, telling of each retry before it", async () => {
    const heard: string[] = [];
    const r = await withRetries(3, attempts([{ retryable: new Error("topic unknown") }, { ok: "up" }]), (n, e) => heard.push(`${n}: ${e.message}`));
    expect([r, heard]).toEqual(["up", ["1: topic unknown"]]);
  });

  it("throws the last failure once the attempts are used up", async () => {
    const heard: number[] = [];
    const fail = (m: string) => ({ retryable: new Error(m) });
    await expect(withRetries(3, attempts([fail("a"), fail("b"), fail("c"), { ok: "late" }]), (n) => heard.push(n))).rejects.toThrow("c");
    expect(heard).toEqual([1, 2]);
  });

  it("does not retry what the attempt throws", async () => {
    let calls = 0;
    const once = async (): Promise<Attempt<string>> => {
      calls++;
      throw new Error("bad input");
    };
    await expect(withRetries(3, once, () => {})).rejects.toThrow("bad input");
    expect(calls).toBe(1);
  });
});
