import type {
  AccountChange,
  ExpiryChange,
  ExpiryInfo,
  ExpiringGrant,
  FailureDetail,
  ThenInfo,
  UnlistedExemption,
  UnlistedReport,
  NotAttemptedReason,
  OrgReport,
  Report,
  ReportSummary,
  SkipReason,
  UserLabel,
} from '../report.js';
import { plural, shortId } from '../wording.js';
import { relativeTime } from '../time.js';

/**
 * Wording shared by the text and markdown renderings, so both say the same thing the same way.
 * Strings returned here are raw: each rendering escapes them for its own medium.
 */

/** What is known about a user beyond the key, e.g. `['Dr Cameron', 'a7748dfd…']`. */
export function userAside(user: UserLabel): string[] {
  const aside: string[] = [];
  if (user.fullName !== undefined && user.fullName !== '') aside.push(user.fullName);
  if (user.id !== undefined && user.id !== user.key) aside.push(shortId(user.id));
  if (user.email !== undefined && user.email !== user.key.toLowerCase()) aside.push(user.email);
  return aside;
}

export function roleList(roles: readonly string[]): string {
  return roles.length === 0 ? '(none)' : roles.join(', ');
}

export function orgTitle(org: Pick<OrgReport, 'id' | 'name'>): string {
  return org.name !== undefined && org.name !== '' ? `${org.name} (${org.id})` : org.id;
}

/** Unmanaged users are listed by name up to this many per organization; beyond it only counted. */
export const UNMANAGED_LIST_LIMIT = 20;

export const NOT_REVOKED = 'access NOT revoked';

export function orgChangeNote(org: OrgReport): string | undefined {
  switch (org.orgChange) {
    case 'added':
      return 'new in this revision';
    case 'removed':
      return "removed from the file; its users' access is NOT revoked";
    case 'kept':
      return undefined;
  }
}

export function skipReasonText(reason: SkipReason): string {
  switch (reason) {
    case 'protected':
      return (
        'protected: holds a role role-sync cannot assign (owner, support or one it does not know), ' +
        'so a replacing write could strip a role the API cannot give back; never written'
      );
    case 'disabled':
      return 'disabled: the only role is member; never written';
  }
}

export function notAttemptedText(reason: NotAttemptedReason): string {
  switch (reason) {
    case 'guard':
      return 'refused by a safety guard';
    case 'auth':
      return "the organization's authentication failed";
    case 'shutdown':
      return 'shutting down';
  }
}

/** e.g. `rejected: HTTP 422 ROLE_INVALID: Invalid role (request 7c1e…): message`, every known part once. */
export function failureText(f: FailureDetail): string {
  const parts: string[] = [f.reason];
  if (f.status !== undefined) parts.push(`HTTP ${f.status}`);
  if (f.code !== undefined && f.code !== '') parts.push(f.code);
  let text = parts.join(' ');
  if (f.detail !== undefined && f.detail !== '') text += `: ${f.detail}`;
  if (f.message !== '' && f.message !== f.detail) text += ` — ${f.message}`;
  if (f.requestId !== undefined && f.requestId !== '') text += ` (requestId ${f.requestId})`;
  return text;
}

/** The short form for a change's result column, when the full failure is listed separately. */
export function failureBrief(f: FailureDetail): string {
  return f.status !== undefined ? `${f.reason}, HTTP ${f.status}` : f.reason;
}

export function reportTitle(report: Report): string {
  const file = report.source.file;
  switch (report.kind) {
    case 'offline-plan':
      return `role-sync plan: ${file} against ${report.source.base?.file ?? 'the base revision'}`;
    case 'plan':
      return `role-sync plan: ${file} against the live roles in Parchment`;
    case 'apply':
      return report.dryRun ? `role-sync apply --dry-run: ${file} (nothing written)` : `role-sync apply: ${file}`;
  }
}

/** Left-out organizations are named up to this many; beyond it only counted. */
const LEFT_OUT_LIST_LIMIT = 20;

/** The organizations `--org` left out, as a sentence; undefined when nothing was left out. */
export function leftOutSentence(report: Report): string | undefined {
  const leftOut = report.leftOut ?? [];
  if (leftOut.length === 0) return undefined;
  const named = leftOut.slice(0, LEFT_OUT_LIST_LIMIT).map(orgTitle);
  const more = leftOut.length - named.length;
  const list = more > 0 ? `${named.join(', ')} and ${more.toLocaleString('en-US')} more` : named.join(', ');
  return `Left out by --org (not observed, planned or written): ${plural(leftOut.length, 'organization')}: ${list}.`;
}

/** The moment relative times are measured from: when the report was made, so a rendering is reproducible. */
export function reportNow(report: Report): number {
  return Date.parse(report.generatedAt);
}

/** `expires 2027-01-31 23:59 +11:00, in 3 days` (or `expired …, 2 days ago`). */
export function expiryText(e: ExpiryInfo, now: number): string {
  const at = Date.parse(e.at);
  return `${at > now ? 'expires' : 'expired'} ${e.shown}, ${relativeTime(at, now)}`;
}

export function thenText(then: ThenInfo): string {
  return then.kind === 'disabled' ? 'then disabled' : `then ${roleList(then.roles)}`;
}

export function expiringText(g: ExpiringGrant, now: number): string {
  return `${roleList(g.roles)} ${expiryText(g.expires, now)}; ${thenText(g.expires.then)}`;
}

export function expiryChangeText(c: ExpiryChange, now: number): string {
  switch (c.kind) {
    case 'added':
      return `${roleList(c.roles)} ${expiryText(c.after, now)}; ${thenText(c.after.then)} (new until)`;
    case 'removed':
      return `no longer expires (was ${c.before.shown}; ${thenText(c.before.then)})`;
    case 'changed':
      return (
        `${roleList(c.roles)} ${expiryText(c.after, now)}; ${thenText(c.after.then)} ` +
        `(was ${c.before.shown}; ${thenText(c.before.then)})`
      );
  }
}

/** Why an account change happens, in a few words. */
export function accountReason(a: AccountChange, now: number): string {
  if (a.kind === 'enable') {
    return a.ifDisabled === true ? 'enabled: true; only if the account is disabled' : 'enabled: true';
  }
  switch (a.cause) {
    case 'file':
      return 'the file says disabled';
    case 'expired':
      return a.expired !== undefined ? `grant ${expiryText(a.expired, now)}` : 'grant expired';
    case 'unlisted':
      return 'not in the file; unlisted: disable';
  }
}

/** `disable (admin, provider)` or `enable, then member -> provider`. */
export function accountAction(a: AccountChange): string {
  if (a.kind === 'disable') return a.from === undefined ? 'disable' : `disable (${roleList(a.from)})`;
  return a.from === undefined
    ? `enable, then ${roleList(a.to)}`
    : `enable, then ${roleList(a.from)} -> ${roleList(a.to)}`;
}

/** How unmanaged users are described: never touched, or (under `unlisted: disable`) spared. */
export function unmanagedNote(org: Pick<OrgReport, 'unlisted'>): string {
  return org.unlisted?.policy === 'disable'
    ? 'in Parchment, not in the file; not disabled, see why'
    : 'in Parchment, not in the file; never touched';
}

export function exemptText(reason: UnlistedExemption): string {
  switch (reason) {
    case 'acting-user':
      return 'the acting user';
    case 'protected':
      return 'holds a role role-sync cannot assign';
    case 'disabled':
      return 'already disabled';
    case 'keep':
      return 'in keep';
    case 'unreadable':
      return 'could not be read';
    case 'acting-user-unknown':
      return 'the acting user is unknown';
  }
}

export function unlistedText(u: UnlistedReport): string {
  const keep = (list: readonly string[]): string => (list.length > 0 ? ` (keep: ${list.join(', ')})` : '');
  const now = `unlisted: ${u.policy}${keep(u.keep)}`;
  if (u.previous === undefined) return now;
  return `unlisted: ${u.previous.policy}${keep(u.previous.keep)} -> ${u.policy}${keep(u.keep)}`;
}

/**
 * The one-line verdict, Terraform style:
 * `Plan: 3 to change (2 grants, 4 revocations), 1 starts being managed, 1 no longer managed; 0 failed.`
 */
export function summarySentence(report: Report): string {
  const s = report.summary;
  const delta = `${plural(s.grants, 'grant')}, ${plural(s.revocations, 'revocation')}`;
  const toChange = `${s.changes.toLocaleString('en-US')} to change (${delta})`;
  const failed = `${s.failed.toLocaleString('en-US')} failed`;
  const account: string[] = [];
  if (s.disables > 0) account.push(`${s.disables.toLocaleString('en-US')} to disable`);
  if (s.enables > 0) account.push(`${s.enables.toLocaleString('en-US')} to enable`);
  if (report.kind === 'offline-plan') {
    const parts = [
      toChange,
      ...account,
      ...(s.expiryChanges > 0 ? [plural(s.expiryChanges, 'expiry change')] : []),
      ...(s.unlistedChanges > 0 ? [plural(s.unlistedChanges, 'unlisted policy change')] : []),
      `${s.startsManaged.toLocaleString('en-US')} starts being managed`,
      `${s.noLongerManaged.toLocaleString('en-US')} no longer managed`,
      ...organizationParts(s),
    ];
    return `Plan: ${parts.join(', ')}; ${failed}.`;
  }
  const rest = [
    ...account,
    `${s.unchanged.toLocaleString('en-US')} unchanged`,
    ...liveParts(s),
    ...(s.expiring > 0 ? [plural(s.expiring, 'grant expiring', 'grants expiring')] : []),
  ];
  if (report.kind === 'plan') return `Plan: ${[toChange, ...rest].join(', ')}; ${failed}.`;
  if (report.dryRun) return `Dry run (nothing written): ${[toChange, ...rest].join(', ')}; ${failed}.`;
  const outcome = [`${s.applied.toLocaleString('en-US')} applied`, failed];
  if (s.pending > 0) outcome.push(`${s.pending.toLocaleString('en-US')} not applied`);
  return `Apply: ${outcome.join(', ')}; ${[toChange, ...rest].join(', ')}.`;
}

function organizationParts(s: ReportSummary): string[] {
  const parts: string[] = [];
  if (s.organizationsAdded > 0) parts.push(`${plural(s.organizationsAdded, 'organization')} added`);
  if (s.organizationsRemoved > 0) parts.push(`${plural(s.organizationsRemoved, 'organization')} removed`);
  return parts;
}

function liveParts(s: ReportSummary): string[] {
  const parts: string[] = [];
  if (s.skipped > 0) parts.push(`${s.skipped.toLocaleString('en-US')} skipped`);
  if (s.unmanaged > 0) parts.push(`${s.unmanaged.toLocaleString('en-US')} unmanaged`);
  if (s.noLongerManaged > 0)
    parts.push(`${s.noLongerManaged.toLocaleString('en-US')} no longer managed (${NOT_REVOKED})`);
  return parts;
}
