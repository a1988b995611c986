import type { SourcePos } from './domain.js';

/** One finding about the desired-state file, rendered as `FILE:LINE:COL: severity: message`. */
export interface Problem {
  readonly severity: 'error' | 'warning';
  readonly pos: SourcePos;
  readonly message: string;
}

export function formatProblem(file: string, p: Problem): string {
  return `${file}:${p.pos.line}:${p.pos.col}: ${p.severity}: ${p.message}`;
}

export function hasErrors(problems: readonly Problem[]): boolean {
  return problems.some((p) => p.severity === 'error');
}

/** Problems in file order, so editors and CI annotations read top to bottom. */
export function sortProblems(problems: readonly Problem[]): Problem[] {
  return [...problems].sort((a, b) => a.pos.line - b.pos.line || a.pos.col - b.pos.col);
}
