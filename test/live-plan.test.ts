import { describe, expect, it } from 'vitest';
import type { DesiredOrg, DesiredUser } from '../src/core/desired-state.js';
import {
  asLiveRole,
  parseEmail,
  parseOrgId,
  parseUserId,
  parseUserRef,
  type AssignableRole,
  type UserId,
} from '../src/core/domain.js';
import { checkGuards, changeLimit } from '../src/core/guards.js';
import { planOrg, type PlanEntry } from '../src/core/live-plan.js';
import { buildLiveReport } from '../src/core/live-report.js';
import { plannedOutcome } from '../src/core/outcome.js';
import type { ObservedOrg, ObservedUser, OrgSnapshot } from '../src/core/observed-state.js';

const ORG = parseOrgId('7fa84d2b-26d7-4c71-9b5b-e591eff97e7d')!;
const id = (n: number) => parseUserId(`00000000-0000-4000-8000-${String(n).padStart(12, '0')}`)!;

function desired(...users: [string, AssignableRole[]][]): DesiredOrg {
  return {
    id: ORG,
    pos: { line: 1, col: 1 },
    unlisted: 'keep',
    keep: [],
    users: users.map(([key, roles], i): DesiredUser => ({
      key,
      ref: parseUserRef(key)!,
      entry: { kind: 'roles', roles, enable: false },
      pos: { line: i + 2, col: 7 },
    })),
  };
}

function observed(...users: [UserId, string | undefined, string[] | undefined][]): ObservedOrg {
  return {
    id: ORG,
    users: users.map(([uid, email, roles]): ObservedUser => ({
      id: uid,
      ...(email ? { email: parseEmail(email)! } : {}),
      ...(roles ? { roles: roles.map(asLiveRole) } : {}),
    })),
  };
}

const kinds = (entries: readonly PlanEntry[]) => entries.map((e) => e.kind);

describe('planOrg', () => {
  it('classifies every managed user: change, unchanged, not-found, protected, disabled, unreadable', () => {
    const plan = planOrg(
      desired(
        [id(1), ['admin', 'provider']],
        ['Dr.Cameron@Collins.example', ['provider']],
        ['nobody@collins.example', ['admin']],
        [id(4), ['admin']],
        [id(5), ['receptionist']],
        [id(6), ['provider']],
      ),
      observed(
        [id(1), 'a@x.example', ['provider', 'admin']],
        [id(2), 'dr.cameron@collins.example', ['admin', 'provider']],
        [id(4), undefined, ['owner', 'admin']],
        [id(5), undefined, ['member']],
        [id(6), undefined, undefined],
        [id(7), 'unmanaged@x.example', ['admin']],
      ),
      undefined,
      { now: 0 },
    );
    expect(kinds(plan.entries)).toEqual(['unchanged', 'change', 'not-found', 'protected', 'disabled', 'unreadable']);
    const change = plan.entries[1]!;
    expect(change.kind === 'change' && { id: change.id, added: change.added, removed: change.removed }).toEqual({
      id: id(2),
      added: [],
      removed: ['admin'],
    });
    expect(plan.unmanaged.map((u) => u.id)).toEqual([id(7)]);
  });

  it('refuses both file keys that resolve to the same Parchment user: neither is written', () => {
    const plan = planOrg(
      desired([id(1), ['admin']], ['a@x.example', ['provider']]),
      observed([id(1), 'a@x.example', ['admin']]),
      undefined,
      { now: 0 },
    );
    expect(kinds(plan.entries)).toEqual(['ambiguous', 'ambiguous']);
    expect(plan.entries.map((e) => e.kind === 'ambiguous' && e.cause)).toEqual([
      { kind: 'same-user', id: id(1), otherKeys: ['a@x.example'] },
      { kind: 'same-user', id: id(1), otherKeys: [id(1)] },
    ]);
    expect(plan.unmanaged).toEqual([]);
  });

  it('names users that left the file since the last apply, with their live roles', () => {
    const snapshot: OrgSnapshot = {
      managed: new Map([
        [id(1), { key: id(1) }],
        [id(9), { key: 'gone@x.example', email: parseEmail('gone@x.example')! }],
      ]),
      observed: new Map(),
      applied: new Map(),
    };
    const plan = planOrg(
      desired([id(1), ['admin']]),
      observed([id(1), undefined, ['admin']], [id(9), 'gone@x.example', ['provider']]),
      snapshot,
      { now: 0 },
    );
    expect(plan.noLongerManaged).toEqual([
      { id: id(9), key: 'gone@x.example', email: 'gone@x.example', roles: ['provider'] },
    ]);
    const report = buildLiveReport({
      mode: 'plan',
      now: new Date(0),
      source: { file: 'r.yaml', sha256: 'x' },
      outcomes: [plannedOutcome(plan)],
    });
    expect(report.warnings.map((w) => w.message).join('\n')).toMatch(/NOT revoked/);
    expect(report.summary.noLongerManaged).toBe(1);
  });
});

describe('guards', () => {
  const manyChanges = (n: number) => {
    const users = Array.from({ length: n }, (_, i): [string, AssignableRole[]] => [id(i + 1), ['admin']]);
    const obs = observed(...users.map(([k]): [UserId, undefined, string[]] => [k as UserId, undefined, ['provider']]));
    return planOrg(desired(...users), obs, undefined, { now: 0 });
  };

  it('always allows 10 changes under a percentage, and refuses more than the budget', () => {
    expect(changeLimit({ kind: 'percent', percent: 25 }, 12)).toBe(10);
    expect(changeLimit({ kind: 'percent', percent: 25 }, 100)).toBe(25);
    expect(checkGuards([manyChanges(10)], { maxChanges: { kind: 'percent', percent: 25 } })).toEqual([]);
    const refusals = checkGuards([manyChanges(11)], { maxChanges: { kind: 'percent', percent: 25 } });
    expect(refusals.map((r) => r.kind)).toEqual(['max-changes']);
  });

  it('takes a count literally', () => {
    expect(checkGuards([manyChanges(3)], { maxChanges: { kind: 'count', count: 2 } }).map((r) => r.kind)).toEqual([
      'max-changes',
    ]);
    expect(checkGuards([manyChanges(3)], { maxChanges: { kind: 'count', count: 3 } })).toEqual([]);
  });

  it('refuses a plan that takes admin away from the acting user', () => {
    const plan = planOrg(
      desired([id(1), ['provider']]),
      observed([id(1), undefined, ['admin', 'provider']], [id(2), undefined, ['admin']]),
      undefined,
      { now: 0 },
    );
    const refusals = checkGuards([plan], {
      maxChanges: { kind: 'percent', percent: 25 },
      actingUsers: new Map([[ORG, id(1)]]),
    });
    expect(refusals.map((r) => r.kind)).toEqual(['self-admin']);
    expect(
      checkGuards([plan], { maxChanges: { kind: 'percent', percent: 25 }, actingUsers: new Map([[ORG, id(2)]]) }),
    ).toEqual([]);
  });
});
