import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { installOnce } from "../../lab/install.ts";

describe("installOnce", () => {
  let cache: string;
  const saved = process.env.MESHLAB_CACHE;
  beforeEach(() => {
    cache = mkdtempSync(join(tmpdir(), "meshlab-install-"));
    process.env.MESHLAB_CACHE = cache;
  });
  afterEach(() => {
    process.env.MESHLAB_CACHE = saved;
  });

  it("installs once, then finds the marker", async () => {
    let builds = 0;
    const build = async (dir: string) => {
      builds++;
      writeFileSync(join(dir, "bin"), "x");
    };
    await installOnce("thing", "1.0", build);
    const again = await installOnce("thing", "1.0", build);
    expect(builds).toBe(1);
    expect(existsSync(join(again.dir, "bin"))).toBe(true);
  });

  it("runs one install when the same process asks for it twice at once (both get it)", async () => {
    let builds = 0;
    const build = async (dir: string) => {
      builds++;
      await new Promise((r) => setTimeout(r, 100));
      writeFileSync(join(dir, "bin"), "x");
    };
    const [a, b] = await Promise.all([installOnce("thing", "1.5", build), installOnce("thing", "1.5", build)]);
    expect(builds).toBe(1);
    expect(existsSync(join(a.dir, "bin")) && a.dir === b.dir).toBe(true);
  });

  it("waits for another live process installing the same version instead of building it twice", async () => {
    const other = spawn("sleep", ["30"]);
    const dir = join(cache, "thing", "2.0");
    mkdirSync(`${dir}.partial-${other.pid}`, { recursive: true });
    let built = false;
    const waiting = installOnce("thing", "2.0", async () => {
      built = true;
    });
    setTimeout(() => {
      // The other process finishes: its scratch folder becomes the install, with its marker.
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, ".installed"), "done\n");
    }, 300);
    try {
      expect((await waiting).dir).toBe(dir);
      expect(built).toBe(false);
    } finally {
      other.kill();
    }
  }, 10_000);

  it("installs itself when the other installer died", async () => {
    const dir = join(cache, "thing", "3.0");
    mkdirSync(`${dir}.partial-999999999`, { recursive: true });
    let built = false;
    await installOnce("thing", "3.0", async () => {
      built = true;
    });
    expect(built).toBe(true);
    expect(existsSync(join(dir, ".installed"))).toBe(true);
  });
});
