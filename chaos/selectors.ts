import { crc32 } from "node:zlib";
import type { Selector } from "./spec.ts";

/** What a selector can see of the mesh: nodes per region, consumer instances, and who leads what right now. */
export interface TargetView {
  regions: { name: string; nodes: { id: string; nodeId: number; roles: string[] }[] }[];
  consumers: string[];
  /** Node id (`syd-2`) leading a partition of a topic, in the given (or first) region. */
  partitionLeader(topic: string, partition: number, region?: string): Promise<string>;
  partitionCount(topic: string, region?: string): Promise<number>;
  /** Node id of the active KRaft controller of the given (or first) region. */
  quorumLeader(region?: string): Promise<string>;
}

export interface Resolved {
  kind: "nodes" | "consumers";
  /** Node ids (`syd-2`) or consumer instance names (`centrelink-1`). */
  ids: string[];
}

/** A seeded generator (mulberry32), so `one` and `minority` pick the same targets on a replay with the same seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** How many of `n` a pick takes: a minority is the largest group that is still less than half (at least one). */
export function pickCount(pick: "one" | "minority" | "majority" | "all", n: number): number {
  if (n === 0) return 0;
  if (pick === "one") return 1;
  if (pick === "all") return n;
  if (pick === "majority") return Math.floor(n / 2) + 1;
  return Math.max(1, Math.floor((n - 1) / 2));
}

/** librdkafka's default partitioner (consistent_random) for a non-empty key: CRC32 modulo the partition count. */
export const partitionOfKey = (key: string, partitions: number): number => crc32(Buffer.from(key)) % partitions;

function sample<T>(items: T[], n: number, random: () => number): T[] {
  const pool = [...items];
  for (let i = pool.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [pool[i], pool[j]] = [pool[j] as T, pool[i] as T];
  }
  return pool.slice(0, n).sort();
}

/** Resolves a selector to concrete node ids or consumer instances at this moment. Throws when nothing matches. */
export async function resolveSelector(s: Selector, view: TargetView, random: () => number): Promise<Resolved> {
  const regionNodes = (region?: string) => {
    const rs = region ? view.regions.filter((r) => r.name === region) : view.regions;
    if (region && rs.length === 0) throw new Error(`no region ${region}; the mesh has ${view.regions.map((r) => r.name).join(", ")}`);
    return rs.flatMap((r) => r.nodes);
  };
  if ("pick" in s) {
    if (s.of === "consumers") {
      if (view.consumers.length === 0) throw new Error("no consumer instances to pick from");
      return { kind: "consumers", ids: sample(view.consumers, pickCount(s.pick, view.consumers.length), random) };
    }
    const role = s.of === "brokers" ? "broker" : s.of === "controllers" ? "controller" : undefined;
    const nodes = regionNodes(s.region).filter((n) => !role || n.roles.includes(role));
    if (nodes.length === 0) throw new Error(`no ${s.of} to pick from`);
    return { kind: "nodes", ids: sample(nodes.map((n) => n.id), pickCount(s.pick, nodes.length), random) };
  }
  if ("leaderOf" in s) {
    const { topic, key } = s.leaderOf;
    const partition = key !== undefined ? partitionOfKey(key, await view.partitionCount(topic, s.region)) : (s.leaderOf.partition ?? 0);
    return { kind: "nodes", ids: [await view.partitionLeader(topic, partition, s.region)] };
  }
  if ("quorumLeader" in s) return { kind: "nodes", ids: [await view.quorumLeader(s.region)] };
  if ("region" in s) return { kind: "nodes", ids: regionNodes(s.region).map((n) => n.id) };
  if (view.consumers.includes(s.named)) return { kind: "consumers", ids: [s.named] };
  if (regionNodes().some((n) => n.id === s.named)) return { kind: "nodes", ids: [s.named] };
  throw new Error(`no component named ${s.named} (nodes: ${regionNodes().map((n) => n.id).join(", ")}; consumers: ${view.consumers.join(", ") || "none"})`);
}

/** Java's String.hashCode, which Kafka uses to place a group on a `__consumer_offsets` partition. */
export function javaStringHash(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(31, h) + s.charCodeAt(i)) | 0;
  return h;
}

/** The `__consumer_offsets` partition whose leader coordinates a group (Utils.abs(groupId.hashCode) % partitions). */
export function coordinatorPartition(groupId: string, partitions = 50): number {
  const h = javaStringHash(groupId);
  return (h === -2147483648 ? 0 : Math.abs(h)) % partitions;
}
