import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { tagIntervalLog } from "./hlog.ts";
import { renderReport } from "./html/report.ts";
import { runJUnit } from "./junit.ts";
import { runMarkdown } from "./markdown.ts";
import type { Reference } from "./reference.ts";
import { loadRun } from "./run-data.ts";

export interface WrittenReports {
  html: string;
  junit: string;
  markdown: string;
  /** `<metric>.phases.hlog`: the interval logs with each interval tagged by its phase (only when phases exist). */
  taggedLogs: string[];
}

const writeAtomic = (file: string, text: string): void => {
  writeFileSync(`${file}.tmp`, text);
  renameSync(`${file}.tmp`, file);
};

/**
 * Renders everything a person or a CI job reads from a run directory, from its files only: `report.html`,
 * `junit.xml`, `summary.md` and, when the run has phases, phase-tagged interval logs.
 */
export async function writeRunReports(runDir: string, htmlFile = join(runDir, "report.html"), reference?: Reference): Promise<WrittenReports> {
  const run = await loadRun(runDir);
  const out: WrittenReports = { html: htmlFile, junit: join(runDir, "junit.xml"), markdown: join(runDir, "summary.md"), taggedLogs: [] };
  writeAtomic(out.html, renderReport(run, reference));
  writeAtomic(out.junit, runJUnit(run));
  writeAtomic(out.markdown, runMarkdown(run, basename(out.html)));
  const phases = run.result.phases ?? [];
  if (phases.length)
    for (const name of Object.keys(run.metrics)) {
      const src = join(runDir, `${name}.hlog`);
      if (!existsSync(src)) continue;
      const dst = join(runDir, `${name}.phases.hlog`);
      writeAtomic(dst, tagIntervalLog(readFileSync(src, "utf8"), phases));
      out.taggedLogs.push(dst);
    }
  return out;
}
