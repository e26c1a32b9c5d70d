import kafkajs from "kafkajs";
import type { ClientTls } from "../../generators/drivers/driver.ts";
import { kafkajsSsl } from "../../generators/drivers/kafkajs.ts";
import type { AclBinding } from "../spire/identity.ts";

// kafkajs is CommonJS: its ACL enums are not visible as named ESM exports.
const { AclOperationTypes, AclPermissionTypes, AclResourceTypes, Kafka, logLevel, ResourcePatternTypes } = kafkajs;

/**
 * Writes the spec's ACLs into a region (StandardAuthorizer keeps them in the metadata log, so every broker and
 * controller sees them). Through kafkajs: @confluentinc/kafka-javascript's admin has no ACL calls.
 */
export async function createAcls(bootstrap: string, tls: ClientTls | undefined, acls: AclBinding[]): Promise<void> {
  if (!acls.length) return;
  const admin = new Kafka({ brokers: bootstrap.split(","), clientId: "meshlab-acls", logLevel: logLevel.NOTHING, ...kafkajsSsl(tls) }).admin();
  await admin.connect();
  try {
    await admin.createAcls({
      acl: acls.map((a) => ({
        resourceType: AclResourceTypes[a.resourceType],
        resourceName: a.resourceName,
        resourcePatternType: ResourcePatternTypes[a.pattern],
        principal: a.principal,
        host: "*",
        operation: AclOperationTypes[a.operation as keyof typeof AclOperationTypes],
        permissionType: AclPermissionTypes.ALLOW,
      })),
    });
  } finally {
    await admin.disconnect();
  }
}
