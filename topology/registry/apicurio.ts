import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DEPENDENCY_PLUGIN } from "../kafka/install.ts";
import { findJava, type Installed, installOnce, runTool } from "../../lab/install.ts";
import { warn } from "../../lab/log.ts";
import { exitedError, type Launcher, type ProcessHandle, waitUntil } from "../../lab/proc.ts";
import { type Attempt, withRetries } from "../../lab/retry.ts";
import { startTlsFront } from "../ghostunnel/ghostunnel.ts";
import type { ClientTls } from "../../generators/drivers/driver.ts";
import { agentFor, getJson } from "../../generators/svid-https.ts";
import { addr, type Endpoint, freePorts } from "../plan.ts";

/** Apicurio Registry 3.x; its Quarkus build needs Java 21 or newer. */
export const APICURIO_VERSION = "3.3.3";
const ARTIFACT = `io.apicurio:apicurio-registry-app:${APICURIO_VERSION}:tar.gz:all`;

/** Fetches Apicurio's published Quarkus fast-jar assembly (classifier `all`) from Maven Central and unpacks it. */
export async function installApicurio(): Promise<Installed & { runJar: string }> {
  const inst = await installOnce("apicurio", APICURIO_VERSION, async (dir) => {
    const hint = "Maven must reach Maven Central; retry `./meshlab setup`";
    await runTool("apicurio install", ["mvn", "-q", "-B", `${DEPENDENCY_PLUGIN}:copy`, `-Dartifact=${ARTIFACT}`, `-DoutputDirectory=${dir}`, "-Dmdep.stripVersion=true"], {
      cwd: dir,
      hint,
    });
    mkdirSync(join(dir, "app"));
    await runTool("apicurio install", ["tar", "xzf", join(dir, "apicurio-registry-app-all.tar.gz"), "-C", join(dir, "app")], { hint });
    await runTool("apicurio install", ["rm", join(dir, "apicurio-registry-app-all.tar.gz")], { hint });
  });
  return { ...inst, runJar: join(inst.dir, "app", "quarkus-run.jar") };
}

/**
 * System properties for KafkaSQL's Kafka clients (`apicurio.kafka.common.*` reaches all of them). Apicurio runs
 * from its Quarkus fast-jar, whose class path the lab's SVID engine factory cannot join, so it takes Kafka's
 * built-in PEM key store: the key and chain in one file, written here from the SVID files. Kafka's Java clients
 * read it once; their connections outlive the certificate they opened with (TLS has no re-authentication).
 */
function kafkaSqlTls(tls: { svid: string; key: string; bundle: string }, dir: string): string[] {
  const keystore = join(dir, "kafkasql-keystore.pem");
  writeFileSync(keystore, `${readFileSync(tls.key, "utf8").trim()}\n${readFileSync(tls.svid, "utf8").trim()}\n`, { mode: 0o600 });
  const props: Record<string, string> = {
    "apicurio.kafkasql.security.protocol": "SSL",
    "apicurio.kafka.common.security.protocol": "SSL",
    "apicurio.kafka.common.ssl.keystore.type": "PEM",
    "apicurio.kafka.common.ssl.keystore.location": keystore,
    "apicurio.kafka.common.ssl.truststore.type": "PEM",
    "apicurio.kafka.common.ssl.truststore.location": tls.bundle,
    "apicurio.kafka.common.ssl.endpoint.identification.algorithm": "",
  };
  return Object.entries(props).map(([k, v]) => `-D${k}=${v}`);
}

interface RegistryOptions {
  supervisor: Launcher;
  name: string;
  dir: string;
  bind: Endpoint;
  advertised: Endpoint;
  storage: "kafkasql" | "mem";
  /** The KafkaSQL journal; a secondary region reads the primary's, replicated by MirrorMaker. */
  journalTopic?: string;
  bootstrap: string;
  heapMb: number;
  /** The registry's SVID: its API's server certificate and its KafkaSQL clients' certificate to the brokers. */
  tls?: { svid: string; key: string; bundle: string };
  /**
   * With `tls`: the SPIFFE IDs that may call the API, and the lab's SVID for the readiness check. The API is then
   * HTTPS only, behind a ghostunnel TLS front on `bind` that requires a client certificate and checks its SPIFFE
   * ID; Apicurio itself listens on a loopback port nothing else is told of.
   */
  callers?: { allow: string[]; labTls: ClientTls };
}

/** The schema registry of a region, reached by clients through its Confluent-compatible API. */
export class StartedRegistry implements AsyncDisposable {
  readonly process: ProcessHandle;
  /** The TLS front (ghostunnel) on an mTLS mesh. */
  readonly tlsFront: ProcessHandle | undefined;
  /** Base URL of the Confluent-compatible API, as clients see it (through the region's registry link). */
  readonly ccompatUrl: string;

  private constructor(process: ProcessHandle, tlsFront: ProcessHandle | undefined, ccompatUrl: string) {
    this.process = process;
    this.tlsFront = tlsFront;
    this.ccompatUrl = ccompatUrl;
  }

  /** Every process of the registry (Apicurio, and its TLS front): what a region kill kills. */
  processes(): ProcessHandle[] {
    return this.tlsFront ? [this.process, this.tlsFront] : [this.process];
  }

  /**
   * Starts Apicurio. With `kafkasql` storage its schemas live in a Kafka topic of the region, so they survive a
   * registry restart and any registry on the same cluster serves the same ids.
   */
  /**
   * Starts Apicurio, again (up to three times) when it exits before it answers. Seen under heavy load: a KafkaSQL
   * topic it had just created not yet known to the broker it asked (`UnknownTopicOrPartitionException`), and on
   * 40 s SVIDs a key store whose certificate expired while the JVM was still starting. A new start reads the
   * SVID again; each exit is in its log and in the run's `crashes`.
   */
  static start(opts: RegistryOptions): Promise<StartedRegistry> {
    return withRetries(3, () => StartedRegistry.#startOnce(opts), (n, e) => warn(`${opts.name}: exited before it answered (attempt ${n} of 3), starting it again: ${e.message}`));
  }

  static async #startOnce(opts: RegistryOptions): Promise<Attempt<StartedRegistry>> {
    const inst = await installApicurio();
    const java = await findJava(21, "MESHLAB_REGISTRY_JAVA_HOME");
    mkdirSync(opts.dir, { recursive: true });
    const storageEnv: Record<string, string> =
      opts.storage === "kafkasql"
        ? {
            APICURIO_STORAGE_KIND: "kafkasql",
            APICURIO_KAFKASQL_BOOTSTRAP_SERVERS: opts.bootstrap,
            APICURIO_KAFKASQL_TOPIC: opts.journalTopic ?? "meshlab-registry-journal",
            APICURIO_KAFKASQL_SNAPSHOTS_TOPIC: "meshlab-registry-snapshots",
            // Under the registry's own prefix, so its ACLs (topology/spire/identity.ts) cover every topic it makes.
            APICURIO_EVENTS_KAFKA_TOPIC: "meshlab-registry-events",
            // Start-up polls the journal and snapshot topics to the end; 5 s per empty poll is most of its boot.
            APICURIO_KAFKASQL_CONSUMER_POLL_TIMEOUT: "500",
          }
        : { APICURIO_STORAGE_KIND: "sql", APICURIO_STORAGE_SQL_KIND: "h2" };
    const tlsArgs = opts.tls && opts.storage === "kafkasql" ? kafkaSqlTls(opts.tls, opts.dir) : [];
    const front = opts.tls && opts.callers ? { tls: opts.tls, ...opts.callers } : undefined;
    const own: Endpoint = front ? { host: "127.0.0.1", port: (await freePorts(1))[0] ?? 0 } : opts.bind;
    const proc = opts.supervisor.spawn(
      opts.name,
      [java, ...tlsArgs, `-Xms${opts.heapMb}m`, `-Xmx${opts.heapMb}m`, "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", `-XX:SharedArchiveFile=${join(inst.dir, "app.jsa")}`, "-XX:+AutoCreateSharedArchive", "-jar", inst.runJar],
      {
        cwd: opts.dir,
        logFile: join(opts.dir, "apicurio.log"),
        stopGraceMs: 3_000,
        host: opts.bind.host,
        env: {
          QUARKUS_HTTP_HOST: own.host,
          QUARKUS_HTTP_PORT: String(own.port),
          QUARKUS_HTTP_ACCESS_LOG_ENABLED: "false",
          QUARKUS_LOG_CATEGORY__IO_APICURIO_REGISTRY_LOGGING_AUDIT__LEVEL: "WARN",
          QUARKUS_OTEL_SDK_DISABLED: "true",
          // Quarkus's management interface (health, metrics) binds the fixed port 9000 on every address by
          // default: two registries on one machine (two runs, or a test beside a run) would clash. It is fixed
          // on at build time, so it gets a random loopback port instead; the lab checks readiness on the API.
          QUARKUS_MANAGEMENT_HOST: opts.bind.host,
          QUARKUS_MANAGEMENT_PORT: "0",
          ...storageEnv,
        },
      },
    );
    const tlsFront = front
      ? await startTlsFront({ supervisor: opts.supervisor, name: `${opts.name} tls`, logFile: join(opts.dir, "ghostunnel.log"), listen: opts.bind, target: own, ...front })
      : undefined;
    const scheme = front ? "https" : "http";
    const started = new StartedRegistry(proc, tlsFront, `${scheme}://${addr(opts.advertised)}/apis/ccompat/v7`);
    const agent = agentFor(`${scheme}:`, front?.labTls);
    const ready = waitUntil(
      "Apicurio Registry to answer",
      // The ccompat API answers only once storage is ready (with kafkasql: once the journal topic is read); on
      // mTLS through the TLS front, as every client reaches it.
      async () => {
        if (tlsFront && !tlsFront.running()) throw await exitedError(tlsFront, "while the registry started", `read ${tlsFront.logFile}`);
        return (await getJson(`${scheme}://${addr(opts.bind)}/apis/ccompat/v7/subjects`, agent).catch(() => undefined))?.status === 200 ? true : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 500, process: proc, hint: "Apicurio needs Java 21+ and, with kafkasql storage, the region's brokers" },
    );
    try {
      await ready;
    } catch (e) {
      if (proc.running() || !(e instanceof Error)) throw e;
      await tlsFront?.stop();
      return { retryable: e };
    }
    return { ok: started };
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await Promise.all(this.processes().map((p) => p.stop()));
  }
}
