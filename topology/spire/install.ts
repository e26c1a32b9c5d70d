import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { findJava, goBuild, type Installed, installOnce, runTool } from "../../lab/install.ts";
import { installKafka } from "../kafka/install.ts";

/** The one SPIRE release the Go module proxy serves here (COMPONENTS.md). */
export const SPIRE_VERSION = "1.13.3";
export const SPIFFE_HELPER_VERSION = "0.11.0";

export interface SpireInstall extends Installed {
  server: string;
  agent: string;
  helper: string;
}

/**
 * SPIRE server and agent, and spiffe-helper, built from the Go module proxy (about 10 CPU minutes the first time,
 * then cached like the Kafka jars).
 */
export async function installSpire(): Promise<SpireInstall> {
  const inst = await installOnce("spire", `${SPIRE_VERSION}+helper-${SPIFFE_HELPER_VERSION}`, async (dir) => {
    await goBuild("spire", "github.com/spiffe/spire", SPIRE_VERSION, dir, ["./cmd/spire-server", "./cmd/spire-agent"]);
    await goBuild("spiffe-helper", "github.com/spiffe/spiffe-helper", SPIFFE_HELPER_VERSION, dir, ["./cmd/spiffe-helper"]);
  });
  return { ...inst, server: join(inst.dir, "spire-server"), agent: join(inst.dir, "spire-agent"), helper: join(inst.dir, "spiffe-helper") };
}

const JAVA_SRC = new URL("./java/", import.meta.url).pathname;

function javaSources(): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else if (e.name.endsWith(".java")) out.push(join(d, e.name));
    }
  };
  walk(JAVA_SRC);
  return out.sort();
}

export interface SpiffeJar extends Installed {
  jar: string;
}

/**
 * The lab's Kafka plug-ins (SPIFFE principal builder, SVID engine factory), compiled against the lab's Kafka
 * clients. Cached by a hash of the sources, so an edit rebuilds it.
 */
export async function installSpiffeJar(): Promise<SpiffeJar> {
  const kafka = await installKafka();
  const sources = javaSources();
  const hash = createHash("sha256");
  for (const f of sources) hash.update(f.slice(JAVA_SRC.length)).update(readFileSync(f));
  const version = `${kafka.version}-${hash.digest("hex").slice(0, 12)}`;
  const java = await findJava(17, "MESHLAB_KAFKA_JAVA_HOME");
  const tool = (name: string) => (java.includes("/") ? join(dirname(java), name) : name);
  const inst = await installOnce("kafka-spiffe", version, async (dir) => {
    const classes = join(dir, "classes");
    mkdirSync(classes, { recursive: true });
    const hint = "a JDK 17+ (javac) is needed to build the lab's Kafka plug-ins; install openjdk-17-jdk-headless";
    await runTool("kafka-spiffe javac", [tool("javac"), "--release", "17", "-cp", kafka.classpath, "-d", classes, ...sources], { hint });
    await runTool("kafka-spiffe jar", [tool("jar"), "--create", "--file", join(dir, "meshlab-spiffe.jar"), "-C", classes, "."], { hint });
  });
  return { ...inst, jar: join(inst.dir, "meshlab-spiffe.jar") };
}
