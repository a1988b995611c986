import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hasErrors, problemsShown, sortProblems, type Problem } from '../src/core/problems.js';

const problemArb: fc.Arbitrary<Problem> = fc.record({
  severity: fc.constantFrom('error' as const, 'warning' as const),
  pos: fc.record({ line: fc.integer({ min: 1, max: 500 }), col: fc.integer({ min: 1, max: 80 }) }),
  message: fc.string({ maxLength: 8 }),
});

describe('problemsShown', () => {
  it('shows at most max + 1, a prefix in file order, a failing list still fails, and the count is exact', () => {
    fc.assert(
      fc.property(fc.array(problemArb, { maxLength: 60 }), fc.integer({ min: 1, max: 30 }), (problems, max) => {
        const shown = problemsShown(problems, max);
        const sorted = sortProblems(problems);
        expect(hasErrors(shown)).toBe(hasErrors(problems));
        if (problems.length <= max) {
          expect(shown).toEqual(sorted);
          return;
        }
        expect(shown).toHaveLength(max + 1);
        expect(shown.slice(0, max)).toEqual(sorted.slice(0, max));
        const summary = shown[max]!;
        const rest = sorted.slice(max);
        expect(summary.pos).toEqual(rest[0]!.pos);
        const errors = rest.filter((p) => p.severity === 'error').length;
        const counted = [...summary.message.matchAll(/([\d,]+) more (error|warning)/g)].map((m) => [
          m[2],
          Number(m[1]!.replaceAll(',', '')),
        ]);
        expect(counted).toEqual([
          ...(errors > 0 ? [['error', errors]] : []),
          ...(rest.length - errors > 0 ? [['warning', rest.length - errors]] : []),
        ]);
      }),
      { numRuns: 300 },
    );
  });
});
