import type { DesiredOrg, DesiredUser } from './desired-state.js';
import {
  canonicalLiveRoles,
  isProtectedRole,
  roleDelta,
  sameRoles,
  type AssignableRole,
  type Email,
  type LiveRole,
  type OrgId,
  type UserId,
} from './domain.js';
import type { ObservedOrg, ObservedUser, OrgSnapshot } from './observed-state.js';
import type { UserLabel } from './report.js';

/** What the reconciler will do for one managed user (PRODUCT.md §4). */
export type PlanEntry =
  | {
      readonly kind: 'change';
      readonly user: UserLabel;
      readonly id: UserId;
      readonly from: readonly LiveRole[];
      readonly to: readonly AssignableRole[];
      readonly added: readonly AssignableRole[];
      readonly removed: readonly LiveRole[];
    }
  | { readonly kind: 'unchanged'; readonly user: UserLabel; readonly id: UserId; readonly roles: readonly LiveRole[] }
  | { readonly kind: 'not-found'; readonly user: UserLabel }
  | {
      readonly kind: 'protected';
      readonly user: UserLabel;
      readonly id: UserId;
      readonly live: readonly LiveRole[];
      readonly desired: readonly AssignableRole[];
    }
  | {
      readonly kind: 'disabled';
      readonly user: UserLabel;
      readonly id: UserId;
      readonly live: readonly LiveRole[];
      readonly desired: readonly AssignableRole[];
    }
  /** The user exists but their roles could not be read; nothing is sent. */
  | { readonly kind: 'unreadable'; readonly user: UserLabel; readonly id: UserId }
  /** An id key and an email key in the file name the same Parchment user: refuse rather than guess which wins. */
  | { readonly kind: 'ambiguous'; readonly user: UserLabel; readonly id: UserId; readonly firstKey: string };

export type ChangeEntry = Extract<PlanEntry, { kind: 'change' }>;

export interface OrgPlan {
  readonly id: OrgId;
  readonly name?: string;
  readonly entries: readonly PlanEntry[];
  /** In the organization, not in the file: never touched. */
  readonly unmanaged: readonly ObservedUser[];
  /** In the file at the last successful apply, not any more: their access is NOT revoked. */
  readonly noLongerManaged: readonly {
    readonly id: UserId;
    readonly key: string;
    readonly email?: Email;
    readonly roles?: readonly LiveRole[];
  }[];
}

/** Index of an organization's users by id and by (lower-case) email, built once per plan. */
export interface UserIndex {
  readonly byId: ReadonlyMap<UserId, ObservedUser>;
  readonly byEmail: ReadonlyMap<Email, ObservedUser>;
}

export function indexUsers(observed: ObservedOrg): UserIndex {
  const byId = new Map<UserId, ObservedUser>();
  const byEmail = new Map<Email, ObservedUser>();
  for (const u of observed.users) {
    byId.set(u.id, u);
    if (u.email) byEmail.set(u.email, u);
  }
  return { byId, byEmail };
}

export function resolveUser(index: UserIndex, user: DesiredUser): ObservedUser | undefined {
  return user.ref.kind === 'id' ? index.byId.get(user.ref.id) : index.byEmail.get(user.ref.email);
}

export function labelOf(user: DesiredUser, observed: ObservedUser | undefined): UserLabel {
  return {
    key: user.key,
    ...(observed ? { id: observed.id } : user.ref.kind === 'id' ? { id: user.ref.id } : {}),
    ...(observed?.email ? { email: observed.email } : user.ref.kind === 'email' ? { email: user.ref.email } : {}),
    ...(observed?.fullName ? { fullName: observed.fullName } : {}),
  };
}

/** Pure: compare one organization's desired users with what Parchment reports. */
export function planOrg(desired: DesiredOrg, observed: ObservedOrg, snapshot: OrgSnapshot | undefined): OrgPlan {
  const index = indexUsers(observed);
  const managedIds = new Map<UserId, string>();
  const entries = desired.users.map((user): PlanEntry => {
    const live = resolveUser(index, user);
    const label = labelOf(user, live);
    if (!live) return { kind: 'not-found', user: label };
    const firstKey = managedIds.get(live.id);
    if (firstKey !== undefined) return { kind: 'ambiguous', user: label, id: live.id, firstKey };
    managedIds.set(live.id, user.key);
    return planUser(label, live, user.roles);
  });
  const unmanaged = observed.users.filter((u) => !managedIds.has(u.id));
  const noLongerManaged = snapshot
    ? [...snapshot.managed]
        .filter(([id]) => !managedIds.has(id))
        .map(([id, r]) => {
          const roles = index.byId.get(id)?.roles;
          return { id, key: r.key, ...(r.email ? { email: r.email } : {}), ...(roles ? { roles } : {}) };
        })
    : [];
  return {
    id: desired.id,
    ...(desired.name !== undefined ? { name: desired.name } : {}),
    entries,
    unmanaged,
    noLongerManaged,
  };
}

export function planUser(user: UserLabel, live: ObservedUser, desired: readonly AssignableRole[]): PlanEntry {
  if (!live.roles) return { kind: 'unreadable', user, id: live.id };
  const from = canonicalLiveRoles(live.roles);
  if (from.some(isProtectedRole)) return { kind: 'protected', user, id: live.id, live: from, desired };
  if (from.length === 1 && from[0] === 'member') return { kind: 'disabled', user, id: live.id, live: from, desired };
  if (sameRoles(from, desired)) return { kind: 'unchanged', user, id: live.id, roles: from };
  return { kind: 'change', user, id: live.id, from, to: desired, ...roleDelta(from, desired) };
}

export function changesOf(plan: OrgPlan): ChangeEntry[] {
  return plan.entries.filter((e): e is ChangeEntry => e.kind === 'change');
}
