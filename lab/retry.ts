/** What one start attempt gave: the started thing, or the error of a start that may be tried again. */
export type Attempt<T> = { ok: T } | { retryable: Error };

/**
 * Runs `once` up to `times` times while it reports a retryable failure, telling `onRetry` each time; the last
 * failure is thrown. Errors `once` throws are not retried.
 */
export async function withRetries<T>(times: number, once: () => Promise<Attempt<T>>, onRetry: (attempt: number, e: Error) => void): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const r = await once();
    if ("ok" in r) return r.ok;
    if (attempt >= times) throw r.retryable;
    onRetry(attempt, r.retryable);
  }
}
