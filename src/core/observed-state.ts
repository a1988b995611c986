import type { Email, LiveRole, OrgId, UserId } from './domain.js';

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
  readonly users: readonly ObservedUser[];
}

/** What role-sync remembers between runs (the snapshot's content, PRODUCT.md §4). */
export interface Memory {
  readonly organizations: ReadonlyMap<OrgId, OrgMemory>;
}

export interface OrgMemory {
  /** The users that were in the file at the last successful apply, by id, with the key the file used. */
  readonly managed: ReadonlyMap<UserId, RememberedUser>;
  /** Roles last observed per user id. */
  readonly observed: ReadonlyMap<UserId, readonly LiveRole[]>;
  /** Roles role-sync last wrote or confirmed equal to the file, per user id: the baseline for drift. */
  readonly applied: ReadonlyMap<UserId, readonly LiveRole[]>;
}

export interface RememberedUser {
  readonly key: string;
  readonly email?: Email;
}

export const EMPTY_MEMORY: Memory = { organizations: new Map() };
