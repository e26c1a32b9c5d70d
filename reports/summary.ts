import { deadLetterRows } from "./dead-letters.ts";
import { evolutionOf, evolutionRows } from "./schema-evolution.ts";
import { reconciliationRows } from "./reconciliation.ts";
import { crashCause, type RunResult, securityOf } from "./result.ts";

const fmt = (v: number | null): string => (v === null ? "n/a" : v >= 100 ? v.toFixed(0) : v.toFixed(2));

/** The terminal summary: the same figures as result.json, laid out for a person. */
export function renderSummary(r: RunResult, resultFile: string): string {
  const lines: string[] = [];
  const c = r.counts;
  lines.push(`scenario ${r.scenario}: ${r.status}, ${(r.durationMs / 1000).toFixed(1)} s${r.trafficStartMs !== null ? ` (traffic from ${(r.trafficStartMs / 1000).toFixed(1)} s)` : ""}, ${securityOf(r)}`);
  lines.push(
    `  requests  intended ${c.intended}  sent ${c.sent}  acked ${c.acked}  completed ${c.completed}  lost ${c.lost}  duplicated ${c.duplicated}  business duplicates ${c.businessDuplicates ?? 0}  errors ${c.errors}  unexpected ${c.unexpected}${c.inFlight ? `  in flight ${c.inFlight}` : ""}`,
  );
  lines.push("  latency (ms)      count      p50      p95      p99    p99.9      max");
  for (const [name, s] of Object.entries(r.latencyMs))
    lines.push(
      `  ${name.padEnd(14)} ${String(s.count).padStart(8)} ${[s.p50, s.p95, s.p99, s.p999, s.max].map((v) => fmt(v).padStart(8)).join(" ")}`,
    );
  lines.push(`  SLO ${r.slo.passed ? "passed" : "BREACHED"}`);
  for (const ch of r.slo.checks) lines.push(`    ${ch.passed ? "ok  " : "FAIL"} ${ch.name} (actual ${fmt(ch.actual)})`);
  const ev = r.checker.evidence;
  if (ev.lost.length) lines.push(`  lost event ids: ${ev.lost.slice(0, 5).join(", ")}${c.lost > 5 ? ` ... (${c.lost} in all)` : ""}`);
  if (ev.duplicated.length) lines.push(`  duplicated event ids: ${ev.duplicated.slice(0, 5).map((d) => `${d.eventId} x${d.times}`).join(", ")}`);
  if (ev.errors.length) lines.push(`  first error: ${ev.errors[0]?.eventId}: ${ev.errors[0]?.error}`);
  for (const d of deadLetterRows(r.deadLetters)) lines.push(`  ${d.row}: ${d.value}${d.ids.length && d.row !== "in the DLQ exactly once" ? `  (${d.ids.slice(0, 3).join(", ")}${d.ids.length > 3 ? " ..." : ""})` : ""}`);
  const recon = reconciliationRows(r.reconciliation);
  if (recon.length) lines.push("  decisions past the budget:", ...recon.map((d) => `    ${d.row}: ${d.value.length > 400 ? `${d.value.slice(0, 400)} ... (all in result.json)` : d.value}`));
  const evolution = evolutionRows(evolutionOf(r.scenarioResult));
  if (evolution.length) lines.push("  schema evolution:", ...evolution.map((d) => `    ${d.row}: ${d.value}`));
  for (const c of r.crashes ?? []) lines.push(`  CRASHED: ${c.name} exited by itself (${c.signal ?? `code ${c.code}`}) at +${(c.atMs / 1000).toFixed(1)} s: ${crashCause(c.tail)}`);
  if (r.alerts?.length) {
    const still = r.alerts.filter((a) => a.resolvedAtMs === null).length;
    lines.push(`  alerts: ${r.alerts.length} fired${still ? `, ${still} still firing` : ", all resolved"}`);
    for (const a of r.alerts.slice(0, 6)) lines.push(`    ${a.severity === "critical" ? "CRIT" : "warn"} +${(a.firedAtMs / 1000).toFixed(1)} s ${a.name} on ${a.subject}${a.resolvedAtMs === null ? "" : ` (resolved +${(a.resolvedAtMs / 1000).toFixed(1)} s)`}`);
    if (r.alerts.length > 6) lines.push(`    ... ${r.alerts.length - 6} more in result.json`);
  }
  const rot = r.svidRotation?.latency;
  if (rot?.renewals) {
    const p = (w: typeof rot.near) => `${w.requests} requests, p50 ${w.latencyMs.p50} ms, p99 ${w.latencyMs.p99} ms, ${w.errors} errors, ${w.lost} lost`;
    lines.push(`  SVID rotation: ${rot.renewals} renewals of the flow's SVIDs; near one (-1 s..+${rot.windowMs / 1000} s): ${p(rot.near)}; otherwise: ${p(rot.away)}`);
  }
  if (r.checker.outOfOrderCount) lines.push(`  per-key order: ${r.checker.outOfOrderCount} inversion(s)`);
  if (r.error) lines.push(`  error: ${r.error.component ? `${r.error.component}: ` : ""}${r.error.message}`);
  lines.push(`  result: ${resultFile}`);
  return lines.join("\n");
}
