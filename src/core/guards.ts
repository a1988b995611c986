import type { LiveRole, OrgId, UserId } from './domain.js';
import { writesOf, type OrgPlan, type PlanEntry } from './live-plan.js';
import type { ObservedUser } from './observed-state.js';
import type { ReportWarning } from './report.js';
import type { MaxChanges } from './units.js';

/** Safety guards checked before the first write: a refusal sends nothing (exit 3 unless `--force`). Pure. */
export interface GuardOptions {
  readonly maxChanges: MaxChanges;
  /** Disables allowed per organization (`--max-disables`); DEFAULT_MAX_DISABLES when absent. */
  readonly maxDisables?: number;
  /** The acting user (`x-user-id`) per organization, when known. */
  readonly actingUsers?: ReadonlyMap<OrgId, UserId>;
}

export type GuardRefusal =
  | {
      readonly kind: 'max-changes';
      readonly organization: OrgId;
      readonly changes: number;
      readonly managed: number;
      readonly limit: number;
      readonly message: string;
    }
  | {
      readonly kind: 'max-disables';
      readonly organization: OrgId;
      readonly disables: number;
      readonly limit: number;
      readonly message: string;
    }
  | { readonly kind: 'self-admin'; readonly organization: OrgId; readonly user: UserId; readonly message: string }
  | { readonly kind: 'self-disable'; readonly organization: OrgId; readonly user: UserId; readonly message: string }
  | {
      readonly kind: 'no-admin';
      readonly organization: OrgId;
      /** Users whose roles are unknown (unread), not counted as admins. */
      readonly unknown: number;
      readonly message: string;
    };

export const DEFAULT_MAX_CHANGES: MaxChanges = { kind: 'percent', percent: 25 };
/** Disabling locks people out of prescribing: a few per organization per run unless the operator says more. */
export const DEFAULT_MAX_DISABLES = 3;
/** Below this many changes the percentage guard never trips: small organizations must stay editable. */
export const ALWAYS_ALLOWED_CHANGES = 10;

/** The change budget of one organization: a count as given, or a percentage of its managed users with a floor. */
export function changeLimit(max: MaxChanges, managed: number): number {
  if (max.kind === 'count') return max.count;
  return Math.max(ALWAYS_ALLOWED_CHANGES, Math.floor((managed * max.percent) / 100));
}

/** Every refusal across the plan (empty when the plan may proceed). Checked per organization. */
export function checkGuards(plans: readonly OrgPlan[], opts: GuardOptions): GuardRefusal[] {
  const refusals: GuardRefusal[] = [];
  for (const plan of plans) {
    // Role changes, disables and enables all count; unlisted users disabled count too, but are not managed.
    const changes = writesOf(plan);
    const managed = plan.entries.filter((e) => !(e.kind === 'disable' && e.cause === 'unlisted')).length;
    const limit = changeLimit(opts.maxChanges, managed);
    if (changes.length > limit) {
      const budget =
        opts.maxChanges.kind === 'count'
          ? `${limit}`
          : `${limit} (${opts.maxChanges.percent}% of ${managed} managed users, at least ${ALWAYS_ALLOWED_CHANGES})`;
      refusals.push({
        kind: 'max-changes',
        organization: plan.id,
        changes: changes.length,
        managed,
        limit,
        message:
          `organization ${plan.id}: ${changes.length} changes exceed --max-changes ${budget}; ` +
          'review the plan and re-run with --force or a higher --max-changes',
      });
    }
    const disables = changes.filter((c) => c.kind === 'disable');
    const maxDisables = opts.maxDisables ?? DEFAULT_MAX_DISABLES;
    if (disables.length > maxDisables) {
      refusals.push({
        kind: 'max-disables',
        organization: plan.id,
        disables: disables.length,
        limit: maxDisables,
        message:
          `organization ${plan.id}: ${disables.length} disables exceed --max-disables ${maxDisables} ` +
          `(${disables.map((d) => d.user.key).join(', ')}); review the plan and re-run with --force ` +
          'or a higher --max-disables',
      });
    }
    const acting = opts.actingUsers?.get(plan.id);
    if (acting) {
      const selfDisable = disables.find((d) => d.id === acting);
      if (selfDisable) {
        refusals.push({
          kind: 'self-disable',
          organization: plan.id,
          user: selfDisable.id,
          message:
            `organization ${plan.id}: the plan disables the acting user ${selfDisable.user.key} ` +
            '(the user role-sync calls the API as); role-sync would lock itself out. ' +
            'Re-run with --force if this is intended',
        });
      }
      const self = changes.find((c) => c.id === acting);
      if (self?.kind === 'change' && self.removed.includes('admin')) {
        refusals.push({
          kind: 'self-admin',
          organization: plan.id,
          user: self.id,
          message:
            `organization ${plan.id}: the plan takes admin away from the acting user ${self.user.key} ` +
            '(the acting user role-sync calls the API as); role-sync would lock itself out. ' +
            'Re-run with --force if this is intended',
        });
      }
    }
    const noAdmin = noAdminLeft(plan);
    if (noAdmin) refusals.push(noAdmin);
  }
  return refusals;
}

/**
 * Warnings every plan and apply carries: organizations whose acting user is unknown, so the
 * self-lockout guard cannot run.
 */
export function guardWarnings(plans: readonly OrgPlan[], actingUsers: GuardOptions['actingUsers']): ReportWarning[] {
  return plans
    .filter((plan) => actingUsers?.get(plan.id) === undefined)
    .map((plan) => ({
      organization: plan.id,
      message:
        `organization ${plan.id}: the acting user is unknown (a static PARCHMENT_ACCESS_TOKEN without ` +
        `PARCHMENT_USER_ID), so role-sync cannot check that the plan keeps admin for the user it calls the API as; ` +
        `set PARCHMENT_USER_ID to the token's user`,
    }));
}

type AdminState = 'admin' | 'not' | 'unknown';

function takesAdmin(e: PlanEntry): boolean {
  if (e.kind === 'change') return e.removed.includes('admin');
  return e.kind === 'disable' && e.from.includes('admin');
}

/**
 * Refuses a plan that takes admin away from someone (a change or a disable) and leaves no user of the organization
 * holding admin (managed or not). A user seen more than once counts only if every sighting holds
 * admin; a user whose roles are unknown is not counted.
 */
function noAdminLeft(plan: OrgPlan): GuardRefusal | undefined {
  if (!plan.entries.some(takesAdmin)) return undefined;
  const states = new Map<UserId, AdminState>();
  const see = (id: UserId, roles: readonly LiveRole[] | undefined): void => {
    const now: AdminState = roles === undefined ? 'unknown' : roles.includes('admin') ? 'admin' : 'not';
    const before = states.get(id);
    states.set(
      id,
      before === undefined || before === now ? now : before === 'not' || now === 'not' ? 'not' : 'unknown',
    );
  };
  const seeLive = (u: ObservedUser): void => see(u.id, u.roles);
  for (const e of plan.entries) {
    switch (e.kind) {
      case 'change':
      case 'enable':
        see(e.id, e.to);
        break;
      case 'disable':
        see(e.id, []);
        break;
      case 'unchanged':
        see(e.id, e.roles);
        break;
      case 'protected':
      case 'disabled':
        see(e.id, e.live);
        break;
      case 'unreadable':
        see(e.id, undefined);
        break;
      case 'ambiguous':
        e.candidates.forEach(seeLive);
        break;
      case 'not-found':
        break;
    }
  }
  for (const u of plan.unmanaged) (u.listings ?? [u]).forEach(seeLive);
  const all = [...states.values()];
  if (all.includes('admin')) return undefined;
  const unknown = all.filter((s) => s === 'unknown').length;
  const uncounted = unknown > 0 ? ` (${unknown} user(s) whose roles could not be read are not counted)` : '';
  return {
    kind: 'no-admin',
    organization: plan.id,
    unknown,
    message:
      `organization ${plan.id}: after this plan no user of the organization holds admin${uncounted}; ` +
      `nobody could manage its users. Keep admin for at least one user, or re-run with --force if this is intended`,
  };
}
