import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { GroupAnalysis } from "../chaos/analysis.ts";
import type { FaultRecord } from "../chaos/schedule.ts";
import type { Counts } from "../reports/checker.ts";
import type { RunResult } from "../reports/result.ts";
import type { Scenario } from "../scenarios/scenario.ts";
import { ExitCode } from "./errors.ts";
import { info } from "./log.ts";
import { prepareRunDir, type RunOverrides, resolveRun, runScenario } from "./runner.ts";

/** One variant's figures in the multi-variant result.json. */
export interface VariantResult {
  name: string;
  description: string;
  status: RunResult["status"] | "not-run";
  dir: string;
  consumer: Record<string, unknown>;
  counts?: Counts;
  faults?: FaultRecord[];
  /** Rebalances after traffic started (the group's initial join is left out). */
  rebalances?: GroupAnalysis["rebalances"];
  stalls?: GroupAnalysis["stalls"];
  longestStallMs?: number;
  clearanceMs?: GroupAnalysis["clearanceMs"];
}

export interface Comparison {
  /**
   * Variant names, least stalled first: by the sum over partitions of each partition's longest stall, then by the
   * longest stall. The sum matters because partitions led by the coordinator broker stall for the whole fault in
   * every variant (their fetches share the faulted link), so the longest stall alone hides what the settings change.
   */
  byStall: string[];
  leastStall: string | null;
  rows: {
    name: string;
    rebalances: number;
    rebalanceMs: number;
    longestRebalanceMs: number;
    longestStallMs: number;
    medianStallMs: number;
    totalStallMs: number;
    partitionsStalledOver10s: number;
    duringP99: number | null;
    duringMax: number | null;
    afterP99: number | null;
    lost: number;
    duplicated: number;
  }[];
  /** Whether the variants measurably differ (longest stall or rebalance count), and what that rests on. */
  differ: boolean;
  note: string;
}

const median = (v: number[]): number => {
  if (v.length === 0) return 0;
  const s = [...v].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return Math.round(s.length % 2 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2);
};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Objects merge key by key; anything else in `over` replaces what `base` had. */
export function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = structuredClone(base);
  for (const [k, v] of Object.entries(over)) out[k] = isObject(v) && isObject(out[k]) ? deepMerge(out[k] as Record<string, unknown>, v) : structuredClone(v);
  return out;
}

/** The scenario a variant runs: the base scenario with the variant's workload merged in and its faults, if any. */
export function variantScenario(s: Scenario, v: NonNullable<Scenario["variants"]>[number]): Scenario {
  const { variants: _, ...base } = s;
  return {
    ...base,
    description: `${s.description} [variant ${v.name}: ${v.description}]`,
    workload: deepMerge(s.workload, v.workload ?? {}),
    ...(v.faults ? { faults: v.faults } : {}),
    ...(v.topology ? { topology: v.topology } : {}),
  };
}

/** Compares variants by what was measured, not by what was configured. Pure, so it is unit-tested. */
export function compareVariants(variants: VariantResult[]): Comparison {
  const ran = variants.filter((v) => v.longestStallMs !== undefined);
  const rows = ran.map((v) => {
    const rb = v.rebalances ?? [];
    return {
      name: v.name,
      rebalances: rb.length,
      rebalanceMs: rb.reduce((n, r) => n + r.durationMs, 0),
      longestRebalanceMs: Math.max(0, ...rb.map((r) => r.durationMs)),
      longestStallMs: v.longestStallMs ?? 0,
      medianStallMs: median((v.stalls ?? []).map((s) => s.longestMs)),
      totalStallMs: Math.round((v.stalls ?? []).reduce((n, s) => n + s.longestMs, 0)),
      partitionsStalledOver10s: (v.stalls ?? []).filter((s) => s.longestMs > 10_000).length,
      duringP99: v.clearanceMs?.during.p99 ?? null,
      duringMax: v.clearanceMs?.during.max ?? null,
      afterP99: v.clearanceMs?.after.p99 ?? null,
      lost: v.counts?.lost ?? 0,
      duplicated: v.counts?.duplicated ?? 0,
    };
  });
  const byStall = [...rows].sort((a, b) => a.totalStallMs - b.totalStallMs || a.longestStallMs - b.longestStallMs).map((r) => r.name);
  const stalls = rows.map((r) => r.medianStallMs);
  const spread = stalls.length ? Math.max(...stalls) - Math.min(...stalls) : 0;
  const counts = new Set(rows.map((r) => r.rebalances));
  // Two seconds is well above the run-to-run noise of a stall measured from 50/s traffic on 12 partitions.
  const differ = rows.length > 1 && (spread > 2_000 || counts.size > 1);
  const s1 = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const note =
    rows.length < 2
      ? "fewer than two variants ran: nothing to compare"
      : differ
        ? `median partition stall ${rows.map((r) => `${r.name} ${s1(r.medianStallMs)}`).join(", ")}; longest ${rows.map((r) => `${r.name} ${s1(r.longestStallMs)}`).join(", ")}; rebalances ${rows.map((r) => `${r.name} ${r.rebalances}`).join(", ")}`
        : "the variants did not measurably differ (median partition stalls within 2 s, same number of rebalances): see the per-variant figures";
  return { byStall, leastStall: byStall[0] ?? null, rows, differ, note };
}

function summarise(v: VariantResult, r: RunResult | undefined): VariantResult {
  if (!r) return v;
  const g = r.consumerGroup;
  const traffic = r.trafficStartMs ?? 0;
  return {
    ...v,
    status: r.status,
    counts: r.counts,
    ...(r.faults ? { faults: r.faults } : {}),
    ...(g
      ? { rebalances: g.rebalances.filter((x) => x.startMs >= traffic), stalls: g.stalls, longestStallMs: g.longestStallMs, clearanceMs: g.clearanceMs }
      : {}),
  };
}

/**
 * Runs every variant of a scenario back to back (each stands up its own mesh, on the same seed and rate), each
 * into its own subdirectory, then writes one result.json with an entry per variant and the comparison.
 */
export async function runVariants(s: Scenario, o: RunOverrides): Promise<ExitCode> {
  const list = s.variants ?? [];
  // Every variant is validated before the first one starts.
  const resolved = list.map((v) => resolveRun(variantScenario(s, v), o));
  const dir = prepareRunDir(s.name, o.out);
  const startedAt = new Date();
  const t0 = performance.now();
  const results: VariantResult[] = list.map((v, i) => ({
    name: v.name,
    description: v.description,
    status: "not-run",
    dir: v.name,
    consumer: resolved[i]?.workload.centrelink.consumer ?? {},
  }));
  let worst: ExitCode = ExitCode.ok;
  for (const [i, v] of list.entries()) {
    const run = resolved[i];
    const slot = results[i];
    if (!run || !slot) continue;
    info(`variant ${i + 1}/${list.length}: ${v.name} (${v.description})`);
    let code: ExitCode;
    try {
      code = await runScenario(run, { ...o, out: join(dir, v.name) });
    } catch (e) {
      results[i] = summarise(slot, readResult(join(dir, v.name)));
      writeVariants(dir, s, startedAt, t0, results, "failed");
      throw e;
    }
    results[i] = summarise(slot, readResult(join(dir, v.name)));
    if (code === ExitCode.interrupted) {
      writeVariants(dir, s, startedAt, t0, results, "interrupted");
      return code;
    }
    if (code !== ExitCode.ok) worst = code;
  }
  const file = writeVariants(dir, s, startedAt, t0, results, "completed");
  const c = compareVariants(results);
  const lines = [
    `scenario ${s.name}: ${list.length} variant(s)`,
    "  variant          rebalances  longest rebalance s  median stall s  longest stall s  during p99 ms  during max ms  after p99 ms  lost   dup",
  ];
  const sec = (ms: number) => (ms / 1000).toFixed(1);
  for (const r of c.rows)
    lines.push(
      `  ${r.name.padEnd(16)} ${String(r.rebalances).padStart(10)} ${sec(r.longestRebalanceMs).padStart(20)} ${sec(r.medianStallMs).padStart(15)} ${sec(r.longestStallMs).padStart(16)} ${String(r.duringP99 ?? "n/a").padStart(14)} ${String(r.duringMax ?? "n/a").padStart(14)} ${String(r.afterP99 ?? "n/a").padStart(13)} ${String(r.lost).padStart(5)} ${String(r.duplicated).padStart(5)}`,
    );
  lines.push(`  least stall: ${c.leastStall ?? "n/a"}; ${c.note}`, `  result: ${file}`);
  process.stdout.write(`${lines.join("\n")}\n`);
  return worst;
}

/** A finished run's result.json, or undefined when the run left none (killed, failed before writing it). */
export function readResult(dir: string): RunResult | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, "result.json"), "utf8")) as RunResult;
  } catch {
    return undefined;
  }
}

function writeVariants(dir: string, s: Scenario, startedAt: Date, t0: number, variants: VariantResult[], status: string): string {
  const file = join(dir, "result.json");
  const result = {
    resultFormat: 1,
    scenario: s.name,
    status,
    startedAt: startedAt.toISOString(),
    durationMs: Math.round(performance.now() - t0),
    spec: { description: s.description, variants: s.variants, faults: s.faults },
    variants,
    comparison: compareVariants(variants),
  };
  writeFileSync(`${file}.tmp`, `${JSON.stringify(result, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
  return file;
}
