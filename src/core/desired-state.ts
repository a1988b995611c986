import type { AssignableRole, OrgId, SourcePos, UserRef } from './domain.js';
import type { EpochMs } from './time.js';

/** What the file asks for, after validation. Produced only by the file model. */
export interface DesiredState {
  readonly version: 1;
  /** The IANA zone date-only `until` values are read in, as the file names it (`UTC` when it gives none). */
  readonly timezone: string;
  /** Where `timezone` is, when the file gives one. */
  readonly timezonePos?: SourcePos;
  readonly organizations: readonly DesiredOrg[];
}

/** What happens to users in Parchment who are not in `users`. */
export type UnlistedPolicy = 'keep' | 'disable';

export interface DesiredOrg {
  readonly id: OrgId;
  readonly name?: string;
  readonly users: readonly DesiredUser[];
  /** `keep` (the default): unlisted users are listed, never touched. `disable`: they are disabled, with exemptions. */
  readonly unlisted: UnlistedPolicy;
  /** Users `unlisted: disable` never disables (break-glass accounts). */
  readonly keep: readonly KeepEntry[];
  /** Where the organization's key is, for messages about it. */
  readonly pos: SourcePos;
  /** The part of a directory of files that defines the organization; absent for a single file. */
  readonly file?: string;
}

export interface KeepEntry {
  readonly ref: UserRef;
  readonly key: string;
  readonly pos: SourcePos;
}

export interface DesiredUser {
  readonly ref: UserRef;
  /** The key exactly as written in the file, for reports. */
  readonly key: string;
  readonly entry: DesiredEntry;
  readonly pos: SourcePos;
}

/**
 * One user's value in the file.
 * `roles`: the user should hold exactly `roles` (canonical, never empty). With `enable`, a disabled
 * account is enabled first; without it, the account state is not role-sync's to change. With `expiry`,
 * the entry means `expiry.then` from `expiry.at` on.
 * `disabled`: the account must be disabled; nothing else is sent for that user.
 */
export type DesiredEntry =
  | {
      readonly kind: 'roles';
      readonly roles: readonly AssignableRole[];
      readonly enable: boolean;
      readonly expiry?: Expiry;
    }
  | { readonly kind: 'disabled' };

/** What an entry means at one moment: roles (enabling the account first when `enable`), or disabled. */
export type EffectiveDesired =
  | { readonly kind: 'roles'; readonly roles: readonly AssignableRole[]; readonly enable: boolean }
  | { readonly kind: 'disabled' };

export interface Expiry {
  /** The first instant at which `then` applies. */
  readonly at: EpochMs;
  /** `date`: a date-only `until` (the end of that day in the file's timezone); `instant`: an RFC 3339 time. */
  readonly form: 'date' | 'instant';
  /** The value as written in the file. */
  readonly written: string;
  /** How reports show it: the last minute granted, in the file's timezone (`2027-01-31 23:59 +11:00`). */
  readonly shown: string;
  readonly then: EffectiveDesired;
  /** Where `until` is. */
  readonly pos: SourcePos;
}

/** Pure: the entry at time `at`. Before `until` the roles; from `until` on its `then`. */
export function effectiveAt(entry: DesiredEntry, at: EpochMs): EffectiveDesired {
  if (entry.kind === 'disabled') return entry;
  if (entry.expiry !== undefined && at >= entry.expiry.at) return entry.expiry.then;
  return { kind: 'roles', roles: entry.roles, enable: entry.enable };
}

/** The roles an entry grants before any expiry (`undefined` for `disabled`). */
export function entryRoles(entry: DesiredEntry): readonly AssignableRole[] | undefined {
  return entry.kind === 'roles' ? entry.roles : undefined;
}

/** The earliest `until` after `at` in the whole state: when the daemon must next wake. */
export function nextExpiry(state: DesiredState, at: EpochMs): EpochMs | undefined {
  let next: EpochMs | undefined;
  for (const org of state.organizations) {
    for (const user of org.users) {
      const expiry = user.entry.kind === 'roles' ? user.entry.expiry : undefined;
      if (expiry !== undefined && expiry.at > at && (next === undefined || expiry.at < next)) next = expiry.at;
    }
  }
  return next;
}

/** setTimeout's longest delay (about 24.8 days); a later wake-up is reached in steps. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * When the daemon must next look at the state because of an `until`: `expire` when that is the
 * next grant's end, `wait` when it is further away than one timer can wait. Undefined when no
 * grant ends after `at`.
 */
export function nextWake(
  state: DesiredState,
  at: EpochMs,
): { readonly kind: 'expire' | 'wait'; readonly delayMs: number } | undefined {
  const next = nextExpiry(state, at);
  if (next === undefined) return undefined;
  const delayMs = next - at;
  return delayMs > MAX_TIMER_MS ? { kind: 'wait', delayMs: MAX_TIMER_MS } : { kind: 'expire', delayMs };
}

/** Grants of one organization whose `until` falls in (at, at + within]: the "expiring soon" count. */
export function grantsExpiringWithin(org: DesiredOrg, at: EpochMs, within: number): number {
  let n = 0;
  for (const user of org.users) {
    const expiry = user.entry.kind === 'roles' ? user.entry.expiry : undefined;
    if (expiry !== undefined && expiry.at > at && expiry.at <= at + within) n++;
  }
  return n;
}
