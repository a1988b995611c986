import type { Email, LiveRole, OrgId, UserId } from './domain.js';
import type { FailureDetail } from './report.js';

/** One user as Parchment reports them. `roles` is undefined until read (list shapes without roles). */
export interface ObservedUser {
  readonly id: UserId;
  readonly email?: Email;
  readonly fullName?: string;
  readonly roles?: readonly LiveRole[];
}

/** Every user of one organization, as listed. */
export interface ObservedOrg {
  readonly id: OrgId;
  /** In list order, read answers merged in. A broken list may name one id more than once. */
  readonly users: readonly ObservedUser[];
  /** Users whose read failed or answered for another user: what they hold (and their email) is unknown. */
  readonly readFailures?: ReadonlyMap<UserId, FailureDetail>;
}

/**
 * What role-sync remembers between runs, kept in ROLE_SYNC_STATE_DIR (docs/architecture.md, "Snapshot"):
 * who was managed, what was observed, and what was last applied.
 */
export interface Snapshot {
  readonly organizations: ReadonlyMap<OrgId, OrgSnapshot>;
}

export interface OrgSnapshot {
  /** The users that were in the file at the last successful apply, by id, with the key the file used. */
  readonly managed: ReadonlyMap<UserId, RememberedUser>;
  /** Roles last observed per user id. */
  readonly observed: ReadonlyMap<UserId, readonly LiveRole[]>;
  /** Roles role-sync last wrote or confirmed equal to the file, per user id: what drift is measured against. */
  readonly applied: ReadonlyMap<UserId, readonly LiveRole[]>;
}

export interface RememberedUser {
  readonly key: string;
  readonly email?: Email;
}

export const EMPTY_SNAPSHOT: Snapshot = { organizations: new Map() };
