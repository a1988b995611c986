import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nestsDeeperThan } from '../src/parchment/http.js';

/** Arrays and objects inside each other, as the parsed value has them. */
function depthOf(value: unknown): number {
  if (Array.isArray(value)) return 1 + Math.max(0, ...value.map(depthOf));
  if (typeof value === 'object' && value !== null) return 1 + Math.max(0, ...Object.values(value).map(depthOf));
  return 0;
}

describe('nestsDeeperThan', () => {
  it('counts nesting as JSON.parse sees it, brackets and quotes inside strings included', () => {
    const tricky = fc.constantFrom('[', ']', '{', '}', '"', '\\', '\\"', '[[{');
    const stringish = fc.oneof(fc.string({ maxLength: 6 }), tricky);
    const value = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: 'small' },
        stringish,
        fc.integer(),
        fc.array(tie('node'), { maxLength: 3 }),
        fc.dictionary(stringish, tie('node'), { maxKeys: 3 }),
      ),
    })).node;
    fc.assert(
      fc.property(value, fc.integer({ min: 0, max: 8 }), (v, max) => {
        const text = JSON.stringify(v, null, 1);
        expect(nestsDeeperThan(text, max)).toBe(depthOf(JSON.parse(text)) > max);
      }),
      { numRuns: 500 },
    );
  });
});
