import { createClient } from "redis";
import { redisSocket } from "../topology/redis/redis.ts";
import { type ClientTls, readSvidPems } from "./drivers/driver.ts";
import { SvidWatch } from "./drivers/rotation.ts";

/**
 * What an idempotent consumer remembers: the event ids it is processing (a claim, with a short TTL) and has
 * processed (for a long TTL). A delivery whose id is processed is a duplicate from Kafka (redelivery after a
 * rebalance or failover, or a replicated copy) and is dropped before any business logic runs; one whose id is
 * claimed by another instance waits for it, so two live instances never both process an event.
 */
export interface DedupeStore {
  readonly kind: "redis" | "none";
  /**
   * `claimed`: this instance may process the event; `done`: it was processed (drop it); `busy`: another instance
   * holds a claim (wait and ask again; a claim of a dead instance expires after its TTL).
   */
  claim(eventId: string, owner: string): Promise<"claimed" | "done" | "busy">;
  /** Gives a claim up after a failure, so a redelivery is processed at once. */
  release(eventId: string, owner: string): Promise<void>;
  /** Marks an event processed; called only once its effects (the response) are acknowledged. */
  remember(eventId: string): Promise<void>;
  close(): Promise<void>;
}

const KEY_PREFIX = "meshlab:processed:";

/** Without a store nothing is remembered: every delivery reaches the business logic (the at-least-once baseline). */
export const noDedupe: DedupeStore = {
  kind: "none",
  claim: async () => "claimed",
  release: async () => {},
  remember: async () => {},
  close: async () => {},
};

const DONE = "done";

/** `tls`: the workload's SVID files, for a store that requires client certificates (`rediss://`, an mTLS mesh). */
export async function openDedupeStore(url: string | undefined, ttlSeconds: number, claimSeconds = 10, tls?: ClientTls): Promise<DedupeStore> {
  if (!url) return noDedupe;
  const svid = url.startsWith("rediss:") ? tls : undefined;
  const connect = async () => {
    const c = createClient({ url, socket: { ...redisSocket(svid), reconnectStrategy: (retries) => Math.min(50 * 2 ** retries, 1000) } });
    // Errors surface on the commands; the client reconnects on its own.
    c.on("error", () => {});
    await c.connect();
    return c;
  };
  let client = await connect();
  // node-redis reconnects with the certificate it was made with: a new SVID gets a new client, the old one quits
  // once its pending replies are in.
  const watch = svid
    ? new SvidWatch(svid, readSvidPems(svid).serial, async () => {
        const [old, fresh] = [client, await connect()];
        client = fresh;
        await old.quit().catch(() => old.destroy());
      })
    : undefined;
  return {
    kind: "redis",
    claim: async (eventId, owner) => {
      const key = KEY_PREFIX + eventId;
      const mine = `claim:${owner}`;
      if ((await client.set(key, mine, { condition: "NX", expiration: { type: "EX", value: claimSeconds } })) === "OK") return "claimed";
      const v = await client.get(key);
      if (v === DONE) return "done";
      if (v === mine || v === null) return v === null ? "busy" : "claimed"; // null: the claim just expired; ask again
      return "busy";
    },
    release: async (eventId, owner) => {
      const key = KEY_PREFIX + eventId;
      if ((await client.get(key)) === `claim:${owner}`) await client.del(key);
    },
    remember: async (eventId) => {
      await client.set(KEY_PREFIX + eventId, DONE, { expiration: { type: "EX", value: ttlSeconds } });
    },
    close: async () => {
      watch?.stop();
      await client.quit().catch(() => client.destroy());
    },
  };
}
