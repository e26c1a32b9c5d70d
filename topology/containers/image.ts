import { createHash } from "node:crypto";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { InfraError } from "../../lab/errors.ts";
import { installOnce, runTool } from "../../lab/install.ts";
import { podman } from "./engine.ts";

/**
 * The one image every component runs in, built here and never pulled: a Debian minbase root filesystem with the
 * runtimes the components need from Debian's packages (Kafka's JRE, Redis). The components' own artifacts (Kafka,
 * Apicurio, Toxiproxy, the lab's plug-ins) are not baked in: they are bind-mounted from the lab's cache at the
 * path they have here, so one image serves every version pin.
 */
export const IMAGE_PACKAGES = ["openjdk-17-jre-headless", "redis-server", "ca-certificates"];
const SUITE = "bookworm";

/** The JRE inside the image; another JVM a component names (Apicurio's Java 21+) is bind-mounted from this machine. */
export const IMAGE_JAVA_HOME = "/usr/lib/jvm/java-17-openjdk-amd64";

const tag = (): string => createHash("sha256").update(JSON.stringify([SUITE, IMAGE_PACKAGES])).digest("hex").slice(0, 12);
export const imageName = (): string => `localhost/meshlab-runtime:${tag()}`;

/** The apt sources of this machine, as mmdebstrap takes them (one "deb URI SUITES COMPONENTS" per entry). */
export function debianMirrors(sources: string): string[] {
  const lines: string[] = [];
  for (const stanza of sources.split(/\n\s*\n/)) {
    const field = (k: string) => new RegExp(`^${k}:\\s*(.+)$`, "m").exec(stanza)?.[1]?.trim();
    const [uris, suites, components] = [field("URIs"), field("Suites"), field("Components")];
    if (field("Types")?.split(/\s+/).includes("deb") && uris && suites && components) lines.push(`deb ${uris} ${suites} ${components}`);
  }
  return lines;
}

/**
 * Builds the image once (mmdebstrap, then podman import: about a minute), cached by the package list. A marker in
 * the cache whose image has since been removed from the engine's storage is rebuilt.
 */
export async function ensureImage(): Promise<string> {
  const name = imageName();
  for (let attempt = 0; ; attempt++) {
    const inst = await installOnce("container-image", tag(), async (dir) => {
      const sources = readFileSync("/etc/apt/sources.list.d/debian.sources", "utf8");
      const mirrors = debianMirrors(sources);
      if (!mirrors.length) throw new InfraError({ component: "container image", message: "no deb entries in /etc/apt/sources.list.d/debian.sources", hint: "the image is built from this machine's Debian mirror; configure apt first" });
      const rootfs = join(dir, "rootfs.tar");
      await mmdebstrap(rootfs, mirrors);
      await podman(["import", "--change", "ENV PATH=/usr/local/bin:/usr/bin:/bin", rootfs, name]);
      rmSync(rootfs, { force: true });
    });
    const exists = await podman(["image", "exists", name]).then(
      () => true,
      () => false,
    );
    if (exists) return name;
    if (attempt > 0) throw new InfraError({ component: "container image", message: `${name} is missing after a build`, hint: `see ${inst.dir}` });
    rmSync(inst.dir, { recursive: true, force: true });
  }
}

async function mmdebstrap(rootfs: string, mirrors: string[]): Promise<void> {
  await runTool(
    "container image",
    [
      "mmdebstrap",
      "--variant=minbase",
      `--include=${IMAGE_PACKAGES.join(",")}`,
      // This machine's clock runs ahead of the mirror's Valid-Until.
      "--aptopt=Acquire::Check-Valid-Until \"false\"",
      "--aptopt=Acquire::Check-Date \"false\"",
      SUITE,
      rootfs,
      ...mirrors,
    ],
    { hint: "mmdebstrap needs root and the Debian mirror (apt-get install -y mmdebstrap)", timeoutMs: 900_000 },
  );
}
