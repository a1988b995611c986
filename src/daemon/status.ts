import type { OrgId } from '../core/domain.js';
import type { DriftEntry } from '../core/drift.js';
import type { GuardRefusal } from '../core/guards.js';
import { appliedCount, failuresOf, isPlanned, orgIdOf, type OrgOutcome } from '../core/outcome.js';
import type { FailureReason, Report, ReportSummary } from '../core/report.js';
import { boundedJson } from './bounded-json.js';
import type { CycleResultLabel, OrgGauges } from './metrics.js';
import type { Readiness, StatusDetail } from './ops-server.js';

/**
 * The daemon's `/status` page. Whoever reaches the port may read it, so the default page holds no
 * personal data: counts per organization, file hashes, reason codes, and the user ids of failures
 * and drift; never an email, a name, a role list or text Parchment sent. The full page (those
 * too, and the last report) is for a request bearing ROLE_SYNC_STATUS_TOKEN. Each page is built
 * at most once per change of what the daemon knows (a cycle, a file read, the snapshot, shutdown),
 * not per request, and is cut to MAX_STATUS_BYTES.
 */

export const MAX_STATUS_BYTES = 1024 * 1024;
/** Room kept for the fields computed per request (readiness, process figures). */
const LIVE_FIELDS_BYTES = 4 * 1024;
export const STATUS_VERSION = 1;

/**
 * Why the last cycle (or one organization in it) ended as it did. Fixed strings, as Flux's
 * condition reasons are, for alerts and dashboards.
 */
export type CycleReason =
  | 'Succeeded'
  | 'Interrupted' // shutdown began mid-cycle: some writes were not sent
  | 'GuardRefused' // a safety guard refused the plan: nothing written
  | 'AuthRejected' // Parchment refused the credentials even after a fresh token
  | 'ObserveFailed' // users (or a user's roles) could not be read
  | 'IdentityFailed' // a key matched several accounts, or Parchment answered for another user
  | 'WriteFailed' // a role write was refused, answered with other roles, or never got an answer
  | 'UserNotFound' // a key in the file matches no user
  | 'CycleFailed'; // the cycle ended on an unexpected error

/** The daemon's state now: the file, the snapshot, or else the last cycle. */
export type StatusReason = CycleReason | 'ConfigInvalid' | 'SnapshotFailed' | 'Progressing';

/** Worst first: a cycle is named by the worst thing that happened in it. */
const PRECEDENCE: readonly CycleReason[] = [
  'CycleFailed',
  'Interrupted',
  'GuardRefused',
  'AuthRejected',
  'ObserveFailed',
  'IdentityFailed',
  'WriteFailed',
  'UserNotFound',
  'Succeeded',
];

function worst(reasons: Iterable<CycleReason>): CycleReason {
  let best = PRECEDENCE.length - 1;
  for (const r of reasons) best = Math.min(best, PRECEDENCE.indexOf(r));
  return PRECEDENCE[best]!;
}

function writeFailure(reason: FailureReason): CycleReason {
  switch (reason) {
    case 'auth':
      return 'AuthRejected';
    case 'wrong-user':
    case 'ambiguous':
      return 'IdentityFailed';
    case 'observe':
      return 'ObserveFailed';
    case 'not-found':
      return 'UserNotFound';
    case 'rejected':
    case 'mismatch':
    case 'network':
      return 'WriteFailed';
  }
}

export function orgReason(outcome: OrgOutcome): CycleReason {
  if (outcome.kind === 'unobserved') return outcome.failure.reason === 'auth' ? 'AuthRejected' : 'ObserveFailed';
  const reasons: CycleReason[] = outcome.kind === 'auth-stopped' ? ['AuthRejected'] : [];
  for (const u of outcome.users) {
    if (u.kind === 'write') {
      const r = u.result;
      if (r.state === 'failed') reasons.push(writeFailure(r.failure.reason));
      if (r.state === 'not-attempted') {
        reasons.push(r.reason === 'guard' ? 'GuardRefused' : r.reason === 'auth' ? 'AuthRejected' : 'Interrupted');
      }
      continue;
    }
    switch (u.entry.kind) {
      case 'not-found':
        reasons.push('UserNotFound');
        break;
      case 'ambiguous':
        reasons.push('IdentityFailed');
        break;
      case 'unreadable':
        reasons.push('ObserveFailed');
        break;
      case 'unchanged':
      case 'protected':
      case 'disabled':
        break;
    }
  }
  return worst(reasons);
}

export function cycleReason(
  outcomes: readonly OrgOutcome[],
  opts: { readonly refused: boolean; readonly interrupted: boolean },
): CycleReason {
  const reasons = outcomes.map(orgReason);
  if (opts.refused) reasons.push('GuardRefused');
  if (opts.interrupted) reasons.push('Interrupted');
  return worst(reasons);
}

/** What one cycle did, as the daemon keeps it for `/status` and logs it. */
export interface CycleRecord {
  readonly triggers: readonly string[];
  readonly startedAt: string;
  readonly durationMs: number;
  readonly result: CycleResultLabel;
  readonly reason: CycleReason;
  /** `apply` writes (unless dry-run); `plan` only observes, while the file is invalid. */
  readonly mode: 'apply' | 'plan';
  readonly dryRun: boolean;
  /** The content the cycle worked from. */
  readonly fileHash: string;
  readonly summary?: ReportSummary;
  readonly drift?: { readonly detected: number; readonly healed: number };
  readonly refusals?: readonly GuardRefusal[];
  readonly error?: string;
  readonly report?: Report;
}

/** Everything the pages are built from; the daemon hands over a fresh one whenever something changes. */
export interface StatusFacts {
  readonly dryRun: boolean;
  readonly configValid: boolean;
  /** `FILE:LINE:COL: error: message` lines; messages quote keys, so the full page only. */
  readonly configProblems: readonly string[];
  /** The last good content, the desired state in use. */
  readonly desiredHash: string | undefined;
  /** The content last attempted: read and validated, valid or not (as Flux's lastAttemptedRevision). */
  readonly lastAttemptedHash: string | undefined;
  /** The content of the last cycle that wrote everything it had to (as Flux's lastAppliedRevision). */
  readonly lastAppliedHash: string | undefined;
  /** Why the last snapshot write failed, when it did. */
  readonly snapshotError: string | undefined;
  readonly lastCycle: CycleRecord | undefined;
  /** The last cycle's outcomes, per organization. */
  readonly outcomes: readonly OrgOutcome[];
  readonly lastCompletedAt: string | undefined;
  readonly drift: readonly DriftEntry[];
  readonly gauges: ReadonlyMap<OrgId, OrgGauges>;
}

export function statusReason(facts: StatusFacts): StatusReason {
  if (!facts.configValid) return 'ConfigInvalid';
  if (facts.snapshotError !== undefined) return 'SnapshotFailed';
  return facts.lastCycle?.reason ?? 'Progressing';
}

function organizationsSummary(facts: StatusFacts): unknown[] {
  return facts.outcomes.map((outcome) => {
    const id = orgIdOf(outcome);
    const drift = facts.drift.filter((d) => d.organization === id);
    const failures = failuresOf(outcome);
    return {
      id,
      reason: orgReason(outcome),
      ...orgCounts(outcome, failures.length),
      pendingChanges: facts.gauges.get(id)?.pendingChanges,
      drifted: drift.length,
      failedUsers: failures.map((f) => ({
        ...(f.user?.id !== undefined ? { userId: f.user.id } : {}),
        reason: f.reason,
        ...(f.status !== undefined ? { status: f.status } : {}),
      })),
      driftedUsers: drift.map((d) => ({ userId: d.userId, firstSeen: d.firstSeen })),
    };
  });
}

function orgCounts(outcome: OrgOutcome, failed: number): Record<string, number> {
  if (!isPlanned(outcome)) return { failed };
  const { plan, users } = outcome;
  const count = (kind: string): number => plan.entries.filter((e) => e.kind === kind).length;
  return {
    changes: users.filter((u) => u.kind === 'write').length,
    applied: appliedCount(outcome),
    failed,
    skipped: count('protected') + count('disabled'),
    unchanged: count('unchanged'),
    unmanaged: plan.unmanaged.length,
    noLongerManaged: plan.noLongerManaged.length,
  };
}

function cycleSummary(cycle: CycleRecord): Record<string, unknown> {
  return {
    startedAt: cycle.startedAt,
    durationMs: cycle.durationMs,
    triggers: cycle.triggers,
    result: cycle.result,
    reason: cycle.reason,
    mode: cycle.mode,
    dryRun: cycle.dryRun,
    fileHash: cycle.fileHash,
    summary: cycle.summary,
    drift: cycle.drift,
    refusals: cycle.refusals?.map((r) => ({ organization: r.organization, guard: r.kind })),
  };
}

/** The fields both pages share, in the order a reader wants them (and the budget keeps them). */
function common(facts: StatusFacts): Record<string, unknown> {
  return {
    reason: statusReason(facts),
    dryRun: facts.dryRun,
    configValid: facts.configValid,
    configProblemCount: facts.configProblems.length,
    desiredHash: facts.desiredHash ?? null,
    lastAttemptedHash: facts.lastAttemptedHash ?? null,
    lastAppliedHash: facts.lastAppliedHash ?? null,
    snapshotOk: facts.snapshotError === undefined,
    lastCompletedAt: facts.lastCompletedAt ?? null,
    pendingChanges: [...facts.gauges.values()].reduce((n, g) => n + g.pendingChanges, 0),
    openDrift: facts.drift.length,
  };
}

function summaryPage(facts: StatusFacts): Record<string, unknown> {
  return {
    ...common(facts),
    lastCycle: facts.lastCycle ? cycleSummary(facts.lastCycle) : null,
    organizations: organizationsSummary(facts),
  };
}

function fullPage(facts: StatusFacts): Record<string, unknown> {
  const cycle = facts.lastCycle;
  return {
    ...common(facts),
    snapshotError: facts.snapshotError,
    configProblems: facts.configProblems,
    lastCycle: cycle
      ? {
          ...cycleSummary(cycle),
          refusals: cycle.refusals?.map((r) => ({ organization: r.organization, guard: r.kind, message: r.message })),
          error: cycle.error,
        }
      : null,
    organizations: organizationsSummary(facts),
    drift: facts.drift,
    failures: facts.outcomes.flatMap((o) => failuresOf(o).map((f) => ({ organization: orgIdOf(o), ...f }))),
    // Last: the largest part, so the budget cuts it rather than what comes before.
    report: cycle?.report ?? null,
  };
}

/** Per request: cheap, and changing with the clock rather than with the daemon's knowledge. */
export interface LiveStatus {
  readonly readiness: Readiness;
  readonly shuttingDown: boolean;
}

export class StatusPages {
  readonly #facts: () => StatusFacts;
  readonly #pages = new Map<StatusDetail, string>();

  /** `facts` is called only when a page is asked for after a change. */
  constructor(facts: () => StatusFacts) {
    this.#facts = facts;
  }

  /** What the daemon knows changed: pages are built again on the next request. */
  invalidate(): void {
    this.#pages.clear();
  }

  render(detail: StatusDetail, live: LiveStatus): string {
    let body = this.#pages.get(detail);
    if (body === undefined) {
      const facts = this.#facts();
      body = boundedJson(
        detail === 'full' ? fullPage(facts) : summaryPage(facts),
        MAX_STATUS_BYTES - LIVE_FIELDS_BYTES,
      );
      this.#pages.set(detail, body);
    }
    const cpu = process.cpuUsage();
    const head = JSON.stringify({
      statusVersion: STATUS_VERSION,
      detail,
      ready: live.readiness.kind === 'ready',
      ...(live.readiness.kind === 'ready' ? {} : { readyReason: live.readiness.reason }),
      shuttingDown: live.shuttingDown,
      process: {
        uptimeSeconds: Math.round(process.uptime()),
        cpuUserMicros: cpu.user,
        cpuSystemMicros: cpu.system,
        rssBytes: process.memoryUsage.rss(),
      },
    });
    // Two JSON objects joined into one: the cached page stays a string, never parsed again.
    return body === '{}' ? head : `${head.slice(0, -1)},${body.slice(1)}`;
  }
}
