/**
 * What the identity plane costs, side by side in one invocation: the same clearance-smoke run (same seed, rate,
 * duration and machine) with `security: plaintext` and with mTLS plus signed events, then the per-event cost of
 * signing and verifying on this machine. Each run is a normal lab run (its own run directory, result.json, report).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type SigningKey, signEvent, signingKeyOf, Verifier } from "../generators/signing.ts";
import { BadInputError } from "../lab/errors.ts";
import { info } from "../lab/log.ts";
import { resolveRun, type RunOverrides, runScenario } from "../lab/runner.ts";
import { parseDuration } from "../lab/validate.ts";
import type { RunResult } from "../reports/result.ts";
import { findScenario } from "../scenarios/index.ts";
import { cell, FlagReader, parseFlags, prepareRunDir, renderTable, round, runMain, timestamp, writeBenchResult } from "./common.ts";

const USAGE = "node bench/security.ts [--rate 50] [--duration 20s] [--seed 42] [--signs 5000] [--out DIR]";

/**
 * A leaf SVID-like key signed by a CA, with the leaf + CA chain a SPIRE SVID file carries (leaf and the server's
 * intermediate), made with openssl; the CA is the verifier's bundle.
 */
function caSignedKey(spiffeId: string): { key: SigningKey; bundle: string } {
  const dir = mkdtempSync(join(tmpdir(), "meshlab-bench-pki-"));
  const f = (n: string) => join(dir, n);
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  try {
    execFileSync("openssl", ["req", "-x509", ...ec, "-keyout", f("ca.key"), "-out", f("ca.pem"), "-days", "1", "-subj", "/O=bench-ca", "-addext", "basicConstraints=critical,CA:true", "-addext", "keyUsage=critical,keyCertSign"], { stdio: "pipe" });
    execFileSync("openssl", ["req", ...ec, "-keyout", f("leaf.key"), "-out", f("leaf.csr"), "-subj", "/O=SPIRE"], { stdio: "pipe" });
    writeFileSync(f("leaf.ext"), `basicConstraints=critical,CA:false\nkeyUsage=critical,digitalSignature\nsubjectAltName=URI:${spiffeId}\n`);
    execFileSync("openssl", ["x509", "-req", "-in", f("leaf.csr"), "-CA", f("ca.pem"), "-CAkey", f("ca.key"), "-CAcreateserial", "-out", f("leaf.pem"), "-days", "1", "-extfile", f("leaf.ext")], { stdio: "pipe" });
    const bundle = readFileSync(f("ca.pem"), "utf8");
    return { key: signingKeyOf(readFileSync(f("leaf.pem"), "utf8") + bundle, readFileSync(f("leaf.key"), "utf8")), bundle };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Sign and verify one encoded-assessment-sized payload `n` times; µs per operation, and the first (uncached) verify. */
function signingCost(n: number): { signUs: number; verifyUs: number; firstVerifyUs: number; headerBytes: number; chainCerts: number } {
  const { key, bundle } = caSignedKey("spiffe://bench.meshlab.test/ato/core-tax-service");
  const verifier = new Verifier(bundle, () => key.spiffeId);
  const payload = Buffer.alloc(420, 7); // about an encoded assessment (bench/produce-rate.ts measures 400-450 B)
  let t = performance.now();
  const headers = Array.from({ length: n }, (_, i) => signEvent(key, "t", `e${i}`, payload));
  const signUs = ((performance.now() - t) * 1000) / n;
  t = performance.now();
  verifier.verify("t", "e0", payload, headers[0] ?? {}); // checks the chain once, then caches it
  const firstVerifyUs = (performance.now() - t) * 1000;
  t = performance.now();
  for (let i = 1; i < n; i++) verifier.verify("t", `e${i}`, payload, headers[i] ?? {});
  const verifyUs = ((performance.now() - t) * 1000) / Math.max(1, n - 1);
  const headerBytes = Object.entries(headers[0] ?? {}).reduce((s, [k, v]) => s + k.length + v.length, 0);
  return { signUs: round(signUs, 1), verifyUs: round(verifyUs, 1), firstVerifyUs: round(firstVerifyUs, 0), headerBytes, chainCerts: key.chain.split(".").length };
}

async function main(): Promise<void> {
  const v = parseFlags(USAGE, "clearance-smoke with security plaintext, then mTLS with signed events; then sign/verify per event.", {
    rate: { type: "string", arg: "N", help: "requests per second (default 50)" },
    duration: { type: "string", arg: "D", help: "measured part of each run after its 10 s warm-up (default 20s)" },
    seed: { type: "string", arg: "N", help: "the workload seed, the same for both runs (default 42)" },
    signs: { type: "string", arg: "N", help: "signatures made and verified for the per-event cost (default 5000)" },
    out: { type: "string", arg: "DIR", help: "directory for both runs and bench-result.json (default runs/bench-security-<time>)" },
  });
  const f = new FlagReader(v);
  const rate = f.num("rate", 50, 1);
  const seed = f.int("seed", 42, 0);
  const signs = f.int("signs", 5_000, 2);
  const duration = typeof v.duration === "string" ? v.duration : "20s";
  const durationMs = parseDuration(duration);
  if (durationMs === undefined) f.problems.push(`--duration ${duration}: expected a duration such as 20s or 2m`);
  if (f.problems.length) throw new BadInputError("bad flags", f.problems, `usage: ${USAGE}`);
  const dir = prepareRunDir(`bench-security-${timestamp()}`, typeof v.out === "string" ? v.out : undefined);

  const runs: Record<string, RunResult> = {};
  for (const security of ["plaintext", "mtls"] as const) {
    const out = join(dir, security);
    const overrides: RunOverrides = { out, security, perSecond: rate, durationMs, seed };
    info(`clearance-smoke with security ${security} -> ${out}`);
    await runScenario(resolveRun(findScenario("clearance-smoke"), overrides), overrides);
    runs[security] = JSON.parse(readFileSync(join(out, "result.json"), "utf8")) as RunResult;
    if (runs[security]?.status !== "completed") throw new Error(`the ${security} run did not complete (${runs[security]?.status}); see ${out}`);
  }
  const cost = signingCost(signs);
  const [p, m] = [runs.plaintext as RunResult, runs.mtls as RunResult];
  const row = (name: string, a: number, b: number) => [name, cell(a), cell(b), cell(b / a)];
  const table = renderTable(
    ["", "plaintext", "mTLS + signed", "ratio"],
    [
      row("clearance p50 (ms)", p.latencyMs.clearance.p50, m.latencyMs.clearance.p50),
      row("clearance p95 (ms)", p.latencyMs.clearance.p95, m.latencyMs.clearance.p95),
      row("clearance p99 (ms)", p.latencyMs.clearance.p99, m.latencyMs.clearance.p99),
      row("produce ack p99 (ms)", p.latencyMs.produceAck.p99, m.latencyMs.produceAck.p99),
      row("stand-up to traffic (s)", (p.trafficStartMs ?? Number.NaN) / 1000, (m.trafficStartMs ?? Number.NaN) / 1000),
      row("lost", p.counts.lost, m.counts.lost),
    ],
  );
  const file = writeBenchResult(dir, { rate, duration, seed, runs: { plaintext: join(dir, "plaintext"), mtls: join(dir, "mtls") }, latencyMs: { plaintext: p.latencyMs, mtls: m.latencyMs }, trafficStartMs: { plaintext: p.trafficStartMs, mtls: m.trafficStartMs }, signing: { ...cost, samples: signs } });
  process.stdout.write(
    `${table}\n\nsign ${cost.signUs} µs, verify ${cost.verifyUs} µs per event (the first, checking the chain, ${cost.firstVerifyUs} µs); ECDSA P-256, ${cost.chainCerts}-certificate chain, ${cost.headerBytes} header bytes per event\n${file}\n`,
  );
}

runMain(main);
