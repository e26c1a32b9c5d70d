import { hostname } from "node:os";
import { join } from "node:path";
import type { NodePlan, RegionPlan } from "../plan.ts";
import { brokersOf, type TopologySpec } from "../spec.ts";
import { superUsers } from "../spire/identity.ts";

/** The node's own SVID files (spiffe-helper keeps them current); present when the mesh runs mTLS. */
export interface NodeTls {
  svid: string;
  key: string;
  bundle: string;
}

/**
 * mTLS on every listener, the lab's SVID engine factory (re-reads rotated files on each new connection), the
 * SPIFFE principal builder and KRaft's StandardAuthorizer, deny by default. Hostname verification is off: SVIDs
 * carry a SPIFFE ID and no IP SAN, and every link is an IP address; peers are verified by chain to the trust
 * bundle, and authorized by SPIFFE ID.
 */
export function tlsProperties(spec: TopologySpec, tls: NodeTls): Record<string, string> {
  return {
    "ssl.engine.factory.class": "meshlab.spiffe.SvidSslEngineFactory",
    "spiffe.svid.file": tls.svid,
    "spiffe.key.file": tls.key,
    "spiffe.bundle.file": tls.bundle,
    "ssl.client.auth": "required",
    "ssl.endpoint.identification.algorithm": "",
    "principal.builder.class": "meshlab.spiffe.SpiffePrincipalBuilder",
    "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
    "allow.everyone.if.no.acl.found": "false",
    "super.users": superUsers(spec.identity),
  };
}

/**
 * Renders a KRaft node's server.properties. Each link class has its own listener, bound on the node's real port
 * and advertised at its proxy, so Kafka hands every client the proxied addresses of its own class.
 */
export function renderServerProperties(spec: TopologySpec, region: RegionPlan, node: NodePlan, tls?: NodeTls): string {
  if (spec.security === "mtls" && !tls) throw new Error(`renderServerProperties: ${node.spec.id} has no SVID files, but the mesh runs mTLS`);
  const protocol = spec.security === "mtls" ? "SSL" : "PLAINTEXT";
  const regionSpec = spec.regions.find((r) => r.name === region.name);
  if (!regionSpec) throw new Error(`renderServerProperties: no region ${region.name} in the spec`);
  const brokers = brokersOf(regionSpec).length;
  const rf = Math.min(3, brokers);
  const minIsr = Math.min(2, rf);
  const isBroker = node.spec.roles.includes("broker");
  const isController = node.spec.roles.includes("controller");

  const props: Record<string, string | number> = {
    "process.roles": node.spec.roles.join(","),
    "node.id": node.spec.nodeId,
    "controller.quorum.voters": region.voters,
    "controller.listener.names": "CONTROLLER",
    listeners: node.listeners.map((l) => `${l.name}://${l.bind.host}:${l.bind.port}`).join(","),
    "advertised.listeners": node.listeners.map((l) => `${l.name}://${l.advertised.host}:${l.advertised.port}`).join(","),
    "listener.security.protocol.map": [...new Set([...node.listeners.map((l) => l.name), "CONTROLLER", "REPLICATION"])]
      .map((n) => `${n}:${protocol}`)
      .join(","),
    "log.dirs": join(node.dir, "data"),
  };
  if (isBroker) {
    Object.assign(props, {
      "inter.broker.listener.name": "REPLICATION",
      "broker.rack": node.spec.az,
      "num.partitions": 12,
      "default.replication.factor": rf,
      "min.insync.replicas": minIsr,
      "offsets.topic.replication.factor": rf,
      "transaction.state.log.replication.factor": rf,
      "transaction.state.log.min.isr": minIsr,
      "share.coordinator.state.topic.replication.factor": rf,
      "share.coordinator.state.topic.min.isr": minIsr,
      "auto.create.topics.enable": "false",
      // A lab run starts its consumers right after the cluster: waiting 3 s for more members only adds latency.
      "group.initial.rebalance.delay.ms": 0,
      "message.max.bytes": 5242880 + 1024,
      "replica.fetch.max.bytes": 5242880 + 1024,
    });
  }
  if (isController) {
    Object.assign(props, { "metadata.log.dir": join(node.dir, "metadata") });
  }
  if (tls && spec.security === "mtls") Object.assign(props, tlsProperties(spec, tls));
  Object.assign(props, spec.kafka.config);

  const header = [
    `# meshlab: node ${node.spec.id} (node.id ${node.spec.nodeId}) of region ${region.name}, cluster ${region.clusterId}`,
    "# Rendered by topology/kafka/config.ts; edits are lost on the next run.",
  ];
  return `${[...header, ...Object.entries(props).map(([k, v]) => `${k}=${v}`)].join("\n")}\n`;
}

/**
 * A JVM hosts file (`-Djdk.net.hosts.file`) for a node: its peers' names, plus localhost and this machine's name,
 * which the JVM would otherwise fail to resolve (the file replaces the system resolver for that JVM).
 */
export function renderHostsFile(hosts: Record<string, string>, machine = hostname()): string {
  const lines = ["# Rendered by topology/kafka/config.ts: peer names to this node's source address.", `127.0.0.1 localhost ${machine}`];
  for (const [name, ip] of Object.entries(hosts)) lines.push(`${ip} ${name}`);
  return `${lines.join("\n")}\n`;
}
