import { randomUUID } from "node:crypto";
import { waitUntil } from "../lab/proc.ts";
import { type ClientTls, type ConsumedRecord, type KafkaDriver, withTls } from "./drivers/driver.ts";

/**
 * Reads a topic from its beginning to its end as a fresh consumer group: the evidence a checker needs about what
 * any consumer could ever have seen (the DLQ's contents; that a refused payload is not on the assessment topic).
 * "The end" is a committed lag of 0 for the group, which counts every partition from its low watermark, so a
 * partition nobody wrote to is not waited for and one that was is read to its high watermark.
 */
export async function readWholeTopic(
  driver: KafkaDriver,
  opts: { bootstrap: string; tls?: ClientTls | undefined; topic: string; timeoutMs?: number; clientId?: string },
): Promise<ConsumedRecord[]> {
  const groupId = `meshlab-audit-${randomUUID()}`;
  const clientId = opts.clientId ?? "meshlab-audit";
  const admin = await driver.admin({ bootstrap: opts.bootstrap, clientId: `${clientId}-admin`, ...withTls(opts.tls) });
  const records: ConsumedRecord[] = [];
  const consumer = await driver.consumer({ bootstrap: opts.bootstrap, clientId, groupId, topics: [opts.topic], concurrency: 12, ...withTls(opts.tls) });
  try {
    if (!(await admin.topic(opts.topic))) return records;
    await consumer.run(async (r) => {
      records.push(r);
    });
    await waitUntil(`the audit of ${opts.topic} to reach the end of every partition`, async () => ((await admin.groupLag(groupId, opts.topic)) === 0 ? true : undefined), {
      timeoutMs: opts.timeoutMs ?? 90_000,
      intervalMs: 500,
      hint: "the audit consumer (a fresh group on the lab listener) did not catch up: is the cluster still up?",
    });
    return records;
  } finally {
    await consumer.close().catch(() => {});
    await admin.close().catch(() => {});
  }
}
