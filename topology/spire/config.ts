/**
 * SPIRE's and spiffe-helper's HCL configs. Pure, so they are unit-tested; `spire.ts` writes them into the run
 * directory and starts the processes.
 */

const q = (s: string | number): string => JSON.stringify(String(s));

export interface ServerConf {
  trustDomain: string;
  port: number;
  healthPort: number;
  dataDir: string;
  socketPath: string;
  /** The mesh's root CA: every region's server signs with an intermediate from it, so one bundle verifies all. */
  rootCert: string;
  rootKey: string;
  caTtl: string;
}

export function renderServerConf(c: ServerConf): string {
  return `# Rendered by topology/spire/config.ts
server {
  bind_address = "127.0.0.1"
  bind_port = ${q(c.port)}
  socket_path = ${q(c.socketPath)}
  trust_domain = ${q(c.trustDomain)}
  data_dir = ${q(c.dataDir)}
  log_level = "INFO"
  ca_ttl = ${q(c.caTtl)}
  ca_key_type = "ec-p256"
}

plugins {
  DataStore "sql" {
    plugin_data {
      database_type = "sqlite3"
      connection_string = ${q(`${c.dataDir}/datastore.sqlite3`)}
    }
  }
  KeyManager "memory" {
    plugin_data {}
  }
  NodeAttestor "join_token" {
    plugin_data {}
  }
  UpstreamAuthority "disk" {
    plugin_data {
      cert_file_path = ${q(c.rootCert)}
      key_file_path = ${q(c.rootKey)}
    }
  }
}

health_checks {
  listener_enabled = true
  bind_address = "127.0.0.1"
  bind_port = ${q(c.healthPort)}
  live_path = "/live"
  ready_path = "/ready"
}
`;
}

export interface AgentConf {
  trustDomain: string;
  serverPort: number;
  dataDir: string;
  socketPath: string;
  adminSocketPath: string;
  trustBundle: string;
}

/** The agent keeps its key on disk: a join token attests once, so a restarted agent must re-attest with its own SVID. */
export function renderAgentConf(c: AgentConf): string {
  return `# Rendered by topology/spire/config.ts
agent {
  data_dir = ${q(c.dataDir)}
  log_level = "INFO"
  server_address = "127.0.0.1"
  server_port = ${q(c.serverPort)}
  socket_path = ${q(c.socketPath)}
  admin_socket_path = ${q(c.adminSocketPath)}
  trust_bundle_path = ${q(c.trustBundle)}
  trust_domain = ${q(c.trustDomain)}
}

plugins {
  NodeAttestor "join_token" {
    plugin_data {}
  }
  KeyManager "disk" {
    plugin_data {
      directory = ${q(c.dataDir)}
    }
  }
  WorkloadAttestor "unix" {
    plugin_data {}
  }
}
`;
}

/** File names spiffe-helper writes into a workload's cert dir (the SVID with its intermediates, key, bundle). */
export const SVID_FILES = { svid: "svid.pem", key: "svid_key.pem", bundle: "bundle.pem" } as const;

export function renderHelperConf(c: { agentSocket: string; certDir: string }): string {
  return `# Rendered by topology/spire/config.ts
agent_address = ${q(c.agentSocket)}
cmd = ""
cmd_args = ""
cert_dir = ${q(c.certDir)}
svid_file_name = ${q(SVID_FILES.svid)}
svid_key_file_name = ${q(SVID_FILES.key)}
svid_bundle_file_name = ${q(SVID_FILES.bundle)}
daemon_mode = true
`;
}
