import type { RateLimited } from '../../src/queue/contract.js';

export interface Deferred<T> {
  readonly promise: Promise<T>;
  readonly resolve: (value: T) => void;
  readonly reject: (error: unknown) => void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** What the Parchment client throws for a 429. */
export class TooManyRequests extends Error implements RateLimited {
  readonly rateLimited = true as const;
  constructor(readonly retryAfterMs?: number) {
    super('429 Too Many Requests');
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Lets every pending promise continuation run (setImmediate is queued behind all microtasks). */
export const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Settles to what the promise did, so a test can assert on a rejection it has not awaited yet. */
export function outcome<T>(
  p: Promise<T>,
): Promise<{ kind: 'fulfilled'; value: T } | { kind: 'rejected'; error: unknown }> {
  return p.then(
    (value) => ({ kind: 'fulfilled' as const, value }),
    (error: unknown) => ({ kind: 'rejected' as const, error }),
  );
}
