import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { findJava, type Installed, installOnce, runTool } from "../../lab/install.ts";
import { DEPENDENCY_PLUGIN, KAFKA_VERSION } from "../kafka/install.ts";

const here = new URL(".", import.meta.url).pathname;

export interface MirrorMakerInstall extends Installed {
  java: string;
  classpath: string;
  log4jConfig: string;
}

/**
 * MirrorMaker 2 (`org.apache.kafka:connect-mirror`, the lab's Kafka version) from Maven Central, in its own lib/
 * folder: Connect's runtime must not share a classpath with the broker's.
 */
export async function installMirrorMaker(): Promise<MirrorMakerInstall> {
  const inst = await installOnce("mirrormaker", KAFKA_VERSION, async (dir) => {
    writeFileSync(join(dir, "pom.xml"), readFileSync(join(here, "pom.xml"), "utf8").replace("@KAFKA_VERSION@", KAFKA_VERSION));
    copyFileSync(join(here, "..", "kafka", "log4j2.properties"), join(dir, "log4j2.properties"));
    await runTool(
      "mirrormaker install",
      ["mvn", "-q", "-B", `${DEPENDENCY_PLUGIN}:copy-dependencies`, "-DincludeScope=runtime", `-DoutputDirectory=${join(dir, "lib")}`],
      { cwd: dir, hint: "Maven must reach Maven Central; run `mvn -v` and check the network, then retry `./meshlab setup`" },
    );
  });
  return {
    ...inst,
    java: await findJava(17, "MESHLAB_KAFKA_JAVA_HOME"),
    classpath: join(inst.dir, "lib", "*"),
    log4jConfig: join(inst.dir, "log4j2.properties"),
  };
}
