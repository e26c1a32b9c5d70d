import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { findJava, installOnce, runTool } from "../../lab/install.ts";
import { DEPENDENCY_PLUGIN } from "../../topology/kafka/install.ts";

/** The newest 2.2.x of HdrHistogram's Java library on Maven Central. */
export const HDRHISTOGRAM_VERSION = "2.2.2";

const here = new URL(".", import.meta.url).pathname;

export interface HdrJava {
  java: string;
  classpath: string;
}

/** HdrHistogram's Java jar from Maven Central into the cache, the way the lab installs Kafka's. */
export async function installHdrHistogramJava(): Promise<HdrJava> {
  const inst = await installOnce("hdrhistogram-java", HDRHISTOGRAM_VERSION, async (dir) => {
    writeFileSync(join(dir, "pom.xml"), readFileSync(join(here, "pom.xml"), "utf8").replace("@HDRHISTOGRAM_VERSION@", HDRHISTOGRAM_VERSION));
    await runTool(
      "hdrhistogram-java install",
      ["mvn", "-q", "-B", `${DEPENDENCY_PLUGIN}:copy-dependencies`, "-DincludeScope=runtime", `-DoutputDirectory=${join(dir, "lib")}`],
      { cwd: dir, hint: "Maven must reach Maven Central; run `mvn -v` and check the network" },
    );
  });
  return { java: await findJava(11, "MESHLAB_HDR_JAVA_HOME"), classpath: join(inst.dir, "lib", "*") };
}

/** `HistogramLogProcessor` on a log: its percentile distribution (values divided by `unitRatio`) as text. */
export async function histogramLogProcessor(h: HdrJava, args: string[]): Promise<string> {
  return runTool("HistogramLogProcessor", [h.java, "-cp", h.classpath, "org.HdrHistogram.HistogramLogProcessor", ...args], {
    hint: "HdrHistogram's Java tool rejected the log; the lab's interval-log writer is out of step with the format",
    timeoutMs: 120_000,
  });
}
