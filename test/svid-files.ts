import { execFileSync } from "node:child_process";
import { copyFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ClientTls } from "../generators/drivers/driver.ts";

/** A self-signed EC certificate and its PKCS#8 key, as spiffe-helper writes an SVID (cert, key, bundle). */
export function svid(dir: string, name: string): { cert: string; key: string } {
  const [ec, key, cert] = [join(dir, `${name}.ec`), join(dir, `${name}.key`), join(dir, `${name}.pem`)];
  execFileSync("openssl", ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", ec]);
  execFileSync("openssl", ["pkcs8", "-topk8", "-nocrypt", "-in", ec, "-out", key]);
  execFileSync("openssl", ["req", "-x509", "-new", "-key", key, "-out", cert, "-days", "1", "-subj", `/CN=${name}`]);
  return { cert, key };
}

/** The SVID files a workload reads, with `install` to put another SVID in place as spiffe-helper does on rotation. */
export function workloadFiles(dir = mkdtempSync(join(tmpdir(), "meshlab-rotation-"))) {
  const tls: ClientTls = { cert: join(dir, "svid.pem"), key: join(dir, "svid_key.pem"), ca: join(dir, "bundle.pem") };
  const install = (s: { cert: string; key: string }) => {
    copyFileSync(s.cert, tls.cert);
    copyFileSync(s.key, tls.key);
    copyFileSync(s.cert, tls.ca);
  };
  return { dir, tls, install };
}
