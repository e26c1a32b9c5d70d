import { BadInputError } from "../lab/errors.ts";
import type { Backend, BackendContext, BackendFactory, BackendName } from "./backend.ts";
import { containersBackend } from "./containers/backend.ts";
import { localBackend } from "./local/backend.ts";

/** Every backend the lab has, by the name a topology's `backend` (or `--backend`) gives. */
const BACKENDS: Partial<Record<BackendName, BackendFactory>> = {
  local: localBackend,
  containers: containersBackend,
};

/** The backend a topology asks for, ready to start processes. */
export function createBackend(ctx: BackendContext): Promise<Backend> {
  const factory = BACKENDS[ctx.spec.backend];
  if (!factory) throw new BadInputError(`topology ${ctx.spec.name}`, [`topology.backend: "${ctx.spec.backend}" is not available yet`], `use one of: ${Object.keys(BACKENDS).join(", ")}`);
  return factory(ctx);
}
