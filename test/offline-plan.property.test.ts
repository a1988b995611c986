import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalRoles } from '../src/core/domain.js';
import { effectiveAt, entryRoles, type DesiredState } from '../src/core/desired-state.js';
import { buildOfflineReport } from '../src/core/offline-report.js';
import { hasPendingChanges, summarize, type OrgReport, type Report, type UserLabel } from '../src/core/report.js';
import { desiredStateArb, desiredStatePairArb, lifecycleStateArb } from './helpers/desired-arbitraries.js';

const opts = { source: { file: 'head.yaml', sha256: 'h' }, now: new Date('2025-01-02T03:04:05Z') };

/** The join key the planner uses, recovered from a label (offline labels carry exactly one of id/email). */
function labelKey(user: UserLabel): string {
  if (user.id !== undefined) return `id:${user.id}`;
  if (user.email !== undefined) return `email:${user.email}`;
  throw new Error(`label without identity: ${user.key}`);
}

type Normal = Map<string, { name: string | undefined; users: Map<string, readonly string[]> }>;

/** A state as sets: organization id -> (name, user identity -> roles). Order and positions do not matter. */
function normalize(state: DesiredState): Normal {
  return new Map(
    state.organizations.map((o) => [
      o.id,
      {
        name: o.name,
        users: new Map(
          o.users.map((u) => [
            u.ref.kind === 'id' ? `id:${u.ref.id}` : `email:${u.ref.email}`,
            [...(entryRoles(u.entry) ?? [])],
          ]),
        ),
      },
    ]),
  );
}

/** What merging the pull request does to what role-sync manages: the plan replayed on the base. */
function applyPlan(base: DesiredState, report: Report): Normal {
  const state = normalize(base);
  for (const org of report.organizations) {
    if (org.orgChange === 'removed') {
      state.delete(org.id);
      continue;
    }
    const entry = state.get(org.id) ?? { name: undefined, users: new Map<string, readonly string[]>() };
    entry.name = org.name;
    for (const c of org.changes) {
      expect(entry.users.get(labelKey(c.user))).toEqual([...c.from]);
      entry.users.set(labelKey(c.user), [...c.to]);
    }
    for (const u of org.noLongerManaged) entry.users.delete(labelKey(u.user));
    for (const u of org.startsManaged) entry.users.set(labelKey(u.user), [...(u.roles ?? [])]);
    state.set(org.id, entry);
  }
  return state;
}

function byOrg(report: Report): Map<string, OrgReport> {
  return new Map(report.organizations.map((o) => [o.id, o]));
}

function managedSet(users: OrgReport['startsManaged']): Map<string, readonly string[] | undefined> {
  return new Map(users.map((u) => [labelKey(u.user), u.roles]));
}

const SWAP = { added: 'removed', removed: 'added', kept: 'kept' } as const;

describe('buildOfflineReport properties', () => {
  it('a file planned against itself has nothing to do', () => {
    fc.assert(
      fc.property(desiredStateArb(), (state) => {
        const report = buildOfflineReport(state, state, opts);
        const users = state.organizations.reduce((n, o) => n + o.users.length, 0);
        expect(report.organizations.map((o) => o.id)).toEqual(state.organizations.map((o) => o.id));
        for (const org of report.organizations) {
          expect(org.orgChange).toBe('kept');
          expect(org.changes).toEqual([]);
          expect(org.startsManaged).toEqual([]);
          expect(org.noLongerManaged).toEqual([]);
        }
        expect(report.summary.unchanged).toBe(users);
        expect(report.warnings).toEqual([]);
        expect(hasPendingChanges(report)).toBe(false);
      }),
    );
  });

  it('a file with any lifecycle form planned against itself has nothing to do, at any time', () => {
    fc.assert(
      fc.property(lifecycleStateArb(), fc.date({ noInvalidDate: true }), (state, now) => {
        const report = buildOfflineReport(state, state, { ...opts, now });
        for (const org of report.organizations) {
          expect(org.changes).toEqual([]);
          expect(org.accountChanges).toBeUndefined();
          expect(org.expiryChanges).toBeUndefined();
          expect(org.unlisted?.previous).toBeUndefined();
        }
        expect(hasPendingChanges(report)).toBe(false);
      }),
    );
  });

  it('disables exactly the users whose entry means disabled now and did not before', () => {
    const pair = fc
      .tuple(lifecycleStateArb({ maxOrgs: 1 }), fc.array(fc.boolean(), { maxLength: 8 }))
      .map(([state, flips]): [DesiredState, DesiredState] => {
        const org = state.organizations[0]!;
        const head = {
          ...state,
          organizations: [
            {
              ...org,
              users: org.users.map((u, i) => (flips[i] === true ? { ...u, entry: { kind: 'disabled' as const } } : u)),
            },
          ],
        };
        return [head, state];
      });
    fc.assert(
      fc.property(pair, fc.date({ noInvalidDate: true }), ([head, base], now) => {
        const at = now.getTime();
        const report = buildOfflineReport(head, base, { ...opts, now });
        const expected = head.organizations[0]!.users.filter((u, i) => {
          const before = effectiveAt(base.organizations[0]!.users[i]!.entry, at);
          return effectiveAt(u.entry, at).kind === 'disabled' && before.kind !== 'disabled';
        }).map((u) => u.key);
        const disabled = (report.organizations[0]!.accountChanges ?? []).filter((a) => a.kind === 'disable');
        expect(disabled.map((a) => a.user.key)).toEqual(expected);
      }),
    );
  });

  it('plan(A→B) is the inverse of plan(B→A)', () => {
    fc.assert(
      fc.property(desiredStatePairArb(), ([a, b]) => {
        const forward = buildOfflineReport(b, a, opts);
        const backward = byOrg(buildOfflineReport(a, b, opts));
        expect(backward.size).toBe(forward.organizations.length);
        for (const org of forward.organizations) {
          const inverse = backward.get(org.id);
          expect(inverse).toBeDefined();
          if (inverse === undefined) continue;
          expect(inverse.orgChange).toBe(SWAP[org.orgChange]);
          expect(inverse.unchanged).toBe(org.unchanged);

          const inverseChanges = new Map(inverse.changes.map((c) => [labelKey(c.user), c]));
          expect(inverseChanges.size).toBe(org.changes.length);
          for (const c of org.changes) {
            const back = inverseChanges.get(labelKey(c.user));
            expect(back?.from).toEqual(c.to);
            expect(back?.to).toEqual(c.from);
            expect(back?.added).toEqual(c.removed);
            expect(back?.removed).toEqual(c.added);
          }
          expect(managedSet(inverse.startsManaged)).toEqual(managedSet(org.noLongerManaged));
          expect(managedSet(inverse.noLongerManaged)).toEqual(managedSet(org.startsManaged));
        }
        const s = forward.summary;
        const r = buildOfflineReport(a, b, opts).summary;
        expect([
          r.changes,
          r.grants,
          r.revocations,
          r.startsManaged,
          r.noLongerManaged,
          r.organizationsAdded,
          r.organizationsRemoved,
        ]).toEqual([
          s.changes,
          s.revocations,
          s.grants,
          s.noLongerManaged,
          s.startsManaged,
          s.organizationsRemoved,
          s.organizationsAdded,
        ]);
      }),
    );
  });

  it('replaying plan(base→head) on base gives head', () => {
    fc.assert(
      fc.property(desiredStatePairArb(), ([base, head]) => {
        expect(applyPlan(base, buildOfflineReport(head, base, opts))).toEqual(normalize(head));
      }),
    );
  });

  it('every change is a real difference, and added/removed are exactly the set differences', () => {
    fc.assert(
      fc.property(desiredStatePairArb(), ([base, head]) => {
        const report = buildOfflineReport(head, base, opts);
        for (const c of report.organizations.flatMap((o) => o.changes)) {
          expect(c.result).toEqual({ state: 'planned' });
          expect(c.added).toEqual(c.to.filter((r) => !c.from.includes(r)));
          expect(c.removed).toEqual(c.from.filter((r) => !(c.to as readonly string[]).includes(r)));
          expect(c.added.length + c.removed.length).toBeGreaterThan(0);
          expect(canonicalRoles(c.to)).toEqual(c.to);
        }
        expect(report.summary).toEqual(summarize(report.organizations));
        expect(hasPendingChanges(report)).toBe(
          report.organizations.some(
            (o) => o.orgChange !== 'kept' || o.changes.length + o.startsManaged.length + o.noLongerManaged.length > 0,
          ),
        );
      }),
    );
  });

  it('keeps the order of the head file, then the organizations only the base has', () => {
    fc.assert(
      fc.property(desiredStatePairArb(), ([base, head]) => {
        const report = buildOfflineReport(head, base, opts);
        const headIds = head.organizations.map((o) => o.id);
        const removed = base.organizations.map((o) => o.id).filter((id) => !headIds.includes(id));
        expect(report.organizations.map((o) => o.id)).toEqual([...headIds, ...removed]);
        for (const org of head.organizations) {
          const r = report.organizations.find((o) => o.id === org.id);
          const order = org.users.map((u) => u.key);
          for (const shown of [
            (r?.changes ?? []).map((c) => c.user.key),
            (r?.startsManaged ?? []).map((u) => u.user.key),
          ]) {
            expect(shown).toEqual(order.filter((k) => shown.includes(k)));
          }
        }
      }),
    );
  });

  it('warns that access is NOT revoked whenever a user stops being managed', () => {
    fc.assert(
      fc.property(desiredStatePairArb(), ([base, head]) => {
        const report = buildOfflineReport(head, base, opts);
        for (const org of report.organizations) {
          const warned = report.warnings.some((w) => w.organization === org.id && w.message.includes('NOT revoked'));
          expect(warned).toBe(org.noLongerManaged.length > 0);
        }
      }),
    );
  });
});
