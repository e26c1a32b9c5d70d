import type { HostFacts } from "./facts.ts";

/** One host of a run, as result.json records it: the facts its components ran on. */
export interface RunHost {
  name: string;
  facts: HostFacts;
}

export interface FactDifference {
  host: string;
  fact: string;
  baseline: string;
  candidate: string;
}

/** Facts as flat `key -> value` pairs; the asked-about paths are left out (every run has its own directory). */
export function flattenFacts(f: HostFacts): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (v: unknown, key: string) => {
    if (v !== null && typeof v === "object" && !Array.isArray(v)) for (const [k, x] of Object.entries(v)) walk(x, key ? `${key}.${k}` : k);
    else out[key] = Array.isArray(v) ? v.join(",") : String(v);
  };
  walk({ ...f, data: { ...f.data, path: undefined, resolved: undefined } }, "");
  for (const k of ["data.path", "data.resolved"]) delete out[k];
  return out;
}

/**
 * What differs between the hosts of two runs, host by host (matched by name; a host only one run has is itself a
 * difference). Runs recorded before hosts were (no `hosts` in result.json) have nothing to compare: empty.
 */
export function hostDifferences(baseline: readonly RunHost[] | undefined, candidate: readonly RunHost[] | undefined): FactDifference[] {
  if (!baseline || !candidate) return [];
  const out: FactDifference[] = [];
  const names = [...new Set([...baseline.map((h) => h.name), ...candidate.map((h) => h.name)])];
  for (const name of names) {
    const a = baseline.find((h) => h.name === name);
    const b = candidate.find((h) => h.name === name);
    if (!a || !b) {
      out.push({ host: name, fact: "host", baseline: a ? "present" : "absent", candidate: b ? "present" : "absent" });
      continue;
    }
    const fa = flattenFacts(a.facts);
    const fb = flattenFacts(b.facts);
    for (const k of [...new Set([...Object.keys(fa), ...Object.keys(fb)])].sort())
      if (fa[k] !== fb[k]) out.push({ host: name, fact: k, baseline: fa[k] ?? "absent", candidate: fb[k] ?? "absent" });
  }
  return out;
}
