import { describe, expect, it } from 'vitest';
import type { DesiredOrg } from '../src/core/desired-state.js';
import {
  asLiveRole,
  parseOrgId,
  parseUserId,
  parseUserRef,
  type AssignableRole,
  type UserId,
} from '../src/core/domain.js';
import { analyzeDrift, type DriftEntry } from '../src/core/drift.js';
import { changesOf, planOrg, type OrgPlan } from '../src/core/live-plan.js';
import type { ObservedUser, Snapshot } from '../src/core/observed-state.js';
import { plannedOutcome, type OrgOutcome } from '../src/core/outcome.js';
import type { ChangeResult } from '../src/core/report.js';

const ORG = parseOrgId('7fa84d2b-26d7-4c71-9b5b-e591eff97e7d')!;
const OTHER_ORG = parseOrgId('3b1f9c2e-8d4a-4e6b-9f1a-2c5d7e8f9a0b')!;
const A = parseUserId('aaaaaaaa-0000-4000-8000-000000000001')!;
const B = parseUserId('aaaaaaaa-0000-4000-8000-000000000002')!;
const C = parseUserId('aaaaaaaa-0000-4000-8000-000000000003')!;
const roles = (...r: string[]) => r.map(asLiveRole);

function desiredOrg(users: Record<string, AssignableRole[]>): DesiredOrg {
  return {
    id: ORG,
    pos: { line: 1, col: 1 },
    unlisted: 'keep',
    keep: [],
    users: Object.entries(users).map(([key, r]) => ({
      ref: parseUserRef(key)!,
      key,
      entry: { kind: 'roles', roles: r, enable: false },
      pos: { line: 1, col: 1 },
    })),
  };
}

function plan(desired: Record<string, AssignableRole[]>, live: Record<string, string[]>): OrgPlan {
  const users: ObservedUser[] = Object.entries(live).map(([id, r]) => ({ id: parseUserId(id)!, roles: roles(...r) }));
  return planOrg(desiredOrg(desired), { id: ORG, users }, undefined, { now: 0 });
}

function applied(byUser: Record<string, string[]>): Snapshot {
  const map = new Map<UserId, readonly ReturnType<typeof asLiveRole>[]>(
    Object.entries(byUser).map(([id, r]) => [parseUserId(id)!, roles(...r)]),
  );
  return { organizations: new Map([[ORG, { managed: new Map(), observed: new Map(map), applied: map }]]) };
}

/** Outcomes where every change got `result` (applied after a write, planned in a dry-run). */
function outcomesOf(p: OrgPlan, result: ChangeResult): OrgOutcome[] {
  return [plannedOutcome(p, new Map(changesOf(p).map((c) => [c.id, result])))];
}

const T1 = new Date('2026-11-27T01:00:00Z');
const T2 = new Date('2026-11-27T01:05:00Z');

describe('analyzeDrift', () => {
  it('calls a live change away from what was applied drift, and a new desired value a pending change', () => {
    // A was applied [admin, provider] and someone removed admin; B's entry in the file changed; C was never applied.
    const p = plan(
      { [A]: ['admin', 'provider'], [B]: ['provider'], [C]: ['receptionist'] },
      { [A]: ['provider'], [B]: ['admin'], [C]: ['provider'] },
    );
    const result = analyzeDrift({
      outcomes: outcomesOf(p, { state: 'planned' }),
      snapshot: applied({ [A]: ['admin', 'provider'], [B]: ['admin'] }),
      previous: [],
      now: T1,
    });
    expect(result.detected).toEqual([
      {
        organization: ORG,
        user: A,
        userId: A,
        from: roles('admin', 'provider'),
        to: roles('provider'),
        firstSeen: T1.toISOString(),
      },
    ]);
    expect(result.open).toEqual(result.detected);
    expect(result.pending.get(ORG)).toBe(2);
  });

  it('closes drift that the cycle healed and counts nothing pending after a full apply', () => {
    const p = plan({ [A]: ['admin'], [B]: ['provider'] }, { [A]: ['provider'], [B]: ['admin'] });
    const result = analyzeDrift({
      outcomes: outcomesOf(p, { state: 'applied' }),
      snapshot: applied({ [A]: ['admin'] }),
      previous: [],
      now: T1,
    });
    expect(result.detected.map((d) => d.userId)).toEqual([A]);
    expect(result.open).toEqual([]);
    expect(result.pending.get(ORG)).toBe(0);
  });

  it('keeps firstSeen while the same drift persists, and restarts it when the user drifts elsewhere', () => {
    const snapshot = applied({ [A]: ['admin'] });
    const p1 = plan({ [A]: ['admin'] }, { [A]: ['provider'] });
    const first = analyzeDrift({
      outcomes: outcomesOf(p1, { state: 'planned' }),
      snapshot,
      previous: [],
      now: T1,
    });
    const again = analyzeDrift({
      outcomes: outcomesOf(p1, { state: 'planned' }),
      snapshot,
      previous: first.open,
      now: T2,
    });
    expect(again.open[0]!.firstSeen).toBe(T1.toISOString());
    const p2 = plan({ [A]: ['admin'] }, { [A]: ['receptionist'] });
    const elsewhere = analyzeDrift({
      outcomes: outcomesOf(p2, { state: 'planned' }),
      snapshot,
      previous: again.open,
      now: T2,
    });
    expect(elsewhere.open[0]!.firstSeen).toBe(T2.toISOString());
  });

  it("is not drift when the live roles already equal the file (someone did role-sync's job)", () => {
    const p = plan({ [A]: ['provider'] }, { [A]: ['provider'] });
    const result = analyzeDrift({
      outcomes: outcomesOf(p, { state: 'applied' }),
      snapshot: applied({ [A]: ['admin'] }),
      previous: [],
      now: T1,
    });
    expect(result.detected).toEqual([]);
    expect(result.pending.get(ORG)).toBe(0);
  });

  it('reports drift to a protected role as open: role-sync will not write it', () => {
    const p = plan({ [A]: ['admin'] }, { [A]: ['owner', 'admin'] });
    const result = analyzeDrift({
      outcomes: outcomesOf(p, { state: 'applied' }),
      snapshot: applied({ [A]: ['admin'] }),
      previous: [],
      now: T1,
    });
    expect(result.open.map((d) => d.to)).toEqual([roles('admin', 'owner')]);
  });

  it('keeps the last drift of an organization that could not be observed', () => {
    const elsewhere: DriftEntry = {
      organization: OTHER_ORG,
      user: 'x@y.example',
      userId: A,
      from: roles('admin'),
      to: roles('provider'),
      firstSeen: T1.toISOString(),
    };
    const p = plan({ [A]: ['admin'] }, { [A]: ['admin'] });
    const result = analyzeDrift({
      outcomes: outcomesOf(p, { state: 'planned' }),
      snapshot: applied({ [A]: ['admin'] }),
      previous: [elsewhere],
      now: T2,
    });
    expect(result.open).toEqual([elsewhere]);
  });
});
