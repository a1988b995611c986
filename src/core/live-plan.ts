import type { DesiredOrg, DesiredUser } from './desired-state.js';
import {
  canonicalLiveRoles,
  grantedRoles,
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
import type { FailureDetail, UserLabel } from './report.js';

/** Why a key cannot be tied to one Parchment user: role-sync refuses to guess. */
export type AmbiguityCause =
  /** One email on several accounts, in the same or another case (accounts from before Parchment lower-cased emails). */
  | { readonly kind: 'shared-email'; readonly ids: readonly UserId[] }
  /** The list named the user's id more than once (across pages): the list cannot be trusted for this user. */
  | { readonly kind: 'duplicate-id'; readonly id: UserId; readonly listed: number }
  /** Other keys of the file (an id and an email) name, or may name, the same Parchment user. */
  | { readonly kind: 'same-user'; readonly id: UserId; readonly otherKeys: readonly string[] };

/** What the reconciler will do for one managed user (docs/architecture.md, "How to add a plan kind"). */
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
  | {
      readonly kind: 'not-found';
      readonly user: UserLabel;
      /** Listed users whose email neither the list nor a read told: an email key may belong to one of them. */
      readonly unknownEmails: number;
    }
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
  /** The user exists but their roles could not be read, or a read answered for someone else; nothing is sent. */
  | { readonly kind: 'unreadable'; readonly user: UserLabel; readonly id: UserId; readonly failure?: FailureDetail }
  /** The key names no single Parchment user; nothing is sent to any of the `candidates`. */
  | {
      readonly kind: 'ambiguous';
      readonly user: UserLabel;
      readonly cause: AmbiguityCause;
      readonly candidates: readonly ObservedUser[];
    };

export type ChangeEntry = Extract<PlanEntry, { kind: 'change' }>;

export interface OrgPlan {
  readonly id: OrgId;
  readonly name?: string;
  readonly entries: readonly PlanEntry[];
  /** In the organization, not named by the file: never touched. Each id once. */
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
  /** Every listing of each id, in list order: more than one is a broken list. */
  readonly byId: ReadonlyMap<UserId, readonly ObservedUser[]>;
  /** The distinct ids holding each email. */
  readonly byEmail: ReadonlyMap<Email, readonly UserId[]>;
}

export function indexUsers(observed: ObservedOrg): UserIndex {
  const byId = new Map<UserId, ObservedUser[]>();
  const byEmail = new Map<Email, UserId[]>();
  for (const u of observed.users) {
    const listings = byId.get(u.id);
    if (listings) listings.push(u);
    else byId.set(u.id, [u]);
    if (u.email) {
      const ids = byEmail.get(u.email);
      if (!ids) byEmail.set(u.email, [u.id]);
      else if (!ids.includes(u.id)) ids.push(u.id);
    }
  }
  return { byId, byEmail };
}

/** How one file key meets the live users: no one, exactly one, or several (never a guess between them). */
export type Resolution =
  | { readonly kind: 'none' }
  | { readonly kind: 'one'; readonly user: ObservedUser }
  | { readonly kind: 'several'; readonly cause: AmbiguityCause; readonly candidates: readonly ObservedUser[] };

export function resolveUser(index: UserIndex, user: DesiredUser): Resolution {
  let id: UserId;
  if (user.ref.kind === 'id') id = user.ref.id;
  else {
    const ids = index.byEmail.get(user.ref.email) ?? [];
    const [only] = ids;
    if (only === undefined) return { kind: 'none' };
    if (ids.length > 1) {
      const candidates = ids.flatMap((i) => index.byId.get(i) ?? []);
      return { kind: 'several', cause: { kind: 'shared-email', ids }, candidates };
    }
    id = only;
  }
  const listings = index.byId.get(id) ?? [];
  const [first] = listings;
  if (first === undefined) return { kind: 'none' };
  if (listings.length > 1) {
    return { kind: 'several', cause: { kind: 'duplicate-id', id, listed: listings.length }, candidates: listings };
  }
  return { kind: 'one', user: first };
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
  const resolved = desired.users.map((user) => ({ user, found: resolveUser(index, user) }));
  // Every key that may mean each id: its own resolution, or one of the accounts an ambiguous key matched.
  const keysById = new Map<UserId, string[]>();
  const claim = (id: UserId, key: string): void => {
    const keys = keysById.get(id) ?? [];
    if (!keys.includes(key)) keysById.set(id, [...keys, key]);
  };
  for (const { user, found } of resolved) {
    if (found.kind === 'one') claim(found.user.id, user.key);
    else if (found.kind === 'several') for (const c of found.candidates) claim(c.id, user.key);
  }
  // Every id the file names, even ambiguously: none of them is unmanaged, and none leaves the file.
  const named = new Set<UserId>();
  const unknownEmails = [...index.byId.values()].filter((listings) => listings.every((u) => !u.email)).length;
  const entries = resolved.map(({ user, found }): PlanEntry => {
    switch (found.kind) {
      case 'none':
        return { kind: 'not-found', user: labelOf(user, undefined), unknownEmails };
      case 'several': {
        for (const c of found.candidates) named.add(c.id);
        const label = labelOf(user, found.cause.kind === 'duplicate-id' ? found.candidates[0] : undefined);
        return { kind: 'ambiguous', user: label, cause: found.cause, candidates: found.candidates };
      }
      case 'one': {
        const live = found.user;
        named.add(live.id);
        const label = labelOf(user, live);
        const keys = keysById.get(live.id) ?? [];
        if (keys.length > 1) {
          const otherKeys = keys.filter((k) => k !== user.key);
          return {
            kind: 'ambiguous',
            user: label,
            cause: { kind: 'same-user', id: live.id, otherKeys },
            candidates: [live],
          };
        }
        // Account-state entries are never written by this planner: a `disabled` user is reported, not touched.
        if (user.entry.kind === 'disabled') {
          const roles = canonicalLiveRoles(live.roles ?? []);
          return { kind: 'disabled', user: label, id: live.id, live: roles, desired: [] };
        }
        return planUser(label, live, user.entry.roles, observed.readFailures?.get(live.id));
      }
    }
  });
  const unmanaged = [...index.byId.values()].flatMap(([first]) => (first && !named.has(first.id) ? [first] : []));
  const noLongerManaged = snapshot
    ? [...snapshot.managed]
        .filter(([id]) => !named.has(id))
        .map(([id, r]) => {
          const roles = index.byId.get(id)?.[0]?.roles;
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

/**
 * One resolved user. `member` is the baseline every account holds: left out when comparing, so it
 * is never a reason to write. A read that answered for another user poisons the user even when the
 * list carried roles: that server cannot be trusted with this account this cycle.
 */
export function planUser(
  user: UserLabel,
  live: ObservedUser,
  desired: readonly AssignableRole[],
  readFailure?: FailureDetail,
): PlanEntry {
  if (readFailure?.reason === 'wrong-user') return { kind: 'unreadable', user, id: live.id, failure: readFailure };
  if (!live.roles) return { kind: 'unreadable', user, id: live.id, ...(readFailure ? { failure: readFailure } : {}) };
  const from = canonicalLiveRoles(live.roles);
  if (from.some(isProtectedRole)) return { kind: 'protected', user, id: live.id, live: from, desired };
  const granted = grantedRoles(from);
  if (from.length > 0 && granted.length === 0) return { kind: 'disabled', user, id: live.id, live: from, desired };
  if (sameRoles(granted, desired)) return { kind: 'unchanged', user, id: live.id, roles: from };
  return { kind: 'change', user, id: live.id, from, to: desired, ...roleDelta(granted, desired) };
}

export function changesOf(plan: OrgPlan): ChangeEntry[] {
  return plan.entries.filter((e): e is ChangeEntry => e.kind === 'change');
}
