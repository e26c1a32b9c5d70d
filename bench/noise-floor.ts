/**
 * How far apart runs of one build come out on this machine: for a set of repeated runs (`./meshlab run <scenario>
 * --repeat N`), each percentile's value per run and the largest ratio between any two runs. The largest ratio over
 * the percentiles every run has enough samples for (10 beyond the percentile) is the noise floor `compare` uses
 * with one run a side (NOISE_FLOOR_RATIO in reports/compare.ts).
 *
 *   node bench/noise-floor.ts runs/noise            (a directory of rep-1..N, or run directories)
 */
import { pctName, REPORT_PERCENTILES, scopePercentiles } from "../reports/analysis.ts";
import { fmtNum } from "../reports/html/svg.ts";
import { loadRun, repeatedRuns } from "../reports/run-data.ts";

const args = process.argv.slice(2);
const dirs = args.flatMap((a) => repeatedRuns(a) ?? [a]);
if (dirs.length < 2) {
  process.stderr.write("usage: node bench/noise-floor.ts <set-dir | run-dir run-dir ...>  (2 or more runs)\n");
  process.exit(2);
}
const runs = await Promise.all(dirs.map((d) => loadRun(d)));
const scopes = runs.map((r) => (r.metrics.clearance ? scopePercentiles(r.metrics.clearance, "all") : undefined));
let floor = 1;
process.stdout.write(`clearance, ${runs.length} runs: ${runs.map((r) => r.label).join(", ")}\n`);
for (const p of REPORT_PERCENTILES) {
  const values = scopes.map((s) => s?.values[`p${String(p).replace(".", "")}`] ?? Number.NaN);
  const fewest = Math.min(...scopes.map((s) => s?.count ?? 0));
  const judged = fewest * (1 - p / 100) >= 10 && values.every((v) => v > 0);
  const ratio = Math.max(...values) / Math.min(...values);
  if (judged) floor = Math.max(floor, ratio);
  process.stdout.write(`  ${pctName(p).padEnd(8)} ${values.map(fmtNum).join(", ")}  max/min x${fmtNum(ratio)}${judged ? "" : " (too few samples: not counted)"}\n`);
}
process.stdout.write(`noise floor (largest ratio between two runs, counted percentiles): x${fmtNum(floor)}\n`);
