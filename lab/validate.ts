/**
 * A small strict validator for specs that are data: every problem is collected with its path (so one run reports
 * them all), unknown keys are errors, and defaults are filled in so the resolved spec can be saved with a result.
 * Containers (objects, lists, maps) return what they could read even when a member failed, so cross-field checks
 * still run on the rest; a spec is valid only when no problem was recorded.
 */
export type Problems = string[];
export type Check<T> = (value: unknown, path: string, problems: Problems) => T | undefined;

const show = (v: unknown): string => (typeof v === "string" ? JSON.stringify(v) : JSON.stringify(v) ?? String(v));

export const str =
  (opts: { pattern?: RegExp; patternHint?: string; nonEmpty?: boolean } = {}): Check<string> =>
  (v, path, problems) => {
    if (typeof v !== "string") return void problems.push(`${path}: expected a string, got ${show(v)}`);
    if ((opts.nonEmpty ?? true) && v.length === 0) return void problems.push(`${path}: must not be empty`);
    if (opts.pattern && !opts.pattern.test(v))
      return void problems.push(`${path}: ${show(v)} is not ${opts.patternHint ?? `of the form ${opts.pattern}`}`);
    return v;
  };

export const num =
  (opts: { min?: number; max?: number; integer?: boolean } = {}): Check<number> =>
  (v, path, problems) => {
    if (typeof v !== "number" || !Number.isFinite(v)) return void problems.push(`${path}: expected a number, got ${show(v)}`);
    if (opts.integer && !Number.isInteger(v)) return void problems.push(`${path}: expected an integer, got ${v}`);
    if (opts.min !== undefined && v < opts.min) return void problems.push(`${path}: ${v} is below the minimum ${opts.min}`);
    if (opts.max !== undefined && v > opts.max) return void problems.push(`${path}: ${v} is above the maximum ${opts.max}`);
    return v;
  };

export const bool: Check<boolean> = (v, path, problems) => {
  if (typeof v !== "boolean") return void problems.push(`${path}: expected true or false, got ${show(v)}`);
  return v;
};

export const oneOf =
  <const T extends string>(...values: T[]): Check<T> =>
  (v, path, problems) => {
    if (typeof v !== "string" || !(values as string[]).includes(v))
      return void problems.push(`${path}: ${show(v)} is not one of ${values.map((x) => show(x)).join(", ")}`);
    return v as T;
  };

export const arr =
  <T>(item: Check<T>, opts: { min?: number } = {}): Check<T[]> =>
  (v, path, problems) => {
    if (!Array.isArray(v)) return void problems.push(`${path}: expected a list, got ${show(v)}`);
    if (opts.min !== undefined && v.length < opts.min)
      return void problems.push(`${path}: needs at least ${opts.min} item(s), has ${v.length}`);
    const out: T[] = [];
    v.forEach((x, i) => {
      const r = item(x, `${path}[${i}]`, problems);
      if (r !== undefined) out.push(r);
    });
    return out;
  };

/** A map of free-form keys (e.g. Kafka config) whose values all pass `value`. */
export const record =
  <T>(value: Check<T>): Check<Record<string, T>> =>
  (v, path, problems) => {
    if (typeof v !== "object" || v === null || Array.isArray(v)) return void problems.push(`${path}: expected an object, got ${show(v)}`);
    const out: Record<string, T> = {};
    for (const [k, x] of Object.entries(v)) {
      const r = value(x, `${path}.${k}`, problems);
      if (r !== undefined) out[k] = r;
    }
    return out;
  };

type Field<T> = { check: Check<T>; default?: T | (() => T) };
type Shape = Record<string, Check<unknown> | Field<unknown>>;
type Out<S extends Shape> = {
  [K in keyof S]: S[K] extends Field<infer T> ? T : S[K] extends Check<infer T> ? T : never;
};

/** An object with exactly these keys; a key with a default may be left out. */
export const obj =
  <S extends Shape>(shape: S): Check<Out<S>> =>
  (v, path, problems) => {
    if (typeof v !== "object" || v === null || Array.isArray(v)) return void problems.push(`${path}: expected an object, got ${show(v)}`);
    const input = v as Record<string, unknown>;
    for (const k of Object.keys(input))
      if (!(k in shape)) problems.push(`${path}.${k}: unknown key (allowed: ${Object.keys(shape).join(", ")})`);
    const out: Record<string, unknown> = {};
    for (const [k, f] of Object.entries(shape)) {
      const field: Field<unknown> = typeof f === "function" ? { check: f } : f;
      if (input[k] === undefined) {
        if ("default" in field) {
          const d = field.default;
          out[k] = typeof d === "function" ? (d as () => unknown)() : structuredClone(d);
          continue;
        }
        problems.push(`${path}.${k}: required`);
        continue;
      }
      const r = field.check(input[k], `${path}.${k}`, problems);
      if (r !== undefined) out[k] = r;
    }
    return out as Out<S>;
  };

export const optional = <T>(check: Check<T>, dflt: T | (() => T)): Field<T> => ({ check, default: dflt });

/** Parses a duration such as "30s", "500ms", "2m", "1h" or a number of milliseconds. */
export function parseDuration(v: unknown): number | undefined {
  if (typeof v === "number" && Number.isFinite(v) && v >= 0) return v;
  if (typeof v !== "string") return undefined;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(v.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as "ms" | "s" | "m" | "h"];
  return Math.round(n * unit);
}

export const duration: Check<number> = (v, path, problems) => {
  const ms = parseDuration(v);
  if (ms === undefined) return void problems.push(`${path}: ${show(v)} is not a duration (examples: 500ms, 30s, 5m, 1h)`);
  return ms;
};
