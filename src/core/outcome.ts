import type { DesiredOrg } from './desired-state.js';
import type { OrgId, UserId } from './domain.js';
import { isWriteEntry, type AmbiguityCause, type OrgPlan, type PlanEntry, type WriteEntry } from './live-plan.js';
import type { ChangeResult, Failure, FailureDetail } from './report.js';

/**
 * What a reconcile cycle did, as typed values: the engine's answer to the daemon, drift, metrics
 * and the report builder. The report is a rendering of these; nothing reads facts back out of it.
 */

export type { WriteEntry } from './live-plan.js';

/** One managed user: the plan's entry and, for an entry that writes, what became of the write. */
export type UserOutcome =
  | { readonly kind: 'write'; readonly entry: WriteEntry; readonly result: ChangeResult }
  | { readonly kind: 'no-write'; readonly entry: Exclude<PlanEntry, WriteEntry> };

/** One organization. `users` follows `plan.entries`, one outcome per entry. */
export type OrgOutcome =
  /** Listed and planned; writes (if any) ran to their end. */
  | { readonly kind: 'observed'; readonly plan: OrgPlan; readonly users: readonly UserOutcome[] }
  /** Listed and planned, then Parchment rejected the credentials on a write: no further write was sent. */
  | {
      readonly kind: 'auth-stopped';
      readonly plan: OrgPlan;
      readonly users: readonly UserOutcome[];
      readonly failure: FailureDetail;
    }
  /** The users could not be listed: no plan, nothing sent. */
  | { readonly kind: 'unobserved'; readonly org: DesiredOrg; readonly failure: FailureDetail };

export type PlannedOutcome = Extract<OrgOutcome, { kind: 'observed' | 'auth-stopped' }>;

const PLANNED: ChangeResult = { state: 'planned' };

/** Pair each entry of the plan with its write result; a write entry without one is still `planned`. */
export function userOutcomes(plan: OrgPlan, results: ReadonlyMap<UserId, ChangeResult>): UserOutcome[] {
  return plan.entries.map((entry) =>
    isWriteEntry(entry)
      ? { kind: 'write', entry, result: results.get(entry.id) ?? PLANNED }
      : { kind: 'no-write', entry },
  );
}

/** The outcome of a planned organization; `authStop` makes it `auth-stopped`. */
export function plannedOutcome(
  plan: OrgPlan,
  results: ReadonlyMap<UserId, ChangeResult> = new Map(),
  authStop?: FailureDetail,
): PlannedOutcome {
  const users = userOutcomes(plan, results);
  return authStop ? { kind: 'auth-stopped', plan, users, failure: authStop } : { kind: 'observed', plan, users };
}

export function orgIdOf(outcome: OrgOutcome): OrgId {
  return outcome.kind === 'unobserved' ? outcome.org.id : outcome.plan.id;
}

export function isPlanned(outcome: OrgOutcome): outcome is PlannedOutcome {
  return outcome.kind !== 'unobserved';
}

/** Parchment refused the credentials (a 401 that a fresh token did not cure), listing or writing. */
export function credentialsRejected(outcome: OrgOutcome): boolean {
  return outcome.kind === 'auth-stopped' || (outcome.kind === 'unobserved' && outcome.failure.reason === 'auth');
}

/** Writes Parchment confirmed in this organization, of the given kinds (all by default). */
export function appliedCount(outcome: OrgOutcome, kinds?: readonly WriteEntry['kind'][]): number {
  if (!isPlanned(outcome)) return 0;
  return outcome.users.filter(
    (u) => u.kind === 'write' && u.result.state === 'applied' && (kinds === undefined || kinds.includes(u.entry.kind)),
  ).length;
}

/**
 * Everything that failed in the organization, the organization's own failure first, then users in
 * file order: unknown users, unreadable roles and failed writes.
 */
export function failuresOf(outcome: OrgOutcome): Failure[] {
  if (outcome.kind === 'unobserved') return [outcome.failure];
  const failures: Failure[] = outcome.kind === 'auth-stopped' ? [outcome.failure] : [];
  for (const u of outcome.users) {
    if (u.kind === 'write') {
      if (u.result.state === 'failed') failures.push({ user: u.entry.user, ...u.result.failure });
      continue;
    }
    const e = u.entry;
    switch (e.kind) {
      case 'not-found':
        failures.push({ user: e.user, reason: 'not-found', message: notFoundMessage(e) });
        break;
      case 'ambiguous':
        failures.push({
          user: e.user,
          reason: 'ambiguous',
          message: `${ambiguityText(e.cause)}; nothing was sent to any of them`,
        });
        break;
      case 'unreadable':
        failures.push(
          e.failure
            ? { user: e.user, ...e.failure, message: `${e.failure.message}; nothing was sent` }
            : {
                user: e.user,
                reason: 'observe',
                message: 'the roles could not be read; nothing was sent',
              },
        );
        break;
      case 'unchanged':
      case 'protected':
      case 'disabled':
        break;
    }
  }
  return failures;
}

/** Read under the organization and the user, so it names neither. */
function notFoundMessage(e: Extract<PlanEntry, { kind: 'not-found' }>): string {
  const base = 'not in the organization';
  if (!e.user.key.includes('@') || e.unknownEmails === 0) return `${base}; nothing was sent`;
  return (
    `${base} as far as role-sync can tell: ${e.unknownEmails} listed user(s) have no email ` +
    `in the list or in their read; nothing was sent`
  );
}

function ambiguityText(cause: AmbiguityCause): string {
  switch (cause.kind) {
    case 'shared-email':
      return (
        `one email on ${cause.ids.length} Parchment accounts (${cause.ids.join(', ')}); ` +
        `give each account its own key by user id`
      );
    case 'duplicate-id':
      return `Parchment listed user ${cause.id} ${cause.listed} times`;
    case 'same-user':
      return `${cause.otherKeys.join(' and ')} also name(s) Parchment user ${cause.id}; list the user once`;
  }
}
