import { spawnSync } from "node:child_process";
import { closeSync, mkdirSync, openSync, rmSync, statfsSync, statSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";

const FILLER = "meshlab-disk-filler";

export interface FsUsage {
  totalBytes: number;
  usedBytes: number;
  percent: number;
}

export function usage(dir: string): FsUsage {
  const s = statfsSync(dir);
  const totalBytes = s.blocks * s.bsize;
  const usedBytes = totalBytes - s.bavail * s.bsize;
  return { totalBytes, usedBytes, percent: Math.round((usedBytes / totalBytes) * 1000) / 10 };
}

const isMountPoint = (dir: string): boolean => statSync(dir).dev !== statSync(dirname(dir)).dev;

/**
 * Fills the filesystem holding `dir` to `percent` with one filler file (Kafka ignores plain files in a log dir).
 * Refuses unless `dir` is its own mount point: the lab must never fill the host's disk, only a size-limited
 * filesystem made for the purpose (see `limitDir`).
 */
export async function fillDisk(dir: string, percent: number): Promise<{ details: Record<string, unknown>; heal(): Promise<Record<string, unknown>> }> {
  if (!isMountPoint(dir)) throw new Error(`${dir} is not a size-limited mount: disk-fill only fills a filesystem made for it (limitDir)`);
  const before = usage(dir);
  // 100 % means "until the filesystem refuses": blocks reserved for root would otherwise stay free.
  const want = percent >= 100 ? Number.POSITIVE_INFINITY : Math.max(0, Math.ceil((before.totalBytes * percent) / 100 - before.usedBytes));
  const file = join(dir, FILLER);
  const fd = openSync(file, "a");
  const chunk = Buffer.alloc(1 << 20, 0x5a);
  let written = 0;
  let full = false;
  try {
    while (written < want) {
      try {
        written += writeSync(fd, chunk, 0, Math.min(chunk.length, want - written));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "ENOSPC") throw e;
        full = true;
        break;
      }
    }
  } finally {
    closeSync(fd);
  }
  const after = usage(dir);
  return {
    details: { fsBytes: before.totalBytes, usedPercentBefore: before.percent, usedPercentAfter: after.percent, fillerBytes: written, enospc: full },
    heal: async () => {
      rmSync(file, { force: true });
      return { usedPercentAfterHeal: usage(dir).percent };
    },
  };
}

/**
 * Mounts a size-limited tmpfs on `dir` (created if missing), for a broker's log dir. Needs root (or
 * CAP_SYS_ADMIN); without it, mount a small filesystem there yourself (e.g. an fstab `user` entry for a loop
 * file) and the disk faults work the same. Disposing unmounts it (lazily, so a still-running process does not
 * block the teardown).
 */
export function limitDir(dir: string, sizeMb: number): AsyncDisposable & { dir: string } {
  mkdirSync(dir, { recursive: true });
  if (process.getuid?.() !== 0)
    throw new Error(`a size-limited log dir needs root to mount a tmpfs on ${dir}; without root, mount a ${sizeMb} MB filesystem there first`);
  const r = spawnSync("mount", ["-t", "tmpfs", "-o", `size=${sizeMb}m,mode=0755`, "meshlab-tmpfs", dir], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`mount tmpfs on ${dir} failed: ${r.stderr || r.error?.message}`);
  return {
    dir,
    async [Symbol.asyncDispose]() {
      spawnSync("umount", ["-l", dir]);
    },
  };
}

/** Disposes each item, whatever the others do. */
export async function disposeAll(items: (AsyncDisposable | undefined)[]): Promise<void> {
  await Promise.allSettled(items.map((i) => i?.[Symbol.asyncDispose]()));
}
