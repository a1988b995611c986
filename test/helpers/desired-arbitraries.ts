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
import type {
  DesiredEntry,
  DesiredOrg,
  DesiredState,
  DesiredUser,
  EffectiveDesired,
  Expiry,
} from '../../src/core/desired-state.js';
import { expiryShown, parseUntil } from '../../src/core/time.js';

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
  return { ref, key, entry: { kind: 'roles', roles: canonicalRoles(roles), enable: false }, pos: { line, col: 7 } };
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
    return { id: o.id, ...(o.name !== undefined ? { name: o.name } : {}), users, unlisted: 'keep', keep: [], pos };
  });
  return { version: 1, timezone: 'UTC', organizations };
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

// ---------------------------------------------------------------------------
// Account state and expiring grants (the long form, `disabled`, `until`/`then`)

export const zoneArb = fc.constantFrom(
  'UTC',
  'Australia/Melbourne',
  'America/New_York',
  'Asia/Kolkata',
  'Pacific/Chatham',
  'Europe/London',
);

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/** An `until` as a file would write it: a date, or an RFC 3339 time with an offset (or Z) and maybe a fraction. */
export const untilTextArb: fc.Arbitrary<string> = fc.oneof(
  fc
    .date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2099-12-31T00:00:00Z'), noInvalidDate: true })
    .map((d) => `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`),
  fc
    .record({
      at: fc.date({
        min: new Date('2000-01-01T00:00:00Z'),
        max: new Date('2099-12-31T00:00:00Z'),
        noInvalidDate: true,
      }),
      offset: fc.integer({ min: -48, max: 56 }).map((q) => q * 15),
      fraction: fc.option(fc.integer({ min: 0, max: 999 }), { nil: undefined }),
      zulu: fc.boolean(),
    })
    .map(({ at, offset, fraction, zulu }) => {
      const shift = zulu ? 0 : offset;
      const d = new Date(at.getTime() + shift * 60_000);
      const frac = fraction === undefined ? '' : `.${pad(fraction, 3)}`;
      const sign = shift < 0 ? '-' : '+';
      const off = zulu ? 'Z' : `${sign}${pad(Math.floor(Math.abs(shift) / 60))}:${pad(Math.abs(shift) % 60)}`;
      return (
        `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T` +
        `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}${frac}${off}`
      );
    }),
);

/** The expiry the file model must make of `written` in `zone` (the position is filled in by whoever writes it). */
export function expiryOf(written: string, zone: string, then: EffectiveDesired): Expiry {
  const parsed = parseUntil(written, zone);
  if (parsed.kind === 'invalid') throw new Error(parsed.message);
  return {
    at: parsed.at,
    form: parsed.kind,
    written,
    shown: expiryShown(parsed.kind, parsed.at, zone),
    then,
    pos: { line: 0, col: 0 },
  };
}

/** Any valid user value: a role list, `disabled`, or the long form with `enabled`, `until` and `then`. */
export function entryArb(zone: string): fc.Arbitrary<DesiredEntry> {
  const thenArb: fc.Arbitrary<'disabled' | readonly AssignableRole[]> = fc.oneof(
    fc.constant('disabled' as const),
    rolesArb,
  );
  return fc.oneof(
    rolesArb.map((roles): DesiredEntry => ({ kind: 'roles', roles, enable: false })),
    fc.constant<DesiredEntry>({ kind: 'disabled' }),
    fc
      .record({ roles: rolesArb, enable: fc.boolean(), until: untilTextArb, then: thenArb })
      .map(({ roles, enable, until, then }): DesiredEntry => {
        const after: EffectiveDesired =
          then === 'disabled' ? { kind: 'disabled' } : { kind: 'roles', roles: then, enable };
        return { kind: 'roles', roles, enable, expiry: expiryOf(until, zone, after) };
      }),
    fc.record({ roles: rolesArb }).map(({ roles }): DesiredEntry => ({ kind: 'roles', roles, enable: true })),
  );
}

/** A valid state using every form of the file: `timezone`, `unlisted`, `keep`, and any user value. */
export function lifecycleStateArb(opts: { maxOrgs?: number; maxUsers?: number } = {}): fc.Arbitrary<DesiredState> {
  return zoneArb.chain((timezone) => {
    const userArb = fc.record({ user: userKeyArb, entry: entryArb(timezone) });
    const orgArb = fc
      .record({
        id: orgIdArb,
        name: orgNameArb,
        users: fc.uniqueArray(userArb, { selector: (u) => userRefKey(u.user.ref), maxLength: opts.maxUsers ?? 8 }),
        unlisted: fc.constantFrom<'keep' | 'disable'>('keep', 'disable'),
        keep: fc.uniqueArray(userKeyArb, { selector: (u) => userRefKey(u.ref), maxLength: 3 }),
      })
      .map((o) => {
        const listed = new Set(o.users.map((u) => userRefKey(u.user.ref)));
        // `keep` is only meaningful (and warning-free) under `unlisted: disable`, for users not in `users`.
        const keep = o.unlisted === 'disable' ? o.keep.filter((k) => !listed.has(userRefKey(k.ref))) : [];
        return { ...o, keep };
      });
    return fc
      .uniqueArray(orgArb, { selector: (o) => o.id, minLength: 1, maxLength: opts.maxOrgs ?? 3 })
      .map((orgs): DesiredState => {
        const organizations: DesiredOrg[] = orgs.map((o) => ({
          id: o.id,
          ...(o.name !== undefined ? { name: o.name } : {}),
          users: o.users.map((u) => ({ ref: u.user.ref, key: u.user.key, entry: u.entry, pos: { line: 0, col: 0 } })),
          unlisted: o.unlisted,
          keep: o.keep.map((k) => ({ ref: k.ref, key: k.key, pos: { line: 0, col: 0 } })),
          pos: { line: 0, col: 0 },
        }));
        return { version: 1, timezone, organizations };
      });
  });
}
