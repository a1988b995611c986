import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RequestWithdrawnError } from '../src/queue/contract.js';
import { RequestQueue } from '../src/queue/request-queue.js';
import { flush, sleep, TooManyRequests } from './helpers/queue-helpers.js';

/** How long an attempt takes: settled at once, after some microtask hops, or after real milliseconds. */
type Duration =
  | { readonly kind: 'sync' }
  | { readonly kind: 'micro'; readonly hops: number }
  | { readonly kind: 'ms'; readonly ms: number };

const durationArb: fc.Arbitrary<Duration> = fc.oneof(
  fc.constant({ kind: 'sync' as const }),
  fc.record({ kind: fc.constant('micro' as const), hops: fc.integer({ min: 1, max: 5 }) }),
  fc.record({ kind: fc.constant('ms' as const), ms: fc.integer({ min: 0, max: 2 }) }),
);

/** A task: how long each attempt takes, and what its first attempts are answered (429, with a Retry-After). */
const taskArb = fc.record({
  duration: durationArb,
  rateLimits: fc.array(fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }), { maxLength: 2 }),
});

async function take(d: Duration): Promise<void> {
  switch (d.kind) {
    case 'sync':
      return;
    case 'micro':
      for (let i = 0; i < d.hops; i++) await Promise.resolve();
      return;
    case 'ms':
      await sleep(d.ms);
  }
}

describe('RequestQueue properties', () => {
  it('with concurrency 1, no 429s and equal priority, starts tasks in submission order', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ duration: durationArb, pauseBeforeSubmit: fc.boolean() }), {
          minLength: 1,
          maxLength: 15,
        }),
        async (tasks) => {
          const q = new RequestQueue({ rate: 10_000, concurrency: 1 });
          const started: number[] = [];
          const results: Array<Promise<number>> = [];
          for (const [i, t] of tasks.entries()) {
            if (t.pauseBeforeSubmit) await flush();
            results.push(
              q.run(async () => {
                started.push(i);
                await take(t.duration);
                return i;
              }),
            );
          }
          const expected = tasks.map((_, i) => i);
          expect(await Promise.all(results)).toEqual(expected);
          expect(started).toEqual(expected);
          expect(q.depth).toBe(0);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('with 429s injected, every task completes once, no start falls in a pause, concurrency holds', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.array(taskArb, { minLength: 1, maxLength: 10 }),
        async (concurrency, tasks) => {
          // A pause cap of 4 ms also lowers the 1 s minimum pause to 4 ms, so 30 runs take milliseconds.
          const q = new RequestQueue({ rate: 10_000, concurrency, maxPauseMs: 4, backoff: { baseMs: 1, capMs: 4 } });
          const attempts = tasks.map(() => 0);
          const successes = tasks.map(() => 0);
          const startsInsidePause: number[] = [];
          let inFlight = 0;
          let maxInFlight = 0;
          const results = tasks.map((t, i) =>
            q.run(async () => {
              // Node's timers and Date.now() can disagree by a millisecond.
              if (Date.now() < q.pausedUntil - 1) startsInsidePause.push(i);
              inFlight += 1;
              maxInFlight = Math.max(maxInFlight, inFlight);
              const n = attempts[i]!;
              attempts[i] = n + 1;
              try {
                await take(t.duration);
                if (n < t.rateLimits.length) throw new TooManyRequests(t.rateLimits[n]);
                successes[i]! += 1;
                return i;
              } finally {
                inFlight -= 1;
              }
            }),
          );
          expect(await Promise.all(results)).toEqual(tasks.map((_, i) => i));
          expect(successes).toEqual(tasks.map(() => 1));
          expect(attempts).toEqual(tasks.map((t) => t.rateLimits.length + 1));
          expect(q.rateLimitedCount).toBe(tasks.reduce((n, t) => n + t.rateLimits.length, 0));
          expect(startsInsidePause).toEqual([]);
          expect(maxInFlight).toBeLessThanOrEqual(concurrency);
          expect(q.depth).toBe(0);
        },
      ),
      { numRuns: 30 },
    );
  });

  it('withdrawing: nothing starts after the withdraw, a withdrawn request never succeeded', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.array(taskArb, { minLength: 1, maxLength: 10 }),
        fc.nat({ max: 12 }),
        async (concurrency, tasks, withdrawAtStart) => {
          const q = new RequestQueue({ rate: 10_000, concurrency, maxPauseMs: 4, backoff: { baseMs: 1, capMs: 4 } });
          const withdraw = new AbortController();
          const attempts = tasks.map(() => 0);
          const successes = tasks.map(() => 0);
          const startsAfterWithdraw: number[] = [];
          let starts = 0;
          const results = tasks.map((t, i) =>
            q
              .run(
                async () => {
                  if (withdraw.signal.aborted) startsAfterWithdraw.push(i);
                  // The withdraw fires as the n-th attempt starts: that one is on the wire and must finish.
                  if (starts++ === withdrawAtStart) withdraw.abort();
                  const n = attempts[i]!;
                  attempts[i] = n + 1;
                  await take(t.duration);
                  if (n < t.rateLimits.length) throw new TooManyRequests(t.rateLimits[n]);
                  successes[i]! += 1;
                  return 'done' as const;
                },
                { withdraw: withdraw.signal },
              )
              .catch((e: unknown) => {
                expect(e).toBeInstanceOf(RequestWithdrawnError);
                return 'withdrawn' as const;
              }),
          );
          const settled = await Promise.all(results);
          expect(startsAfterWithdraw).toEqual([]);
          settled.forEach((r, i) => expect(successes[i]).toBe(r === 'done' ? 1 : 0));
          if (withdrawAtStart >= tasks.reduce((n, t) => n + t.rateLimits.length + 1, 0)) {
            expect(settled.every((r) => r === 'done')).toBe(true);
          }
          expect(q.depth).toBe(0);
        },
      ),
      { numRuns: 40 },
    );
  });
});
