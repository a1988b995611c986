/**
 * Exponential back-off with jitter, shared by the request queue (429 without `Retry-After`) and the
 * Parchment client (5xx, resets, timeouts). Pure: the random source is passed in.
 */

/**
 * `full`: uniform in [0, ceiling) — spreads retries most, may retry at once (AWS "full jitter").
 * `equal`: uniform in [ceiling/2, ceiling) — always waits at least half, so consecutive delays grow.
 */
export type Jitter = 'full' | 'equal';

export interface BackoffOptions {
  /** Ceiling of the first delay (attempt 0). */
  readonly baseMs: number;
  /** No delay ever exceeds this. */
  readonly capMs: number;
  /** Uniform in [0, 1), like Math.random. */
  readonly random: () => number;
  readonly jitter?: Jitter;
}

/** Beyond 2^52 the product is no longer exact and 0 × Infinity would be NaN; the cap is reached long before. */
const MAX_DOUBLINGS = 52;

/** Delay in whole milliseconds before retry number `attempt` (0-based): ceiling = min(capMs, baseMs·2^attempt). */
export function backoffDelay(attempt: number, { baseMs, capMs, random, jitter = 'full' }: BackoffOptions): number {
  const doublings = Math.min(Math.max(0, Math.floor(attempt)), MAX_DOUBLINGS);
  const ceiling = Math.max(0, Math.min(capMs, baseMs * 2 ** doublings));
  const r = Math.min(Math.max(random(), 0), 1);
  const delay = jitter === 'full' ? ceiling * r : ceiling / 2 + (ceiling / 2) * r;
  return Math.min(Math.floor(delay), Math.floor(ceiling));
}
