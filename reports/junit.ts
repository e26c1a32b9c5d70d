import { runDrifts } from "./analysis.ts";
import { describeDrift } from "./drift.ts";
import type { RunData } from "./run-data.ts";

const xml = (s: unknown): string =>
  String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" })[c] as string);

interface Case {
  classname: string;
  name: string;
  failure?: { message: string; details: string };
}

/**
 * JUnit XML for CI test reporters: one test case per SLO check and per checker property (nothing lost, nothing
 * duplicated, no unexpected responses, no produce errors), plus one per drift fit on runs long enough to have one.
 * A failing case carries the actual figure and the evidence ids.
 */
export function runJUnit(run: RunData): string {
  const r = run.result;
  const cases: Case[] = [];
  const suite = `meshlab.${r.scenario}`;
  for (const c of r.slo?.checks ?? [])
    cases.push({
      classname: `${suite}.slo`,
      name: c.name,
      ...(c.passed ? {} : { failure: { message: c.actual === null ? `${c.name}: no data` : `${c.name}: actual ${c.actual}`, details: `limit ${c.limit}, actual ${c.actual ?? "no data"}` } }),
    });
  const ev = r.checker.evidence;
  const checker = (name: string, n: number, ids: string[]) =>
    cases.push({
      classname: `${suite}.checker`,
      name,
      ...(n === 0 ? {} : { failure: { message: `${n} violation(s)`, details: `evidence (first ${ids.length}):\n${ids.join("\n")}` } }),
    });
  checker("no acknowledged request lost", r.counts.lost, ev.lost);
  // Older result files predate business duplicates (idempotent processing): no case for what they never measured.
  if (r.counts.businessDuplicates !== undefined)
    checker("no request processed twice by the business logic", r.counts.businessDuplicates, (ev.businessDuplicates ?? []).map((d) => `${d.eventId} x${d.processings}`));
  checker("no request completed twice", r.counts.duplicated, ev.duplicated.map((d) => `${d.eventId} x${d.times}`));
  checker("no unexpected response", r.counts.unexpected, ev.unexpected.map((u) => `${u.eventId ?? "(no id)"}: ${u.reason}`));
  checker("no final produce error", r.counts.errors, ev.errors.map((e) => `${e.eventId}: ${e.error}`));
  if (run.partial || r.status !== "completed")
    cases.push({
      classname: `${suite}.run`,
      name: "run completed",
      failure: { message: `status ${run.partial ? "unknown (no result.json)" : r.status}`, details: r.error?.message ?? "" },
    });
  else cases.push({ classname: `${suite}.run`, name: "run completed" });
  for (const d of runDrifts(run)) {
    if (d.verdict === "unknown") continue;
    cases.push({
      classname: `${suite}.drift`,
      name: `${d.what} does not trend upwards`,
      ...(d.verdict === "upward" ? { failure: { message: describeDrift(d), details: describeDrift(d) } } : {}),
    });
  }
  const failures = cases.filter((c) => c.failure).length;
  const time = (r.durationMs / 1000).toFixed(3);
  const body = cases
    .map((c) =>
      c.failure
        ? `    <testcase classname="${xml(c.classname)}" name="${xml(c.name)}" time="0">\n      <failure message="${xml(c.failure.message)}" type="${c.classname.split(".").pop()}">${xml(c.failure.details)}</failure>\n    </testcase>`
        : `    <testcase classname="${xml(c.classname)}" name="${xml(c.name)}" time="0"/>`,
    )
    .join("\n");
  return `<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="meshlab" tests="${cases.length}" failures="${failures}" errors="0" time="${time}">
  <testsuite name="${xml(suite)}" tests="${cases.length}" failures="${failures}" errors="0" skipped="0" time="${time}" timestamp="${xml(r.startedAt.replace(/Z$/, ""))}">
${body}
  </testsuite>
</testsuites>
`;
}
