/**
 * The safety rules of planning against live users (docs/architecture.md), over arbitrary small worlds in
 * which ids repeat, one email sits on several accounts, roles are unknown or unassignable, and
 * reads fail or answer for another user.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { entryRoles, type DesiredOrg } from '../src/core/desired-state.js';
import {
  asLiveRole,
  grantedRoles,
  isAssignableRole,
  parseEmail,
  parseOrgId,
  sameRoles,
  type AssignableRole,
  type LiveRole,
  type UserId,
} from '../src/core/domain.js';
import { checkGuards } from '../src/core/guards.js';
import { planOrg, type OrgPlan } from '../src/core/live-plan.js';
import type { ObservedOrg, ObservedUser } from '../src/core/observed-state.js';
import type { FailureDetail } from '../src/core/report.js';
import { desiredUser, rolesArb } from './helpers/desired-arbitraries.js';

const ORG = parseOrgId('7fa84d2b-26d7-4c71-9b5b-e591eff97e7d')!;
const IDS = ['u1', 'u2', 'u3', 'u4', 'u5', 'u6'] as UserId[];
const EMAILS = ['a@x.example', 'b@x.example', 'c@x.example', 'd@x.example'];
/** Assignable roles, the member baseline, and roles role-sync cannot give back. */
const LIVE_ROLES = [
  'admin',
  'provider',
  'receptionist',
  'rx_reader',
  'member',
  'owner',
  'support',
  'super_admin',
  'PROVIDER',
];

const listedArb: fc.Arbitrary<ObservedUser> = fc
  .record({
    id: fc.constantFrom(...IDS),
    email: fc.option(fc.constantFrom(...EMAILS), { nil: undefined }),
    roles: fc.option(fc.subarray(LIVE_ROLES), { nil: undefined }),
  })
  .map(({ id, email, roles }) => ({
    id,
    ...(email ? { email: parseEmail(email)! } : {}),
    ...(roles ? { roles: roles.map(asLiveRole) } : {}),
  }));

const failureArb: fc.Arbitrary<FailureDetail> = fc.constantFrom<FailureDetail>(
  { reason: 'wrong-user', message: 'answered for another user' },
  { reason: 'observe', message: 'HTTP 500' },
);

const observedArb: fc.Arbitrary<ObservedOrg> = fc
  .record({
    users: fc.array(listedArb, { maxLength: 10 }),
    failures: fc.array(fc.tuple(fc.constantFrom(...IDS), failureArb), { maxLength: 3 }),
  })
  .map(({ users, failures }) => ({
    id: ORG,
    users,
    ...(failures.length > 0 ? { readFailures: new Map(failures) } : {}),
  }));

/** File keys are unique as the file model makes them (an id, or an email in any case, once). */
const desiredArb: fc.Arbitrary<DesiredOrg> = fc
  .uniqueArray(fc.constantFrom<string>(...IDS, ...EMAILS), { maxLength: 6 })
  .chain((keys) => fc.tuple(fc.constant(keys), fc.array(rolesArb, { minLength: keys.length, maxLength: keys.length })))
  .map(([keys, roles]) => ({
    id: ORG,
    pos: { line: 3, col: 3 },
    unlisted: 'keep' as const,
    keep: [],
    users: keys.map((key, i) => desiredUser(key, roles[i] as readonly AssignableRole[], i + 4)),
  }));

/** The entries that may send something, or that say a user was tied to one live account. */
function tied(plan: OrgPlan) {
  return plan.entries.flatMap((e) =>
    e.kind === 'change' || e.kind === 'unchanged' || e.kind === 'protected' || e.kind === 'disabled' ? [e] : [],
  );
}

describe('identity is never guessed', () => {
  it('a user is tied to a key only when exactly one live account, listed once, matches it, and no other key', () => {
    fc.assert(
      fc.property(desiredArb, observedArb, (desired, observed) => {
        const plan = planOrg(desired, observed, undefined, { now: 0 });
        for (const e of tied(plan)) {
          expect(observed.users.filter((u) => u.id === e.id)).toHaveLength(1);
          const key = desired.users.find((u) => u.key === e.user.key)!;
          const holders = new Set(observed.users.filter((u) => u.email === key.key).map((u) => u.id));
          if (key.ref.kind === 'id') expect(key.ref.id).toBe(e.id);
          else expect([...holders]).toEqual([e.id]);
          const email = observed.users.find((u) => u.id === e.id)?.email;
          const others = desired.users.filter((u) => u.key !== key.key && (u.key === e.id || u.key === email));
          expect(others).toEqual([]);
        }
      }),
    );
  });

  it('a user whose read answered for someone else is never tied to a key', () => {
    fc.assert(
      fc.property(desiredArb, observedArb, (desired, observed) => {
        const plan = planOrg(desired, observed, undefined, { now: 0 });
        for (const e of tied(plan)) expect(observed.readFailures?.get(e.id)?.reason).not.toBe('wrong-user');
      }),
    );
  });

  it('every file key has exactly one entry, and every live id is either named by the file or unmanaged, once', () => {
    fc.assert(
      fc.property(desiredArb, observedArb, (desired, observed) => {
        const plan = planOrg(desired, observed, undefined, { now: 0 });
        expect(plan.entries.map((e) => e.user.key)).toEqual(desired.users.map((u) => u.key));
        const unmanaged = plan.unmanaged.map((u) => u.id);
        expect(new Set(unmanaged).size).toBe(unmanaged.length);
      }),
    );
  });
});

describe('nothing is stripped that cannot be given back', () => {
  it('a change is planned only for a user holding nothing but assignable roles and member', () => {
    fc.assert(
      fc.property(desiredArb, observedArb, (desired, observed) => {
        const plan = planOrg(desired, observed, undefined, { now: 0 });
        for (const e of plan.entries) {
          if (e.kind !== 'change') continue;
          expect(e.from.every((r) => isAssignableRole(r) || r === 'member')).toBe(true);
          expect(e.removed).not.toContain('member');
        }
      }),
    );
  });

  it('member is never a reason to write: without it, a change differs from the file and unchanged equals it', () => {
    fc.assert(
      fc.property(desiredArb, observedArb, (desired, observed) => {
        const plan = planOrg(desired, observed, undefined, { now: 0 });
        for (const e of plan.entries) {
          const want = entryRoles(desired.users.find((u) => u.key === e.user.key)!.entry) ?? [];
          if (e.kind === 'change') expect(sameRoles(grantedRoles(e.from), want)).toBe(false);
          if (e.kind === 'unchanged') expect(sameRoles(grantedRoles(e.roles), want)).toBe(true);
        }
      }),
    );
  });
});

describe('the no-admin guard', () => {
  /** Per live id: whether every listing of it holds admin once the plan's changes are written. */
  function adminsAfter(plan: OrgPlan, observed: ObservedOrg): UserId[] {
    const to = new Map<UserId, readonly LiveRole[]>();
    for (const e of plan.entries) if (e.kind === 'change') to.set(e.id, e.to);
    // A user whose read failed (e.g. answered for another account) is not trusted to hold anything.
    const unreadable = new Set(plan.entries.flatMap((e) => (e.kind === 'unreadable' ? [e.id] : [])));
    const ids = [...new Set(observed.users.map((u) => u.id))].filter((id) => !unreadable.has(id));
    return ids.filter((id) =>
      observed.users.filter((u) => u.id === id).every((u) => (to.get(id) ?? u.roles)?.includes('admin') === true),
    );
  }

  it('a plan that takes admin from someone passes only if some user still holds admin afterwards', () => {
    fc.assert(
      fc.property(desiredArb, observedArb, (desired, observed) => {
        const plan = planOrg(desired, observed, undefined, { now: 0 });
        const refusals = checkGuards([plan], { maxChanges: { kind: 'count', count: 1000 } });
        const demotes = plan.entries.some((e) => e.kind === 'change' && e.removed.includes('admin'));
        const refused = refusals.some((r) => r.kind === 'no-admin');
        if (demotes) expect(refused).toBe(adminsAfter(plan, observed).length === 0);
        else expect(refused).toBe(false);
      }),
      {
        // Found by CI: an unmanaged admin listed on a second page without roles was counted from its first listing.
        examples: [
          [
            {
              id: ORG,
              pos: { line: 3, col: 3 },
              unlisted: 'keep',
              keep: [],
              users: [desiredUser('u1', ['provider'], 4)],
            },
            {
              id: ORG,
              users: [
                { id: 'u4' as UserId, roles: [asLiveRole('admin')] },
                { id: 'u4' as UserId },
                { id: 'u1' as UserId, roles: [asLiveRole('admin')] },
              ],
            },
          ],
        ],
      },
    );
  });
});
