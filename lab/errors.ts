/** Exit codes of every meshlab command. */
export const ExitCode = {
  ok: 0,
  sloBreached: 1,
  badInput: 2,
  infrastructure: 3,
  /** `compare --fail-if-worse`: a candidate is worse than the baseline beyond run-to-run noise. */
  worseThanBaseline: 4,
  interrupted: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/**
 * Input the user can fix: an unknown scenario, a bad flag, an invalid spec. Carries every problem found, each with
 * the path it concerns, so one run reports them all.
 */
export class BadInputError extends Error {
  readonly problems: readonly string[];
  readonly hint: string;
  constructor(what: string, problems: readonly string[], hint: string) {
    super(problems.length ? `${what}:\n${problems.map((p) => `  - ${p}`).join("\n")}` : what);
    this.name = "BadInputError";
    this.problems = problems;
    this.hint = hint;
  }
}

/** A component failed to install, start or answer. Names it, quotes its last log lines and says what to try. */
export class InfraError extends Error {
  readonly component: string;
  readonly hint: string;
  readonly logTail: string;
  readonly logFile: string | undefined;
  constructor(opts: { component: string; message: string; hint: string; logTail?: string; logFile?: string; cause?: unknown }) {
    super(`${opts.component}: ${opts.message}`, { cause: opts.cause });
    this.name = "InfraError";
    this.component = opts.component;
    this.hint = opts.hint;
    this.logTail = opts.logTail ?? "";
    this.logFile = opts.logFile;
  }
}

/** Raised inside a run when the user (or CI) interrupts it; the runner still writes what was measured. */
export class InterruptedError extends Error {
  readonly signal: string;
  constructor(signal: string) {
    super(`interrupted by ${signal}`);
    this.name = "InterruptedError";
    this.signal = signal;
  }
}

export function exitCodeOf(err: unknown): ExitCode {
  if (err instanceof BadInputError) return ExitCode.badInput;
  if (err instanceof InterruptedError) return ExitCode.interrupted;
  return ExitCode.infrastructure;
}

/** Renders an error for the terminal: what failed, the evidence, and the hint. */
export function describeError(err: unknown): string {
  if (err instanceof BadInputError) return `error: ${err.message}\n  hint: ${err.hint}`;
  if (err instanceof InfraError) {
    const lines = [`error: ${err.message}`];
    if (err.logTail) {
      lines.push(`  last log lines${err.logFile ? ` (${err.logFile})` : ""}:`);
      lines.push(...err.logTail.trimEnd().split("\n").map((l) => `    | ${l}`));
    }
    lines.push(`  hint: ${err.hint}`);
    return lines.join("\n");
  }
  if (err instanceof InterruptedError) return `meshlab: ${err.message}`;
  return `error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n  hint: this is a bug in meshlab; the run directory keeps the component logs`;
}
