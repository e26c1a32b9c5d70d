import { ExitCode, InterruptedError } from "./errors.ts";
import { warn } from "./log.ts";
import type { Supervisor } from "./proc.ts";

/**
 * How every long-running command reacts to Ctrl-C, SIGTERM and a crash: the first signal aborts `abort` (the
 * command stops its load, keeps what it measured and tears down); a second one kills every component at once and
 * then the runner itself (SIGKILL, exit status 137: a stuck native client could block a normal exit). Returns the function that removes the handlers.
 */
export function onInterrupt(supervisor: Supervisor, abort: AbortController, what: string): () => void {
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    if (signals === 1) {
      warn(`${sig}: stopping the ${what}, keeping what was measured, tearing down (again to force)`);
      abort.abort(new InterruptedError(sig));
    } else {
      warn(`${sig} again: killing every component now`);
      // process.exit() itself can block for ever when a librdkafka client is stuck closing against brokers that
      // are gone (its destructor waits on its threads), so the runner kills itself once its components are dead.
      const stopped = Promise.race([supervisor.stopAll(), new Promise((r) => setTimeout(r, 5_000))]);
      void stopped.finally(() => {
        process.exitCode = ExitCode.interrupted;
        process.kill(process.pid, "SIGKILL");
      });
    }
  };
  const onCrash = (e: unknown) => {
    warn(`${what} crashed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    abort.abort(e);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  process.on("uncaughtException", onCrash);
  process.on("unhandledRejection", onCrash);
  return () => {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    process.off("uncaughtException", onCrash);
    process.off("unhandledRejection", onCrash);
  };
}
