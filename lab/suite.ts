import { renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { RunResult } from "../reports/result.ts";
import { findScenario } from "../scenarios/index.ts";
import type { Suite, SuiteRow } from "../scenarios/scenario.ts";
import { BadInputError, ExitCode } from "./errors.ts";
import { info } from "./log.ts";
import { prepareRunDir, type RunOverrides, resolveRun, runScenario } from "./runner.ts";
import { readResult } from "./variants.ts";

/** One row of a suite's table, from the row's definition and its run's result.json alone. */
export interface SuiteEntry extends SuiteRow {
  status: RunResult["status"] | "not-run" | "no-result";
  /** The faults the run injected, as its timeline recorded them (kind or name). */
  faults: string[];
  /** Each SLO check with its measured value ("counts.lost <= 0: 0"), then sent/lost/duplicated. */
  observed: string;
  /** Passed when the scenario completed and its SLO held; null when it did not run or left no result. */
  passed: boolean | null;
  dir: string;
}

const fmt = (n: number | null) => (n === null ? "n/a" : Number.isInteger(n) ? String(n) : n.toFixed(1));

/** Pure, so it is unit-tested: what the table says about one row. */
export function suiteEntry(row: SuiteRow, dir: string, r: RunResult | undefined, ran: boolean): SuiteEntry {
  if (!ran) return { ...row, status: "not-run", faults: [], observed: "", passed: null, dir };
  if (!r) return { ...row, status: "no-result", faults: [], observed: "the run left no result.json (see its directory)", passed: null, dir };
  // A check's name says its limit ("counts.lost <= 0"); the measured value follows it.
  const checks = r.slo.checks.map((c) => `${c.name}: ${fmt(c.actual)}${c.passed ? "" : " BREACHED"}`);
  const counts = `sent ${r.counts.sent}, lost ${r.counts.lost}, duplicated ${r.counts.duplicated}`;
  const observed = r.status === "completed" ? [...checks, counts].join("; ") : `${r.status}${r.error ? `: ${r.error.message}` : ""}`;
  return {
    ...row,
    status: r.status,
    faults: (r.faults ?? []).map((f) => f.name ?? f.kind),
    observed,
    passed: r.status === "completed" && r.slo.passed,
    dir,
  };
}

const cell = (s: string) => s.replaceAll("|", "\\|").replaceAll("\n", " ");

/** The suite's table as Markdown. */
export function renderSuite(suite: Suite, entries: SuiteEntry[]): string {
  const verdict = (e: SuiteEntry) => (e.passed === null ? e.status : e.passed ? "pass" : "FAIL");
  return [
    `# ${suite.name}`,
    "",
    suite.description,
    "",
    "| row | scenario | injected | expected recovery | observed | result |",
    "| --- | --- | --- | --- | --- | --- |",
    ...entries.map(
      (e) =>
        `| ${cell(e.row)} | \`${e.scenario}\` (${e.dir}/) | ${cell(e.injected)}${e.faults.length ? ` [${cell(e.faults.join(", "))}]` : ""} | ${cell(e.expectedRecovery)} | ${cell(e.observed)} | ${verdict(e)} |`,
    ),
    "",
    `${entries.filter((e) => e.passed).length} of ${entries.length} rows passed.`,
    "",
  ].join("\n");
}

function writeSuite(dir: string, suite: Suite, startedAt: Date, entries: SuiteEntry[], status: string): void {
  const file = join(dir, "result.json");
  writeFileSync(`${file}.tmp`, `${JSON.stringify({ resultFormat: 1, suite: suite.name, status, startedAt: startedAt.toISOString(), rows: entries }, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
  writeFileSync(join(dir, "suite.md"), renderSuite(suite, entries));
}

/**
 * Runs every row's scenario one after another (each stands up and tears down its own mesh) into `<out>/<scenario>`,
 * then writes result.json (a row per scenario) and suite.md. Every row's scenario is resolved with the overrides
 * before the first starts. An infrastructure failure of one row is recorded and the next row runs; Ctrl-C stops
 * the suite, keeping what ran. The exit code is the worst of the rows'.
 */
export async function runSuite(suite: Suite, o: RunOverrides): Promise<ExitCode> {
  const scenarios = suite.rows.map((row) => findScenario(row.scenario));
  const withVariants = scenarios.filter((s) => s.variants).map((s) => `${s.name}: runs variants; a suite row runs one scenario`);
  if (withVariants.length) throw new BadInputError(`suite ${suite.name}: rows that cannot run`, withVariants, "name a scenario without variants in each row");
  const runs = scenarios.map((s) => resolveRun(s, o));
  const dir = prepareRunDir(suite.name, o.out);
  const startedAt = new Date();
  const entries = suite.rows.map((row) => suiteEntry(row, row.scenario, undefined, false));
  let worst: ExitCode = ExitCode.ok;
  for (const [i, row] of suite.rows.entries()) {
    const run = runs[i];
    if (!run) continue;
    info(`${suite.name} row ${i + 1}/${suite.rows.length}: ${row.row} (scenario ${row.scenario})`);
    const out = join(dir, row.scenario);
    let code: ExitCode;
    try {
      code = await runScenario(run, { ...o, out });
    } catch (e) {
      info(`${row.scenario}: ${e instanceof Error ? e.message : String(e)}`);
      code = ExitCode.infrastructure;
    }
    entries[i] = suiteEntry(row, row.scenario, readResult(out), true);
    writeSuite(dir, suite, startedAt, entries, "running");
    if (code === ExitCode.interrupted) {
      writeSuite(dir, suite, startedAt, entries, "interrupted");
      return code;
    }
    if (code !== ExitCode.ok && (worst === ExitCode.ok || code === ExitCode.infrastructure)) worst = code;
  }
  writeSuite(dir, suite, startedAt, entries, "completed");
  process.stdout.write(`${renderSuite(suite, entries)}\nresult: ${join(dir, "result.json")}\n`);
  return worst;
}
