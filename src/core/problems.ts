import type { SourcePos } from './domain.js';

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
