import type { TopologySpec } from "../spec.ts";

/** Why a topology cannot run on containers, or nothing: reported with the spec's other problems. */
export function containersProblems(spec: Pick<TopologySpec, "security">): string[] {
  return spec.security === "mtls"
    ? [
        'topology.backend: "containers" runs plaintext meshes only (the SPIRE identity plane is not carried into containers yet); set "security": "plaintext" or run with --security plaintext',
      ]
    : [];
}
