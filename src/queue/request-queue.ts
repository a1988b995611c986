import PQueue from 'p-queue';
import { backoffDelay } from './backoff.js';
import { isRateLimited, type RateLimited, type RequestScheduler } from './contract.js';

/**
 * The one request budget every HTTP attempt goes through (docs/parchment-api.md, "Rate limits"):
 * at most `ratePerSecond` starts in any sliding window and `concurrency` attempts in flight.
 * A 429 pauses every start, not just the attempt that saw it (the others would only collect 429s
 * of their own), and the attempt is put back in the queue rather than sleeping in its slot.
 */
export interface RequestQueueOptions {
  /** Starts per second; fractions allowed (0.5 = one start every 2 s). */
  readonly ratePerSecond: number;
  readonly concurrency: number;
  /** Longest pause a single 429 can cause; caps `Retry-After` and the back-off. */
  readonly maxPauseMs?: number;
  /** Back-off for a 429 without `Retry-After`; it doubles with each consecutive 429. */
  readonly backoff?: { readonly baseMs: number; readonly capMs: number };
  readonly random?: () => number;
  /** Called for every 429 with the pause it asked for (an active longer pause is kept). */
  readonly onRateLimited?: (delayMs: number) => void;
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

export type DrainResult = 'drained' | 'deadline';

const DEFAULT_MAX_PAUSE_MS = 60_000;
const DEFAULT_BACKOFF_BASE_MS = 1_000;
/** Retries after a 429 go ahead of every fresh request, in the order they were rate-limited. */
const RETRY_PRIORITY = Number.MAX_SAFE_INTEGER;

/**
 * p-queue needs a whole number of starts per interval. Taking the smallest whole cap ≥ rate and
 * stretching the interval to match keeps the long-run rate exact and, in strict (sliding) mode,
 * never lets more than ⌈rate⌉ starts into any one second.
 */
export function rateWindow(ratePerSecond: number): { readonly intervalCap: number; readonly interval: number } {
  const intervalCap = Math.ceil(ratePerSecond);
  return { intervalCap, interval: Math.ceil((1000 * intervalCap) / ratePerSecond) };
}

type JobState = 'queued' | 'running' | 'settled';

interface Job {
  readonly attempt: (signal: AbortSignal) => Promise<unknown>;
  readonly priority: number;
  /** What the attempt sees: aborted by the caller's signal or by the queue shutting down. */
  readonly controller: AbortController;
  abortedBy: 'caller' | 'queue' | undefined;
  state: JobState;
  /** Removes the job's waiting p-queue entry, which then never starts. */
  dequeue: AbortController | undefined;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  readonly detach: () => void;
}

export class RequestQueue implements RequestScheduler {
  readonly #pq: PQueue;
  readonly #maxPauseMs: number;
  readonly #backoff: { readonly baseMs: number; readonly capMs: number };
  readonly #random: () => number;
  readonly #onRateLimited: ((delayMs: number) => void) | undefined;
  readonly #onDepthChange: ((depth: number) => void) | undefined;
  readonly #jobs = new Set<Job>();
  #idleWaiters: Array<() => void> = [];
  #accepting = true;
  #closing = false;
  #pausedUntil = 0;
  #resumeTimer: NodeJS.Timeout | undefined;
  #rateLimitStreak = 0;
  #rateLimitedCount = 0;

  constructor(options: RequestQueueOptions) {
    const { ratePerSecond, concurrency } = options;
    if (!Number.isFinite(ratePerSecond) || ratePerSecond <= 0) {
      throw new RangeError(`ratePerSecond must be a positive number, got ${ratePerSecond}`);
    }
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new RangeError(`concurrency must be a whole number ≥ 1, got ${concurrency}`);
    }
    this.#maxPauseMs = options.maxPauseMs ?? DEFAULT_MAX_PAUSE_MS;
    this.#backoff = options.backoff ?? { baseMs: DEFAULT_BACKOFF_BASE_MS, capMs: this.#maxPauseMs };
    this.#random = options.random ?? Math.random;
    this.#onRateLimited = options.onRateLimited;
    this.#onDepthChange = options.onDepthChange;
    this.#pq = new PQueue({ concurrency, ...rateWindow(ratePerSecond), strict: true });
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

  run<T>(
    attempt: (signal: AbortSignal) => Promise<T>,
    opts: { readonly priority?: number; readonly signal?: AbortSignal } = {},
  ): Promise<T> {
    if (!this.#accepting) return Promise.reject(new QueueClosedError());
    const { signal } = opts;
    if (signal?.aborted) return Promise.reject(new RequestAbortedError(signal.reason));

    return new Promise<T>((resolve, reject) => {
      const onCallerAbort = (): void => this.#abortByCaller(job, signal?.reason);
      const job: Job = {
        attempt,
        priority: opts.priority ?? 0,
        controller: new AbortController(),
        abortedBy: undefined,
        state: 'queued',
        dequeue: undefined,
        resolve: resolve as (value: unknown) => void,
        reject,
        detach: () => signal?.removeEventListener('abort', onCallerAbort),
      };
      signal?.addEventListener('abort', onCallerAbort, { once: true });
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
    job.state = 'running';
    job.dequeue = undefined;
    try {
      const value = await job.attempt(job.controller.signal);
      this.#rateLimitStreak = 0;
      this.#settle(job, () => job.resolve(value));
    } catch (error) {
      if (isRateLimited(error)) {
        this.#onRateLimit(job, error);
      } else {
        this.#settle(job, () => job.reject(this.#abortedError(job, error)));
      }
    }
  }

  #onRateLimit(job: Job, error: RateLimited): void {
    this.#rateLimitedCount += 1;
    this.#rateLimitStreak += 1;
    const delayMs = this.#pauseDelay(error);
    this.#pauseFor(delayMs);
    if (job.abortedBy !== undefined) {
      this.#settle(job, () => job.reject(this.#abortedError(job, error)));
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

  #pauseDelay(error: RateLimited): number {
    const retryAfter = error.retryAfterMs;
    const delay =
      retryAfter !== undefined && Number.isFinite(retryAfter) && retryAfter >= 0
        ? retryAfter
        : backoffDelay(this.#rateLimitStreak - 1, { ...this.#backoff, random: this.#random, jitter: 'equal' });
    return Math.min(delay, this.#maxPauseMs);
  }

  /** Extends the global pause; a shorter request never cuts an active longer pause short. */
  #pauseFor(delayMs: number): void {
    const until = Date.now() + delayMs;
    if (until <= this.#pausedUntil || this.#closing) return;
    this.#pausedUntil = until;
    this.#pq.pause();
    clearTimeout(this.#resumeTimer);
    this.#resumeTimer = setTimeout(() => {
      this.#resumeTimer = undefined;
      this.#pq.start();
    }, delayMs);
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
    clearTimeout(this.#resumeTimer);
    this.#resumeTimer = undefined;
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
