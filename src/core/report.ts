import type { Expiry } from './desired-state.js';
import type { AssignableRole, Email, LiveRole, OrgId, UserId } from './domain.js';
import { defined } from './objects.js';

/**
 * The one report model behind every rendering (text, json, markdown).
 * An offline plan (file vs. file), a live plan (file vs. Parchment) and an apply all produce it;
 * they differ in `kind` and in which parts they fill. The JSON rendering is this object,
 * so changing a field is a `reportVersion` change.
 */
export const REPORT_VERSION = 1 as const;

export type ReportKind = 'offline-plan' | 'plan' | 'apply';

export interface Report {
  readonly reportVersion: typeof REPORT_VERSION;
  readonly kind: ReportKind;
  /** True for `apply --dry-run`: nothing was (or could be) written. */
  readonly dryRun: boolean;
  /** ISO-8601 time the report was produced. */
  readonly generatedAt: string;
  readonly source: ReportSource;
  readonly organizations: readonly OrgReport[];
  readonly summary: ReportSummary;
  /** Shown last in text and markdown. */
  readonly warnings: readonly ReportWarning[];
  /** Organizations of the file that `--org` left out: not observed, planned or written. Absent without `--org`. */
  readonly leftOut?: readonly LeftOutOrg[];
}

export interface LeftOutOrg {
  readonly id: OrgId;
  readonly name?: string;
}

export interface ReportSource {
  /** The desired-state file as given on the command line. */
  readonly file: string;
  /** sha256 of the file's bytes. */
  readonly sha256: string;
  /** For `plan --against`: the base revision's file. */
  readonly base?: { readonly file: string; readonly sha256: string; readonly parts?: readonly SourcePart[] };
  /** When `file` is a directory: its parts, in name order (`sha256` is then a digest of these). */
  readonly parts?: readonly SourcePart[];
}

export interface SourcePart {
  readonly file: string;
  readonly sha256: string;
}

/** A user as reports name them: always the key from the file when there is one, plus what is known. */
export interface UserLabel {
  /** The key as written in the file, or the id/email Parchment gave for users not in the file. */
  readonly key: string;
  readonly id?: UserId;
  readonly email?: Email;
  readonly fullName?: string;
}

export type OrgChange = 'added' | 'removed' | 'kept';

export interface OrgReport {
  readonly id: OrgId;
  readonly name?: string;
  /** Offline plans: whether the organization is new in, gone from, or in both revisions. Live: always `kept`. */
  readonly orgChange: OrgChange;
  /** Role replacements: planned, applied, failed or not attempted. */
  readonly changes: readonly RoleChange[];
  /** Users that enter the file (offline plan only: their live roles are unknown without the network). */
  readonly startsManaged: readonly ManagedUser[];
  /** Users that left the file since the base revision / the last successful apply. Their access is NOT revoked. */
  readonly noLongerManaged: readonly ManagedUser[];
  /** Users role-sync will not write, with the reason. */
  readonly skipped: readonly SkippedUser[];
  /** Users (or the whole organization) that failed this cycle. */
  readonly failures: readonly Failure[];
  /** Users in the organization that are not in the file: listed, never touched. Live only. */
  readonly unmanaged: readonly ManagedUser[];
  /** Managed users whose roles already match. */
  readonly unchanged: number;
  /** Accounts disabled, or enabled and then given roles (in file order). Present when there are any. */
  readonly accountChanges?: readonly AccountChange[];
  /** Grants with an `until` still ahead, soonest first. Present when there are any. */
  readonly expiring?: readonly ExpiringGrant[];
  /** Offline plans: grants that gain, lose or move an `until`. Present when there are any. */
  readonly expiryChanges?: readonly ExpiryChange[];
  /** The `unlisted` policy, when it is `disable` or (offline plans) when it or `keep` changes. */
  readonly unlisted?: UnlistedReport;
}

/** Why an account is to be disabled. */
export type DisableCause =
  | 'file' // the file says `disabled`
  | 'expired' // a grant's `until` has passed and its `then` is `disabled`
  | 'unlisted'; // the user is not in the file and the organization says `unlisted: disable`

/**
 * A change to the account itself. `disable` takes every role away (Parchment leaves member only);
 * `enable` is sent first and then the roles, strictly in that order.
 */
export type AccountChange =
  | {
      readonly kind: 'disable';
      readonly user: UserLabel;
      /** Roles lost: the live roles, or offline the base revision's (absent when unknown). */
      readonly from?: readonly LiveRole[];
      readonly cause: DisableCause;
      /** For `cause: expired`: the grant that ended. */
      readonly expired?: ExpiryInfo;
      readonly result: ChangeResult;
    }
  | {
      readonly kind: 'enable';
      readonly user: UserLabel;
      readonly from?: readonly LiveRole[];
      readonly to: readonly AssignableRole[];
      /**
       * Offline plans: the base revision did not say `disabled`, so whether Parchment has the account
       * disabled is not known without the network; it is enabled only if it is.
       */
      readonly ifDisabled?: true;
      readonly result: ChangeResult;
    };

/** What an entry means once its `until` has passed. */
export type ThenInfo =
  { readonly kind: 'disabled' } | { readonly kind: 'roles'; readonly roles: readonly AssignableRole[] };

export interface ExpiryInfo {
  /** ISO-8601 (UTC): the first instant at which `then` applies. */
  readonly at: string;
  /** The last minute granted in the file's timezone: `2027-01-31 23:59 +11:00`. */
  readonly shown: string;
  /** `until` as written in the file. */
  readonly written: string;
  readonly then: ThenInfo;
}

/** An expiry of the desired state as reports carry it. */
export function expiryInfo(expiry: Expiry): ExpiryInfo {
  return {
    at: new Date(expiry.at).toISOString(),
    shown: expiry.shown,
    written: expiry.written,
    then: expiry.then.kind === 'disabled' ? { kind: 'disabled' } : { kind: 'roles', roles: expiry.then.roles },
  };
}

export interface ExpiringGrant {
  readonly user: UserLabel;
  /** The roles granted until then. */
  readonly roles: readonly AssignableRole[];
  readonly expires: ExpiryInfo;
}

export type ExpiryChange =
  | {
      readonly kind: 'added';
      readonly user: UserLabel;
      readonly roles: readonly AssignableRole[];
      readonly after: ExpiryInfo;
    }
  | {
      readonly kind: 'removed';
      readonly user: UserLabel;
      /** Absent when the user left the file or is now `disabled`. */
      readonly roles?: readonly AssignableRole[];
      readonly before: ExpiryInfo;
    }
  | {
      readonly kind: 'changed';
      readonly user: UserLabel;
      readonly roles: readonly AssignableRole[];
      readonly before: ExpiryInfo;
      readonly after: ExpiryInfo;
    };

export interface UnlistedReport {
  readonly policy: 'keep' | 'disable';
  /** The `keep` entries as written. */
  readonly keep: readonly string[];
  /** Offline plans: the base revision's policy, when it or `keep` differs. */
  readonly previous?: { readonly policy: 'keep' | 'disable'; readonly keep: readonly string[] };
}

/** An organization's report with nothing in it yet: each builder fills in what it knows. */
export function emptyOrgReport(
  org: { readonly id: OrgId; readonly name?: string | undefined },
  orgChange: OrgChange = 'kept',
): OrgReport {
  return defined({
    id: org.id,
    name: org.name,
    orgChange,
    changes: [],
    startsManaged: [],
    noLongerManaged: [],
    skipped: [],
    failures: [],
    unmanaged: [],
    unchanged: 0,
  });
}

/** Why `unlisted: disable` leaves an unlisted user alone. */
export type UnlistedExemption =
  | 'acting-user' // role-sync would lock itself out
  | 'protected' // holds owner, support or a role role-sync cannot assign
  | 'disabled' // already disabled
  | 'keep' // listed in `keep`
  | 'unreadable' // roles (or, while an email `keep` entry is unmatched, the email) could not be read
  | 'acting-user-unknown'; // no acting user is known: the account might be role-sync's own

export interface ManagedUser {
  readonly user: UserLabel;
  /** Unmanaged users under `unlisted: disable`: why this one is not disabled. */
  readonly exempt?: UnlistedExemption;
  /** Roles in the file (starts/no-longer managed) or live roles (unmanaged), when known. */
  readonly roles?: readonly LiveRole[];
}

export type ChangeResult =
  | { readonly state: 'planned' }
  | { readonly state: 'applied' }
  | { readonly state: 'failed'; readonly failure: FailureDetail }
  | { readonly state: 'not-attempted'; readonly reason: NotAttemptedReason };

/** Why a planned change was not sent: a guard refused the plan, the organization's auth failed, or shutdown began. */
export type NotAttemptedReason = 'guard' | 'auth' | 'shutdown';

export interface RoleChange {
  readonly user: UserLabel;
  /** Current roles: live roles for live plans, the base revision's roles for offline plans. */
  readonly from: readonly LiveRole[];
  readonly to: readonly AssignableRole[];
  readonly added: readonly AssignableRole[];
  readonly removed: readonly LiveRole[];
  readonly result: ChangeResult;
}

export type SkipReason = 'protected' | 'disabled';

export interface SkippedUser {
  readonly user: UserLabel;
  readonly reason: SkipReason;
  readonly liveRoles: readonly LiveRole[];
  readonly desired: readonly AssignableRole[];
}

/** Why a user (or an organization) failed. */
export type FailureReason =
  | 'not-found' // no such id or email in the organization; nothing was sent
  | 'ambiguous' // no single user: one email on several accounts, an id listed twice, two keys for one user
  | 'wrong-user' // Parchment answered a read or a write with another user's id
  | 'rejected' // 400/403/404/409/422 on the write
  | 'mismatch' // the PUT answered with roles other than those sent
  | 'auth' // 401 after a fresh token: writes stopped for the organization
  | 'network' // retries exhausted on 5xx, resets or timeouts
  | 'observe'; // the organization's users could not be listed or read

export interface FailureDetail {
  readonly reason: FailureReason;
  readonly message: string;
  readonly status?: number;
  readonly code?: string;
  readonly detail?: string;
  readonly requestId?: string;
}

export interface Failure extends FailureDetail {
  /** Absent when the failure concerns the whole organization. */
  readonly user?: UserLabel;
}

export interface ReportWarning {
  readonly message: string;
  readonly organization?: OrgId;
  readonly user?: string;
}

export interface ReportSummary {
  readonly organizations: number;
  readonly organizationsAdded: number;
  readonly organizationsRemoved: number;
  /** Role changes in the plan (whatever their result); account changes are counted in `disables` and `enables`. */
  readonly changes: number;
  readonly grants: number;
  readonly revocations: number;
  /** Role and account changes written and confirmed. */
  readonly applied: number;
  /** Planned role and account changes not yet written (plans, dry-runs, not-attempted). */
  readonly pending: number;
  readonly failed: number;
  readonly skipped: number;
  readonly unchanged: number;
  readonly unmanaged: number;
  readonly startsManaged: number;
  readonly noLongerManaged: number;
  /** Accounts to disable or disabled (whatever the result). */
  readonly disables: number;
  /** Accounts to enable or enabled (whatever the result). */
  readonly enables: number;
  /** Grants with an `until` still ahead. */
  readonly expiring: number;
  /** Offline plans: grants gaining, losing or moving an `until`. */
  readonly expiryChanges: number;
  /** Offline plans: organizations whose `unlisted` policy or `keep` list changes. */
  readonly unlistedChanges: number;
}

export function summarize(orgs: readonly OrgReport[]): ReportSummary {
  let changes = 0,
    grants = 0,
    revocations = 0,
    applied = 0,
    pending = 0,
    skipped = 0,
    unchanged = 0;
  let unmanaged = 0,
    startsManaged = 0,
    noLongerManaged = 0,
    failed = 0;
  let disables = 0,
    enables = 0,
    expiring = 0,
    expiryChanges = 0,
    unlistedChanges = 0;
  const tally = (result: ChangeResult): void => {
    if (result.state === 'applied') applied++;
    if (result.state === 'planned' || result.state === 'not-attempted') pending++;
  };
  for (const org of orgs) {
    for (const c of org.changes) {
      changes++;
      grants += c.added.length;
      revocations += c.removed.length;
      tally(c.result);
    }
    for (const a of org.accountChanges ?? []) {
      if (a.kind === 'disable') disables++;
      else enables++;
      tally(a.result);
    }
    expiring += org.expiring?.length ?? 0;
    expiryChanges += org.expiryChanges?.length ?? 0;
    if (org.unlisted?.previous !== undefined) unlistedChanges++;
    failed += org.failures.length;
    skipped += org.skipped.length;
    unchanged += org.unchanged;
    unmanaged += org.unmanaged.length;
    startsManaged += org.startsManaged.length;
    noLongerManaged += org.noLongerManaged.length;
  }
  return {
    organizations: orgs.length,
    organizationsAdded: orgs.filter((o) => o.orgChange === 'added').length,
    organizationsRemoved: orgs.filter((o) => o.orgChange === 'removed').length,
    changes,
    grants,
    revocations,
    applied,
    pending,
    failed,
    skipped,
    unchanged,
    unmanaged,
    startsManaged,
    noLongerManaged,
    disables,
    enables,
    expiring,
    expiryChanges,
    unlistedChanges,
  };
}

/**
 * Whether the report shows anything left to do (exit code 2 under `--detailed-exitcode`).
 * An offline plan counts any change in what is managed; a live plan counts only writes still to send.
 */
export function hasPendingChanges(report: Report): boolean {
  const s = report.summary;
  if (report.kind === 'offline-plan') {
    return (
      s.changes > 0 ||
      s.disables > 0 ||
      s.enables > 0 ||
      s.expiryChanges > 0 ||
      s.unlistedChanges > 0 ||
      s.startsManaged > 0 ||
      s.noLongerManaged > 0 ||
      s.organizationsAdded > 0 ||
      s.organizationsRemoved > 0
    );
  }
  return s.pending > 0;
}
