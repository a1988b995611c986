import fc from 'fast-check';
import {
  ASSIGNABLE_ROLES,
  canonicalRoles,
  parseOrgId,
  parseUserRef,
  userRefKey,
  type AssignableRole,
  type OrgId,
  type UserRef,
} from '../../src/core/domain.js';
import type { DesiredOrg, DesiredState, DesiredUser } from '../../src/core/desired-state.js';

/**
 * fast-check arbitraries of valid DesiredState values (what the file model produces), shared by
 * property tests. Every state they make would pass validation: non-empty canonical role lists,
 * rx_reader only with receptionist, unique users per organization, at least one organization.
 */

/** A valid, canonical, non-empty role set. */
export const rolesArb: fc.Arbitrary<readonly AssignableRole[]> = fc
  .subarray([...ASSIGNABLE_ROLES], { minLength: 1 })
  .map((roles) => canonicalRoles(roles.includes('rx_reader') ? [...roles, 'receptionist'] : roles));

const uuidArb = fc.uuid().chain((u) => fc.constantFrom(u, u.toUpperCase()));
const opaqueIdArb = fc.stringMatching(/^[A-Za-z0-9_-]{1,24}$/).filter((s) => !s.includes('@'));
const emailArb = fc.stringMatching(/^[a-z][a-z0-9._-]{0,12}@[a-z]{1,10}\.example$/);

/** A user key as written in a file, with the reference it parses to. */
export const userKeyArb: fc.Arbitrary<{ key: string; ref: UserRef }> = fc
  .oneof(uuidArb, opaqueIdArb, fc.mixedCase(emailArb))
  .map((key) => ({ key, ref: parseUserRef(key) }))
  .filter((k): k is { key: string; ref: UserRef } => k.ref !== undefined);

/** The same user written as another key (emails in another case), as two revisions of a file may do. */
export function rekeyArb(key: string): fc.Arbitrary<string> {
  return key.includes('@') ? fc.mixedCase(fc.constant(key.toLowerCase())) : fc.constant(key);
}

export const orgIdArb: fc.Arbitrary<OrgId> = fc.uuid().map((u) => parseOrgId(u) as OrgId);

const orgNameArb = fc.option(fc.string({ minLength: 1, maxLength: 30 }), { nil: undefined });

export function desiredUser(key: string, roles: readonly AssignableRole[], line: number): DesiredUser {
  const ref = parseUserRef(key);
  if (ref === undefined) throw new Error(`not a user key: ${key}`);
  return { ref, key, roles: canonicalRoles(roles), pos: { line, col: 7 } };
}

/** Assigns file positions in order, so states look like a parsed file. */
function place(
  orgs: readonly {
    id: OrgId;
    name: string | undefined;
    users: readonly { key: string; roles: readonly AssignableRole[] }[];
  }[],
): DesiredState {
  let line = 2;
  const organizations: DesiredOrg[] = orgs.map((o) => {
    const pos = { line: line++, col: 3 };
    if (o.name !== undefined) line++;
    line++;
    const users = o.users.map((u) => desiredUser(u.key, u.roles, line++));
    return { id: o.id, ...(o.name !== undefined ? { name: o.name } : {}), users, pos };
  });
  return { version: 1, organizations };
}

const usersArb = (maxLength: number) =>
  fc.uniqueArray(fc.record({ user: userKeyArb, roles: rolesArb }), {
    selector: (u) => userRefKey(u.user.ref),
    maxLength,
  });

/** Any valid desired state. */
export function desiredStateArb(opts: { maxOrgs?: number; maxUsers?: number } = {}): fc.Arbitrary<DesiredState> {
  return fc
    .uniqueArray(fc.record({ id: orgIdArb, name: orgNameArb, users: usersArb(opts.maxUsers ?? 12) }), {
      selector: (o) => o.id,
      minLength: 1,
      maxLength: opts.maxOrgs ?? 4,
    })
    .map((orgs) =>
      place(
        orgs.map((o) => ({ id: o.id, name: o.name, users: o.users.map((u) => ({ key: u.user.key, roles: u.roles })) })),
      ),
    );
}

type Side = 'both' | 'a' | 'b';
const sideArb: fc.Arbitrary<Side> = fc.constantFrom<Side>('both', 'both', 'both', 'a', 'b');

/**
 * Two related revisions of a file: a pool of organizations and users, each present in one or both,
 * with roles that often (not always) agree, email keys that may change case, and orders that may differ.
 * Unrelated random states would share no users, and the interesting joins would never be exercised.
 */
export function desiredStatePairArb(
  opts: { maxOrgs?: number; maxUsers?: number } = {},
): fc.Arbitrary<[DesiredState, DesiredState]> {
  const pooledUser = fc
    .record({ user: userKeyArb, side: sideArb, rolesA: rolesArb, rolesB: rolesArb, same: fc.boolean() })
    .chain((u) => rekeyArb(u.user.key).map((keyB) => ({ ...u, keyB })));
  const pooledOrg = fc.record({
    id: orgIdArb,
    side: sideArb,
    nameA: orgNameArb,
    nameB: orgNameArb,
    users: fc.uniqueArray(pooledUser, { selector: (u) => userRefKey(u.user.ref), maxLength: opts.maxUsers ?? 12 }),
    reverseB: fc.boolean(),
  });
  return fc
    .record({
      orgs: fc.uniqueArray(pooledOrg, { selector: (o) => o.id, minLength: 1, maxLength: opts.maxOrgs ?? 4 }),
      reverseOrgsB: fc.boolean(),
    })
    .map(({ orgs, reverseOrgsB }) => {
      const inA = orgs.filter((o) => o.side !== 'b');
      const inB = orgs.filter((o) => o.side !== 'a');
      const a = place(
        inA.map((o) => ({
          id: o.id,
          name: o.nameA,
          users: o.users.filter((u) => u.side !== 'b').map((u) => ({ key: u.user.key, roles: u.rolesA })),
        })),
      );
      const bOrgs = inB.map((o) => {
        const users = o.users
          .filter((u) => u.side !== 'a')
          .map((u) => ({ key: u.keyB, roles: u.same ? u.rolesA : u.rolesB }));
        return { id: o.id, name: o.nameB, users: o.reverseB ? users.reverse() : users };
      });
      const b = place(reverseOrgsB ? bOrgs.reverse() : bOrgs);
      return [a, b] as [DesiredState, DesiredState];
    })
    .filter(([a, b]) => a.organizations.length > 0 && b.organizations.length > 0);
}

/** A state from a plain literal, for readable unit tests: `{ [orgId]: { name?, users: { key: roles } } }`. */
export function desiredState(
  orgs: Record<string, { name?: string; users: Record<string, readonly AssignableRole[]> }>,
): DesiredState {
  return place(
    Object.entries(orgs).map(([id, o]) => {
      const orgId = parseOrgId(id);
      if (orgId === undefined) throw new Error(`not an organization id: ${id}`);
      return { id: orgId, name: o.name, users: Object.entries(o.users).map(([key, roles]) => ({ key, roles })) };
    }),
  );
}
