import type { RateLimitOptions, RetryAfterMode } from './types.js';

export type TakeResult = { kind: 'taken' } | { kind: 'limited'; retryAfterSeconds: number };

/** A token bucket: `perSecond` refill, `burst` capacity (default: one second's worth, at least 1). */
export class TokenBucket {
  private tokens: number;
  private readonly burst: number;

  constructor(
    private readonly opts: RateLimitOptions,
    private last: number,
  ) {
    this.burst = opts.burst ?? Math.max(1, Math.ceil(opts.perSecond));
    this.tokens = this.burst;
  }

  take(nowMs: number): TakeResult {
    const elapsed = Math.max(0, nowMs - this.last) / 1000;
    this.last = nowMs;
    this.tokens = Math.min(this.burst, this.tokens + elapsed * this.opts.perSecond);
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return { kind: 'taken' };
    }
    // Retry-After is whole seconds (RFC 9110), so round up and never say 0.
    return { kind: 'limited', retryAfterSeconds: Math.max(1, Math.ceil((1 - this.tokens) / this.opts.perSecond)) };
  }
}

/** The headers of a 429 under `mode`; `seconds` is what the rate limit (or a forced 429) would say. */
export function retryAfterHeaders(mode: RetryAfterMode, seconds: number, nowMs: number): Record<string, string> {
  switch (mode) {
    case 'seconds':
      return { 'retry-after': String(seconds) };
    case 'none':
      return {};
    case 'past-date':
      return { 'retry-after': new Date(nowMs - 60_000).toUTCString() };
    default:
      return { 'retry-after': String(mode) };
  }
}
