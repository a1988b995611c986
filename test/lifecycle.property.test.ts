import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DesiredOrg, DesiredState, KeepEntry } from '../src/core/desired-state.js';
import {
  asLiveRole,
  grantedRoles,
  isProtectedRole,
  parseEmail,
  parseOrgId,
  parseUserId,
  type Email,
  type UserId,
} from '../src/core/domain.js';
import { planOrg } from '../src/core/live-plan.js';
import type { ObservedUser } from '../src/core/observed-state.js';
import { EMPTY_SNAPSHOT } from '../src/core/observed-state.js';
import { Reconciler } from '../src/engine/reconciler.js';
import { silentLogger } from '../src/log.js';
import { WriteCoordinator } from '../src/queue/write-coordinator.js';
import { FakeParchment } from './helpers/fake-parchment.js';
import { entryArb } from './helpers/desired-arbitraries.js';

const ORG = parseOrgId('7fa84d2b-26d7-4c71-9b5b-e591eff97e7d')!;
const POOL = 8;
const idOf = (n: number): UserId => parseUserId(`bbbbbbbb-0000-4000-8000-${String(n).padStart(12, '0')}`)!;
const emailOf = (n: number): Email => parseEmail(`user${n}@c.example`)!;

/** Live role sets, the awkward ones included: disabled, owner, unknown roles, member beside others. */
const liveRolesArb = fc.constantFrom<readonly string[]>(
  ['member'],
  ['admin'],
  ['provider'],
  ['admin', 'provider'],
  ['receptionist', 'rx_reader'],
  ['owner', 'admin'],
  ['support'],
  ['super_admin'],
  ['member', 'provider'],
  [],
);

interface World {
  readonly state: DesiredState;
  readonly users: readonly ObservedUser[];
  readonly acting: UserId | undefined;
}

/** A pool of accounts; the file names some (by id or email), keeps some, and says anything about unlisted ones. */
const worldArb: fc.Arbitrary<World> = fc
  .record({
    // `again`: a broken list names the account a second time, perhaps with other roles.
    accounts: fc.array(
      fc.record({
        roles: liveRolesArb,
        listed: fc.boolean(),
        again: fc.oneof({ weight: 5, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: liveRolesArb }),
      }),
      {
        minLength: POOL,
        maxLength: POOL,
      },
    ),
    entries: fc.array(fc.option(fc.tuple(fc.boolean(), entryArb('Australia/Melbourne')), { nil: undefined }), {
      minLength: POOL,
      maxLength: POOL,
    }),
    keep: fc.subarray(Array.from({ length: POOL + 2 }, (_, i) => i)),
    keepByEmail: fc.boolean(),
    unlisted: fc.constantFrom<'keep' | 'disable'>('keep', 'disable'),
    acting: fc.option(fc.nat({ max: POOL - 1 }), { nil: undefined }),
  })
  .map(({ accounts, entries, keep, keepByEmail, unlisted, acting }): World => {
    const users = accounts.flatMap((a, i) =>
      (a.listed ? [a.roles, ...(a.again ? [a.again] : [])] : []).map((roles) => ({
        id: idOf(i),
        email: emailOf(i),
        roles: roles.map(asLiveRole),
      })),
    );
    const fileUsers = entries.flatMap((e, i) => {
      if (e === undefined) return [];
      const [byEmail, entry] = e;
      const key = byEmail ? emailOf(i) : idOf(i);
      const ref = byEmail ? ({ kind: 'email', email: emailOf(i) } as const) : ({ kind: 'id', id: idOf(i) } as const);
      return [{ ref, key, entry, pos: { line: i + 5, col: 7 } }];
    });
    const keepEntries: KeepEntry[] = keep.map((i) =>
      keepByEmail
        ? { ref: { kind: 'email', email: emailOf(i) }, key: emailOf(i), pos: { line: 4, col: 11 } }
        : { ref: { kind: 'id', id: idOf(i) }, key: idOf(i), pos: { line: 4, col: 11 } },
    );
    const org: DesiredOrg = { id: ORG, users: fileUsers, unlisted, keep: keepEntries, pos: { line: 3, col: 3 } };
    return {
      state: { version: 1, timezone: 'Australia/Melbourne', organizations: [org] },
      users,
      acting: acting === undefined ? undefined : idOf(acting),
    };
  });

const nowArb = fc.date({
  min: new Date('2000-01-01T00:00:00Z'),
  max: new Date('2100-01-01T00:00:00Z'),
  noInvalidDate: true,
});

describe('lifecycle properties', () => {
  it('a plan never disables an exempt user: the acting user, a protected or disabled account, or a kept one', () => {
    const seen = { file: 0, unlisted: 0 };
    fc.assert(
      fc.property(worldArb, nowArb, (world, now) => {
        const org = world.state.organizations[0]!;
        const plan = planOrg(org, { id: ORG, users: world.users }, undefined, {
          now: now.getTime(),
          ...(world.acting !== undefined ? { actingUser: world.acting } : {}),
        });
        const listingsOf = (id: UserId) => world.users.filter((u) => u.id === id);
        const kept = new Set(org.keep.map((k) => (k.ref.kind === 'id' ? k.ref.id : k.ref.email) as string));
        for (const e of plan.entries) {
          if (e.kind !== 'disable') continue;
          if (e.cause === 'unlisted') seen.unlisted++;
          else seen.file++;
          const listings = listingsOf(e.id);
          const live = listings[0]!;
          for (const { roles = [] } of listings) {
            expect(roles.some(isProtectedRole)).toBe(false);
            expect(roles.length > 0 && grantedRoles(roles).length === 0).toBe(false);
          }
          if (e.cause === 'unlisted') {
            expect(org.unlisted).toBe('disable');
            expect(world.acting).toBeDefined();
            expect(e.id).not.toBe(world.acting);
            expect(kept.has(e.id) || kept.has(live.email!)).toBe(false);
            expect(org.users.some((u) => (u.ref.kind === 'id' ? u.ref.id === e.id : u.ref.email === live.email))).toBe(
              false,
            );
          } else {
            const named = org.users.find((u) =>
              u.ref.kind === 'id' ? u.ref.id === e.id : u.ref.email === live.email,
            )!;
            expect(
              named.entry.kind === 'disabled' || (named.entry.kind === 'roles' && named.entry.expiry !== undefined),
            ).toBe(true);
          }
        }
      }),
      { numRuns: 500 },
    );
    // The generator must reach both kinds of disable for the property to mean anything.
    expect(seen.file).toBeGreaterThan(20);
    expect(seen.unlisted).toBeGreaterThan(20);
  });

  it('applying twice is the same as applying once', async () => {
    const wrote = { disable: 0, enable: 0, roles: 0 };
    await fc.assert(
      fc.asyncProperty(worldArb, nowArb, async (world, now) => {
        // A server that lists one account twice is not a state to converge: the fake keeps one listing of each.
        const users = world.users.filter((u, i) => world.users.findIndex((v) => v.id === u.id) === i);
        const api = new FakeParchment(new Map([[ORG, { users }]]));
        const reconciler = new Reconciler({
          api,
          mode: 'apply',
          coordinator: new WriteCoordinator(),
          logger: silentLogger(),
          now: () => now,
          actingUsers: world.acting !== undefined ? new Map([[ORG, world.acting]]) : new Map(),
        });
        const opts = {
          maxChanges: { kind: 'count', count: 1000 } as const,
          maxDisables: 1000,
          force: true,
          source: { file: 'roles.yaml', sha256: 'x' },
        };
        const first = await reconciler.cycle(world.state, EMPTY_SNAPSHOT, opts);
        for (const c of api.calls) {
          if (c.kind === 'disable' || c.kind === 'enable') wrote[c.kind]++;
          if (c.kind === 'put-roles') wrote.roles++;
        }
        const after = world.users.map((u) => api.roles(ORG, u.id));
        const calls = api.calls.length;
        const second = await reconciler.cycle(world.state, first.snapshot, opts);
        const written = api.calls.slice(calls).filter((c) => c.kind !== 'list' && c.kind !== 'get');
        expect(written).toEqual([]);
        expect(world.users.map((u) => api.roles(ORG, u.id))).toEqual(after);
        expect(second.report.summary.pending).toBe(0);
      }),
      { numRuns: 200 },
    );
    expect(wrote.disable).toBeGreaterThan(20);
    expect(wrote.enable).toBeGreaterThan(5);
    expect(wrote.roles).toBeGreaterThan(20);
  });
});
