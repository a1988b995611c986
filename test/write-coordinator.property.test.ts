import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RequestQueue } from '../src/queue/request-queue.js';
import { WriteCoordinator, type SubmitOutcome } from '../src/queue/write-coordinator.js';
import { deferred, flush, sleep, TooManyRequests, type Deferred } from './helpers/queue-helpers.js';

const KEYS = ['alice', 'bob', 'carol'] as const;
type Key = (typeof KEYS)[number];

type Op =
  | { readonly op: 'submit'; readonly key: Key }
  | { readonly op: 'finish'; readonly key: Key; readonly ok: boolean }
  | { readonly op: 'flush' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ op: fc.constant('submit' as const), key: fc.constantFrom(...KEYS) }) },
  {
    weight: 2,
    arbitrary: fc.record({ op: fc.constant('finish' as const), key: fc.constantFrom(...KEYS), ok: fc.boolean() }),
  },
  { weight: 1, arbitrary: fc.constant({ op: 'flush' as const }) },
);

/** Bookkeeping shared by both properties: what was submitted, what was written, and the per-key in-flight rule. */
class Ledger {
  readonly submitted = new Map<string, number[]>();
  readonly written = new Map<string, number[]>();
  readonly violations: string[] = [];
  readonly #inFlight = new Set<string>();

  submit(key: string, value: number): void {
    this.submitted.set(key, [...(this.submitted.get(key) ?? []), value]);
  }

  begin(key: string, value: number): void {
    if (this.#inFlight.has(key)) this.violations.push(`two writes in flight for ${key}`);
    const latest = this.submitted.get(key)?.at(-1);
    if (value !== latest) this.violations.push(`${key}: started ${value} while ${latest} was the newest submission`);
    this.#inFlight.add(key);
    this.written.set(key, [...(this.written.get(key) ?? []), value]);
  }

  end(key: string): void {
    this.#inFlight.delete(key);
  }

  check(outcomes: ReadonlyMap<number, SubmitOutcome<number>>): void {
    expect(this.violations).toEqual([]);
    for (const [key, values] of this.submitted) {
      const written = this.written.get(key) ?? [];
      // Values are numbered in submission order, so "never older after newer" is strict increase.
      for (let i = 1; i < written.length; i++) expect(written[i]!).toBeGreaterThan(written[i - 1]!);
      for (const v of written) expect(values).toContain(v);
      expect(written.at(-1)).toBe(values.at(-1));
    }
    const writtenValues = new Set([...this.written.values()].flat());
    for (const [value, outcome] of outcomes) {
      if (outcome.kind === 'done' || outcome.kind === 'failed') expect(writtenValues.has(value)).toBe(true);
      else expect(outcome.kind === 'superseded' && !writtenValues.has(value)).toBe(true);
      if (outcome.kind === 'done') expect(outcome.result).toBe(value);
    }
  }
}

describe('WriteCoordinator ordering properties', () => {
  it('for any interleaving of submits and completions, writes per key are ordered, coalesced, exclusive', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { maxLength: 60 }), async (ops) => {
        const c = new WriteCoordinator<number>();
        const ledger = new Ledger();
        const running = new Map<string, { readonly value: number; readonly done: Deferred<number> }>();
        const outcomes = new Map<number, SubmitOutcome<number>>();
        const pending: Array<Promise<void>> = [];
        let seq = 0;

        const write = (key: string) => (value: number) => {
          ledger.begin(key, value);
          const done = deferred<number>();
          running.set(key, { value, done });
          return done.promise.finally(() => ledger.end(key));
        };
        const finish = (key: string, ok: boolean): void => {
          const write = running.get(key);
          if (write === undefined) return;
          running.delete(key);
          if (ok) write.done.resolve(write.value);
          else write.done.reject(new Error(`write failed for ${key}`));
        };

        for (const op of ops) {
          if (op.op === 'submit') {
            const value = seq++;
            ledger.submit(op.key, value);
            pending.push(c.submit(op.key, value, write(op.key)).then((o) => void outcomes.set(value, o)));
          } else if (op.op === 'finish') {
            finish(op.key, op.ok);
          } else {
            await flush();
          }
        }
        while (c.size > 0) {
          for (const key of [...running.keys()]) finish(key, true);
          await flush();
        }
        await c.idle();
        await Promise.all(pending);

        expect(outcomes.size).toBe(seq);
        ledger.check(outcomes);
      }),
      { numRuns: 300 },
    );
  });

  it('keeps the guarantees with random real delays when writes go through a RequestQueue that sees 429s', async () => {
    const submissionArb = fc.record({
      key: fc.constantFrom(...KEYS),
      gapMs: fc.integer({ min: 0, max: 2 }),
      writeMs: fc.integer({ min: 0, max: 3 }),
      rateLimited: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(submissionArb, { minLength: 1, maxLength: 15 }), async (subs) => {
        const q = new RequestQueue({ rate: 10_000, concurrency: 2, maxPauseMs: 2 });
        const c = new WriteCoordinator<number>();
        const ledger = new Ledger();
        const outcomes = new Map<number, SubmitOutcome<number>>();
        const pending: Array<Promise<void>> = [];

        for (const [value, s] of subs.entries()) {
          if (s.gapMs > 0) await sleep(s.gapMs);
          ledger.submit(s.key, value);
          let limitedOnce = !s.rateLimited;
          const write = (v: number) => {
            ledger.begin(s.key, v);
            return q
              .run(async () => {
                await sleep(s.writeMs);
                if (!limitedOnce) {
                  limitedOnce = true;
                  throw new TooManyRequests(1);
                }
                return v;
              })
              .finally(() => ledger.end(s.key));
          };
          pending.push(c.submit(s.key, value, write).then((o) => void outcomes.set(value, o)));
        }
        await c.idle();
        await Promise.all(pending);

        expect(outcomes.size).toBe(subs.length);
        expect([...outcomes.values()].some((o) => o.kind === 'failed')).toBe(false);
        ledger.check(outcomes);
        expect(q.depth).toBe(0);
      }),
      { numRuns: 15 },
    );
  });
});
