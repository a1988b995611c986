import {
  effectiveAt,
  type DesiredOrg,
  type DesiredUser,
  type EffectiveDesired,
  type Expiry,
  type KeepEntry,
} from './desired-state.js';
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
import type { DisableCause, FailureDetail, UnlistedExemption, UserLabel } from './report.js';
import type { EpochMs } from './time.js';

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
    }
  /** `PUT .../disable`, and nothing else for this user: Parchment leaves the account with `member` only. */
  | {
      readonly kind: 'disable';
      readonly user: UserLabel;
      readonly id: UserId;
      readonly from: readonly LiveRole[];
      readonly cause: DisableCause;
      /** For `cause: expired`: the grant that ended. */
      readonly expired?: Expiry;
    }
  /** `PUT .../enable`, then `PUT .../roles` with `to`, strictly in that order. */
  | {
      readonly kind: 'enable';
      readonly user: UserLabel;
      readonly id: UserId;
      readonly from: readonly LiveRole[];
      readonly to: readonly AssignableRole[];
      readonly added: readonly AssignableRole[];
      readonly removed: readonly LiveRole[];
    };

export type ChangeEntry = Extract<PlanEntry, { kind: 'change' }>;
export type DisableEntry = Extract<PlanEntry, { kind: 'disable' }>;
export type EnableEntry = Extract<PlanEntry, { kind: 'enable' }>;

/** What `unlisted: disable` does in one organization. */
export interface UnlistedPlan {
  readonly keep: readonly KeepEntry[];
  /** Unlisted users left alone, with why. The disabled ones are `disable` entries (`cause: unlisted`). */
  readonly exempt: ReadonlyMap<UserId, UnlistedExemption>;
  /** `keep` entries that match no user of the organization. */
  readonly unmatchedKeep: readonly KeepEntry[];
}

/** A grant whose `until` is still ahead. */
export interface ExpiringEntry {
  readonly user: UserLabel;
  readonly roles: readonly AssignableRole[];
  readonly expiry: Expiry;
}

/** What planning needs beyond the file and the live state. */
export interface PlanContext {
  /** The clock at plan time: an entry whose `until` has passed plans as its `then`. */
  readonly now: EpochMs;
  /** The user role-sync calls the API as, when known: never disabled by `unlisted: disable`. */
  readonly actingUser?: UserId;
}

/** One id of the organization the file does not name: what all its listings agree on. */
export interface UnmanagedUser extends ObservedUser {
  /** Every listing, when the list named the id more than once: the guards judge each sighting. */
  readonly listings?: readonly ObservedUser[];
}

export interface OrgPlan {
  readonly id: OrgId;
  readonly name?: string;
  /**
   * One entry per user of the file, in file order; then, under `unlisted: disable`, a `disable`
   * entry (`cause: unlisted`) per unlisted user to disable.
   */
  readonly entries: readonly PlanEntry[];
  /** In the organization, not named by the file, and not disabled by `unlisted: disable`. Each id once. */
  readonly unmanaged: readonly UnmanagedUser[];
  /** Present when the organization says `unlisted: disable`. */
  readonly unlisted?: UnlistedPlan;
  /** Grants of the file whose `until` is still ahead, soonest first. */
  readonly expiring: readonly ExpiringEntry[];
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

/**
 * One user from every listing of its id. A broken list may name an id twice with different data; what the
 * listings disagree on is unknown, never the first or the last sighting: otherwise the no-admin guard could count
 * an admin that another page says is not one, and `unlisted: disable` could disable an owner listed once without
 * the role.
 */
function oneView(listings: readonly ObservedUser[]): UnmanagedUser | undefined {
  const [first, ...rest] = listings;
  if (first === undefined || rest.length === 0) return first;
  const agree = <T>(pick: (u: ObservedUser) => T | undefined, same: (a: T, b: T) => boolean = Object.is) => {
    const value = pick(first);
    const all =
      value !== undefined &&
      rest.every((u) => {
        const other = pick(u);
        return other !== undefined && same(value, other);
      });
    return all ? value : undefined;
  };
  const email = agree((u) => u.email);
  const fullName = agree((u) => u.fullName);
  const roles = agree((u) => (u.roles ? canonicalLiveRoles(u.roles) : undefined), sameRoles);
  return {
    id: first.id,
    ...(email !== undefined ? { email } : {}),
    ...(fullName !== undefined ? { fullName } : {}),
    ...(roles !== undefined ? { roles } : {}),
    listings,
  };
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

/** Pure: compare one organization's desired users with what Parchment reports, at `context.now`. */
export function planOrg(
  desired: DesiredOrg,
  observed: ObservedOrg,
  snapshot: OrgSnapshot | undefined,
  context: PlanContext,
): OrgPlan {
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
        return planUser(label, live, wanted(user, context.now), observed.readFailures?.get(live.id));
      }
    }
  });
  const unlistedUsers = [...index.byId.values()].flatMap((listings) => {
    const one = oneView(listings);
    return one && !named.has(one.id) ? [one] : [];
  });
  const unlisted = desired.unlisted === 'disable' ? planUnlisted(desired, observed, unlistedUsers, context) : undefined;
  const unmanaged = unlisted ? unlistedUsers.filter((u) => unlisted.exempt.has(u.id)) : unlistedUsers;
  if (unlisted) entries.push(...unlisted.disables);
  const expiring = desired.users
    .flatMap((user): ExpiringEntry[] => {
      const expiry = user.entry.kind === 'roles' ? user.entry.expiry : undefined;
      if (user.entry.kind !== 'roles' || expiry === undefined || expiry.at <= context.now) return [];
      const found = resolveUser(index, user);
      return [{ user: labelOf(user, found.kind === 'one' ? found.user : undefined), roles: user.entry.roles, expiry }];
    })
    .sort((a, b) => a.expiry.at - b.expiry.at);
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
    ...(unlisted
      ? { unlisted: { keep: unlisted.keep, exempt: unlisted.exempt, unmatchedKeep: unlisted.unmatchedKeep } }
      : {}),
    expiring,
    noLongerManaged,
  };
}

/** What one entry asks for now, and why a disable would happen. */
interface Wanted {
  readonly desired: EffectiveDesired;
  readonly cause: Exclude<DisableCause, 'unlisted'>;
  readonly expired?: Expiry;
}

function wanted(user: DesiredUser, now: EpochMs): Wanted {
  const desired = effectiveAt(user.entry, now);
  const expiry = user.entry.kind === 'roles' ? user.entry.expiry : undefined;
  if (expiry !== undefined && now >= expiry.at) return { desired, cause: 'expired', expired: expiry };
  return { desired, cause: 'file' };
}

/** A live account is disabled when all it holds is the `member` baseline. */
function isDisabledAccount(roles: readonly LiveRole[]): boolean {
  return roles.length > 0 && grantedRoles(roles).length === 0;
}

/**
 * `unlisted: disable`: every user the file does not name is disabled, except the acting user, users
 * holding a role role-sync cannot assign, users already disabled, users in `keep`, and users whose
 * roles (or, while an email `keep` entry is unmatched, whose email) could not be read.
 */
function planUnlisted(
  desired: DesiredOrg,
  observed: ObservedOrg,
  unlisted: readonly UnmanagedUser[],
  context: PlanContext,
): UnlistedPlan & { readonly disables: readonly DisableEntry[] } {
  const keptIds = new Set<UserId>();
  const keptEmails = new Set<Email>();
  for (const k of desired.keep) {
    if (k.ref.kind === 'id') keptIds.add(k.ref.id);
    else keptEmails.add(k.ref.email);
  }
  const knownEmails = new Set<Email>(observed.users.flatMap((u) => (u.email ? [u.email] : [])));
  const knownIds = new Set<UserId>(observed.users.map((u) => u.id));
  const unmatchedKeep = desired.keep.filter((k) =>
    k.ref.kind === 'id' ? !knownIds.has(k.ref.id) : !knownEmails.has(k.ref.email),
  );
  const emailKeepOpen = unmatchedKeep.some((k) => k.ref.kind === 'email');
  const exempt = new Map<UserId, UnlistedExemption>();
  const disables: DisableEntry[] = [];
  for (const u of unlisted) {
    const reason = exemption(u, observed, context, keptIds, keptEmails, emailKeepOpen);
    if (reason !== undefined) {
      exempt.set(u.id, reason);
      continue;
    }
    const user: UserLabel = {
      key: u.email ?? u.id,
      id: u.id,
      ...(u.email ? { email: u.email } : {}),
      ...(u.fullName ? { fullName: u.fullName } : {}),
    };
    disables.push({ kind: 'disable', user, id: u.id, from: canonicalLiveRoles(u.roles ?? []), cause: 'unlisted' });
  }
  return { keep: desired.keep, exempt, unmatchedKeep, disables };
}

function exemption(
  u: ObservedUser,
  observed: ObservedOrg,
  context: PlanContext,
  keptIds: ReadonlySet<UserId>,
  keptEmails: ReadonlySet<Email>,
  emailKeepOpen: boolean,
): UnlistedExemption | undefined {
  if (context.actingUser === undefined) return 'acting-user-unknown';
  if (u.id === context.actingUser) return 'acting-user';
  if (keptIds.has(u.id) || (u.email !== undefined && keptEmails.has(u.email))) return 'keep';
  if (u.roles === undefined || observed.readFailures?.has(u.id) === true) return 'unreadable';
  if (u.email === undefined && emailKeepOpen) return 'unreadable';
  const roles = canonicalLiveRoles(u.roles);
  if (roles.some(isProtectedRole)) return 'protected';
  if (isDisabledAccount(roles)) return 'disabled';
  return undefined;
}

/**
 * One resolved user. `member` is the baseline every account holds: left out when comparing, so it
 * is never a reason to write; an account holding nothing else is disabled. A read that answered for
 * another user poisons the user even when the list carried roles: that server cannot be trusted with
 * this account this cycle.
 */
export function planUser(user: UserLabel, live: ObservedUser, want: Wanted, readFailure?: FailureDetail): PlanEntry {
  if (readFailure?.reason === 'wrong-user') return { kind: 'unreadable', user, id: live.id, failure: readFailure };
  if (!live.roles) return { kind: 'unreadable', user, id: live.id, ...(readFailure ? { failure: readFailure } : {}) };
  const from = canonicalLiveRoles(live.roles);
  const desired = want.desired.kind === 'roles' ? want.desired.roles : [];
  if (from.some(isProtectedRole)) return { kind: 'protected', user, id: live.id, live: from, desired };
  const disabled = isDisabledAccount(from);
  if (want.desired.kind === 'disabled') {
    if (disabled) return { kind: 'unchanged', user, id: live.id, roles: from };
    const expired = want.expired !== undefined ? { expired: want.expired } : {};
    return { kind: 'disable', user, id: live.id, from, cause: want.cause, ...expired };
  }
  if (disabled) {
    if (!want.desired.enable) return { kind: 'disabled', user, id: live.id, live: from, desired };
    return { kind: 'enable', user, id: live.id, from, to: desired, ...roleDelta(grantedRoles(from), desired) };
  }
  const granted = grantedRoles(from);
  if (sameRoles(granted, desired)) return { kind: 'unchanged', user, id: live.id, roles: from };
  return { kind: 'change', user, id: live.id, from, to: desired, ...roleDelta(granted, desired) };
}

/** The entries that send requests: role changes, disables and enables. */
export type WriteEntry = ChangeEntry | DisableEntry | EnableEntry;

export function isWriteEntry(entry: PlanEntry): entry is WriteEntry {
  return entry.kind === 'change' || entry.kind === 'disable' || entry.kind === 'enable';
}

export function writesOf(plan: OrgPlan): WriteEntry[] {
  return plan.entries.filter(isWriteEntry);
}

export function changesOf(plan: OrgPlan): ChangeEntry[] {
  return plan.entries.filter((e): e is ChangeEntry => e.kind === 'change');
}
