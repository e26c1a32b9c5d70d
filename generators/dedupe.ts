import { createClient } from "redis";

/**
 * What an idempotent consumer remembers: the event ids it has fully processed, each for a TTL. A delivery whose id
 * is remembered is a duplicate from Kafka (redelivery after a rebalance or failover, or a replicated copy) and is
 * dropped before any business logic runs.
 */
export interface DedupeStore {
  readonly kind: "redis" | "none";
  /** True when the event was already processed (within the TTL). */
  seen(eventId: string): Promise<boolean>;
  /** Marks an event processed; called only once its effects (the response) are acknowledged. */
  remember(eventId: string): Promise<void>;
  close(): Promise<void>;
}

const KEY_PREFIX = "meshlab:processed:";

/** Without a store nothing is remembered: every delivery reaches the business logic (the at-least-once baseline). */
export const noDedupe: DedupeStore = {
  kind: "none",
  seen: async () => false,
  remember: async () => {},
  close: async () => {},
};

export async function openDedupeStore(url: string | undefined, ttlSeconds: number): Promise<DedupeStore> {
  if (!url) return noDedupe;
  const client = createClient({ url, socket: { reconnectStrategy: (retries) => Math.min(50 * 2 ** retries, 1000) } });
  // Errors surface on the commands; the client reconnects on its own.
  client.on("error", () => {});
  await client.connect();
  return {
    kind: "redis",
    seen: async (eventId) => (await client.exists(KEY_PREFIX + eventId)) === 1,
    remember: async (eventId) => {
      await client.set(KEY_PREFIX + eventId, "1", { expiration: { type: "EX", value: ttlSeconds } });
    },
    close: async () => {
      await client.quit().catch(() => client.destroy());
    },
  };
}
