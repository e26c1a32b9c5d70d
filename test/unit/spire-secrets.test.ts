import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { removeStaleSecrets } from "../../topology/spire/spire.ts";

describe("SPIRE secrets directories", () => {
  it("removes those of runners that are gone and keeps those of live ones and anything else", () => {
    const dir = mkdtempSync(join(tmpdir(), "meshlab-secrets-test-"));
    const gone = spawnSync("true").pid; // exited before we look
    for (const name of [`meshlab-spire-${gone}-syd`, `meshlab-spire-${gone}-mel`, `meshlab-spire-${process.pid}-syd`, "meshlab-spire-x-syd", "unrelated"])
      mkdirSync(join(dir, name, "svid"), { recursive: true });
    expect(removeStaleSecrets(dir).sort()).toEqual([`meshlab-spire-${gone}-mel`, `meshlab-spire-${gone}-syd`]);
    expect(readdirSync(dir).sort()).toEqual([`meshlab-spire-${process.pid}-syd`, "meshlab-spire-x-syd", "unrelated"].sort());
    expect(existsSync(join(dir, `meshlab-spire-${process.pid}-syd`, "svid"))).toBe(true);
  });
});
