import { roleDelta, sameRoles, userRefKey, type AssignableRole, type LiveRole, type OrgId } from './domain.js';
import {
  effectiveAt,
  type DesiredEntry,
  type DesiredOrg,
  type DesiredState,
  type DesiredUser,
  type EffectiveDesired,
  type Expiry,
} from './desired-state.js';
import {
  REPORT_VERSION,
  emptyOrgReport,
  expiryInfo,
  summarize,
  type AccountChange,
  type ExpiryChange,
  type SkippedUser,
  type UnlistedReport,
  type ManagedUser,
  type OrgReport,
  type Report,
  type ReportSource,
  type ReportWarning,
  type RoleChange,
  type UserLabel,
} from './report.js';
import type { EpochMs } from './time.js';
import { plural } from './wording.js';

export interface OfflineReportOptions {
  readonly source: ReportSource;
  readonly now: Date;
}

/**
 * The pull-request view: what merging `head` over `base` changes in what role-sync manages.
 * No network, so "from" is the base revision's roles, not the live ones, and users are joined
 * by the key as written: an id key and an email key for the same person cannot be matched here.
 */
export function buildOfflineReport(head: DesiredState, base: DesiredState, opts: OfflineReportOptions): Report {
  const baseOrgs = new Map<OrgId, DesiredOrg>(base.organizations.map((o) => [o.id, o]));
  const headIds = new Set<OrgId>(head.organizations.map((o) => o.id));

  const organizations: OrgReport[] = [];
  const warnings: ReportWarning[] = [];
  const collect = (org: OrgReport): void => {
    organizations.push(org);
    warnings.push(...orgWarnings(org));
  };

  const now = opts.now.getTime();
  for (const headOrg of head.organizations) {
    const baseOrg = baseOrgs.get(headOrg.id);
    collect(baseOrg === undefined ? wholeOrg(headOrg, 'added', now) : keptOrg(headOrg, baseOrg, now));
  }
  for (const baseOrg of base.organizations) {
    if (!headIds.has(baseOrg.id)) collect(wholeOrg(baseOrg, 'removed', now));
  }

  return {
    reportVersion: REPORT_VERSION,
    kind: 'offline-plan',
    dryRun: false,
    generatedAt: opts.now.toISOString(),
    source: opts.source,
    organizations,
    summary: summarize(organizations),
    warnings,
  };
}

function keptOrg(head: DesiredOrg, base: DesiredOrg, now: EpochMs): OrgReport {
  const baseUsers = new Map<string, DesiredUser>(base.users.map((u) => [userRefKey(u.ref), u]));
  const seen = new Set<string>();
  const changes: RoleChange[] = [];
  const accountChanges: AccountChange[] = [];
  const skipped: SkippedUser[] = [];
  const expiryChanges: ExpiryChange[] = [];
  const startsManaged: ManagedUser[] = [];
  let unchanged = 0;

  for (const user of head.users) {
    const key = userRefKey(user.ref);
    const before = baseUsers.get(key);
    const after = effectiveAt(user.entry, now);
    const expiryChange = compareExpiry(user, before);
    if (expiryChange !== undefined) expiryChanges.push(expiryChange);
    if (before === undefined) {
      if (after.kind === 'disabled') accountChanges.push(disableOf(user, undefined, now));
      else {
        startsManaged.push({ user: label(user), roles: after.roles });
        if (after.enable) accountChanges.push(enableOf(user, undefined, after.roles, true));
      }
      continue;
    }
    seen.add(key);
    const was = effectiveAt(before.entry, now);
    if (after.kind === 'disabled') {
      if (was.kind === 'disabled') unchanged++;
      else accountChanges.push(disableOf(user, was.roles, now));
      continue;
    }
    if (was.kind === 'disabled') {
      if (after.enable) accountChanges.push(enableOf(user, DISABLED_ROLES, after.roles, false));
      else skipped.push({ user: label(user), reason: 'disabled', liveRoles: DISABLED_ROLES, desired: after.roles });
      continue;
    }
    if (after.enable && !was.enable) accountChanges.push(enableOf(user, was.roles, after.roles, true));
    if (sameRoles(was.roles, after.roles)) {
      if (!(after.enable && !was.enable)) unchanged++;
    } else changes.push(roleChange(user, was.roles, after.roles));
  }
  const leaving = base.users.filter((u) => !seen.has(userRefKey(u.ref)));
  for (const u of leaving) {
    const expiry = expiryOf(u.entry);
    if (expiry !== undefined) expiryChanges.push({ kind: 'removed', user: label(u), before: expiryInfo(expiry) });
  }
  const unlisted = unlistedReport(head, base);
  return {
    ...emptyOrgReport(head),
    changes,
    startsManaged,
    noLongerManaged: leaving.map((u) => managed(u, now)),
    skipped,
    unchanged,
    ...(accountChanges.length > 0 ? { accountChanges } : {}),
    ...(expiryChanges.length > 0 ? { expiryChanges } : {}),
    ...(unlisted !== undefined ? { unlisted } : {}),
  };
}

/** An organization in only one revision: all its users enter, or all leave, what role-sync manages. */
function wholeOrg(org: DesiredOrg, orgChange: 'added' | 'removed', now: EpochMs): OrgReport {
  if (orgChange === 'added') {
    const empty: DesiredOrg = { ...org, users: [], unlisted: 'keep', keep: [] };
    return { ...keptOrg(org, empty, now), orgChange };
  }
  const expiryChanges: ExpiryChange[] = [];
  for (const u of org.users) {
    const expiry = expiryOf(u.entry);
    if (expiry !== undefined) expiryChanges.push({ kind: 'removed', user: label(u), before: expiryInfo(expiry) });
  }
  const unlisted = unlistedReport({ ...org, unlisted: 'keep', keep: [] }, org);
  return {
    ...emptyOrgReport(org, orgChange),
    noLongerManaged: org.users.map((u) => managed(u, now)),
    ...(expiryChanges.length > 0 ? { expiryChanges } : {}),
    ...(unlisted !== undefined ? { unlisted } : {}),
  };
}

/** What Parchment leaves a disabled account with. */
const DISABLED_ROLES: readonly LiveRole[] = ['member'];

function disableOf(user: DesiredUser, from: readonly AssignableRole[] | undefined, now: EpochMs): AccountChange {
  const expiry = expiryOf(user.entry);
  const expired = expiry !== undefined && now >= expiry.at ? expiry : undefined;
  return {
    kind: 'disable',
    user: label(user),
    ...(from !== undefined ? { from } : {}),
    cause: expired !== undefined ? 'expired' : 'file',
    ...(expired !== undefined ? { expired: expiryInfo(expired) } : {}),
    result: { state: 'planned' },
  };
}

function enableOf(
  user: DesiredUser,
  from: readonly LiveRole[] | undefined,
  to: readonly AssignableRole[],
  ifDisabled: boolean,
): AccountChange {
  return {
    kind: 'enable',
    user: label(user),
    ...(from !== undefined ? { from } : {}),
    to,
    ...(ifDisabled ? { ifDisabled: true as const } : {}),
    result: { state: 'planned' },
  };
}

function expiryOf(entry: DesiredEntry): Expiry | undefined {
  return entry.kind === 'roles' ? entry.expiry : undefined;
}

/** A grant gaining, losing or moving its `until` (or changing its `then`), compared as written. */
function compareExpiry(head: DesiredUser, base: DesiredUser | undefined): ExpiryChange | undefined {
  const after = expiryOf(head.entry);
  const before = base === undefined ? undefined : expiryOf(base.entry);
  const roles = head.entry.kind === 'roles' ? head.entry.roles : undefined;
  if (after !== undefined && roles !== undefined) {
    if (before === undefined) return { kind: 'added', user: label(head), roles, after: expiryInfo(after) };
    if (before.at !== after.at || !sameThen(before.then, after.then)) {
      return { kind: 'changed', user: label(head), roles, before: expiryInfo(before), after: expiryInfo(after) };
    }
    return undefined;
  }
  if (before === undefined) return undefined;
  return { kind: 'removed', user: label(head), ...(roles !== undefined ? { roles } : {}), before: expiryInfo(before) };
}

function sameThen(a: EffectiveDesired, b: EffectiveDesired): boolean {
  if (a.kind === 'disabled' || b.kind === 'disabled') return a.kind === b.kind;
  return sameRoles(a.roles, b.roles);
}

function unlistedReport(head: DesiredOrg, base: DesiredOrg): UnlistedReport | undefined {
  const keepOf = (org: DesiredOrg): string[] => org.keep.map((k) => k.key);
  const keySet = (org: DesiredOrg): string =>
    org.keep
      .map((k) => userRefKey(k.ref))
      .sort()
      .join('\n');
  const changed = head.unlisted !== base.unlisted || keySet(head) !== keySet(base);
  if (!changed && head.unlisted === 'keep') return undefined;
  return {
    policy: head.unlisted,
    keep: keepOf(head),
    ...(changed ? { previous: { policy: base.unlisted, keep: keepOf(base) } } : {}),
  };
}

function roleChange(user: DesiredUser, from: readonly AssignableRole[], to: readonly AssignableRole[]): RoleChange {
  return { user: label(user), from, to, ...roleDelta(from, to), result: { state: 'planned' } };
}

/** A user entering or leaving the file, with the roles the entry means now (none when `disabled`). */
function managed(user: DesiredUser, now: EpochMs): ManagedUser {
  const effective = effectiveAt(user.entry, now);
  return { user: label(user), ...(effective.kind === 'roles' ? { roles: effective.roles } : {}) };
}

function label(user: DesiredUser): UserLabel {
  return user.ref.kind === 'id' ? { key: user.key, id: user.ref.id } : { key: user.key, email: user.ref.email };
}

function orgWarnings(org: OrgReport): ReportWarning[] {
  const warnings: ReportWarning[] = [];
  const where = org.name !== undefined ? `${org.name} (${org.id})` : org.id;
  const leaving = org.noLongerManaged;
  const [only] = leaving;
  if (org.orgChange === 'removed' && leaving.length > 0) {
    warnings.push({
      organization: org.id,
      message:
        `organization ${where} is removed from the file: ` +
        `role-sync stops managing its ${plural(leaving.length, 'user')}, ` +
        `but their access is NOT revoked; they keep their current roles in Parchment.`,
    });
  } else if (leaving.length === 1 && only !== undefined) {
    warnings.push({
      organization: org.id,
      user: only.user.key,
      message:
        `${only.user.key} is removed from ${where}: role-sync stops managing this user, ` +
        `but their access is NOT revoked; they keep their current roles in Parchment.`,
    });
  } else if (leaving.length > 1) {
    warnings.push({
      organization: org.id,
      message:
        `${plural(leaving.length, 'user')} are removed from ${where}: role-sync stops managing them, ` +
        `but their access is NOT revoked; they keep their current roles in Parchment.`,
    });
  }
  for (const s of org.skipped) {
    warnings.push({
      organization: org.id,
      user: s.user.key,
      message:
        `${s.user.key} was "disabled" and is given roles without "enabled: true": role-sync never enables an ` +
        `account unless the file says so, so this user will be skipped; write {roles: [${s.desired.join(', ')}], ` +
        `enabled: true} to bring them back.`,
    });
  }
  for (const a of org.accountChanges ?? []) {
    if (a.kind !== 'enable' || a.ifDisabled !== true) continue;
    warnings.push({
      organization: org.id,
      user: a.user.key,
      message:
        `${a.user.key} has "enabled: true": if the account is disabled in Parchment (an offboarding or an ` +
        `emergency disable), role-sync will enable it and give it ${a.to.join(', ')}.`,
    });
  }
  if (org.unlisted?.previous !== undefined && org.unlisted.policy === 'disable') {
    const keep = org.unlisted.keep.length > 0 ? `, and ${org.unlisted.keep.join(', ')} (keep)` : '';
    warnings.push({
      organization: org.id,
      message:
        `${where} now says "unlisted: disable": every user in Parchment who is not in the file will be disabled, ` +
        `except the acting user, owners, support and users with roles role-sync cannot assign, users already ` +
        `disabled${keep}. Who that is needs the live state: run role-sync plan.`,
    });
  }
  if (org.orgChange === 'kept' && keyedBothWays(org)) {
    warnings.push({
      organization: org.id,
      message:
        `in ${where}, some users entering the file are keyed by id and some leaving it by email, ` +
        'or the other way round: a user re-keyed between id and email cannot be matched without the network, ' +
        'so shows as both entering and leaving. ' +
        `The live plan (role-sync plan without --against) resolves them.`,
    });
  }
  return warnings;
}

/** Whether an id↔email re-keying could be hiding among the users that enter and leave the file. */
function keyedBothWays(org: OrgReport): boolean {
  const kinds = (users: readonly ManagedUser[]): { id: boolean; email: boolean } => ({
    id: users.some((u) => u.user.id !== undefined),
    email: users.some((u) => u.user.email !== undefined),
  });
  const entering = kinds(org.startsManaged);
  const leaving = kinds(org.noLongerManaged);
  return (entering.id && leaving.email) || (entering.email && leaving.id);
}
