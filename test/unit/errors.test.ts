import { describe, expect, it } from "vitest";
import { BadInputError, describeError, ExitCode, exitCodeOf, InfraError, InterruptedError } from "../../lab/errors.ts";

const infra = (over: Partial<ConstructorParameters<typeof InfraError>[0]> = {}) =>
  new InfraError({
    component: "kafka syd-2",
    message: "did not become ready within 60 s",
    hint: "check the node's log; a port may be taken",
    logTail: "INFO starting\nERROR Address already in use\n",
    logFile: "runs/x/syd/syd-2/kafka.log",
    ...over,
  });

describe("exitCodeOf", () => {
  it("maps a BadInputError to 2", () => {
    expect(exitCodeOf(new BadInputError("bad", ["x: wrong"], "fix x"))).toBe(2);
  });

  it("maps an InfraError to 3", () => {
    expect(exitCodeOf(infra())).toBe(3);
  });

  it("maps an InterruptedError to 130", () => {
    expect(exitCodeOf(new InterruptedError("SIGINT"))).toBe(130);
  });

  it("maps anything else, thrown values included, to 3", () => {
    expect(exitCodeOf(new Error("boom"))).toBe(3);
    expect(exitCodeOf(new TypeError("x is undefined"))).toBe(3);
    expect(exitCodeOf("a string")).toBe(3);
    expect(exitCodeOf(undefined)).toBe(3);
  });

  it("uses the documented exit code table", () => {
    expect(ExitCode).toEqual({ ok: 0, sloBreached: 1, badInput: 2, infrastructure: 3, worseThanBaseline: 4, interrupted: 130 });
  });
});

describe("BadInputError", () => {
  it("lists every problem under the summary line", () => {
    const err = new BadInputError("invalid spec", ["a: one", "b: two"], "fix them");
    expect(err.message).toBe("invalid spec:\n  - a: one\n  - b: two");
    expect(err.name).toBe("BadInputError");
    expect(err.problems).toEqual(["a: one", "b: two"]);
  });

  it("is just the summary line when there are no problems", () => {
    expect(new BadInputError("unknown scenario nope", [], "run meshlab list").message).toBe("unknown scenario nope");
  });
});

describe("describeError", () => {
  it("renders an InfraError with its component, the log tail lines, the log file and the hint", () => {
    expect(describeError(infra())).toBe(
      [
        "error: kafka syd-2: did not become ready within 60 s",
        "  last log lines (runs/x/syd/syd-2/kafka.log):",
        "    | INFO starting",
        "    | ERROR Address already in use",
        "  hint: check the node's log; a port may be taken",
      ].join("\n"),
    );
  });

  it("leaves out the log section of an InfraError without a log tail", () => {
    expect(describeError(infra({ logTail: undefined, logFile: undefined }))).toBe(
      "error: kafka syd-2: did not become ready within 60 s\n  hint: check the node's log; a port may be taken",
    );
  });

  it("leaves out the file name when the log tail has no file", () => {
    expect(describeError(infra({ logFile: undefined }))).toContain("  last log lines:\n    | INFO starting");
  });

  it("keeps an InfraError's cause", () => {
    const cause = new Error("ECONNREFUSED");
    expect(infra({ cause }).cause).toBe(cause);
  });

  it("renders a BadInputError with its problems and hint", () => {
    expect(describeError(new BadInputError("invalid SLO", ["slo[0].metric: bad"], "use counts.lost"))).toBe(
      "error: invalid SLO:\n  - slo[0].metric: bad\n  hint: use counts.lost",
    );
  });

  it("renders an interruption as a plain notice naming the signal", () => {
    expect(describeError(new InterruptedError("SIGTERM"))).toBe("meshlab: interrupted by SIGTERM");
  });

  it("renders an unexpected error with its stack and calls it a meshlab bug", () => {
    const err = new Error("kaboom");
    const text = describeError(err);
    expect(text.startsWith(`error: ${err.stack}`)).toBe(true);
    expect(text).toMatch(/hint: this is a bug in meshlab/);
    expect(describeError(42)).toBe("error: 42\n  hint: this is a bug in meshlab; the run directory keeps the component logs");
  });
});
