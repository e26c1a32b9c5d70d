import { schemaMismatch } from "./schema-mismatch.ts";
import type { Scenario } from "./scenario.ts";

/**
 * The flagship flow with the seed's payload format: both topics in Protobuf (registered in Apicurio as PROTOBUF
 * through its Confluent-compatible API, framed with the message-index array), with the schema-mismatch row on, so
 * the Protobuf serializer's refusals are exercised too.
 */
export const clearanceProtobuf: Scenario = {
  name: "clearance-protobuf",
  description: "clearance-smoke in Protobuf (registry wire format with message indexes), 2 % of assessments not matching the .proto: refused and dead-lettered",
  topology: "one-region",
  workload: { ...schemaMismatch.workload, encoding: "protobuf" },
  slo: schemaMismatch.slo,
};
