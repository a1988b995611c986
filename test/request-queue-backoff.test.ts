import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../src/queue/backoff.js';

describe('backoffDelay', () => {
  it('doubles the ceiling per attempt up to the cap', () => {
    const top = () => 0.999_999;
    expect([0, 1, 2, 3, 4, 5].map((n) => backoffDelay(n, { baseMs: 100, capMs: 1000, random: top }))).toEqual([
      99, 199, 399, 799, 999, 999,
    ]);
  });

  it('full jitter can wait nothing; equal jitter waits at least half the ceiling', () => {
    const zero = () => 0;
    expect(backoffDelay(3, { baseMs: 100, capMs: 10_000, random: zero })).toBe(0);
    expect(backoffDelay(3, { baseMs: 100, capMs: 10_000, random: zero, jitter: 'equal' })).toBe(400);
  });

  it('stays within [0, min(cap, base·2^n)] (full) and [ceiling/2, ceiling] (equal) for any input', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2000 }),
        fc.integer({ min: 0, max: 5000 }),
        fc.integer({ min: 0, max: 120_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (attempt, baseMs, capMs, r) => {
          const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 52));
          const full = backoffDelay(attempt, { baseMs, capMs, random: () => r });
          const equal = backoffDelay(attempt, { baseMs, capMs, random: () => r, jitter: 'equal' });
          expect(Number.isInteger(full) && Number.isInteger(equal)).toBe(true);
          expect(full).toBeGreaterThanOrEqual(0);
          expect(full).toBeLessThanOrEqual(ceiling);
          expect(equal).toBeGreaterThanOrEqual(Math.floor(ceiling / 2));
          expect(equal).toBeLessThanOrEqual(ceiling);
        },
      ),
    );
  });

  it('never decreases the equal-jitter floor as attempts grow', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 60 }), fc.integer({ min: 1, max: 5000 }), (attempt, baseMs) => {
        const opts = { baseMs, capMs: 60_000, random: () => 0, jitter: 'equal' as const };
        expect(backoffDelay(attempt + 1, opts)).toBeGreaterThanOrEqual(backoffDelay(attempt, opts));
      }),
    );
  });
});
