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
  /** On a 429 the rate is cut to 97% of the requests a second Parchment accepted (see AimdRate) … */
  acceptedShare: 0.97,
  /** … but never to less than a quarter of the rate nor more than 90% of it. */
  cutAtLeast: 0.25,
  cutAtMost: 0.9,
  /**
   * A cut whose figure began at the start of a busy spell (no 429 earlier in it) may land well under
   * the limit, since the spell's slow start is in the average: each clean window then grows the rate
   * by a tenth, up to 90% of the rate before the cut, until the next 429 …
   */
  regrowth: 1.1,
  /** … but only from this long after the cut: a 429 sooner than that says the cut was not too deep. */
  regrowAfterMs: 3_000,
  /** Otherwise, after a cut the rate grows by 0.4% of the rate the cut left, a second … */
  probePerSecond: 0.004,
  /** … a growth that doubles every 30 s of work without a 429, so a limit that rose is found again. */
  probeAccelerationSeconds: 30,
  /**
   * A cut that lands within a tenth of the one before says the limit is steady: the rate then holds
   * this long before probing again, so a long busy spell meets a 429 burst about every two minutes
   * rather than every 20 s (and an alert on 429s stays quiet).
   */
  steadyWithin: 0.1,
  steadyHoldMs: 120_000,
  /** Rate-bound starts this far apart (or three slots, if longer) are two busy spells, not one. */
  idleGapMs: 2_000,
} as const;

/**
 * The learned rate: slow start, then additive increase and multiplicative decrease. A token bucket
 * (how API gateways limit) is empty when it answers 429, so between two 429s the requests it
 * accepted, divided by the time, cannot exceed its refill rate; from the start of a busy spell to
 * its first 429 the figure is off by the bucket's burst less what it wasted while role-sync sent
 * slower than the limit, spread over the spell. Cutting to 97% of that figure lands just under
 * the limit rather than far below it, as halving would, and from 10/s against a limit of 3 it
 * gets there in two cuts rather than three: fewer 429s and less time lost.
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
  /** Regrow quickly up to this rate (0: no regrowth); see AIMD.regrowth. */
  #regrowTo = 0;
  /** No additive increase before this (epoch ms); see AIMD.steadyHoldMs. */
  #holdUntil = 0;
  /**
   * The highest figure measured between two 429s while the limit stayed put: each is a lower bound
   * of the limit, but one that shrinks with every second spent below the limit (holding after a
   * cut), so the next cut would creep down without it.
   */
  #knownLimit = 0;
  /** Accepted attempts started at or after `#countFrom`: the last cut, or the start of this busy spell. */
  #countFrom: number | undefined;
  #accepted = 0;
  #lastBoundStart: number | undefined;
  #windowStart = 0;
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
    if (this.#lastCutAt !== undefined && s.startedAt <= this.#lastCutAt) return;
    const r = this.#rate;
    const from = this.#countFrom;
    const fromSpell = from !== undefined && from !== this.#lastCutAt;
    // Half a request more: a bucket that answers 429 may still hold a fraction of a token, unused.
    const accepted = from !== undefined && s.at > from ? ((this.#accepted + 0.5) * 1000) / (s.at - from) : undefined;
    let figure = accepted;
    if (accepted !== undefined && !fromSpell) {
      // A 429 at a rate under the known limit means the limit fell: forget what was known.
      this.#knownLimit = r > this.#knownLimit ? Math.max(this.#knownLimit, accepted) : accepted;
      figure = this.#knownLimit;
    }
    const next =
      figure === undefined
        ? r * AIMD.cutAtMost
        : Math.min(r * AIMD.cutAtMost, Math.max(r * AIMD.cutAtLeast, figure * AIMD.acceptedShare));
    const previousCut = this.#base;
    this.#rate = this.#clamp(next);
    this.#base = this.#rate;
    this.#regrowTo = fromSpell ? r * AIMD.cutAtMost : 0;
    const steady =
      !fromSpell && previousCut > 0 && Math.abs(this.#rate - previousCut) <= AIMD.steadyWithin * previousCut;
    this.#holdUntil = steady ? s.at + AIMD.steadyHoldMs : 0;
    this.#phase = 'probe';
    this.#lastCutAt = s.at;
    this.#countFrom = s.at;
    this.#accepted = 0;
    this.#windowStart = s.at;
    this.#windowCount = 0;
  }

  #onAccepted(s: AttemptSample): void {
    if (this.#lastCutAt !== undefined && s.startedAt <= this.#lastCutAt) return;
    if (s.rateBound) {
      const gap = Math.max(AIMD.idleGapMs, 3000 / this.#rate);
      if (this.#lastBoundStart === undefined || s.startedAt - this.#lastBoundStart > gap) {
        // A new busy spell: the limit may have refilled while idle, and idle time says nothing of it.
        this.#countFrom = s.startedAt;
        this.#accepted = 0;
        this.#windowStart = s.startedAt;
        this.#windowCount = 0;
      }
      this.#lastBoundStart = Math.max(this.#lastBoundStart ?? s.startedAt, s.startedAt);
    }
    if (this.#countFrom !== undefined && s.startedAt >= this.#countFrom) this.#accepted += 1;
    if (!s.rateBound) return;
    this.#windowCount += 1;
    if (this.#windowCount < Math.max(1, this.#rate * AIMD.windowSeconds)) return;
    if (this.#phase === 'slow-start') {
      this.#rate = this.#clamp(this.#rate * AIMD.slowStartGrowth);
    } else if (this.#rate < this.#regrowTo && s.at - (this.#lastCutAt ?? s.at) >= AIMD.regrowAfterMs) {
      this.#rate = this.#clamp(Math.min(this.#regrowTo, this.#rate * AIMD.regrowth));
    } else if (s.at >= this.#holdUntil) {
      const dt = Math.max(0, s.at - this.#windowStart) / 1000;
      const busy = Math.max(0, s.at - (this.#countFrom ?? s.at)) / 1000;
      const step = this.#base * AIMD.probePerSecond * dt * (1 + busy / AIMD.probeAccelerationSeconds);
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
