import PQueue from 'p-queue';
import { backoffDelay } from './backoff.js';
import {
  isRateLimited,
  RequestWithdrawnError,
  type RateLimited,
  type RequestScheduler,
  type RunOptions,
} from './contract.js';
import { FixedRate, type RateController } from './rate-controller.js';

/**
 * The one request budget every HTTP attempt goes through (docs/parchment-api.md, "Rate limits"):
 * starts spaced at the current rate and `concurrency` attempts in flight. A 429 pauses every start,
 * not just the attempt that saw it (the others would only collect 429s of their own), and the
 * attempt is put back in the queue rather than sleeping in its slot, where it would hold a slot
 * and bypass the budget.
 *
 * p-queue gives concurrency and priority order; its own interval cap cannot change while it runs,
 * so the spacing is done here, by pausing p-queue after each start until the next one is due.
 */
export interface RequestQueueOptions {
  /** Starts per second, fixed (fractions allowed: 0.5 = one start every 2 s), or a controller that learns it. */
  readonly rate: number | RateController;
  readonly concurrency: number;
  /** Longest pause a single 429 can cause; caps `Retry-After` and the back-off. */
  readonly maxPauseMs?: number;
  /** Back-off for a 429 without `Retry-After`; it doubles with each consecutive 429. */
  readonly backoff?: { readonly baseMs: number; readonly capMs: number };
  /** A request answered 429 for longer than this since its first 429 fails (default 5 minutes). */
  readonly rateLimitedGiveUpMs?: number;
  readonly random?: () => number;
  /** Called for every 429 with the pause it asked for (an active longer pause is kept). */
  readonly onRateLimited?: (delayMs: number) => void;
  /** Called whenever a learned rate changes, with the new rate. */
  readonly onRateChange?: (ratePerSecond: number) => void;
  readonly onDepthChange?: (depth: number) => void;
}

/** `run()` after `stopAccepting()`, or queued work dropped by `drain()` / `close()`. */
export class QueueClosedError extends Error {
  override readonly name = 'QueueClosedError';
  constructor(message = 'the request queue is closed', options?: ErrorOptions) {
    super(message, options);
  }
}

/** The caller's signal aborted the request; `cause` is the signal's reason. */
export class RequestAbortedError extends Error {
  override readonly name = 'AbortError';
  constructor(reason: unknown) {
    super('the request was aborted by its caller', { cause: reason });
  }
}

/** One request was answered 429 for longer than the queue waits for any single request. */
export class RateLimitedTooLongError extends Error {
  override readonly name = 'RateLimitedTooLongError';
  constructor(
    readonly rateLimitedMs: number,
    readonly answers: number,
    limitMs: number,
    last: unknown,
  ) {
    const lastText = last instanceof Error ? `; last answer: ${last.message}` : '';
    super(
      `Parchment kept rate-limiting this request: answered 429 ${answers} times over ` +
        `${formatSeconds(rateLimitedMs)}, more than the ${formatSeconds(limitMs)} role-sync waits for ` +
        `one request${lastText}`,
      { cause: last },
    );
  }
}

export type DrainResult = 'drained' | 'deadline';

const DEFAULT_MAX_PAUSE_MS = 60_000;
/** Even `Retry-After: 0` or a date in the past pauses this long, so a 429 can never mean "retry at once". */
const MIN_PAUSE_MS = 1_000;
const DEFAULT_BACKOFF_BASE_MS = 1_000;
const DEFAULT_RATE_LIMITED_GIVE_UP_MS = 5 * 60_000;
/** Retries after a 429 go ahead of every fresh request, in the order they were rate-limited. */
const RETRY_PRIORITY = Number.MAX_SAFE_INTEGER;
/**
 * Starts may come this much before their slots, back to back, after one was late (a timer fires
 * late when the event loop is busy, more so on a loaded machine): without it every late timer would
 * push all later slots back and the rate would fall short (by 6% at 50/s, measured). 100 ms is at
 * most five starts at once at 50/s, well inside a token bucket that holds a second's worth.
 */
const CATCH_UP_MS = 100;

/**
 * The slot of the start after one made at `now`, whose own slot was `slot`. A start at most
 * CATCH_UP_MS late keeps the schedule, so the next ones come that much sooner; a later one (the
 * queue was idle, or paused for a 429) starts a new schedule from now.
 */
export function nextStartSlot(slot: number, now: number, slotMs: number): number {
  const onSchedule = now - slot <= CATCH_UP_MS;
  return (onSchedule ? slot : now) + slotMs;
}

function formatSeconds(ms: number): string {
  const s = Math.round(ms / 1000);
  return s >= 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s} s`;
}

type JobState = 'queued' | 'running' | 'settled';

interface Job {
  readonly attempt: (signal: AbortSignal) => Promise<unknown>;
  readonly priority: number;
  /** What the attempt sees: aborted by the caller's signal or by the queue shutting down. */
  readonly controller: AbortController;
  abortedBy: 'caller' | 'queue' | undefined;
  /** Takes the job out while it waits (see RunOptions.withdraw), also when it waits again after a 429. */
  readonly withdraw: AbortSignal | undefined;
  state: JobState;
  /** When this request was first answered 429, and how many times since. */
  firstRateLimitedAt: number | undefined;
  rateLimitedAnswers: number;
  /** Removes the job's waiting p-queue entry, which then never starts. */
  dequeue: AbortController | undefined;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  readonly detach: () => void;
}

export class RequestQueue implements RequestScheduler {
  readonly #pq: PQueue;
  readonly #rate: RateController;
  readonly #maxPauseMs: number;
  readonly #minPauseMs: number;
  readonly #giveUpMs: number;
  readonly #backoff: { readonly baseMs: number; readonly capMs: number };
  readonly #random: () => number;
  readonly #onRateLimited: ((delayMs: number) => void) | undefined;
  readonly #onRateChange: ((ratePerSecond: number) => void) | undefined;
  readonly #onDepthChange: ((depth: number) => void) | undefined;
  readonly #jobs = new Set<Job>();
  #idleWaiters: Array<() => void> = [];
  #accepting = true;
  #closing = false;
  #pausedUntil = 0;
  /** No start before this (epoch ms): the next slot at the current rate, or the end of a 429 pause. */
  #heldUntil = 0;
  #holdTimer: NodeJS.Timeout | undefined;
  /** True while the hold timer restarts p-queue: the start it lets through was waiting on the budget. */
  #releasing = false;
  /** The slot of the next start at the current rate (epoch ms). */
  #nextSlot = 0;
  #rateLimitStreak = 0;
  #rateLimitedCount = 0;

  constructor(options: RequestQueueOptions) {
    const { rate, concurrency } = options;
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new RangeError(`concurrency must be a whole number ≥ 1, got ${concurrency}`);
    }
    this.#rate = typeof rate === 'number' ? new FixedRate(rate) : rate;
    this.#maxPauseMs = options.maxPauseMs ?? DEFAULT_MAX_PAUSE_MS;
    this.#minPauseMs = Math.min(MIN_PAUSE_MS, this.#maxPauseMs);
    this.#giveUpMs = options.rateLimitedGiveUpMs ?? DEFAULT_RATE_LIMITED_GIVE_UP_MS;
    this.#backoff = options.backoff ?? { baseMs: DEFAULT_BACKOFF_BASE_MS, capMs: this.#maxPauseMs };
    this.#random = options.random ?? Math.random;
    this.#onRateLimited = options.onRateLimited;
    this.#onRateChange = options.onRateChange;
    this.#onDepthChange = options.onDepthChange;
    this.#pq = new PQueue({ concurrency });
  }

  /** Starts a second now: the fixed rate, or what has been learned so far. */
  get rate(): number {
    return this.#rate.rate;
  }

  /** Requests not yet settled: waiting (including 429 retries) plus in flight. */
  get depth(): number {
    return this.#jobs.size;
  }

  get rateLimitedCount(): number {
    return this.#rateLimitedCount;
  }

  /** Epoch ms before which no attempt starts because of a 429 (0 when never paused). */
  get pausedUntil(): number {
    return this.#pausedUntil;
  }

  get accepting(): boolean {
    return this.#accepting;
  }

  run<T>(attempt: (signal: AbortSignal) => Promise<T>, opts: RunOptions = {}): Promise<T> {
    if (!this.#accepting) return Promise.reject(new QueueClosedError());
    const { signal, withdraw } = opts;
    if (signal?.aborted) return Promise.reject(new RequestAbortedError(signal.reason));
    if (withdraw?.aborted) return Promise.reject(new RequestWithdrawnError(withdraw.reason));

    return new Promise<T>((resolve, reject) => {
      const onCallerAbort = (): void => this.#abortByCaller(job, signal?.reason);
      const onWithdraw = (): void => this.#withdraw(job, withdraw?.reason);
      const job: Job = {
        attempt,
        priority: opts.priority ?? 0,
        controller: new AbortController(),
        abortedBy: undefined,
        withdraw,
        state: 'queued',
        firstRateLimitedAt: undefined,
        rateLimitedAnswers: 0,
        dequeue: undefined,
        resolve: resolve as (value: unknown) => void,
        reject,
        detach: () => {
          signal?.removeEventListener('abort', onCallerAbort);
          withdraw?.removeEventListener('abort', onWithdraw);
        },
      };
      signal?.addEventListener('abort', onCallerAbort, { once: true });
      withdraw?.addEventListener('abort', onWithdraw, { once: true });
      this.#jobs.add(job);
      this.#enqueue(job, job.priority);
      this.#onDepthChange?.(this.#jobs.size);
    });
  }

  /** Resolves when nothing is waiting or in flight. */
  onIdle(): Promise<void> {
    if (this.#jobs.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** From now on `run()` rejects with QueueClosedError; work already accepted carries on. */
  stopAccepting(): void {
    this.#accepting = false;
  }

  /**
   * Shutdown: stop accepting, reject everything not yet started with QueueClosedError and let
   * in-flight attempts finish. With a deadline (ms from now), attempts still in flight when it
   * passes are aborted through their signals and 'deadline' is returned without waiting for them.
   */
  async drain(deadlineMs?: number): Promise<DrainResult> {
    this.#beginClosing();
    if (deadlineMs === undefined) {
      await this.onIdle();
      return 'drained';
    }
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<DrainResult>((resolve) => {
      timer = setTimeout(() => resolve('deadline'), deadlineMs);
    });
    const result = await Promise.race([this.onIdle().then((): DrainResult => 'drained'), deadline]);
    clearTimeout(timer);
    if (result === 'deadline') this.#abortRunning();
    return result;
  }

  /** Immediate shutdown: queued work is rejected and in-flight attempts are aborted now. */
  close(): void {
    this.#beginClosing();
    this.#abortRunning();
  }

  #enqueue(job: Job, priority: number): void {
    const dequeue = new AbortController();
    job.dequeue = dequeue;
    job.state = 'queued';
    // #execute never rejects; the add() promise rejects only when `dequeue` removes the waiting entry.
    this.#pq.add(() => this.#execute(job), { priority, signal: dequeue.signal }).catch(() => undefined);
  }

  async #execute(job: Job): Promise<void> {
    // p-queue calls this synchronously as it starts the task, so the hold below stops its start loop here.
    const startedAt = Date.now();
    const rateBound = this.#releasing;
    this.#pace(startedAt);
    job.state = 'running';
    job.dequeue = undefined;
    try {
      const value = await job.attempt(job.controller.signal);
      this.#rateLimitStreak = 0;
      this.#observe({ kind: 'accepted', startedAt, at: Date.now(), rateBound });
      this.#settle(job, () => job.resolve(value));
    } catch (error) {
      if (isRateLimited(error)) {
        this.#observe({ kind: 'rate-limited', startedAt, at: Date.now(), rateBound });
        this.#onRateLimit(job, error);
      } else {
        if (job.abortedBy === undefined) this.#observe({ kind: 'accepted', startedAt, at: Date.now(), rateBound });
        this.#settle(job, () => job.reject(this.#abortedError(job, error)));
      }
    }
  }

  /** Spaces starts 1/rate apart (see nextStartSlot). */
  #pace(now: number): void {
    this.#nextSlot = nextStartSlot(this.#nextSlot, now, 1000 / this.#rate.rate);
    this.#holdUntil(this.#nextSlot);
  }

  #observe(sample: Parameters<RateController['record']>[0]): void {
    if (!this.#rate.record(sample)) return;
    this.#onRateChange?.(this.#rate.rate);
  }

  #onRateLimit(job: Job, error: RateLimited): void {
    const now = Date.now();
    this.#rateLimitedCount += 1;
    this.#rateLimitStreak += 1;
    job.firstRateLimitedAt ??= now;
    job.rateLimitedAnswers += 1;
    const delayMs = this.#pauseDelay(error);
    this.#pauseFor(delayMs);
    const limitedForMs = now - job.firstRateLimitedAt;
    if (limitedForMs >= this.#giveUpMs) {
      this.#settle(job, () =>
        job.reject(new RateLimitedTooLongError(limitedForMs, job.rateLimitedAnswers, this.#giveUpMs, error)),
      );
    } else if (job.abortedBy !== undefined) {
      this.#settle(job, () => job.reject(this.#abortedError(job, error)));
    } else if (job.withdraw?.aborted === true) {
      const reason: unknown = job.withdraw.reason;
      this.#settle(job, () => job.reject(new RequestWithdrawnError(reason)));
    } else if (this.#closing) {
      this.#settle(job, () =>
        job.reject(new QueueClosedError('the request queue closed while a request was rate-limited', { cause: error })),
      );
    } else {
      this.#enqueue(job, RETRY_PRIORITY);
    }
    // Last, so a throwing metrics callback cannot leave the job unsettled.
    this.#onRateLimited?.(delayMs);
  }

  /** `Retry-After` (or the back-off without one), never under 1 s nor over the cap. */
  #pauseDelay(error: RateLimited): number {
    const retryAfter = error.retryAfterMs;
    const delay =
      retryAfter !== undefined && Number.isFinite(retryAfter) && retryAfter >= 0
        ? retryAfter
        : backoffDelay(this.#rateLimitStreak - 1, { ...this.#backoff, random: this.#random, jitter: 'equal' });
    return Math.min(Math.max(delay, this.#minPauseMs), this.#maxPauseMs);
  }

  /** Extends the global pause; a shorter request never cuts an active longer pause short. */
  #pauseFor(delayMs: number): void {
    const until = Date.now() + delayMs;
    if (until <= this.#pausedUntil || this.#closing) return;
    this.#pausedUntil = until;
    this.#holdUntil(until);
  }

  /** No start before `until`; an active later hold is kept. */
  #holdUntil(until: number): void {
    if (this.#closing || (until <= this.#heldUntil && this.#holdTimer !== undefined)) return;
    this.#heldUntil = Math.max(this.#heldUntil, until);
    this.#pq.pause();
    clearTimeout(this.#holdTimer);
    this.#holdTimer = setTimeout(
      () => {
        this.#holdTimer = undefined;
        this.#releasing = true;
        try {
          this.#pq.start();
        } finally {
          this.#releasing = false;
        }
      },
      Math.max(0, this.#heldUntil - Date.now()),
    );
  }

  #abortByCaller(job: Job, reason: unknown): void {
    if (job.state === 'settled') return;
    job.abortedBy = 'caller';
    job.controller.abort(reason);
    if (job.state === 'queued') {
      job.dequeue?.abort();
      this.#settle(job, () => job.reject(new RequestAbortedError(reason)));
    }
  }

  #withdraw(job: Job, reason: unknown): void {
    if (job.state !== 'queued') return;
    job.dequeue?.abort();
    this.#settle(job, () => job.reject(new RequestWithdrawnError(reason)));
  }

  /** An attempt that failed after its signal fired reports why it was aborted, not how the abort surfaced. */
  #abortedError(job: Job, error: unknown): unknown {
    switch (job.abortedBy) {
      case 'caller':
        return new RequestAbortedError(job.controller.signal.reason);
      case 'queue':
        return new QueueClosedError('the request was aborted because the request queue closed', { cause: error });
      case undefined:
        return error;
    }
  }

  #beginClosing(): void {
    this.#accepting = false;
    this.#closing = true;
    clearTimeout(this.#holdTimer);
    this.#holdTimer = undefined;
    for (const job of [...this.#jobs]) {
      if (job.state !== 'queued') continue;
      job.dequeue?.abort();
      this.#settle(job, () => job.reject(new QueueClosedError('the request queue closed before the request started')));
    }
  }

  #abortRunning(): void {
    for (const job of this.#jobs) {
      if (job.state !== 'running' || job.abortedBy !== undefined) continue;
      job.abortedBy = 'queue';
      job.controller.abort(new QueueClosedError('the request queue closed while the request was in flight'));
    }
  }

  #settle(job: Job, deliver: () => void): void {
    if (job.state === 'settled') return;
    job.state = 'settled';
    job.detach();
    this.#jobs.delete(job);
    deliver();
    this.#onDepthChange?.(this.#jobs.size);
    if (this.#jobs.size === 0) {
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const wake of waiters) wake();
    }
  }
}
