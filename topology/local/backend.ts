import type { Backend, BackendContext } from "../backend.ts";
import { LOCAL_PLACEMENT } from "../plan.ts";

/** Every component a process group on this machine, on the loopback: the supervisor is the whole backend. */
export async function localBackend(ctx: Pick<BackendContext, "supervisor">): Promise<Backend> {
  return {
    name: "local",
    placement: LOCAL_PLACEMENT,
    spawn: (name, argv, opts) => ctx.supervisor.spawn(name, argv, opts),
    // The supervisor is the run's: it stops the processes when the run ends.
    async [Symbol.asyncDispose]() {},
  };
}
