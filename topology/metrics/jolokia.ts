import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Installed, installOnce, runTool } from "../../lab/install.ts";
import { DEPENDENCY_PLUGIN } from "../kafka/install.ts";
import { addr, type Endpoint } from "../plan.ts";

/** Jolokia's JVM agent (`org.jolokia:jolokia-agent-jvm`, the self-contained `javaagent` jar) from Maven Central. */
export const JOLOKIA_VERSION = "2.2.9";

export interface JolokiaInstall extends Installed {
  /** The agent jar, for `-javaagent:`. */
  jar: string;
  /** The access policy every agent of the lab runs under: reads only (no MBean writes or operations over HTTP). */
  policy: string;
}

/**
 * Only reads: an agent bound to loopback is still reachable by every local user, and Jolokia's `exec` would
 * let one of them call any MBean operation (shut a broker down, change a log level) of a broker under test.
 */
const READ_ONLY_POLICY = `<?xml version="1.0" encoding="utf-8"?>
<!-- meshlab: the lab samples broker metrics over Jolokia; it never writes or invokes anything. -->
<restrict>
  <commands>
    <command>read</command>
    <command>version</command>
  </commands>
</restrict>
`;

export async function installJolokia(): Promise<JolokiaInstall> {
  const inst = await installOnce("jolokia", JOLOKIA_VERSION, async (dir) => {
    await runTool(
      "jolokia install",
      ["mvn", "-q", "-B", `${DEPENDENCY_PLUGIN}:copy`, `-Dartifact=org.jolokia:jolokia-agent-jvm:${JOLOKIA_VERSION}:jar:javaagent`, `-DoutputDirectory=${dir}`, "-Dmdep.stripVersion=true"],
      { cwd: dir, hint: "Maven must reach Maven Central; run `mvn -v` and check the network, then retry `./meshlab setup`" },
    );
    writeFileSync(join(dir, "jolokia-access.xml"), READ_ONLY_POLICY);
  });
  return { ...inst, jar: join(inst.dir, "jolokia-agent-jvm-javaagent.jar"), policy: join(inst.dir, "jolokia-access.xml") };
}

/** Where a JVM's agent answers, and the JVM option that starts it there. */
export interface MetricsAgent {
  /** `http://127.0.0.1:<port>/jolokia/` */
  url: string;
  jvmOption: string;
}

/** The agent of one JVM on its own loopback port; discovery (UDP multicast) off, reads only. */
export function metricsAgent(j: Pick<JolokiaInstall, "jar" | "policy">, at: Endpoint): MetricsAgent {
  const opts = [`host=${at.host}`, `port=${at.port}`, "discoveryEnabled=false", `policyLocation=file://${j.policy}`];
  return { url: `http://${addr(at)}/jolokia/`, jvmOption: `-javaagent:${j.jar}=${opts.join(",")}` };
}
