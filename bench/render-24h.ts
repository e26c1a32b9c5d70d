/**
 * How long rendering a 24-hour interval log takes, and how big the page is: 86,400 one-second intervals per metric
 * (clearance and produceAck, 20 requests per second), phases and faults, no ledger (a 24 h ledger at this rate is
 * 1.7 M lines; see the README). The run directory is synthetic but written by the lab's own LatencyRecorder.
 *
 *   node bench/render-24h.ts [--seconds 86400] [--rate 20] [--repeat 3] [--keep DIR]
 */
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { writeRunReports } from "../reports/write.ts";
import { writeSampleRun } from "../test/fixtures/sample-run.ts";

const { values } = parseArgs({ options: { seconds: { type: "string" }, rate: { type: "string" }, repeat: { type: "string" }, keep: { type: "string" } } });
const seconds = Number(values.seconds ?? 86_400);
const rate = Number(values.rate ?? 20);
const dir = values.keep ?? mkdtempSync(join(tmpdir(), "meshlab-render-24h-"));
const h = 3_600_000;
const t0 = performance.now();
await writeSampleRun(dir, {
  seconds,
  rate,
  ledger: false,
  driftMsPerHour: 0.2,
  phases: [
    { name: "day", startMs: 2000, endMs: 2000 + (seconds * 1000) / 2 },
    { name: "night", startMs: 2000 + (seconds * 1000) / 2, endMs: 2000 + seconds * 1000 },
  ],
  faults: [
    { kind: "broker-kill", target: "syd-2", startMs: 3 * h, endMs: 3 * h + 120_000, outcome: "healed" },
    { kind: "latency", target: "syd-1.centrelink", startMs: 15 * h, endMs: 15 * h + 600_000, outcome: "healed" },
  ],
});
console.log(`wrote ${seconds} intervals per metric in ${((performance.now() - t0) / 1000).toFixed(1)} s: clearance.hlog ${(statSync(join(dir, "clearance.hlog")).size / 2 ** 20).toFixed(1)} MiB`);
const times: number[] = [];
for (let i = 0; i < Number(values.repeat ?? 3); i++) {
  const t = performance.now();
  const cpu0 = process.cpuUsage();
  const w = await writeRunReports(dir);
  times.push((performance.now() - t) / 1000);
  const cpu = process.cpuUsage(cpu0);
  const size = statSync(w.html).size;
  // On a shared machine wall time depends on the neighbours; CPU time (user + system) much less.
  console.log(`render ${i + 1}: ${times[i]?.toFixed(2)} s wall, ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s CPU, report.html ${(size / 1024).toFixed(0)} KiB (${size} bytes), peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
}
console.log(`render wall times (s): ${times.map((t) => t.toFixed(2)).join(", ")}; load average ${(await import("node:os")).loadavg().map((l) => l.toFixed(1)).join(" ")}`);
if (!values.keep) rmSync(dir, { recursive: true, force: true });
