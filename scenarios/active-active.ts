import { setTimeout as sleep } from "node:timers/promises";
import { checkOrder, type ReadRecord } from "../reports/order.ts";
import { readToEnd } from "../topology/mirrormaker/checkpoints.ts";
import { remoteTopic } from "../topology/mirrormaker/config.ts";
import type { Scenario, ScenarioContext } from "./scenario.ts";

/**
 * Both regions take writes for their own taxpayers; each region's Centrelink engines and ATO tax engine read the
 * local topic and the one replicated from the other region (the idempotent consumer drops the copies). At the end
 * the lab reads every topic back and checks per-key order, locally and through replication.
 */
async function activeActiveBody(ctx: ScenarioContext): Promise<void> {
  const { mesh, flow, workload: w } = ctx;
  await ctx.atMeasured(0);
  ctx.phase("active-active");
  await ctx.atMeasured(w.durationMs);
  // Let the last requests cross: the drain waits for completions, but the order check reads the replicas.
  const t0 = Date.now();
  while (flow.ledger.outstanding() > 0 && Date.now() - t0 < 30_000) await sleep(200);
  await sleep(3_000);

  const entries = flow.ledger.history().entries;
  const seqOf = new Map(entries.map((e) => [e.eventId, e.seq]));
  const checks: Record<string, unknown> = {};
  for (const source of flow.writeRegions) {
    const expected = new Set(entries.filter((e) => e.ackedIn === source).map((e) => e.eventId));
    const read = async (region: string, topic: string): Promise<ReadRecord[]> =>
      (await readToEnd(mesh.region(region).lab(), topic, 60_000)).map((r) => ({
        partition: r.partition,
        offset: r.offset,
        key: r.key?.toString() ?? "",
        eventId: r.headers["event-id"] ?? "",
      }));
    checks[`${source} (local)`] = checkOrder(await read(source, w.topics.assessment), seqOf, expected);
    for (const target of mesh.regions.map((r) => r.plan.name).filter((r) => r !== source))
      checks[`${source} -> ${target} (replicated)`] = checkOrder(await read(target, remoteTopic(source, w.topics.assessment)), seqOf, expected);
  }
  const byRegion: Record<string, number> = {};
  for (const e of entries) if (e.ackedIn) byRegion[e.ackedIn] = (byRegion[e.ackedIn] ?? 0) + 1;
  Object.assign(ctx.findings, { writesByRegion: byRegion, order: checks });
}

export const activeActive: Scenario = {
  name: "active-active",
  description:
    "Two regions with MirrorMaker 2 both ways, each taking writes for its own taxpayers and reading local and replicated topics; checks per-key order locally and through replication, and that the idempotent consumers keep business duplicates at zero",
  topology: "two-region",
  workload: {
    durationMs: "30s",
    rate: { kind: "constant", perSecond: 50 },
    regions: ["syd", "mel"],
    centrelink: { instances: 2 },
  },
  slo: [
    { metric: "latencyMs.clearance.p95", max: 300 },
    { metric: "latencyMs.clearance.p99", max: 300 },
    { metric: "counts.lost", max: 0 },
    { metric: "counts.businessDuplicates", max: 0 },
  ],
  // Duplicates arrive minutes later (after failback, or as replicated copies): keep settled requests in memory.
  ledgerGraceMs: 600_000,
  body: activeActiveBody,
};
