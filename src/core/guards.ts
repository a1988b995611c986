import type { OrgId, UserId } from './domain.js';
import { changesOf, type OrgPlan } from './live-plan.js';
import type { MaxChanges } from './units.js';

/** Safety guards checked before the first write (PRODUCT.md §4). Pure. */
export interface GuardOptions {
  readonly maxChanges: MaxChanges;
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
  | { readonly kind: 'self-admin'; readonly organization: OrgId; readonly user: UserId; readonly message: string };

export const DEFAULT_MAX_CHANGES: MaxChanges = { kind: 'percent', percent: 25 };
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
    const changes = changesOf(plan);
    const managed = plan.entries.length;
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
        message: `organization ${plan.id}: ${changes.length} changes exceed --max-changes ${budget}; review the plan and re-run with --force or a higher --max-changes`,
      });
    }
    const acting = opts.actingUsers?.get(plan.id);
    if (acting) {
      const self = changes.find((c) => c.id === acting);
      if (self && self.removed.includes('admin')) {
        refusals.push({
          kind: 'self-admin',
          organization: plan.id,
          user: self.id,
          message: `organization ${plan.id}: the plan takes admin away from the acting user ${self.user.key} (the acting user role-sync calls the API as); role-sync would lock itself out. Re-run with --force if this is intended`,
        });
      }
    }
  }
  return refusals;
}
