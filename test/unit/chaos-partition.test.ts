import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { crossesPartition, linksTo, partitionLinks } from "../../chaos/injectors.ts";
import type { StartedRegion } from "../../topology/local/mesh.ts";
import { planMesh, portsNeeded } from "../../topology/plan.ts";
import { parseTopology } from "../../topology/spec.ts";

const spec = parseTopology(JSON.parse(readFileSync(new URL("../../topology/specs/one-region.json", import.meta.url), "utf8")));
const plan = planMesh(spec, "/tmp/run", Array.from({ length: portsNeeded(spec) }, (_, i) => 20000 + i), ["c"]);
const region = plan.regions[0];
if (!region) throw new Error("no region");
const cut = (isolated: string[]) => region.links.filter((l) => crossesPartition(l, new Set(isolated))).map((l) => l.name).sort();

describe("a partition isolating syd-2", () => {
  const names = cut(["syd-2"]);

  it("cuts the clients' links to it, never the lab's", () => {
    expect(names).toEqual(expect.arrayContaining(["syd-2.ato", "syd-2.centrelink", "syd-2.registry"]));
    expect(names.filter((n) => n.endsWith(".lab"))).toEqual([]);
  });

  it("cuts node-to-node traffic both ways: to syd-2 from the others, and from syd-2 to the others", () => {
    for (const k of ["broker", "controller"])
      for (const other of ["syd-1", "syd-3"]) {
        expect(names).toContain(`syd-2.${k}.from-${other}`);
        expect(names).toContain(`${other}.${k}.from-syd-2`);
      }
  });

  it("leaves syd-2 talking to itself, and the others to each other", () => {
    expect(names.filter((n) => n.endsWith("from-syd-2") && n.startsWith("syd-2."))).toEqual([]);
    expect(names).not.toContain("syd-1.controller.from-syd-3");
    expect(names).not.toContain("syd-3.broker.from-syd-1");
    expect(names.filter((n) => n.startsWith("syd-1.") || n.startsWith("syd-3.")).every((n) => n.endsWith("from-syd-2"))).toBe(true);
  });
});

describe("a partition isolating a minority of two nodes", () => {
  it("keeps the minority's links to each other and cuts every link across", () => {
    const names = cut(["syd-1", "syd-2"]);
    expect(names).not.toContain("syd-1.controller.from-syd-2");
    expect(names).not.toContain("syd-2.broker.from-syd-1");
    expect(names).toContain("syd-3.controller.from-syd-1");
    expect(names).toContain("syd-1.broker.from-syd-3");
    expect(names).not.toContain("syd-3.ato");
  });
});

describe("linksTo", () => {
  it("finds the shared link and every per-source link of a class towards a node", () => {
    const ctx = { regions: [{ plan: region } as unknown as StartedRegion] };
    expect(linksTo(ctx, "syd-2", "broker").sort()).toEqual(["syd-2.broker", "syd-2.broker.from-syd-1", "syd-2.broker.from-syd-2", "syd-2.broker.from-syd-3"]);
    expect(linksTo(ctx, "syd-2", "ato")).toEqual(["syd-2.ato"]);
    expect(linksTo(ctx, "syd-9", "ato")).toEqual(["syd-9.ato"]); // unknown: the injection names what exists
  });
});

describe("a partition on a mesh without per-source links (the containers backend)", () => {
  it("is refused, saying why, instead of cutting only the traffic towards the isolated node", () => {
    let n = 0;
    const hosts = new Map<string, string>();
    const placement = { perSourceLinks: false, hostOf: (c: string) => hosts.get(c) ?? (hosts.set(c, `10.89.3.${10 + n++}`).get(c) as string) };
    const one = planMesh(spec, "/tmp/run", Array.from({ length: portsNeeded(spec) }, (_, i) => 20000 + i), ["c"], placement);
    expect(() => partitionLinks(one.regions, new Set(["syd-2"]))).toThrow(/no per-source links .* run it on the local backend/);
    expect(partitionLinks(plan.regions, new Set(["syd-2"])).map((l) => l.name).sort()).toEqual(cut(["syd-2"]));
  });
});
