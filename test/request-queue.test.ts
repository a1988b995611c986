import { afterEach, describe, expect, it, vi } from 'vitest';
import { RequestWithdrawnError } from '../src/queue/contract.js';
import { AimdRate } from '../src/queue/rate-controller.js';
import {
  nextStartSlot,
  QueueClosedError,
  RateLimitedTooLongError,
  RequestAbortedError,
  RequestQueue,
} from '../src/queue/request-queue.js';
import { deferred, outcome, sleep, TooManyRequests } from './helpers/queue-helpers.js';
import { until } from './helpers/wait-for.js';

describe('rate and concurrency (real timers)', () => {
  it('runs 50 tasks at 20/s in ≥ 2.35 s, spaced evenly: never more than 23 starts in any 1 s window', async () => {
    const q = new RequestQueue({ rate: 20, concurrency: 5 });
    const starts: number[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const began = Date.now();
    await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        q.run(async () => {
          starts.push(Date.now());
          inFlight += 1;
          maxInFlight = Math.max(maxInFlight, inFlight);
          await sleep(5);
          inFlight -= 1;
          return i;
        }),
      ),
    );
    const elapsed = Date.now() - began;

    expect(starts).toHaveLength(50);
    // 49 gaps of 50 ms; after a late start the next ones catch up by at most 100 ms, never more.
    expect(elapsed).toBeGreaterThanOrEqual(49 * 50 - 100);
    for (let i = 0; i + 20 < starts.length; i++) {
      expect(starts[i + 20]! - starts[i]!).toBeGreaterThanOrEqual(1000 - 100);
    }
    expect(maxInFlight).toBeLessThanOrEqual(5);
    expect(q.depth).toBe(0);
  });

  it('never has more than `concurrency` attempts in flight, and does reach it', async () => {
    const q = new RequestQueue({ rate: 1000, concurrency: 3 });
    let inFlight = 0;
    let maxInFlight = 0;
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        q.run(async () => {
          inFlight += 1;
          maxInFlight = Math.max(maxInFlight, inFlight);
          await sleep(1 + (i % 4));
          inFlight -= 1;
          return i * 2;
        }),
      ),
    );
    expect(results).toEqual(Array.from({ length: 30 }, (_, i) => i * 2));
    expect(maxInFlight).toBe(3);
  });

  it('reports depth (waiting + in flight) on every change', async () => {
    const depths: number[] = [];
    const q = new RequestQueue({ rate: 1000, concurrency: 1, onDepthChange: (d) => depths.push(d) });
    const gate = deferred();
    const a = q.run(() => gate.promise);
    const b = q.run(async () => 'b');
    expect(q.depth).toBe(2);
    gate.resolve();
    await Promise.all([a, b]);
    expect(depths).toEqual([1, 2, 1, 0]);
    expect(q.depth).toBe(0);
  });

  it('starts higher priority first', async () => {
    const q = new RequestQueue({ rate: 1000, concurrency: 1 });
    const gate = deferred();
    const order: string[] = [];
    const blocker = q.run(() => gate.promise);
    const low = q.run(async () => order.push('low'), { priority: 0 });
    const high = q.run(async () => order.push('high'), { priority: 5 });
    gate.resolve();
    await Promise.all([blocker, low, high]);
    expect(order).toEqual(['high', 'low']);
  });

  it('passes a non-429 failure to the caller unchanged', async () => {
    const q = new RequestQueue({ rate: 1000, concurrency: 1 });
    const boom = new Error('503 Service Unavailable');
    await expect(q.run(async () => Promise.reject(boom))).rejects.toBe(boom);
    expect(q.rateLimitedCount).toBe(0);
  });

  it('rejects invalid settings', () => {
    expect(() => new RequestQueue({ rate: 0, concurrency: 1 })).toThrow(RangeError);
    expect(() => new RequestQueue({ rate: Number.POSITIVE_INFINITY, concurrency: 1 })).toThrow(RangeError);
    expect(() => new RequestQueue({ rate: Number.NaN, concurrency: 1 })).toThrow(RangeError);
    expect(() => new RequestQueue({ rate: 5, concurrency: 0 })).toThrow(RangeError);
    expect(() => new RequestQueue({ rate: 5, concurrency: 1.5 })).toThrow(RangeError);
  });
});

describe('nextStartSlot', () => {
  it('keeps the schedule when a start is late by up to 100 ms, so the rate does not fall short', () => {
    // 50/s: slots every 20 ms. A timer that fires 3 ms late must not push every later slot back.
    expect(nextStartSlot(1000, 1003, 20)).toBe(1020);
    expect(nextStartSlot(1000, 1000, 20)).toBe(1020);
    // 100 ms late: the next four slots are already due, and go back to back.
    expect(nextStartSlot(1000, 1100, 20)).toBe(1020);
  });

  it('starts a new schedule after an idle spell or a pause', () => {
    expect(nextStartSlot(1000, 1101, 20)).toBe(1121);
    expect(nextStartSlot(0, 1_000_000, 200)).toBe(1_000_200);
  });
});

describe('429 pauses every start (real timers)', () => {
  it('holds all starts for Retry-After, then retries the attempt first and resolves the caller', async () => {
    const q = new RequestQueue({ rate: 1000, concurrency: 2 });
    const starts: Array<{ label: string; at: number }> = [];
    let rateLimitedAt = 0;
    let firstAttempt = true;
    const limited = q.run(async () => {
      starts.push({ label: 'limited', at: Date.now() });
      await sleep(10);
      if (firstAttempt) {
        firstAttempt = false;
        rateLimitedAt = Date.now();
        throw new TooManyRequests(1000);
      }
      return 'finally';
    });
    const others = Array.from({ length: 5 }, (_, i) =>
      q.run(async () => {
        starts.push({ label: `other${i}`, at: Date.now() });
        await sleep(20);
        return i;
      }),
    );

    await expect(limited).resolves.toBe('finally');
    expect(await Promise.all(others)).toEqual([0, 1, 2, 3, 4]);
    expect(q.rateLimitedCount).toBe(1);
    expect(q.pausedUntil).toBeGreaterThanOrEqual(rateLimitedAt + 1000);

    const afterLimit = starts.filter((s) => s.at >= rateLimitedAt);
    expect(afterLimit[0]?.label).toBe('limited');
    for (const s of afterLimit) expect(s.at).toBeGreaterThanOrEqual(rateLimitedAt + 999);
    // Only the attempt running alongside it started before the 429; the other four waited out the pause.
    expect(afterLimit.map((s) => s.label).sort()).toEqual(['limited', 'other1', 'other2', 'other3', 'other4']);
  });
});

describe('429 timing (fake timers)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('lets an in-flight 429 extend the pause but never shorten it', async () => {
    vi.useFakeTimers();
    const t0 = Date.now();
    const q = new RequestQueue({ rate: 1000, concurrency: 3 });
    const starts: Array<{ label: string; at: number }> = [];
    const plan: Record<string, { failAt: number; retryAfterMs: number }> = {
      a: { failAt: 10, retryAfterMs: 3000 },
      b: { failAt: 50, retryAfterMs: 1000 },
      c: { failAt: 100, retryAfterMs: 5000 },
    };
    const seen = new Set<string>();
    const task = (label: string) =>
      q.run(async () => {
        starts.push({ label, at: Date.now() - t0 });
        const step = plan[label];
        if (step !== undefined && !seen.has(label)) {
          seen.add(label);
          await sleep(step.failAt);
          throw new TooManyRequests(step.retryAfterMs);
        }
        return label;
      });
    const all = Promise.all(['a', 'b', 'c', 'd'].map(task));

    // At 1000/s a, b and c start a millisecond apart and fail at 10, 51 and 102 ms.
    await vi.advanceTimersByTimeAsync(10);
    expect(q.pausedUntil - t0).toBe(3010);
    await vi.advanceTimersByTimeAsync(41);
    expect(q.pausedUntil - t0).toBe(3010);
    await vi.advanceTimersByTimeAsync(51);
    expect(q.pausedUntil - t0).toBe(5102);
    await vi.advanceTimersByTimeAsync(4999);
    expect(starts).toEqual([
      { label: 'a', at: 0 },
      { label: 'b', at: 1 },
      { label: 'c', at: 2 },
    ]);
    await vi.advanceTimersByTimeAsync(10);
    await expect(all).resolves.toEqual(['a', 'b', 'c', 'd']);
    expect(starts.slice(3)).toEqual([
      { label: 'a', at: 5102 },
      { label: 'b', at: 5103 },
      { label: 'c', at: 5104 },
      { label: 'd', at: 5105 },
    ]);
    expect(q.rateLimitedCount).toBe(3);
  });

  it('caps Retry-After at maxPauseMs', async () => {
    vi.useFakeTimers();
    const t0 = Date.now();
    const delays: number[] = [];
    const q = new RequestQueue({
      rate: 1000,
      concurrency: 1,
      maxPauseMs: 1000,
      onRateLimited: (d) => delays.push(d),
    });
    const attempts: number[] = [];
    const p = q.run(async () => {
      attempts.push(Date.now() - t0);
      if (attempts.length === 1) throw new TooManyRequests(10 * 60_000);
      return 'ok';
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(delays).toEqual([1000]);
    expect(q.pausedUntil - t0).toBe(1000);
    await vi.advanceTimersByTimeAsync(999);
    expect(attempts).toEqual([0]);
    await vi.advanceTimersByTimeAsync(1);
    await expect(p).resolves.toBe('ok');
    expect(attempts).toEqual([0, 1000]);
  });

  it('backs off exponentially without Retry-After, and a success resets the streak', async () => {
    vi.useFakeTimers();
    const t0 = Date.now();
    const delays: number[] = [];
    const q = new RequestQueue({
      rate: 1000,
      concurrency: 1,
      backoff: { baseMs: 2000, capMs: 60_000 },
      random: () => 0,
      onRateLimited: (d) => delays.push(d),
    });
    const attempts: number[] = [];
    let failuresLeft = 4;
    const first = q.run(async () => {
      attempts.push(Date.now() - t0);
      if (failuresLeft-- > 0) throw new TooManyRequests();
      return 'first';
    });
    await vi.advanceTimersByTimeAsync(15_000);
    await expect(first).resolves.toBe('first');
    // Equal jitter with random() = 0 waits exactly half the ceiling: 2000·2^n / 2.
    expect(delays).toEqual([1000, 2000, 4000, 8000]);
    expect(attempts).toEqual([0, 1000, 3000, 7000, 15000]);

    let again = true;
    const second = q.run(async () => {
      if (again) {
        again = false;
        throw new TooManyRequests();
      }
      return 'second';
    });
    // The second call starts one slot (1 ms) after the first call's last attempt.
    await vi.advanceTimersByTimeAsync(1001);
    await expect(second).resolves.toBe('second');
    expect(delays).toEqual([1000, 2000, 4000, 8000, 1000]);
  });

  it('treats fractional rates as one start per 1/rate seconds', async () => {
    vi.useFakeTimers();
    const t0 = Date.now();
    const q = new RequestQueue({ rate: 0.5, concurrency: 4 });
    const starts: number[] = [];
    const all = Promise.all([1, 2, 3].map(() => q.run(async () => starts.push(Date.now() - t0))));
    await vi.advanceTimersByTimeAsync(3999);
    expect(starts).toEqual([0, 2000]);
    await vi.advanceTimersByTimeAsync(1);
    await all;
    expect(starts).toEqual([0, 2000, 4000]);
  });
});

describe('Retry-After that asks for no pause, or for ever (fake timers)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it.each([
    ['Retry-After: 0', 0],
    ['a date in the past (parsed as 0 ms)', 0],
    ['a sub-second value', 200],
  ])('%s still pauses every start for 1 s, and the 429 is counted', async (_label, retryAfterMs) => {
    vi.useFakeTimers();
    const t0 = Date.now();
    const delays: number[] = [];
    const q = new RequestQueue({ rate: 1000, concurrency: 1, onRateLimited: (d) => delays.push(d) });
    const attempts: number[] = [];
    const p = q.run(async () => {
      attempts.push(Date.now() - t0);
      if (attempts.length <= 3) throw new TooManyRequests(retryAfterMs);
      return 'ok';
    });
    await vi.advanceTimersByTimeAsync(2999);
    expect(attempts).toEqual([0, 1000, 2000]);
    await vi.advanceTimersByTimeAsync(1);
    await expect(p).resolves.toBe('ok');
    expect(attempts).toEqual([0, 1000, 2000, 3000]);
    expect(delays).toEqual([1000, 1000, 1000]);
    expect(q.rateLimitedCount).toBe(3);
  });

  it('fails a request answered 429 for more than 5 minutes in all, saying Parchment kept rate-limiting', async () => {
    vi.useFakeTimers();
    const t0 = Date.now();
    const q = new RequestQueue({ rate: 1000, concurrency: 2 });
    const attempts: number[] = [];
    // Retry-After: 10^9 s is capped at 60 s a pause; without the 5-minute limit this would never end.
    const stuck = outcome(
      q.run(async () => {
        attempts.push(Date.now() - t0);
        throw new TooManyRequests(1e9 * 1000);
      }),
    );
    await vi.advanceTimersByTimeAsync(5 * 60_000 + 10);
    const r = await stuck;
    expect(attempts).toEqual([0, 60_000, 120_000, 180_000, 240_000, 300_000]);
    expect(r.kind).toBe('rejected');
    const error = (r as { error: unknown }).error;
    expect(error).toBeInstanceOf(RateLimitedTooLongError);
    expect((error as Error).message).toMatch(
      /^Parchment kept rate-limiting this request: answered 429 6 times over 5 min 0 s, more than the 5 min 0 s/,
    );
    expect((error as Error).message).toContain('last answer: 429 Too Many Requests');
    expect((error as RateLimitedTooLongError).cause).toBeInstanceOf(TooManyRequests);
    expect(q.depth).toBe(0);
    // The queue goes on: the next request runs once the last pause is over.
    const next = q.run(async () => 'next');
    await vi.advanceTimersByTimeAsync(60_000);
    await expect(next).resolves.toBe('next');
  });

  it('counts the 5 minutes per request, from its own first 429', async () => {
    vi.useFakeTimers();
    const q = new RequestQueue({ rate: 1000, concurrency: 1, rateLimitedGiveUpMs: 3_000 });
    let n = 0;
    // Limited twice (2 s), then fine: well inside the limit.
    const p = q.run(async () => {
      if (++n <= 2) throw new TooManyRequests(1000);
      return 'ok';
    });
    await vi.advanceTimersByTimeAsync(2_000);
    await expect(p).resolves.toBe('ok');
    const stuck = outcome(q.run(async () => Promise.reject(new TooManyRequests(1000))));
    await vi.advanceTimersByTimeAsync(3_010);
    expect((await stuck).kind).toBe('rejected');
  });
});

describe('a learned rate', () => {
  it('reports every change, and cuts the rate on a 429 burst once', async () => {
    const changes: number[] = [];
    const q = new RequestQueue({
      rate: new AimdRate({ maxPerSecond: 50 }),
      concurrency: 4,
      onRateChange: (r) => changes.push(r),
    });
    expect(q.rate).toBe(5);
    // Twenty quick requests waiting on the budget: slow start doubles the rate on every clean half-second window.
    await Promise.all(Array.from({ length: 20 }, () => q.run(async () => 'ok')));
    expect(changes.length).toBeGreaterThanOrEqual(2);
    expect(changes.slice(0, 2)).toEqual([10, 20]);
    const before = q.rate;
    const cutsBefore = changes.length;
    // Four attempts in flight together, all answered 429: one burst, one cut.
    let started = 0;
    const allStarted = deferred();
    await Promise.all(
      Array.from({ length: 4 }, () =>
        q.run(async () => {
          started += 1;
          if (started === 4) allStarted.resolve();
          if (started <= 4) {
            await allStarted.promise;
            throw new TooManyRequests(1000);
          }
          return 'ok';
        }),
      ),
    );
    expect(q.rateLimitedCount).toBe(4);
    const after = changes.slice(cutsBefore);
    const cuts = after.filter((r, i) => r < (i === 0 ? before : after[i - 1]!));
    expect(cuts).toHaveLength(1);
    expect(after[0]).toBeGreaterThanOrEqual(before * 0.25);
    expect(after[0]).toBeLessThanOrEqual(before * 0.9);
    expect(q.rate).toBeLessThan(before);
  });
});

describe('abort signals', () => {
  it('rejects an already-aborted call without running it', async () => {
    const q = new RequestQueue({ rate: 1000, concurrency: 1 });
    const attempt = vi.fn(async () => 'never');
    await expect(q.run(attempt, { signal: AbortSignal.abort('gone') })).rejects.toBeInstanceOf(RequestAbortedError);
    expect(attempt).not.toHaveBeenCalled();
    expect(q.depth).toBe(0);
  });

  it('removes a waiting call when its signal aborts', async () => {
    const q = new RequestQueue({ rate: 1000, concurrency: 1 });
    const gate = deferred();
    const blocker = q.run(() => gate.promise);
    const attempt = vi.fn(async () => 'never');
    const ac = new AbortController();
    const waiting = outcome(q.run(attempt, { signal: ac.signal }));
    expect(q.depth).toBe(2);
    ac.abort('user went away');
    const result = await waiting;
    expect(result.kind).toBe('rejected');
    const error = (result as { error: unknown }).error;
    expect(error).toBeInstanceOf(RequestAbortedError);
    expect((error as Error).name).toBe('AbortError');
    expect((error as Error).cause).toBe('user went away');
    expect(q.depth).toBe(1);
    gate.resolve();
    await blocker;
    await q.onIdle();
    expect(attempt).not.toHaveBeenCalled();
  });

  it('aborts a running attempt through the signal it was given', async () => {
    const q = new RequestQueue({ rate: 1000, concurrency: 1 });
    const ac = new AbortController();
    let seen: AbortSignal | undefined;
    const started = deferred();
    const running = q.run(
      (signal) =>
        new Promise((_resolve, reject) => {
          seen = signal;
          signal.addEventListener('abort', () => reject(new Error('request cancelled')));
          started.resolve();
        }),
      { signal: ac.signal },
    );
    await started.promise;
    expect(seen?.aborted).toBe(false);
    ac.abort('stop');
    await expect(running).rejects.toBeInstanceOf(RequestAbortedError);
    expect(seen?.aborted).toBe(true);
    expect(seen?.reason).toBe('stop');
    expect(q.depth).toBe(0);
  });

  it('rejects promptly when aborted while waiting out a 429 pause, without retrying', async () => {
    const q = new RequestQueue({ rate: 1000, concurrency: 1 });
    const ac = new AbortController();
    const attempt = vi.fn(async () => {
      throw new TooManyRequests(30_000);
    });
    const p = outcome(q.run(attempt, { signal: ac.signal }));
    await until(() => q.pausedUntil > 0, { what: 'the 429 pause to be armed' });
    expect(q.pausedUntil).toBeGreaterThan(Date.now() + 20_000);
    const began = Date.now();
    ac.abort();
    const result = await p;
    expect(Date.now() - began).toBeLessThan(1000);
    expect(result.kind).toBe('rejected');
    expect((result as { error: unknown }).error).toBeInstanceOf(RequestAbortedError);
    expect(attempt).toHaveBeenCalledTimes(1);
    expect(q.depth).toBe(0);
    q.close();
  });
});

describe('withdrawing a request', () => {
  it('takes a waiting request out of the queue: it is never attempted', async () => {
    const q = new RequestQueue({ rate: 1000, concurrency: 1 });
    const gate = deferred();
    const blocker = q.run(() => gate.promise);
    const attempt = vi.fn(async () => 'never');
    const withdraw = new AbortController();
    const waiting = q.run(attempt, { withdraw: withdraw.signal });
    expect(q.depth).toBe(2);
    withdraw.abort('credentials refused');
    await expect(waiting).rejects.toSatisfy(
      (e) => e instanceof RequestWithdrawnError && e.cause === 'credentials refused',
    );
    expect(q.depth).toBe(1);
    gate.resolve();
    await blocker;
    await q.onIdle();
    expect(attempt).not.toHaveBeenCalled();
  });

  it('lets a request already on the wire run to its end, and refuses one withdrawn before it was queued', async () => {
    const q = new RequestQueue({ rate: 1000, concurrency: 1 });
    const withdraw = new AbortController();
    const started = deferred();
    const answer = deferred<string>();
    let seen: AbortSignal | undefined;
    const running = q.run(
      (signal) => {
        seen = signal;
        started.resolve();
        return answer.promise;
      },
      { withdraw: withdraw.signal },
    );
    await started.promise;
    withdraw.abort();
    expect(seen?.aborted).toBe(false);
    answer.resolve('stored');
    await expect(running).resolves.toBe('stored');
    const late = vi.fn(async () => 'never');
    await expect(q.run(late, { withdraw: withdraw.signal })).rejects.toBeInstanceOf(RequestWithdrawnError);
    expect(late).not.toHaveBeenCalled();
  });

  it('withdraws a request waiting to be retried after a 429 (Parchment did not act on it)', async () => {
    const q = new RequestQueue({ rate: 1000, concurrency: 1 });
    const withdraw = new AbortController();
    const attempt = vi.fn(async () => {
      throw new TooManyRequests(30_000);
    });
    const p = q.run(attempt, { withdraw: withdraw.signal });
    await until(() => q.pausedUntil > 0, { what: 'the 429 pause to be armed' });
    withdraw.abort();
    await expect(p).rejects.toBeInstanceOf(RequestWithdrawnError);
    expect(attempt).toHaveBeenCalledTimes(1);
    expect(q.depth).toBe(0);
    q.close();
  });
});

describe('shutdown', () => {
  it('stopAccepting refuses new calls but finishes accepted ones', async () => {
    const q = new RequestQueue({ rate: 1000, concurrency: 1 });
    const gate = deferred();
    const accepted = q.run(async () => {
      await gate.promise;
      return 'accepted';
    });
    const queued = q.run(async () => 'queued too');
    q.stopAccepting();
    expect(q.accepting).toBe(false);
    await expect(q.run(async () => 'late')).rejects.toBeInstanceOf(QueueClosedError);
    gate.resolve();
    await expect(accepted).resolves.toBe('accepted');
    await expect(queued).resolves.toBe('queued too');
  });

  it('drain lets in-flight attempts finish and rejects queued ones', async () => {
    const q = new RequestQueue({ rate: 1000, concurrency: 1 });
    const gate = deferred();
    const started = deferred();
    const inFlight = q.run(async () => {
      started.resolve();
      await gate.promise;
      return 'finished';
    });
    const queuedAttempt = vi.fn(async () => 'never');
    const queued = [outcome(q.run(queuedAttempt)), outcome(q.run(queuedAttempt))];
    await started.promise;
    const drained = q.drain();
    for (const r of await Promise.all(queued)) {
      expect(r.kind).toBe('rejected');
      expect((r as { error: unknown }).error).toBeInstanceOf(QueueClosedError);
    }
    expect(q.depth).toBe(1);
    await expect(q.run(async () => 'late')).rejects.toBeInstanceOf(QueueClosedError);
    gate.resolve();
    await expect(inFlight).resolves.toBe('finished');
    await expect(drained).resolves.toBe('drained');
    expect(queuedAttempt).not.toHaveBeenCalled();
  });

  it('drain with a deadline aborts attempts still in flight and returns at the deadline', async () => {
    const q = new RequestQueue({ rate: 1000, concurrency: 2 });
    let seen: AbortSignal | undefined;
    const stuckStarted = deferred();
    const quickStarted = deferred();
    const stuck = outcome(
      q.run(
        (signal) =>
          new Promise((_resolve, reject) => {
            seen = signal;
            signal.addEventListener('abort', () => reject(new Error('socket destroyed')));
            stuckStarted.resolve();
          }),
      ),
    );
    const quick = q.run(async () => {
      quickStarted.resolve();
      await sleep(5);
      return 'quick';
    });
    await Promise.all([stuckStarted.promise, quickStarted.promise]);
    const began = Date.now();
    await expect(q.drain(60)).resolves.toBe('deadline');
    expect(Date.now() - began).toBeGreaterThanOrEqual(55);
    expect(Date.now() - began).toBeLessThan(1000);
    await expect(quick).resolves.toBe('quick');
    expect(seen?.aborted).toBe(true);
    const r = await stuck;
    expect(r.kind).toBe('rejected');
    expect((r as { error: unknown }).error).toBeInstanceOf(QueueClosedError);
  });

  it('drain with a deadline returns drained when in-flight work finishes in time', async () => {
    const q = new RequestQueue({ rate: 1000, concurrency: 1 });
    const started = deferred();
    const p = q.run(async (signal) => {
      started.resolve();
      await sleep(10);
      return signal.aborted;
    });
    await started.promise;
    await expect(q.drain(5_000)).resolves.toBe('drained');
    await expect(p).resolves.toBe(false);
  });

  it('drain does not wait out an active 429 pause: the retry is dropped as not started', async () => {
    const q = new RequestQueue({ rate: 1000, concurrency: 1 });
    const attempt = vi.fn(async () => {
      throw new TooManyRequests(30_000);
    });
    const p = outcome(q.run(attempt));
    await until(() => q.pausedUntil > 0, { what: 'the 429 pause to be armed' });
    const began = Date.now();
    await expect(q.drain()).resolves.toBe('drained');
    expect(Date.now() - began).toBeLessThan(1000);
    const r = await p;
    expect((r as { error: unknown }).error).toBeInstanceOf(QueueClosedError);
    expect(attempt).toHaveBeenCalledTimes(1);
  });

  it('a 429 answered while draining fails the call instead of retrying it', async () => {
    const q = new RequestQueue({ rate: 1000, concurrency: 1 });
    const gate = deferred();
    const started = deferred();
    const attempt = vi.fn(async () => {
      started.resolve();
      await gate.promise;
      throw new TooManyRequests(10);
    });
    const p = outcome(q.run(attempt));
    await started.promise;
    const drained = q.drain();
    gate.resolve();
    await expect(drained).resolves.toBe('drained');
    const r = await p;
    const error = (r as { error: unknown }).error;
    expect(error).toBeInstanceOf(QueueClosedError);
    expect((error as Error).cause).toBeInstanceOf(TooManyRequests);
    expect(attempt).toHaveBeenCalledTimes(1);
  });

  it('close aborts in-flight attempts and rejects queued ones at once', async () => {
    const q = new RequestQueue({ rate: 1000, concurrency: 1 });
    let seen: AbortSignal | undefined;
    const started = deferred();
    const running = outcome(
      q.run(
        (signal) =>
          new Promise((_resolve, reject) => {
            seen = signal;
            signal.addEventListener('abort', () => reject(signal.reason));
            started.resolve();
          }),
      ),
    );
    const queuedAttempt = vi.fn(async () => 'never');
    const queued = outcome(q.run(queuedAttempt));
    await started.promise;
    q.close();
    expect(seen?.aborted).toBe(true);
    for (const r of await Promise.all([running, queued])) {
      expect((r as { error: unknown }).error).toBeInstanceOf(QueueClosedError);
    }
    await q.onIdle();
    expect(q.depth).toBe(0);
    expect(queuedAttempt).not.toHaveBeenCalled();
  });
});
