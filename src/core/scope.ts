/**
 * `--org ID` (repeatable): a run limited to some organizations of the desired state. The others are
 * left out before anything is observed, so no request is ever made for them, and reports name them.
 */
import type { OrgId } from './domain.js';
import type { DesiredState } from './desired-state.js';
import type { LeftOutOrg, Report } from './report.js';

export type Scoped =
  | { readonly kind: 'scoped'; readonly state: DesiredState; readonly leftOut: readonly LeftOutOrg[] }
  /** `--org` values the desired state does not define, in the order given. */
  | { readonly kind: 'unknown-orgs'; readonly unknown: readonly OrgId[] };

/**
 * Without `only` (no `--org`), everything is in scope and nothing is left out. Every value of `only`
 * must be an organization of one of `states` (the first is the one scoped; an offline plan passes its
 * base revision too, where an organization the head removes still exists).
 */
export function scopeDesired(
  state: DesiredState,
  only: readonly OrgId[] | undefined,
  ...others: readonly DesiredState[]
): Scoped {
  if (only === undefined || only.length === 0) return { kind: 'scoped', state, leftOut: [] };
  const wanted = new Set(only);
  const all = [state, ...others].flatMap((s) => s.organizations);
  const defined = new Set(all.map((o) => o.id));
  const unknown = [...wanted].filter((id) => !defined.has(id));
  if (unknown.length > 0) return { kind: 'unknown-orgs', unknown };
  const leftOut = new Map<OrgId, LeftOutOrg>();
  for (const o of all) {
    if (!wanted.has(o.id) && !leftOut.has(o.id))
      leftOut.set(o.id, { id: o.id, ...(o.name !== undefined ? { name: o.name } : {}) });
  }
  return { kind: 'scoped', state: restrict(state, wanted), leftOut: [...leftOut.values()] };
}

/** The organizations of `state` that are in `wanted`, and nothing else. */
export function restrict(state: DesiredState, wanted: ReadonlySet<OrgId>): DesiredState {
  return { ...state, organizations: state.organizations.filter((o) => wanted.has(o.id)) };
}

/** The message for `--org` values that are not in the file: said before any request is made. */
export function unknownOrgsMessage(file: string, unknown: readonly OrgId[], state: DesiredState): string {
  const ids = state.organizations.map((o) => o.id);
  const defined = ids.length <= 5 ? ids.join(', ') : `${ids.slice(0, 5).join(', ')} and ${ids.length - 5} more`;
  const which = unknown.length === 1 ? `organization ${unknown[0]} is` : `organizations ${unknown.join(', ')} are`;
  return `--org: ${which} not in ${file} (it defines ${defined}); nothing was sent`;
}

export function withLeftOut(report: Report, leftOut: readonly LeftOutOrg[]): Report {
  return leftOut.length === 0 ? report : { ...report, leftOut };
}
