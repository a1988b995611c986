import type { AssignableRole, LiveRole, OrgId, UserId } from '../core/domain.js';
import type { ObservedUser } from '../core/observed-state.js';
import type { WriteOptions } from '../parchment/client.js';

/**
 * What the engine needs from Parchment, and nothing more. `ParchmentClient` is the real one (HTTP,
 * tokens, retries, the request budget); tests give the reconciler an in-memory one. Every call
 * throws the client's error values (src/parchment/errors.ts) on failure.
 */
export interface ParchmentApi {
  /** Every user of the organization; `roles` is absent when the list shape does not carry them. */
  listUsers(org: OrgId, signal?: AbortSignal): Promise<readonly ObservedUser[]>;
  /** Throws WrongUserAnswerError when Parchment answers with another user's id. */
  getUser(org: OrgId, user: UserId, signal?: AbortSignal): Promise<ObservedUser>;
  /**
   * Replaces the whole role list; answers with what Parchment stored, which may differ from what was
   * sent. Throws WrongUserAnswerError when the answer names another user.
   */
  replaceRoles(org: OrgId, user: UserId, roles: readonly AssignableRole[], opts?: WriteOptions): Promise<RolesWritten>;
  /** Idempotent: disabling a disabled user succeeds. Parchment drops the user's roles to `member`. */
  disableUser(org: OrgId, user: UserId, opts?: WriteOptions): Promise<UserToggled>;
  /** Idempotent: enabling an enabled user succeeds. */
  enableUser(org: OrgId, user: UserId, opts?: WriteOptions): Promise<UserToggled>;
}

export interface RolesWritten {
  readonly roles: readonly LiveRole[];
  readonly requestId?: string;
}

export interface UserToggled {
  readonly userId: UserId;
  readonly requestId?: string;
}
