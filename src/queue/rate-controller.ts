/**
 * How many requests a second the request queue may start. Parchment documents no rate limit, so by
 * default the rate is learned from its answers (additive increase, multiplicative decrease, as TCP
 * does); a fixed number is used as given. Pure: the queue passes every time in, as epoch ms.
 */

export type RateSetting =
  { readonly kind: 'fixed'; readonly perSecond: number } | { readonly kind: 'auto'; readonly maxPerSecond: number };

/** One finished attempt, as the queue saw it. */
export interface AttemptSample {
  /** `accepted`: answered with anything but 429 (the server spent its budget on it). */
  readonly kind: 'accepted' | 'rate-limited';
  readonly startedAt: number;
  readonly at: number;
  /** It started when the rate allowed, not earlier: more work was waiting than the rate let through. */
  readonly rateBound: boolean;
}

export interface RateController {
  /** Starts a second, now. */
  readonly rate: number;
  /** Whether `record` can change the rate. */
  readonly adaptive: boolean;
  /** Returns true when the rate changed. */
  record(sample: AttemptSample): boolean;
}

export class FixedRate implements RateController {
  readonly adaptive = false;
  constructor(readonly rate: number) {
    if (!Number.isFinite(rate) || rate <= 0) throw new RangeError(`a rate must be a positive number, got ${rate}`);
  }
  record(): boolean {
    return false;
  }
}

export const AUTO_INITIAL_RATE = 5;
export const AUTO_FLOOR_RATE = 0.5;

/** Tuning, measured with bench/rate.js against token-bucket limits of 3, 20 and 40 a second. */
export const AIMD = {
  /** A window is this many seconds' worth of rate-bound answers without a 429. */
  windowSeconds: 0.5,
  /** Until the first 429, each clean window doubles the rate (slow start): 5 → 50 in under 2 s. */
  slowStartGrowth: 2,
  /** After a 429: the rate to cut to is 95% of what Parchment accepted since the previous 429 … */
  acceptedShare: 0.95,
  /** … but never less than half the rate nor more than 90% of it (the first cut, with no estimate: 90%). */
  cutAtLeast: 0.5,
  cutAtMost: 0.9,
  /** After a cut, the rate grows by 0.5% of the rate the cut left, a second … */
  probePerSecond: 0.005,
  /** … a growth that doubles every 20 s without a 429, so a limit that rose is found again. */
  probeAccelerationSeconds: 20,
} as const;

/**
 * The learned rate. Between two 429s a token bucket (which is how API gateways limit) is empty at
 * both ends, so the requests it accepted in between, divided by the time, never exceed its refill
 * rate: cutting to 95% of that lands just under the limit rather than far below it, which keeps
 * both the time lost and the number of 429s small.
 */
export class AimdRate implements RateController {
  readonly adaptive = true;
  readonly #max: number;
  readonly #floor: number;
  #rate: number;
  #phase: 'slow-start' | 'probe' = 'slow-start';
  /** When the last 429 burst was answered; attempts started before it belong to that burst. */
  #lastCutAt: number | undefined;
  /** The rate the last cut left: the unit of additive increase. */
  #base = 0;
  #acceptedSinceCut = 0;
  #windowStart: number | undefined;
  #windowCount = 0;

  constructor(opts: { readonly maxPerSecond: number; readonly initialPerSecond?: number }) {
    const { maxPerSecond } = opts;
    if (!Number.isFinite(maxPerSecond) || maxPerSecond <= 0) {
      throw new RangeError(`the maximum rate must be a positive number, got ${maxPerSecond}`);
    }
    this.#max = maxPerSecond;
    this.#floor = Math.min(AUTO_FLOOR_RATE, maxPerSecond);
    this.#rate = this.#clamp(opts.initialPerSecond ?? AUTO_INITIAL_RATE);
  }

  get rate(): number {
    return this.#rate;
  }

  get max(): number {
    return this.#max;
  }

  record(sample: AttemptSample): boolean {
    const before = this.#rate;
    if (sample.kind === 'rate-limited') this.#onRateLimited(sample);
    else this.#onAccepted(sample);
    return this.#rate !== before;
  }

  #onRateLimited(s: AttemptSample): void {
    if (this.#lastCutAt !== undefined && s.startedAt < this.#lastCutAt) return;
    const r = this.#rate;
    let next = r * AIMD.cutAtMost;
    if (this.#lastCutAt !== undefined && s.at > this.#lastCutAt) {
      const accepted = (this.#acceptedSinceCut * 1000) / (s.at - this.#lastCutAt);
      next = Math.min(r * AIMD.cutAtMost, Math.max(r * AIMD.cutAtLeast, accepted * AIMD.acceptedShare));
    }
    this.#rate = this.#clamp(next);
    this.#base = this.#rate;
    this.#phase = 'probe';
    this.#lastCutAt = s.at;
    this.#acceptedSinceCut = 0;
    this.#windowStart = s.at;
    this.#windowCount = 0;
  }

  #onAccepted(s: AttemptSample): void {
    if (this.#lastCutAt !== undefined && s.startedAt < this.#lastCutAt) return;
    this.#acceptedSinceCut += 1;
    this.#windowStart ??= s.startedAt;
    if (!s.rateBound) return;
    this.#windowCount += 1;
    if (this.#windowCount < Math.max(1, this.#rate * AIMD.windowSeconds)) return;
    if (this.#phase === 'slow-start') {
      this.#rate = this.#clamp(this.#rate * AIMD.slowStartGrowth);
    } else {
      const dt = Math.max(0, s.at - this.#windowStart) / 1000;
      const since = Math.max(0, s.at - (this.#lastCutAt ?? s.at)) / 1000;
      const step = this.#base * AIMD.probePerSecond * dt * (1 + since / AIMD.probeAccelerationSeconds);
      this.#rate = this.#clamp(this.#rate + step);
    }
    this.#windowStart = s.at;
    this.#windowCount = 0;
  }

  #clamp(rate: number): number {
    return Math.min(this.#max, Math.max(this.#floor, rate));
  }
}

export function rateControllerFor(setting: RateSetting): RateController {
  return setting.kind === 'fixed'
    ? new FixedRate(setting.perSecond)
    : new AimdRate({ maxPerSecond: setting.maxPerSecond });
}
