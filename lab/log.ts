/** Progress lines on stderr, so stdout stays the summary a script can read. */
const t0 = Date.now();
const stamp = (): string => `${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s`;
const dim = (s: string): string => (process.stderr.isTTY ? `\x1b[2m${s}\x1b[0m` : s);

let quiet = process.env.MESHLAB_QUIET === "1";

// A reader that went away (a closed pipe: a killed parent, `| head`) must not stop a run, whose files are its
// record. Unhandled, the EPIPE became an uncaught exception whose warning failed the same way, for ever (seen: a
// run spinning for 55 minutes after the test that started it timed out).
for (const out of [process.stdout, process.stderr])
  out.on("error", () => {
    quiet = true;
  });
export const setQuiet = (q: boolean): void => {
  quiet = q;
};

export function info(msg: string): void {
  if (!quiet) process.stderr.write(`${dim(stamp())} ${msg}\n`);
}

export function warn(msg: string): void {
  process.stderr.write(`${dim(stamp())} warning: ${msg}\n`);
}

/** Prints "what ..." now and "what ... outcome (1.2s)" when the returned function is called. */
export function progress(what: string): (outcome: string) => void {
  const start = Date.now();
  info(`${what} ...`);
  return (outcome) => info(`${what}: ${outcome} (${((Date.now() - start) / 1000).toFixed(1)}s)`);
}
