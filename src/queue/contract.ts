/**
 * The contract between the Parchment client (which makes HTTP attempts) and the request queue
 * (which owns the request budget and 429 back-off). Neither imports the other.
 */

/** Runs single HTTP attempts under the shared budget: at most RATE starts a second, CONCURRENCY in flight. */
export interface RequestScheduler {
  /**
   * Run one attempt. If it throws an error for which `isRateLimited` holds, the scheduler pauses
   * every start for the error's `retryAfterMs` (capped; exponential back-off with jitter when absent),
   * then runs the attempt again. A 429 is therefore never seen by the caller.
   */
  run<T>(attempt: (signal: AbortSignal) => Promise<T>, opts?: RunOptions): Promise<T>;
}

export interface RunOptions {
  readonly priority?: number;
  /** Aborts the request wherever it is: waiting, or in flight (its outcome is then unknown). */
  readonly signal?: AbortSignal;
  /**
   * Takes the request out of the queue while it waits for its turn (also after a 429, which
   * Parchment did not act on); once an attempt has started it runs to its end. The run then rejects
   * with RequestWithdrawnError, and the caller knows nothing was sent.
   */
  readonly withdraw?: AbortSignal;
}

/** The request was withdrawn before it was sent; `cause` is the withdraw signal's reason. */
export class RequestWithdrawnError extends Error {
  override readonly name = 'RequestWithdrawnError';
  constructor(reason: unknown) {
    super('the request was withdrawn before it was sent', { cause: reason });
  }
}

/** What a 429 looks like to the scheduler. */
export interface RateLimited {
  readonly rateLimited: true;
  /** Parsed `Retry-After` in milliseconds, when the server sent one. */
  readonly retryAfterMs?: number;
}

export function isRateLimited(err: unknown): err is RateLimited {
  return typeof err === 'object' && err !== null && (err as { rateLimited?: unknown }).rateLimited === true;
}

/** Runs the attempt at once: for tests and one-off calls with no budget. */
export const unscheduled: RequestScheduler = {
  run: (attempt, opts) =>
    opts?.withdraw?.aborted === true
      ? Promise.reject(new RequestWithdrawnError(opts.withdraw.reason))
      : attempt(opts?.signal ?? new AbortController().signal),
};
