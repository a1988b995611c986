import type { DesiredOrg } from './desired-state.js';
import { isProtectedRole, type UserId } from './domain.js';
import type { OrgPlan } from './live-plan.js';
import {
  REPORT_VERSION,
  summarize,
  type ChangeResult,
  type Failure,
  type FailureDetail,
  type OrgReport,
  type Report,
  type ReportSource,
  type ReportWarning,
  type RoleChange,
  type SkippedUser,
} from './report.js';

/** The outcome of one organization's cycle: a plan (observed), or a failure before any plan could exist. */
export type OrgOutcome =
  | {
      readonly kind: 'planned';
      readonly plan: OrgPlan;
      readonly results: ReadonlyMap<UserId, ChangeResult>;
      readonly failure?: FailureDetail;
    }
  | { readonly kind: 'unobserved'; readonly org: DesiredOrg; readonly failure: FailureDetail };

export interface LiveReportInput {
  readonly kind: 'plan' | 'apply';
  readonly dryRun: boolean;
  readonly now: Date;
  readonly source: ReportSource;
  readonly outcomes: readonly OrgOutcome[];
  readonly warnings?: readonly ReportWarning[];
}

const PLANNED: ChangeResult = { state: 'planned' };

/** Pure: turn plans and write results into the report model. */
export function buildLiveReport(input: LiveReportInput): Report {
  const warnings: ReportWarning[] = [...(input.warnings ?? [])];
  const organizations = input.outcomes.map((o) =>
    o.kind === 'planned' ? orgReport(o, warnings) : unobservedReport(o),
  );
  return {
    reportVersion: REPORT_VERSION,
    kind: input.kind,
    dryRun: input.dryRun,
    generatedAt: input.now.toISOString(),
    source: input.source,
    organizations,
    summary: summarize(organizations),
    warnings,
  };
}

function orgReport(outcome: Extract<OrgOutcome, { kind: 'planned' }>, warnings: ReportWarning[]): OrgReport {
  const { plan, results } = outcome;
  const changes: RoleChange[] = [];
  const skipped: SkippedUser[] = [];
  const failures: Failure[] = outcome.failure ? [outcome.failure] : [];
  let unchanged = 0;
  for (const e of plan.entries) {
    switch (e.kind) {
      case 'change': {
        const result = results.get(e.id) ?? PLANNED;
        changes.push({ user: e.user, from: e.from, to: e.to, added: e.added, removed: e.removed, result });
        if (result.state === 'failed') failures.push({ user: e.user, ...result.failure });
        break;
      }
      case 'unchanged':
        unchanged++;
        break;
      case 'not-found':
        failures.push({
          user: e.user,
          reason: 'not-found',
          message: `user ${e.user.key} is not in organization ${plan.id}; nothing was sent`,
        });
        break;
      case 'ambiguous':
        failures.push({
          user: e.user,
          reason: 'not-found',
          message: `user ${e.user.key} is the same Parchment user (${e.id}) as ${e.firstKey}; list them once`,
        });
        break;
      case 'unreadable':
        failures.push({
          user: e.user,
          reason: 'observe',
          message: `the roles of user ${e.user.key} could not be read; nothing was sent`,
        });
        break;
      case 'protected':
        skipped.push({ user: e.user, reason: 'protected', liveRoles: e.live, desired: e.desired });
        warnings.push({
          organization: plan.id,
          user: e.user.key,
          message: `${e.user.key} holds ${e.live.filter(isProtectedRole).join(' and ')}: never written, because a replacing PUT could strip a role the API cannot give back`,
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
      message: `${plan.noLongerManaged.length} user(s) left the file and are no longer managed: their access is NOT revoked; remove their roles in Parchment if that was the intent`,
    });
  }
  return {
    id: plan.id,
    ...(plan.name !== undefined ? { name: plan.name } : {}),
    orgChange: 'kept',
    changes,
    startsManaged: [],
    noLongerManaged: plan.noLongerManaged.map((u) => ({
      user: { key: u.key, id: u.id, ...(u.email ? { email: u.email } : {}) },
      ...(u.roles ? { roles: u.roles } : {}),
    })),
    skipped,
    failures,
    unmanaged: plan.unmanaged.map((u) => ({
      user: {
        key: u.email ?? u.id,
        id: u.id,
        ...(u.email ? { email: u.email } : {}),
        ...(u.fullName ? { fullName: u.fullName } : {}),
      },
      ...(u.roles ? { roles: u.roles } : {}),
    })),
    unchanged,
  };
}

function unobservedReport(outcome: Extract<OrgOutcome, { kind: 'unobserved' }>): OrgReport {
  return {
    id: outcome.org.id,
    ...(outcome.org.name !== undefined ? { name: outcome.org.name } : {}),
    orgChange: 'kept',
    changes: [],
    startsManaged: [],
    noLongerManaged: [],
    skipped: [],
    unmanaged: [],
    failures: [outcome.failure],
    unchanged: 0,
  };
}
