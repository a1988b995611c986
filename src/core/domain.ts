/**
 * The vocabulary of role-sync: roles, identifiers and source positions.
 * Pure: no I/O. Every other module speaks in these types rather than bare strings.
 */

declare const brand: unique symbol;
/** A string that has passed a check; only the constructors below produce one. */
export type Brand<T, B extends string> = T & { readonly [brand]: B };

/** Roles that `PUT .../roles` accepts (docs/parchment-api.md, "Replacing roles"). */
export const ASSIGNABLE_ROLES = ['admin', 'provider', 'receptionist', 'rx_reader', 'rx_queue_manager'] as const;
export type AssignableRole = (typeof ASSIGNABLE_ROLES)[number];

/** Roles Parchment reports but the API cannot assign. */
export const NON_ASSIGNABLE_ROLES = ['owner', 'support', 'member'] as const;
export type NonAssignableRole = (typeof NON_ASSIGNABLE_ROLES)[number];

/**
 * The role every account holds underneath its others and falls back to when disabled. It is not
 * assignable and not a reason to write: role comparisons leave it out.
 */
export const BASELINE_ROLE = 'member' satisfies NonAssignableRole;

export type KnownRole = AssignableRole | NonAssignableRole;

/**
 * A role as read from the live API. Reads may return roles we have never heard of;
 * they are data, not errors, so the type stays open.
 */
export type LiveRole = KnownRole | Brand<string, 'UnknownRole'>;

export function isAssignableRole(value: string): value is AssignableRole {
  return (ASSIGNABLE_ROLES as readonly string[]).includes(value);
}

export function isNonAssignableRole(value: string): value is NonAssignableRole {
  return (NON_ASSIGNABLE_ROLES as readonly string[]).includes(value);
}

/**
 * A live role role-sync cannot give back: `owner`, `support`, or one it has never heard of
 * (`super_admin`, `PROVIDER`). A user holding one is never written, because a replacing PUT
 * would strip it.
 */
export function isProtectedRole(value: string): boolean {
  return !isAssignableRole(value) && value !== BASELINE_ROLE;
}

/** The roles that matter when comparing: everything but the `member` baseline. */
export function grantedRoles<R extends string>(roles: readonly R[]): R[] {
  return roles.filter((r) => r !== BASELINE_ROLE);
}

export function asLiveRole(value: string): LiveRole {
  return value as LiveRole;
}

/** Canonical form of a role set: unique, in catalogue order. Sets compare by this form. */
export function canonicalRoles(roles: Iterable<AssignableRole>): readonly AssignableRole[] {
  const set = new Set(roles);
  return ASSIGNABLE_ROLES.filter((r) => set.has(r));
}

/** Canonical form of live roles: unique and sorted (assignable first in catalogue order, then the rest). */
export function canonicalLiveRoles(roles: Iterable<string>): readonly LiveRole[] {
  const set = new Set(roles);
  const known = [...ASSIGNABLE_ROLES, ...NON_ASSIGNABLE_ROLES].filter((r) => set.has(r));
  const unknown = [...set].filter((r) => !isAssignableRole(r) && !isNonAssignableRole(r)).sort();
  return [...known, ...unknown].map(asLiveRole);
}

/** Equal as sets. Canonical lists (the usual case) compare element by element, without building a Set. */
export function sameRoles(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  if (a.every((r, i) => r === b[i])) return true;
  const set = new Set(a);
  return b.every((r) => set.has(r)) && set.size === new Set(b).size;
}

/** What replacing `from` with `to` grants and revokes, each in its list's order. */
export function roleDelta<F extends string, T extends string>(
  from: readonly F[],
  to: readonly T[],
): { readonly added: T[]; readonly removed: F[] } {
  const fromSet = new Set<string>(from);
  const toSet = new Set<string>(to);
  return { added: to.filter((r) => !fromSet.has(r)), removed: from.filter((r) => !toSet.has(r)) };
}

/** Equal role sets once `member` is left out of both: `[admin, member]` grants what `[admin]` does. */
export function sameGrantedRoles(a: readonly string[], b: readonly string[]): boolean {
  return sameRoles(grantedRoles(a), grantedRoles(b));
}

// ---------------------------------------------------------------------------
// Identifiers

/** A Parchment organization id: a UUID, kept lower-case so ids compare case-insensitively. */
export type OrgId = Brand<string, 'OrgId'>;
/** A Parchment user id: a UUID or an opaque `[A-Za-z0-9_-]{1,128}` id (docs/parchment-api.md, "Identifiers"). */
export type UserId = Brand<string, 'UserId'>;
/** An email address, lower-cased as Parchment stores it. */
export type Email = Brand<string, 'Email'>;

export const UUID_PATTERN = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
export const OPAQUE_ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;
/** Deliberately loose: Parchment owns email syntax; we only need to tell an email from an id. */
export const EMAIL_PATTERN = /^[^\s@]+@[^\s@]+$/;

export function parseOrgId(value: string): OrgId | undefined {
  return UUID_PATTERN.test(value) ? (value.toLowerCase() as OrgId) : undefined;
}

/** UUID ids are lower-cased (Parchment issues them lower-case); opaque ids are kept as written. */
export function parseUserId(value: string): UserId | undefined {
  if (UUID_PATTERN.test(value)) return value.toLowerCase() as UserId;
  return OPAQUE_ID_PATTERN.test(value) ? (value as UserId) : undefined;
}

export function parseEmail(value: string): Email | undefined {
  return EMAIL_PATTERN.test(value) && value.length <= 320 ? (value.toLowerCase() as Email) : undefined;
}

/** How the file names a user: by Parchment id or by email. */
export type UserRef = { readonly kind: 'id'; readonly id: UserId } | { readonly kind: 'email'; readonly email: Email };

export function parseUserRef(key: string): UserRef | undefined {
  if (key.includes('@')) {
    const email = parseEmail(key);
    return email ? { kind: 'email', email } : undefined;
  }
  const id = parseUserId(key);
  return id ? { kind: 'id', id } : undefined;
}

/** The identity key used to detect the same user twice and to join with other revisions. */
export function userRefKey(ref: UserRef): string {
  return ref.kind === 'id' ? `id:${ref.id}` : `email:${ref.email}`;
}

// ---------------------------------------------------------------------------
// Source positions

/** 1-based line and column in the desired-state file. */
export interface SourcePos {
  readonly line: number;
  readonly col: number;
}

export const START_OF_FILE: SourcePos = { line: 1, col: 1 };
