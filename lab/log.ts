/** Progress lines on stderr, so stdout stays the summary a script can read. */
const t0 = Date.now();
const stamp = (): string => `${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s`;
const dim = (s: string): string => (process.stderr.isTTY ? `\x1b[2m${s}\x1b[0m` : s);

let quiet = process.env.MESHLAB_QUIET === "1";
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
