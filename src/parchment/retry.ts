/**
 * Retries for failures that repeating can fix: no response at all (reset, refused, timeout,
 * dropped) and 5xx. Every request role-sync makes is safe to repeat (GET, the replacing roles PUT,
 * enable, disable, the token POST), so one policy serves them all (docs/parchment-api.md,
 * "Idempotency"). Each attempt is one run through the request scheduler; the back-off sleep
 * happens outside it, so a waiting retry holds no slot. 429 is not retried here: the scheduler
 * owns it.
 */
import { backoffDelay } from '../queue/backoff.js';
import type { RequestScheduler } from '../queue/contract.js';
import { ParchmentApiError, ParchmentNetworkError } from './errors.js';
import type { HttpRequest, HttpResponse, HttpTransport } from './http.js';

export interface RetryPolicy {
  /** Total attempts, the first included. */
  readonly attempts: number;
  readonly baseMs: number;
  readonly capMs: number;
  readonly random: () => number;
  readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export function isTransient(err: unknown): boolean {
  return err instanceof ParchmentNetworkError || (err instanceof ParchmentApiError && err.status >= 500);
}

export interface SendOptions {
  readonly signal?: AbortSignal | undefined;
  readonly priority?: number;
  /**
   * Withdraws the request while its first attempt waits in the queue. Later attempts are not
   * withdrawn: a transient failure leaves open whether Parchment acted on the first one.
   */
  readonly withdraw?: AbortSignal | undefined;
  /**
   * Called at the start of every attempt, when the scheduler lets it run, to refresh the request
   * (the newest bearer token): a request that waited in the queue while the token was renewed
   * must not go out with the old one.
   */
  readonly prepare?: () => HttpRequest;
}

/** Sends a request: scheduled attempts, retried per the policy. */
export type Send = (req: HttpRequest, opts?: SendOptions) => Promise<HttpResponse>;

export function retryingSender(transport: HttpTransport, scheduler: RequestScheduler, policy: RetryPolicy): Send {
  return async (req, opts) => {
    const signal = opts?.signal;
    const runOpts = {
      ...(signal === undefined ? {} : { signal }),
      ...(opts?.priority === undefined ? {} : { priority: opts.priority }),
    };
    const firstRunOpts = opts?.withdraw === undefined ? runOpts : { ...runOpts, withdraw: opts.withdraw };
    for (let attempt = 1; ; attempt++) {
      try {
        return await scheduler.run(
          (s) => transport.attempt(opts?.prepare ? opts.prepare() : req, attempt, s),
          attempt === 1 ? firstRunOpts : runOpts,
        );
      } catch (err) {
        if (attempt >= policy.attempts || !isTransient(err) || signal?.aborted === true) throw err;
      }
      await policy.sleep(
        backoffDelay(attempt - 1, {
          baseMs: policy.baseMs,
          capMs: policy.capMs,
          random: policy.random,
          jitter: 'equal',
        }),
        signal,
      );
    }
  };
}
