import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Alert } from "../../lab/alerts.ts";
import type { FaultRecord } from "../../chaos/schedule.ts";
import type { RunResult } from "../../reports/result.ts";
import { WORKLOADS } from "../../topology/spire/identity.ts";
import { meshlab, tempDir } from "./helpers.ts";

/** The alert of a rule about a subject that fired while a fault was on (with `slackMs` for the watch's 1 s samples). */
const firedDuring = (alerts: Alert[], name: string, subject: string, f: FaultRecord, slackMs = 3_000): Alert | undefined =>
  alerts.find((a) => a.name === name && a.subject === subject && a.firedAtMs >= f.startMs && a.firedAtMs <= (f.endMs ?? Number.POSITIVE_INFINITY) + slackMs);

/** SPIRE outages on a real SPIRE, Kafka and Apicurio, through the real entry point (40 s SVIDs). */
describe("./meshlab run spire-outage (SPIRE server down, attestation failing, agent stopped past the TTL)", () => {
  it("pages for each outage, cuts the unattested workload off at its SVID's expiry, recovers after each heal and loses nothing acknowledged", async () => {
    const out = join(tempDir("spire-outage"), "out");
    const cli = meshlab(["run", "spire-outage", "--out", out]);
    expect(await cli.exited, cli.output()).toBe(0); // the scenario's SLO: nothing lost, unexpected or in flight
    const r = JSON.parse(readFileSync(join(out, "result.json"), "utf8")) as RunResult;
    expect(r.status).toBe("completed");
    const [server, attestation, agent] = r.faults ?? [];
    if (!server || !attestation || !agent) throw new Error(`three faults expected: ${JSON.stringify(r.faults)}`);
    for (const f of [server, attestation, agent]) expect([f.kind, f.outcome, typeof f.details?.recoveryMs], JSON.stringify(f)).toEqual([f.kind, "healed", "number"]);

    // Server down 10 s: SVIDs were still served from the agents' caches, nothing expired, no probe refused; a new
    // registration was refused, a new instance of a registered workload got its SVID from the agent.
    expect(server.details).toMatchObject({ expiredDuringFault: [], probesRefused: 0, newInstanceGotSvid: true });
    expect(String(server.details?.newRegistration)).toMatch(/^refused/);

    // Attestation failing 48 s (past the 40 s TTL): no new SVID for the tax service, refused once its SVID expired.
    const d = attestation.details as { svidExpiresInMs: number; cutOffAfterMs: number; firstRefusal: string; expiredDuringFault: string[]; renewedDuringFault: string[] };
    expect(d.renewedDuringFault).not.toContain("ato-tax-service");
    expect(d.expiredDuringFault).toContain("ato-tax-service");
    expect(d.cutOffAfterMs).toBeGreaterThanOrEqual(d.svidExpiresInMs - 1_500);
    expect(d.cutOffAfterMs).toBeLessThanOrEqual(d.svidExpiresInMs + 3_000);

    // Agent stopped 46 s: every 40 s SVID of the region expired, the probe was refused, all came back after the
    // heal. The registry's lives 15 min on this spec (its KafkaSQL client cannot take a new one) and outlived it.
    const a = agent.details as { expiredDuringFault: string[]; probesRefused: number };
    expect(new Set(a.expiredDuringFault)).toEqual(new Set(WORKLOADS.filter((w) => w !== "registry")));
    expect(a.probesRefused).toBeGreaterThan(0);

    // Each outage paged while it lasted, and every alert resolved by the end of the run.
    const alerts = r.alerts ?? [];
    expect(firedDuring(alerts, "spire-server-unreachable", "spire-server syd", server)).toBeDefined();
    // It resolves only once the heal gave the entry its uid back (48 s after injection) and a new SVID arrived.
    const cutOff = firedDuring(alerts, "svid-expired", "ato-tax-service in syd", attestation);
    expect(cutOff?.resolvedAtMs).toBeGreaterThan(attestation.startMs + 48_000);
    expect(firedDuring(alerts, "spire-agent-down", "spire-agent syd", agent)).toBeDefined();
    expect(firedDuring(alerts, "svid-expired", "broker in syd", agent)).toBeDefined();
    expect(alerts.filter((x) => x.resolvedAtMs === null)).toEqual([]);

    // A workload with no valid SVID cannot sign: its requests failed at the source, every one of them saying so;
    // everything acknowledged was answered (the engines held their responses while their SVIDs were expired).
    expect(r.counts.errors).toBeGreaterThan(0);
    expect(r.counts).toMatchObject({ lost: 0, unexpected: 0, inFlight: 0 });
    expect(r.counts.completed + r.counts.errors).toBe(r.counts.intended);
    // Per fault: nothing failed while only the server was down; requests failed while the tax service was cut off.
    expect(server.requests?.failed).toBe(0);
    expect(attestation.requests?.failed).toBeGreaterThan(0);
    expect(agent.requests?.failed).toBeGreaterThan(0);
    for (const e of r.checker.evidence.errors) expect(e.error).toMatch(/SVID of .* expired at .* no new one was issued/);
    expect(readFileSync(join(out, "summary.md"), "utf8")).toContain("### Alerts");
  }, 480_000); // the scenario runs 160 s of traffic after a 60-70 s stand-up: about 4 min, twice that on a loaded box
});
