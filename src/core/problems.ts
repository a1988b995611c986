import type { SourcePos } from './domain.js';
import { plural } from './wording.js';

/** One finding about the desired-state file, rendered as `FILE:LINE:COL: severity: message`. */
export interface Problem {
  readonly severity: 'error' | 'warning';
  readonly pos: SourcePos;
  readonly message: string;
  /**
   * The part of a directory of files the problem is in. Absent for a single file (the caller names it)
   * and for a problem of the directory as a whole.
   */
  readonly file?: string;
}

export function formatProblem(file: string, p: Problem): string {
  return `${p.file ?? file}:${p.pos.line}:${p.pos.col}: ${p.severity}: ${p.message}`;
}

export function hasErrors(problems: readonly Problem[]): boolean {
  return problems.some((p) => p.severity === 'error');
}

/** Problems in file order (parts in name order), so editors and CI annotations read top to bottom. */
export function sortProblems(problems: readonly Problem[]): Problem[] {
  return [...problems].sort(
    (a, b) => compareText(a.file ?? '', b.file ?? '') || a.pos.line - b.pos.line || a.pos.col - b.pos.col,
  );
}

/** Code-unit order: the same on every machine, whatever its locale. */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The most problems shown for one file, or for a directory of parts: enough to fix a file by, and
 * bounded for a hostile one (50,000 bad lines would otherwise print 6 MB on every run and cycle).
 */
export const MAX_PROBLEMS_SHOWN = 1000;

/**
 * The first `max` problems in file order, then one that says how many more there are, placed at the
 * first one left out; an error when any of them is one. Validation is decided on the whole list.
 */
export function problemsShown(problems: readonly Problem[], max: number = MAX_PROBLEMS_SHOWN): Problem[] {
  const sorted = sortProblems(problems);
  if (sorted.length <= max) return sorted;
  const rest = sorted.slice(max);
  const errors = rest.filter((p) => p.severity === 'error').length;
  const warnings = rest.length - errors;
  const counts = [
    ...(errors > 0 ? [plural(errors, 'more error', 'more errors')] : []),
    ...(warnings > 0 ? [plural(warnings, 'more warning', 'more warnings')] : []),
  ].join(' and ');
  const first = rest[0]!;
  const summary: Problem = {
    severity: errors > 0 ? 'error' : 'warning',
    pos: first.pos,
    message: `${counts} from here on not shown (role-sync shows the first ${plural(max, 'problem')})`,
    ...(first.file === undefined ? {} : { file: first.file }),
  };
  return [...sorted.slice(0, max), summary];
}
