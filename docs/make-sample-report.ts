/**
 * Regenerates docs/sample-report.html and docs/sample-report.png: a synthetic two-minute run with failover phases,
 * a fault, lost and duplicated requests, rendered by the lab's report and photographed in headless Chromium.
 *
 *   node docs/make-sample-report.ts
 */
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { writeRunReports } from "../reports/write.ts";
import { launchChromium } from "../test/fixtures/browser.ts";
import { writeSampleRun } from "../test/fixtures/sample-run.ts";

const here = new URL(".", import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), "meshlab-sample-report-"));
await writeSampleRun(dir, {
  seconds: 120,
  rate: 40,
  lose: 3,
  duplicate: 2,
  phases: [
    { name: "before", startMs: 2000, endMs: 42000 },
    { name: "during-failover", startMs: 42000, endMs: 82000 },
    { name: "after-failover", startMs: 82000, endMs: 122000 },
  ],
  faults: [{ kind: "region-loss", target: "syd", startMs: 45000, endMs: 63000, outcome: "healed" }],
  faultFactor: 9,
});
const w = await writeRunReports(dir);
copyFileSync(w.html, join(here, "sample-report.html"));
const browser = await launchChromium();
const page = await browser.newPage({ viewport: { width: 1040, height: 900 } });
await page.goto(pathToFileURL(w.html).href);
await page.click("#evidence-lost summary");
await page.screenshot({ path: join(here, "sample-report.png"), fullPage: true });
await browser.close();
rmSync(dir, { recursive: true, force: true });
console.log(`wrote ${join(here, "sample-report.html")} and sample-report.png`);
