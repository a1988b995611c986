import { roleDelta, sameRoles, userRefKey, type AssignableRole, type OrgId } from './domain.js';
import type { DesiredOrg, DesiredState, DesiredUser } from './desired-state.js';
import {
  REPORT_VERSION,
  emptyOrgReport,
  summarize,
  type ManagedUser,
  type OrgReport,
  type Report,
  type ReportSource,
  type ReportWarning,
  type RoleChange,
  type UserLabel,
} from './report.js';
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

  for (const headOrg of head.organizations) {
    const baseOrg = baseOrgs.get(headOrg.id);
    collect(baseOrg === undefined ? wholeOrg(headOrg, 'added') : keptOrg(headOrg, baseOrg));
  }
  for (const baseOrg of base.organizations) {
    if (!headIds.has(baseOrg.id)) collect(wholeOrg(baseOrg, 'removed'));
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

function keptOrg(head: DesiredOrg, base: DesiredOrg): OrgReport {
  const baseUsers = new Map<string, DesiredUser>(base.users.map((u) => [userRefKey(u.ref), u]));
  const seen = new Set<string>();
  const changes: RoleChange[] = [];
  const startsManaged: ManagedUser[] = [];
  let unchanged = 0;

  for (const user of head.users) {
    const key = userRefKey(user.ref);
    const before = baseUsers.get(key);
    if (before === undefined) {
      startsManaged.push(managed(user));
      continue;
    }
    seen.add(key);
    if (sameRoles(before.roles, user.roles)) unchanged++;
    else changes.push(roleChange(user, before.roles));
  }
  const noLongerManaged = base.users.filter((u) => !seen.has(userRefKey(u.ref))).map(managed);

  return { ...emptyOrgReport(head), changes, startsManaged, noLongerManaged, unchanged };
}

/** An organization in only one revision: all its users enter, or all leave, what role-sync manages. */
function wholeOrg(org: DesiredOrg, orgChange: 'added' | 'removed'): OrgReport {
  const users = org.users.map(managed);
  return orgChange === 'added'
    ? { ...emptyOrgReport(org, orgChange), startsManaged: users }
    : { ...emptyOrgReport(org, orgChange), noLongerManaged: users };
}

function roleChange(user: DesiredUser, from: readonly AssignableRole[]): RoleChange {
  return { user: label(user), from, to: user.roles, ...roleDelta(from, user.roles), result: { state: 'planned' } };
}

function managed(user: DesiredUser): ManagedUser {
  return { user: label(user), roles: user.roles };
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
