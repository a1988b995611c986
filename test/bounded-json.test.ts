import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { boundedJson, MAX_STRING_CHARS } from '../src/daemon/bounded-json.js';

describe('boundedJson', () => {
  it('is plain JSON when everything fits', () => {
    const value = { a: 1, b: [1, 2, { c: 'x', d: [true, null] }], e: 'text', skipped: undefined };
    expect(JSON.parse(boundedJson(value, 10_000))).toEqual(JSON.parse(JSON.stringify(value)));
  });

  it('cuts lists where the budget runs out and says how many items were left out', () => {
    const users = Array.from({ length: 100_000 }, (_, i) => ({ id: `user-${i}`, roles: ['admin'] }));
    const json = boundedJson({ count: users.length, users }, 10_000);
    expect(Buffer.byteLength(json)).toBeLessThanOrEqual(10_000);
    expect(Buffer.byteLength(json)).toBeGreaterThan(9_900);
    const parsed = JSON.parse(json) as { count: number; users: unknown[]; usersOmitted: number };
    expect(parsed.count).toBe(100_000);
    expect(parsed.users.length).toBeGreaterThan(100);
    expect(parsed.users.length + parsed.usersOmitted).toBe(100_000);
  });

  it('shortens long strings', () => {
    const parsed = JSON.parse(boundedJson({ detail: 'x'.repeat(50_000) }, 1_000_000)) as { detail: string };
    expect(parsed.detail.startsWith('x'.repeat(MAX_STRING_CHARS))).toBe(true);
    expect(parsed.detail).toContain('48000 more characters');
  });

  it('always gives valid JSON, and all of it when there is room', () => {
    const json = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small' },
        fc.string(),
        fc.integer(),
        fc.boolean(),
        fc.constant(null),
        fc.array(tie('value')),
        fc.dictionary(fc.string({ maxLength: 5 }), tie('value'), { maxKeys: 4 }),
      ),
    })).value;
    fc.assert(
      fc.property(json, fc.integer({ min: 0, max: 1000 }), (value, max) => {
        const out = boundedJson(value, max);
        expect(() => JSON.parse(out) as unknown).not.toThrow();
        const full = JSON.stringify(value);
        // Room is kept back for the counts of what a cut would leave out, so "fits" needs some slack.
        if (2 * Buffer.byteLength(full) + 200 <= max) expect(JSON.parse(out)).toEqual(JSON.parse(full));
      }),
      { numRuns: 2000 },
    );
  });
});
