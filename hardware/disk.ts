import type { HostFacts } from "./facts.ts";
import { shq } from "./facts.ts";

/**
 * The data volume's physical floor, measured with fio: the latency of a 4 KiB write followed by fsync (what a
 * broker with `acks=all` waits for at best, per replica, when it flushes) and sequential 1 MiB write throughput.
 * `fioScript` runs fio on the host (locally or over SSH) into a scratch file it removes; `parseDiskBaseline` reads
 * fio's JSON, so the figures are tested on recorded output.
 */
export interface DiskBaseline {
  path: string;
  fio: string;
  fsync: { count: number; meanMs: number; p50Ms: number; p99Ms: number; maxMs: number };
  sequentialWriteMBps: number;
}

const FSYNC = "--name=fsync --rw=write --bs=4k --size=16m --fsync=1 --ioengine=sync --runtime=15";
const SEQ = "--name=seqwrite --rw=write --bs=1m --size=128m --direct=1 --ioengine=libaio --iodepth=8 --end_fsync=1 --runtime=20";

/** Both fio jobs on `dir`, each printing its JSON between markers; the scratch file is removed whatever happens. */
export function fioScript(dir: string): string {
  const f = shq(`${dir}/.meshlab-fio`);
  return [
    `mkdir -p ${shq(dir)} && trap 'rm -f ${f.slice(1, -1)}' EXIT`,
    `echo '@@fsync'; fio ${FSYNC} --filename=${f} --output-format=json || exit 1; rm -f ${f}`,
    `echo '@@seq'; fio ${SEQ} --filename=${f} --output-format=json || exit 1`,
    "",
  ].join("\n");
}

interface FioJson {
  "fio version": string;
  jobs: { sync?: { total_ios: number; lat_ns: { mean: number; max: number; percentile?: Record<string, number> } }; write: { bw_bytes: number } }[];
}

const ms = (ns: number | undefined): number => Math.round(((ns ?? Number.NaN) / 1e6) * 1000) / 1000;

export function parseDiskBaseline(output: string, path: string): DiskBaseline {
  const [, fsyncPart = "", seqPart = ""] = output.split(/^@@(?:fsync|seq)$/m);
  const fsync = JSON.parse(fsyncPart.slice(fsyncPart.indexOf("{"))) as FioJson;
  const seq = JSON.parse(seqPart.slice(seqPart.indexOf("{"))) as FioJson;
  const sync = fsync.jobs[0]?.sync;
  if (!sync) throw new Error("fio reported no fsync latencies (fio 3.5 or newer reports them)");
  return {
    path,
    fio: fsync["fio version"],
    fsync: { count: sync.total_ios, meanMs: ms(sync.lat_ns.mean), p50Ms: ms(sync.lat_ns.percentile?.["50.000000"]), p99Ms: ms(sync.lat_ns.percentile?.["99.000000"]), maxMs: ms(sync.lat_ns.max) },
    sequentialWriteMBps: Math.round(((seq.jobs[0]?.write.bw_bytes ?? 0) / 1e6) * 10) / 10,
  };
}

/** One line for the terminal. */
export const describeBaseline = (b: DiskBaseline, facts?: HostFacts): string =>
  `disk ${b.path}${facts?.data.device ? ` (${facts.data.device}, ${facts.data.fsType})` : ""}: fsync p50 ${b.fsync.p50Ms} ms, p99 ${b.fsync.p99Ms} ms, max ${b.fsync.maxMs} ms over ${b.fsync.count} writes; sequential write ${b.sequentialWriteMBps} MB/s (fio ${b.fio})`;
