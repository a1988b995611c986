/**
 * Loading the desired state for a command: the file or directory (`-c`), its problems on stderr,
 * and the `--org` scope, checked before any request is made.
 */
import type { OrgId } from '../core/domain.js';
import type { DesiredState } from '../core/desired-state.js';
import type { LeftOutOrg, ReportSource } from '../core/report.js';
import { scopeDesired, unknownOrgsMessage } from '../core/scope.js';
import { loadDesiredConfig, type ConfigLoadResult } from '../config-source.js';
import { printProblems } from '../desired-file.js';

export type LoadedOk = Extract<ConfigLoadResult, { kind: 'loaded' }>;

export type ScopedLoad =
  | {
      readonly kind: 'scoped';
      readonly loaded: LoadedOk;
      /** The organizations in scope. */
      readonly state: DesiredState;
      readonly leftOut: readonly LeftOutOrg[];
    }
  /** The problems are on stderr already. */
  | { readonly kind: 'refused' };

/** Reads `-c`, prints every problem (`FILE:LINE:COL: severity: message`) to stderr, and applies `--org`. */
export async function loadScoped(config: string, orgs: readonly OrgId[] | undefined): Promise<ScopedLoad> {
  const loaded = await loadDesiredConfig(config);
  printProblemsOf(loaded);
  if (loaded.kind === 'invalid') return { kind: 'refused' };
  const scoped = scopeDesired(loaded.state, orgs);
  if (scoped.kind === 'unknown-orgs') {
    process.stderr.write(`role-sync: ${unknownOrgsMessage(loaded.file, scoped.unknown, loaded.state)}\n`);
    return { kind: 'refused' };
  }
  return { kind: 'scoped', loaded, state: scoped.state, leftOut: scoped.leftOut };
}

export function printProblemsOf(result: ConfigLoadResult): void {
  printProblems(result.file, result.kind === 'loaded' ? result.warnings : result.problems, process.stderr);
}

/** What a report says it is about: the file, or the directory and its parts. */
export function sourceOf(loaded: LoadedOk): ReportSource {
  return { file: loaded.file, sha256: loaded.sha256, ...(loaded.parts !== undefined ? { parts: loaded.parts } : {}) };
}
