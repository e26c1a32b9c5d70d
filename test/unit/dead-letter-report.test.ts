import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deadLetterOf, mismatchHeaders, undecodableHeaders } from "../../generators/dlq.ts";
import { checkMismatches, checkPills, type DeadLetterResult, deadLetterRows } from "../../reports/dead-letters.ts";
import { renderReport } from "../../reports/html/report.ts";
import { runMarkdown } from "../../reports/markdown.ts";
import { loadRun } from "../../reports/run-data.ts";
import type { RunResult } from "../../reports/result.ts";
import { renderSummary } from "../../reports/summary.ts";
import { writeSampleRun } from "../fixtures/sample-run.ts";

const TOPIC = "au.gov.ato.tax.assessment.v1";

/** A dead-letter result as a run writes it: one mismatch in the DLQ, one missing; one pill dead-lettered. */
function sample(): DeadLetterResult {
  const letter = deadLetterOf({ partition: 2, offset: "0", value: Buffer.from("{}"), headers: mismatchHeaders({ eventId: "m-1", schemaId: 7, topic: TOPIC, error: "invalid", by: "ato" }) });
  const pill = deadLetterOf({ partition: 4, offset: "0", value: Buffer.alloc(0), headers: undecodableHeaders({ topic: TOPIC, partition: 9, offset: "33", error: "magic byte", by: "c" }) });
  const routed = [
    { eventId: "m-1", seq: 1, kind: "wrong-type" as const, refused: true, error: "invalid" },
    { eventId: "m-2", seq: 2, kind: "missing-field" as const, refused: true, error: "invalid", sendError: "timed out" },
  ];
  return {
    topic: `${TOPIC}.dlq`,
    records: 2,
    schemaMismatch: checkMismatches({ routed, dlq: [letter, pill], assessmentTopic: [], schemaId: 7, sourceTopic: TOPIC }),
    poisonPills: checkPills({
      pills: [{ pillId: "p-1", shape: "bad-magic", partition: 9, offset: "33" }],
      failures: [],
      dlq: [letter, pill],
      sourceTopic: TOPIC,
      engineEvents: [
        { type: "consumed", partition: 9, offset: 33, epochMs: 100 },
        { type: "dead-lettered", partition: 9, offset: 33, epochMs: 142 },
      ],
      groupLagAtEnd: 0,
    }),
  };
}

let dir: string;
beforeAll(async () => {
  dir = join(mkdtempSync(join(tmpdir(), "meshlab-dlq-report-")), "run");
  await writeSampleRun(dir, { seconds: 5, rate: 5 });
  const file = join(dir, "result.json");
  writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, "utf8")), deadLetters: sample() }));
}, 60_000);
afterAll(() => rmSync(join(dir, ".."), { recursive: true, force: true }));

describe("dead letters in the reports", () => {
  it("lay out every figure with the event ids and offsets behind it", () => {
    const rows = deadLetterRows(sample());
    const row = (name: string) => rows.find((r) => r.row === name);
    expect(row("schema mismatch: verdict")?.value).toBe("invalid");
    expect(row("missing from the DLQ")).toEqual({ row: "missing from the DLQ", value: "1", ids: ["m-2: timed out"] });
    expect(row("in the DLQ exactly once")?.ids).toEqual(["m-1 at 2@0"]);
    expect(row("pills in the DLQ (by source offset)")?.ids).toEqual(["bad-magic at 9@33 -> DLQ 4@0, held its partition 42 ms"]);
    expect(row("longest partition stall a pill caused (ms)")?.value).toBe("42");
    expect(row("engines committed past every pill")?.value).toBe("yes (group lag 0)");
    expect(deadLetterRows(undefined)).toEqual([]);
  });

  it("appear in report.html, summary.md and the terminal summary, read from result.json", async () => {
    const run = await loadRun(dir);
    const html = renderReport(run);
    expect(html).toContain("<h2>Dead letters</h2>");
    expect(html).toContain("m-2: timed out");
    expect(runMarkdown(run)).toMatch(/### Dead letters[\s\S]*\| missing from the DLQ \| 1 \|/);
    const result = JSON.parse(readFileSync(join(dir, "result.json"), "utf8")) as RunResult;
    expect(renderSummary(result, "result.json")).toMatch(/missing from the DLQ: 1 {2}\(m-2: timed out\)/);
  });
});
