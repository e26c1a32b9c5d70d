import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { findJava, type Installed, installOnce, runTool } from "../../lab/install.ts";

/**
 * The newest Kafka 4.x whose artifacts are all on Maven Central here (4.4.0 publishes kafka_2.13 and
 * kafka-clients but not kafka-tools or connect-mirror, so its tools and MirrorMaker 2 cannot be had).
 */
export const KAFKA_VERSION = "4.3.1";
/**
 * The Kafka versions a topology may run (`kafka.version`): the lab's own, and the release before it, which the
 * `rolling-upgrade` fault upgrades from (chaos/upgrade.ts). Each is installed into its own cache folder.
 */
export const KAFKA_VERSIONS = ["4.2.2", KAFKA_VERSION] as const;
/** Pinned, because Maven 3.8's default dependency plugin is too old for copy-dependencies' flags. */
export const DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1";

const here = new URL(".", import.meta.url).pathname;

export interface KafkaInstall extends Installed {
  java: string;
  classpath: string;
  log4jConfig: string;
}

/**
 * A JVM component on the lab's Kafka version: `<pomDir>/pom.xml` (with `@KAFKA_VERSION@`) resolved from Maven Central
 * into its own lib/ folder, with Kafka's log4j2 config. Each component keeps its own folder, so Connect's jars never
 * share a classpath with the broker's.
 */
export async function installKafkaClasspath(component: string, pomDir: string, version: string = KAFKA_VERSION): Promise<KafkaInstall> {
  const inst = await installOnce(component, version, async (dir) => {
    writeFileSync(join(dir, "pom.xml"), readFileSync(join(pomDir, "pom.xml"), "utf8").replace("@KAFKA_VERSION@", version));
    copyFileSync(join(here, "log4j2.properties"), join(dir, "log4j2.properties"));
    await runTool(
      `${component} install`,
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

/** Kafka's jars (broker, controller, tools) from Maven Central into the cache, with a log4j2 config. */
export const installKafka = (version: string = KAFKA_VERSION): Promise<KafkaInstall> => installKafkaClasspath("kafka", here, version);

/**
 * A short-lived tool's JVM (a format, not a broker): C1 only and the serial collector. Three parallel formats of
 * `kafka.tools.StorageTool` took 1.25 s of CPU each instead of 1.87 s (JDK 17, README, *Stand-up*); a broker or a
 * benchmark keeps the full JIT and G1.
 */
const SHORT_LIVED = ["-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xshare:auto"];

/** The JVM command line of a Kafka main class, with the lab's heap and logging. */
export function kafkaJavaArgv(k: KafkaInstall, heapMb: number, mainClass: string, args: string[], jvmOpts: string[] = [], o: { shortLived?: boolean } = {}): string[] {
  return [
    k.java,
    ...jvmOpts,
    `-Xms${heapMb}m`,
    `-Xmx${heapMb}m`,
    ...(o.shortLived ? SHORT_LIVED : ["-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20"]),
    "-Djava.awt.headless=true",
    `-Dlog4j2.configurationFile=${k.log4jConfig}`,
    "-cp",
    k.classpath,
    mainClass,
    ...args,
  ];
}
