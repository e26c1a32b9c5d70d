import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ClientTls, KafkaAccess } from "../../generators/drivers/driver.ts";
import { runTool } from "../../lab/install.ts";
import { installSpiffeJar } from "../spire/install.ts";
import { installKafka, kafkaJavaArgv } from "./install.ts";

/**
 * A Java Kafka client's settings for an SVID: the lab's engine factory reads the PEM files spiffe-helper keeps
 * current (Kafka's own PEM keystore wants key and chain in one file). No hostname check: SVIDs name a SPIFFE ID.
 */
export function javaClientTls(tls: ClientTls | undefined): Record<string, string> {
  if (!tls) return {};
  return {
    "security.protocol": "SSL",
    "ssl.engine.factory.class": "meshlab.spiffe.SvidSslEngineFactory",
    "spiffe.svid.file": tls.cert,
    "spiffe.key.file": tls.key,
    "spiffe.bundle.file": tls.ca,
    "ssl.endpoint.identification.algorithm": "",
  };
}

export const renderProperties = (props: Record<string, string>): string =>
  Object.entries(props)
    .map(([k, v]) => `${k}=${v}`)
    .join("\n");

/**
 * Runs one of Kafka's command-line tools (`kafka.admin.ConfigCommand`, `MetadataQuorumCommand`, ...) against
 * `access`; on an mTLS mesh with a `--command-config` holding the SVID settings and the lab's plug-ins on the
 * classpath.
 */
export async function runKafkaTool(what: string, access: KafkaAccess, mainClass: string, args: string[], opts: { hint: string; timeoutMs: number; version?: string }): Promise<string> {
  const kafka = await installKafka(opts.version);
  if (!access.tls) return runTool(what, kafkaJavaArgv(kafka, 128, mainClass, ["--bootstrap-server", access.bootstrap, ...args], [], { shortLived: true }), opts);
  const jar = await installSpiffeJar();
  const dir = mkdtempSync(join(tmpdir(), "meshlab-tool-"));
  try {
    const conf = join(dir, "client.properties");
    writeFileSync(conf, `${renderProperties(javaClientTls(access.tls))}\n`);
    const k = { ...kafka, classpath: `${kafka.classpath}:${jar.jar}` };
    return await runTool(what, kafkaJavaArgv(k, 128, mainClass, ["--bootstrap-server", access.bootstrap, "--command-config", conf, ...args], [], { shortLived: true }), opts);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
