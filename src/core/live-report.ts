import { isProtectedRole } from './domain.js';
import { defined } from './objects.js';
import { failuresOf, type OrgOutcome, type PlannedOutcome } from './outcome.js';
import {
  REPORT_VERSION,
  emptyOrgReport,
  summarize,
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
  const skipped: SkippedUser[] = [];
  let unchanged = 0;
  for (const u of outcome.users) {
    if (u.kind === 'write') {
      const e = u.entry;
      changes.push({ user: e.user, from: e.from, to: e.to, added: e.added, removed: e.removed, result: u.result });
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
          message: `${e.user.key} is disabled (only role: member): never written; enable the user in Parchment first`,
        });
        break;
    }
  }
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
        roles: u.roles,
      }),
    ),
    unchanged,
  };
}

function unobservedReport(outcome: Extract<OrgOutcome, { kind: 'unobserved' }>): OrgReport {
  return { ...emptyOrgReport(outcome.org), failures: [outcome.failure] };
}
