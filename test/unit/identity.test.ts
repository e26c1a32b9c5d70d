import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { BadInputError } from "../../lab/errors.ts";
import { renderServerProperties } from "../../topology/kafka/config.ts";
import { planMesh, portsNeeded } from "../../topology/plan.ts";
import { parseTopology } from "../../topology/spec.ts";
import { renderAgentConf, renderServerConf } from "../../topology/spire/config.ts";
import { deriveAcls, renderEntries, resources, superUsers } from "../../topology/spire/identity.ts";

const base = () => JSON.parse(readFileSync(new URL("../../topology/specs/one-region.json", import.meta.url), "utf8"));

const problemsOf = (input: unknown): readonly string[] => {
  try {
    parseTopology(input);
  } catch (e) {
    if (e instanceof BadInputError) return e.problems;
    throw e;
  }
  return [];
};

describe("identity spec", () => {
  it("defaults: mTLS, a trust domain named after the mesh, 10 min SVIDs, one identity per workload", () => {
    const spec = parseTopology(base());
    expect(spec.security).toBe("mtls");
    expect(parseTopology({ ...base(), security: "plaintext" }).security).toBe("plaintext");
    expect(spec.identity.trustDomain).toBe(`${spec.name}.meshlab.test`);
    expect(spec.identity.svidTtlMs).toBe(600_000);
    expect(spec.identity.identities.map((i) => i.user)).toContain("meshlab-ato-tax-service");
  });

  it("lists every problem at once: an unknown topic, a workload named twice, a missing one, a TTL too short to rotate", () => {
    const input = base();
    input.identity = {
      svidTtl: "10s",
      identities: [
        { workload: "ato-tax-service", path: "/ato/a", grants: { produce: ["no.such.topic"] } },
        { workload: "ato-tax-service", path: "/ato/b" },
      ],
    };
    const problems = problemsOf(input);
    expect(problems.some((p) => p.startsWith("topology.identity.svidTtl: 10 s is too short"))).toBe(true);
    expect(problems).toContain(
      'topology.identity.identities[0].grants.produce[0]: no topic "no.such.topic" in the topology; the topics are au.gov.ato.tax.assessment.v1, au.gov.servicesaustralia.clearance.v1, meshlab.probe, meshlab-registry-journal (or use a prefix with *)',
    );
    expect(problems).toContain('topology.identity.identities[1].workload: "ato-tax-service" already has an identity (identities[0])');
    expect(problems).toContain('topology.identity.identities: no identity for workload "broker"; every workload needs one (omit identities for the defaults)');
  });

  it("gives a workload a longer SVID lifetime than the plane's, and refuses an unknown workload or a shorter one", () => {
    const plane = parseTopology({ ...base(), identity: { svidTtl: "40s", svidTtlByWorkload: { registry: "15m" } } }).identity;
    const uids = Object.fromEntries(plane.identities.map((i, n) => [i.user, 900 + n]));
    const ttl = (w: string) => renderEntries(plane, "syd", uids).entries.find((e) => e.hint === w)?.x509_svid_ttl;
    expect([ttl("registry"), ttl("centrelink-engine")]).toEqual([900, 40]);
    expect(problemsOf({ ...base(), identity: { svidTtl: "40s", svidTtlByWorkload: { printer: "15m", broker: "30s" } } })).toEqual([
      "topology.identity.svidTtlByWorkload.printer: no such workload; the workloads are broker, mirrormaker, registry, ato-tax-service, ato-tax-engine, centrelink-engine, dedupe-store, lab",
      "topology.identity.svidTtlByWorkload.broker: 30 s is shorter than svidTtl (40 s); it is for workloads whose SVIDs must live longer",
    ]);
  });

  it("rejects an identity for an unknown workload", () => {
    const input = base();
    input.identity = { identities: [{ workload: "printer", path: "/x" }] };
    expect(problemsOf(input).some((p) => p.startsWith('topology.identity.identities[0].workload: "printer" is not one of'))).toBe(true);
  });
});

describe("ACLs from grants", () => {
  const plane = parseTopology(base()).identity;
  const acls = deriveAcls(plane, ["syd", "mel"]);
  const td = plane.trustDomain;

  it("expands patterns: * is every name, name* a prefix, *.name one literal per region", () => {
    expect(resources("*", ["syd"])).toEqual([{ resourceName: "*", pattern: "LITERAL" }]);
    expect(resources("t.*", ["syd"])).toEqual([{ resourceName: "t.", pattern: "PREFIXED" }]);
    expect(resources("*.t", ["syd", "mel"])).toEqual([
      { resourceName: "syd.t", pattern: "LITERAL" },
      { resourceName: "mel.t", pattern: "LITERAL" },
    ]);
  });

  it("lets the tax service write assessments, and only that; super users get no ACLs", () => {
    const svc = acls.filter((a) => a.principal === `User:spiffe://${td}/ato/core-tax-service`);
    expect(svc.filter((a) => a.operation === "WRITE").map((a) => a.resourceName)).toEqual(["au.gov.ato.tax.assessment.v1", "au.gov.ato.tax.assessment.v1."]);
    expect(svc.some((a) => a.operation === "READ")).toBe(false);
    expect(acls.some((a) => a.principal.endsWith("/kafka/broker") || a.principal.endsWith("/meshlab/lab"))).toBe(false);
    expect(superUsers(plane)).toBe(`User:spiffe://${td}/kafka/broker;User:spiffe://${td}/meshlab/lab`);
  });

  it("lets Centrelink engines read assessments of every region in their group", () => {
    const eng = acls.filter((a) => a.principal.endsWith("/centrelink/clearance-engine") && a.operation === "READ");
    expect(eng.map((a) => `${a.resourceType}:${a.resourceName}`)).toEqual([
      "TOPIC:au.gov.ato.tax.assessment.v1",
      "TOPIC:syd.au.gov.ato.tax.assessment.v1",
      "TOPIC:mel.au.gov.ato.tax.assessment.v1",
      "GROUP:centrelink-clearance-engine",
    ]);
  });
});

describe("rendering", () => {
  const spec = parseTopology({ ...base(), security: "mtls" });
  const plane = spec.identity;

  it("registers each workload under its region's agent by the uid of its user", () => {
    const uids = Object.fromEntries(plane.identities.map((i, n) => [i.user, 900 + n]));
    const { entries } = renderEntries(plane, "syd", uids);
    const svc = entries.find((e) => e.hint === "ato-tax-service");
    expect(svc).toEqual({
      spiffe_id: `spiffe://${plane.trustDomain}/ato/core-tax-service`,
      parent_id: `spiffe://${plane.trustDomain}/meshlab/agent/syd`,
      selectors: [{ type: "unix", value: `uid:${uids["meshlab-ato-tax-service"]}` }],
      x509_svid_ttl: 600,
      hint: "ato-tax-service",
    });
    expect(() => renderEntries(plane, "syd", {})).toThrow(/no uid/);
  });

  it("renders SPIRE configs with the root as upstream authority and a disk key manager for the agent", () => {
    const server = renderServerConf({ trustDomain: "t.test", port: 1, healthPort: 2, dataDir: "/d", socketPath: "/s", rootCert: "/r.pem", rootKey: "/r.key", caTtl: "12h" });
    expect(server).toContain('UpstreamAuthority "disk"');
    expect(server).toContain('cert_file_path = "/r.pem"');
    const agent = renderAgentConf({ trustDomain: "t.test", serverPort: 1, dataDir: "/a", socketPath: "/s", adminSocketPath: "/as", trustBundle: "/r.pem" });
    expect(agent).toContain('KeyManager "disk"');
    expect(agent).toContain('trust_bundle_path = "/r.pem"');
  });

  it("puts every listener on SSL with the SVID engine factory, the SPIFFE principal builder and deny by default", () => {
    const plan = planMesh(spec, "/tmp/run", Array.from({ length: portsNeeded(spec) }, (_, i) => 20000 + i), ["c"]);
    const region = plan.regions[0];
    const node = region?.nodes[0];
    if (!region || !node) throw new Error("no node");
    const text = renderServerProperties(spec, region, node, { svid: "/s.pem", key: "/k.pem", bundle: "/b.pem" });
    const map = /listener\.security\.protocol\.map=(.*)/.exec(text)?.[1] ?? "";
    expect(map.split(",").every((e) => e.endsWith(":SSL"))).toBe(true);
    expect(text).toContain("ssl.engine.factory.class=meshlab.spiffe.SvidSslEngineFactory");
    expect(text).toContain("principal.builder.class=meshlab.spiffe.SpiffePrincipalBuilder");
    expect(text).toContain("allow.everyone.if.no.acl.found=false");
    expect(() => renderServerProperties(spec, region, node)).toThrow(/no SVID files/);
  });
});
