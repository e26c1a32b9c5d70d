import { describe, expect, it } from "vitest";
import { arr, bool, duration, num, obj, oneOf, optional, parseDuration, type Problems, record, str } from "../../lab/validate.ts";

describe("parseDuration", () => {
  it.each([
    ["500ms", 500],
    ["30s", 30_000],
    ["2m", 120_000],
    ["1h", 3_600_000],
    ["1.5s", 1_500],
    ["0.25m", 15_000],
    ["0s", 0],
    [" 10s ", 10_000],
  ])("reads %j as %d ms", (input, ms) => {
    expect(parseDuration(input)).toBe(ms);
  });

  it("rounds fractional milliseconds to whole ones", () => {
    expect(parseDuration("1.4ms")).toBe(1);
    expect(parseDuration("0.0006s")).toBe(1);
  });

  it("takes a non-negative finite number as milliseconds, unchanged", () => {
    expect(parseDuration(0)).toBe(0);
    expect(parseDuration(250)).toBe(250);
    expect(parseDuration(12.5)).toBe(12.5);
  });

  it.each([["10 parsecs"], ["-1s"], ["10"], ["s"], ["1d"], ["1S"], ["1 s"], [""], ["1e3ms"]])("rejects the string %j", (input) => {
    expect(parseDuration(input)).toBeUndefined();
  });

  it("rejects negative, infinite and NaN numbers and non-string values", () => {
    expect(parseDuration(-1)).toBeUndefined();
    expect(parseDuration(Number.POSITIVE_INFINITY)).toBeUndefined();
    expect(parseDuration(Number.NaN)).toBeUndefined();
    expect(parseDuration(null)).toBeUndefined();
    expect(parseDuration(undefined)).toBeUndefined();
    expect(parseDuration({ ms: 5 })).toBeUndefined();
  });

  it("the duration check reports a bad value with its path and examples", () => {
    const problems: Problems = [];
    expect(duration("10 parsecs", "w.durationMs", problems)).toBeUndefined();
    expect(problems).toEqual(['w.durationMs: "10 parsecs" is not a duration (examples: 500ms, 30s, 5m, 1h)']);
    expect(duration("2m", "w.durationMs", problems)).toBe(120_000);
    expect(problems).toHaveLength(1);
  });
});

describe("scalar checks", () => {
  it("str rejects non-strings, empty strings (unless allowed) and pattern mismatches", () => {
    const problems: Problems = [];
    expect(str()(5, "p", problems)).toBeUndefined();
    expect(str()("", "q", problems)).toBeUndefined();
    expect(str({ nonEmpty: false })("", "r", problems)).toBe("");
    expect(str({ pattern: /^a+$/, patternHint: "only a's" })("ab", "s", problems)).toBeUndefined();
    expect(str({ pattern: /^a+$/ })("b", "t", problems)).toBeUndefined();
    expect(problems).toEqual(["p: expected a string, got 5", "q: must not be empty", 's: "ab" is not only a\'s', 't: "b" is not of the form /^a+$/']);
  });

  it("num checks finiteness, integrality and bounds", () => {
    const problems: Problems = [];
    const n = num({ min: 1, max: 10, integer: true });
    expect(n(5, "a", problems)).toBe(5);
    expect(n("5", "b", problems)).toBeUndefined();
    expect(n(Number.NaN, "c", problems)).toBeUndefined();
    expect(n(1.5, "d", problems)).toBeUndefined();
    expect(n(0, "e", problems)).toBeUndefined();
    expect(n(11, "f", problems)).toBeUndefined();
    expect(problems).toEqual([
      'b: expected a number, got "5"',
      "c: expected a number, got null",
      "d: expected an integer, got 1.5",
      "e: 0 is below the minimum 1",
      "f: 11 is above the maximum 10",
    ]);
  });

  it("bool and oneOf accept only their values", () => {
    const problems: Problems = [];
    expect(bool(false, "a", problems)).toBe(false);
    expect(bool("true", "b", problems)).toBeUndefined();
    expect(oneOf("x", "y")("y", "c", problems)).toBe("y");
    expect(oneOf("x", "y")("z", "d", problems)).toBeUndefined();
    expect(problems).toEqual(['b: expected true or false, got "true"', 'd: "z" is not one of "x", "y"']);
  });

  it("arr reports every bad item with its index and enforces a minimum length", () => {
    const problems: Problems = [];
    // Containers keep what parsed, so cross-field checks can still run; the problems decide validity.
    expect(arr(num())([1, "x", 3, "y"], "list", problems)).toEqual([1, 3]);
    expect(arr(num(), { min: 2 })([1], "short", problems)).toBeUndefined();
    expect(arr(num())("1,2", "notalist", problems)).toBeUndefined();
    expect(problems).toEqual([
      'list[1]: expected a number, got "x"',
      'list[3]: expected a number, got "y"',
      "short: needs at least 2 item(s), has 1",
      'notalist: expected a list, got "1,2"',
    ]);
  });

  it("record checks every value under its own key", () => {
    const problems: Problems = [];
    expect(record(str())({ a: "1", b: "2" }, "cfg", problems)).toEqual({ a: "1", b: "2" });
    expect(record(str())({ a: "1", b: 2 }, "cfg", problems)).toEqual({ a: "1" });
    expect(problems).toEqual(["cfg.b: expected a string, got 2"]);
  });
});

describe("obj", () => {
  const shape = () =>
    obj({
      name: str(),
      size: optional(num({ min: 0 }), 7),
      tags: optional(arr(str()), ["a", "b"]),
      nested: optional(obj({ x: optional(num(), 1) }), { x: 1 }),
    });

  it("fills defaults for missing keys (and for keys explicitly undefined)", () => {
    const problems: Problems = [];
    expect(shape()({ name: "n" }, "o", problems)).toEqual({ name: "n", size: 7, tags: ["a", "b"], nested: { x: 1 } });
    expect(shape()({ name: "n", size: undefined }, "o", problems)).toEqual({ name: "n", size: 7, tags: ["a", "b"], nested: { x: 1 } });
    expect(problems).toEqual([]);
  });

  it("clones a default value, so two results never share it", () => {
    const check = shape();
    const problems: Problems = [];
    const a = check({ name: "a" }, "o", problems);
    const b = check({ name: "b" }, "o", problems);
    if (!a || !b) throw new Error("rejected a valid object");
    expect(a.tags).not.toBe(b.tags);
    expect(a.nested).not.toBe(b.nested);
    a.tags.push("mutated");
    a.nested.x = 99;
    expect(b.tags).toEqual(["a", "b"]);
    expect(check({ name: "c" }, "o", problems)).toEqual({ name: "c", size: 7, tags: ["a", "b"], nested: { x: 1 } });
  });

  it("calls a default factory each time it needs the default", () => {
    let calls = 0;
    const check = obj({ list: optional(arr(num()), () => [++calls]) });
    const problems: Problems = [];
    expect(check({}, "o", problems)).toEqual({ list: [1] });
    expect(check({}, "o", problems)).toEqual({ list: [2] });
    expect(check({ list: [5] }, "o", problems)).toEqual({ list: [5] });
    expect(calls).toBe(2);
  });

  it("reports unknown keys and missing required keys, listing the allowed keys", () => {
    const problems: Problems = [];
    const out = shape()({ colour: "red", sise: 3 }, "o", problems);
    expect(out).toEqual({ size: 7, tags: ["a", "b"], nested: { x: 1 } }); // what parsed, without the missing name
    expect(problems).toEqual([
      "o.colour: unknown key (allowed: name, size, tags, nested)",
      "o.sise: unknown key (allowed: name, size, tags, nested)",
      "o.name: required",
    ]);
  });

  it("still returns the object when the only problem is an unknown key (so cross-field checks can run)", () => {
    const problems: Problems = [];
    expect(shape()({ name: "n", extra: 1 }, "o", problems)).toEqual({ name: "n", size: 7, tags: ["a", "b"], nested: { x: 1 } });
    expect(problems).toEqual(["o.extra: unknown key (allowed: name, size, tags, nested)"]);
  });

  it("reports problems of nested objects with their full path", () => {
    const problems: Problems = [];
    expect(shape()({ name: "n", size: -1, nested: { x: "one", y: 2 } }, "root", problems)).toEqual({ name: "n", tags: ["a", "b"], nested: {} });
    expect(problems).toEqual(["root.size: -1 is below the minimum 0", "root.nested.y: unknown key (allowed: x)", 'root.nested.x: expected a number, got "one"']);
  });

  it("rejects non-objects", () => {
    const problems: Problems = [];
    expect(shape()([], "a", problems)).toBeUndefined();
    expect(shape()(null, "b", problems)).toBeUndefined();
    expect(shape()("x", "c", problems)).toBeUndefined();
    expect(problems).toEqual(["a: expected an object, got []", "b: expected an object, got null", 'c: expected an object, got "x"']);
  });
});
