import { setTimeout as sleep } from "node:timers/promises";
import { info } from "../lab/log.ts";
import { duplicatesAfter, engineEventTimes, recovery, recoveryPoint } from "../reports/failover.ts";
import {
  checkpointStaleness,
  commitTranslatedOffsets,
  committedOffsets,
  latestCheckpoints,
  readCheckpoints,
  readToEnd,
} from "../topology/mirrormaker/checkpoints.ts";
import { remoteTopic } from "../topology/mirrormaker/config.ts";
import type { Scenario, ScenarioContext } from "./scenario.ts";

/** The failover timeline, in ms after the measured traffic starts. Data, so a variant is a copy with other numbers. */
export const FAILOVER_TIMELINE = {
  primary: "syd",
  secondary: "mel",
  /** SIGKILL of every node of the primary (and the registry, the engines and the MirrorMaker that run there). */
  killAtMs: 15_000,
  /** Time to notice the region is gone before failing over (an operator or a health check). */
  detectionMs: 2_000,
  /** When the primary comes back and the flow fails back. */
  failbackAtMs: 35_000,
};

/**
 * Fails the clearance flow over from the primary region to the secondary when the primary is killed, then back.
 * Consumers resume from offsets translated through MM2's checkpoints (read from `<primary>.checkpoints.internal`
 * and committed in the secondary before the consumers start there).
 */
async function failoverBody(ctx: ScenarioContext): Promise<void> {
  const t = FAILOVER_TIMELINE;
  const { mesh, flow, workload: w } = ctx;
  const primary = mesh.region(t.primary);
  const secondary = mesh.region(t.secondary);
  const groups = [w.centrelink.groupId, w.ato.groupId];
  const topics = [w.topics.assessment, w.topics.clearance];
  const secondaryLab = secondary.lab();

  await ctx.atMeasured(0);
  ctx.phase("before");
  await ctx.atMeasured(t.killAtMs);

  // Where each group really stood, just before the region went: what the checkpoints will be measured against.
  const upstream = new Map<string, Map<string, number>>();
  for (const g of groups) upstream.set(g, await committedOffsets(primary.lab(), g, topics));

  const killMs = ctx.mark("kill", { region: t.primary });
  ctx.state.killUs = performance.now() * 1000;
  ctx.phase("during-failover");
  primary.kill();
  for (const m of mesh.mirrorMakers.filter((x) => x.target === t.primary)) m.kill();
  await flow.stopEngines(t.primary, "kill");
  await flow.stopTaxEngine(t.primary, "park");
  info(`region ${t.primary} killed; failing over to ${t.secondary} in ${t.detectionMs} ms`);
  await sleep(t.detectionMs);

  // Each step is timed: the failover's own cost is part of the RTO.
  const steps: Record<string, number> = {};
  const step = async <T>(name: string, f: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    try {
      return await f();
    } finally {
      steps[name] = Math.round(performance.now() - t0);
    }
  };
  // Producers first: every second of delay here is a second of requests waiting.
  const { resent } = await step("routeProducers", () => flow.routeTo([t.secondary]));
  const failoverAtMs = ctx.nowMs();
  const checkpoints = await step("readCheckpoints", () => readCheckpoints(secondaryLab, t.primary));
  const staleness: Record<string, unknown> = {};
  await step("commitTranslatedOffsets", async () => {
    for (const g of groups) {
      const latest = latestCheckpoints(checkpoints, g);
      staleness[g] = checkpointStaleness(latest, t.primary, upstream.get(g) ?? new Map(), Date.now());
      await commitTranslatedOffsets(secondaryLab, g, latest);
    }
  });
  await step("startConsumers", async () => {
    flow.startEngines(t.secondary, [w.topics.assessment, remoteTopic(t.primary, w.topics.assessment)]);
    await flow.startTaxEngine(t.secondary, [w.topics.clearance, remoteTopic(t.primary, w.topics.clearance)]);
  });
  await step("groupsStable", () => flow.waitForGroups(t.secondary));
  // What had crossed when the region went: every acknowledged request not in here was stranded. (MM2 cannot add
  // to it any more: its source is gone.)
  const replicated = await step("scanReplicated", async () =>
    (await readToEnd(secondaryLab, remoteTopic(t.primary, w.topics.assessment), 60_000)).map((r) => r.headers["event-id"] ?? ""),
  );
  ctx.mark("failover-complete", { region: t.secondary, resent });
  ctx.phase("after-failover");
  Object.assign(ctx.findings, {
    timeline: t,
    failoverStartedAfterKillMs: failoverAtMs - killMs,
    failoverStepsMs: steps,
    resentAtFailover: resent,
    checkpointStaleness: staleness,
    replicatedAtFailover: replicated.length,
  });
  ctx.state.replicatedIds = replicated;

  await ctx.atMeasured(t.failbackAtMs);
  ctx.mark("failback-start", { region: t.primary });
  ctx.state.failbackUs = performance.now() * 1000;
  ctx.phase("during-failback");
  await primary.restart();
  for (const m of mesh.mirrorMakers.filter((x) => x.target === t.primary)) m.start();
  // The primary's groups resume on their own committed offsets: what was stranded there is processed now, and
  // what the secondary already processed is dropped by the idempotent consumer.
  flow.startEngines(t.primary, [w.topics.assessment]);
  await flow.routeTo([t.primary]);
  // The secondary drains what was written to it, and no longer reads the primary's replicated topics.
  await flow.stopEngines(t.secondary, "stop");
  await flow.stopTaxEngine(t.secondary, "close");
  flow.startEngines(t.secondary, [w.topics.assessment]);
  await flow.startTaxEngine(t.secondary, [w.topics.clearance]);
  // Only the secondary's groups are awaited: describing a group on the just-restarted primary sends coordinator
  // requests while its coordinators are still loading, which trips an assertion in librdkafka 2.15.1's admin code
  // (rd_kafka_enq_once) and aborts the runner. The primary's engines join on their own.
  await flow.waitForGroups(t.secondary);
  ctx.mark("failback-complete", { region: t.primary });
  ctx.phase("after-failback");
}

export const regionFailover: Scenario = {
  name: "region-failover",
  description:
    "Two regions (3 nodes each) with MirrorMaker 2 both ways; the primary is SIGKILLed mid-run, the flow fails over on translated offsets and back; reports RTO, RPO (stranded events), duplicates and checkpoint staleness",
  topology: "two-region",
  workload: {
    durationMs: "50s",
    rate: { kind: "constant", perSecond: 50 },
    centrelink: { instances: 2 },
    // The stranded requests complete only after failback, and the primary's consumers need a session to rejoin.
    drainTimeoutMs: "120s",
  },
  slo: [
    { metric: "counts.lost", max: 0 },
    { metric: "counts.businessDuplicates", max: 0 },
  ],
  // Duplicates arrive minutes later (after failback, or as replicated copies): keep settled requests in memory.
  ledgerGraceMs: 600_000,
  body: failoverBody,
  analyse({ history, state, marks, toRunMs, startedAtMs, runDir, slo }) {
    const killMs = marks.find((m) => m.name === "kill")?.atMs;
    if (killMs === undefined) return { failover: "the primary was never killed (the run ended before the kill)" };
    const sloMs = Math.min(300, ...slo.filter((s) => s.metric.startsWith("latencyMs.clearance.p99")).map((s) => s.max));
    const failbackUs = (state.failbackUs as number | undefined) ?? null;
    const killUs = state.killUs as number;
    const ids = new Set((state.replicatedIds as string[] | undefined) ?? []);
    const rec = recovery(history.entries, killMs, toRunMs, { sloMs, untilMs: marks.find((m) => m.name === "failback-start")?.atMs });
    return {
      rto: { firstCompletionMs: rec.firstCompletionMs, withinSloMs: rec.withinSloMs, sloMs, windows: rec.windows },
      rpo: recoveryPoint(history.entries, { region: FAILOVER_TIMELINE.primary, killUs, failbackUs, replicated: ids }),
      trulyLost: history.entries.filter((e) => e.ackedUs !== undefined && e.completedUs.length === 0).length,
      duplicates: duplicatesAfter(history.entries, engineEventTimes(runDir, "duplicate-dropped", startedAtMs), killMs, toRunMs),
    };
  },
};
