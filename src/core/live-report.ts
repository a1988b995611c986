import { isProtectedRole, type OrgId } from './domain.js';
import type { UnlistedPlan } from './live-plan.js';
import { defined } from './objects.js';
import { failuresOf, type OrgOutcome, type PlannedOutcome } from './outcome.js';
import {
  REPORT_VERSION,
  emptyOrgReport,
  expiryInfo,
  summarize,
  type AccountChange,
  type OrgReport,
  type Report,
  type ReportSource,
  type ReportWarning,
  type RoleChange,
  type SkippedUser,
} from './report.js';
import type { RunMode } from './run-mode.js';

export interface LiveReportInput {
  readonly mode: RunMode;
  readonly now: Date;
  readonly source: ReportSource;
  readonly outcomes: readonly OrgOutcome[];
  readonly warnings?: readonly ReportWarning[];
}

/** Pure: render a cycle's outcomes as the report model. */
export function buildLiveReport(input: LiveReportInput): Report {
  const warnings: ReportWarning[] = [...(input.warnings ?? [])];
  const organizations = input.outcomes.map((o) =>
    o.kind === 'unobserved' ? unobservedReport(o) : orgReport(o, warnings),
  );
  return {
    reportVersion: REPORT_VERSION,
    kind: input.mode === 'plan' ? 'plan' : 'apply',
    dryRun: input.mode === 'dry-run',
    generatedAt: input.now.toISOString(),
    source: input.source,
    organizations,
    summary: summarize(organizations),
    warnings,
  };
}

function orgReport(outcome: PlannedOutcome, warnings: ReportWarning[]): OrgReport {
  const { plan } = outcome;
  const changes: RoleChange[] = [];
  const accountChanges: AccountChange[] = [];
  const skipped: SkippedUser[] = [];
  let unchanged = 0;
  for (const u of outcome.users) {
    if (u.kind === 'write') {
      const e = u.entry;
      const result = u.result;
      switch (e.kind) {
        case 'change':
          changes.push({ user: e.user, from: e.from, to: e.to, added: e.added, removed: e.removed, result });
          break;
        case 'disable':
          accountChanges.push(
            defined({
              kind: 'disable' as const,
              user: e.user,
              from: e.from,
              cause: e.cause,
              expired: e.expired && expiryInfo(e.expired),
              result,
            }),
          );
          break;
        case 'enable':
          accountChanges.push({ kind: 'enable', user: e.user, from: e.from, to: e.to, result });
          break;
      }
      continue;
    }
    const e = u.entry;
    switch (e.kind) {
      case 'unchanged':
        unchanged++;
        break;
      case 'not-found':
      case 'ambiguous':
      case 'unreadable':
        // Listed by failuresOf.
        break;
      case 'protected':
        skipped.push({ user: e.user, reason: 'protected', liveRoles: e.live, desired: e.desired });
        warnings.push({
          organization: plan.id,
          user: e.user.key,
          message:
            `${e.user.key} holds ${e.live.filter(isProtectedRole).join(' and ')}: never written, ` +
            'because a replacing PUT could strip a role the API cannot give back',
        });
        break;
      case 'disabled':
        skipped.push({ user: e.user, reason: 'disabled', liveRoles: e.live, desired: e.desired });
        warnings.push({
          organization: plan.id,
          user: e.user.key,
          message:
            `${e.user.key} is disabled in Parchment (only role: member): skipped, since role-sync never ` +
            `enables an account unless the file says so; to bring them back, write ` +
            `${e.user.key}: {roles: [${e.desired.join(', ')}], enabled: true}`,
        });
        break;
    }
  }
  const unlisted = plan.unlisted;
  if (unlisted) unlistedWarnings(plan.id, unlisted, warnings);
  if (plan.noLongerManaged.length > 0) {
    warnings.push({
      organization: plan.id,
      message:
        `${plan.noLongerManaged.length} user(s) left the file and are no longer managed: ` +
        'their access is NOT revoked; remove their roles in Parchment if that was the intent',
    });
  }
  return {
    ...emptyOrgReport(plan),
    changes,
    noLongerManaged: plan.noLongerManaged.map((u) =>
      defined({ user: defined({ key: u.key, id: u.id, email: u.email }), roles: u.roles }),
    ),
    skipped,
    failures: failuresOf(outcome),
    unmanaged: plan.unmanaged.map((u) =>
      defined({
        user: defined({ key: u.email ?? u.id, id: u.id, email: u.email, fullName: u.fullName }),
        exempt: unlisted?.exempt.get(u.id),
        roles: u.roles,
      }),
    ),
    unchanged,
    ...(accountChanges.length > 0 ? { accountChanges } : {}),
    ...(plan.expiring.length > 0
      ? { expiring: plan.expiring.map((g) => ({ user: g.user, roles: g.roles, expires: expiryInfo(g.expiry) })) }
      : {}),
    ...(unlisted ? { unlisted: { policy: 'disable' as const, keep: unlisted.keep.map((k) => k.key) } } : {}),
  };
}

/** What a reviewer of `unlisted: disable` must know: keep entries that match nobody, users it could not judge. */
function unlistedWarnings(org: OrgId, unlisted: UnlistedPlan, warnings: ReportWarning[]): void {
  for (const k of unlisted.unmatchedKeep) {
    warnings.push({
      organization: org,
      user: k.key,
      message: `"keep" lists ${k.key} (line ${k.pos.line}), who is not in organization ${org}: it protects no one`,
    });
  }
  const reasons = [...unlisted.exempt.values()];
  if (reasons.includes('acting-user-unknown')) {
    warnings.push({
      organization: org,
      message:
        `organization ${org} says "unlisted: disable", but the acting user is unknown, so no unlisted user is ` +
        `disabled (role-sync might disable its own account); set PARCHMENT_USER_ID`,
    });
  }
  const unreadable = reasons.filter((r) => r === 'unreadable').length;
  if (unreadable > 0) {
    warnings.push({
      organization: org,
      message:
        `organization ${org}: ${unreadable} unlisted user(s) were not disabled, because their roles ` +
        `(or their email, with an email in "keep") could not be read`,
    });
  }
}

function unobservedReport(outcome: Extract<OrgOutcome, { kind: 'unobserved' }>): OrgReport {
  return { ...emptyOrgReport(outcome.org), failures: [outcome.failure] };
}
