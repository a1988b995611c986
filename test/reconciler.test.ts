import { describe, expect, it } from 'vitest';
import type { DesiredState } from '../src/core/desired-state.js';
import {
  asLiveRole,
  parseOrgId,
  parseUserId,
  parseUserRef,
  type AssignableRole,
  type OrgId,
  type UserId,
} from '../src/core/domain.js';
import { DEFAULT_MAX_CHANGES } from '../src/core/guards.js';
import { EMPTY_SNAPSHOT, type ObservedUser, type Snapshot } from '../src/core/observed-state.js';
import { credentialsRejected, failuresOf, type OrgOutcome } from '../src/core/outcome.js';
import type { RunMode } from '../src/core/run-mode.js';
import type { MaxChanges } from '../src/core/units.js';
import { Reconciler, type CycleResult } from '../src/engine/reconciler.js';
import { silentLogger } from '../src/log.js';
import { WriteCoordinator } from '../src/queue/write-coordinator.js';
import { FakeParchment, type FakeOrg, type PutBehaviour } from './helpers/fake-parchment.js';

const ORG = parseOrgId('7fa84d2b-26d7-4c71-9b5b-e591eff97e7d')!;
const ORG2 = parseOrgId('3b1f9c2e-8d4a-4e6b-9f1a-2c5d7e8f9a0b')!;
const id = (n: number): UserId => parseUserId(`aaaaaaaa-0000-4000-8000-${String(n).padStart(12, '0')}`)!;
const U1 = id(1);
const U2 = id(2);
const U3 = id(3);
const U9 = id(9);
const live = (user: UserId, ...roles: string[]): ObservedUser => ({ id: user, roles: roles.map(asLiveRole) });

interface OrgCase extends FakeOrg {
  readonly id: OrgId;
  /** Key in the file → roles wanted. */
  readonly desired: Readonly<Record<string, readonly AssignableRole[]>>;
}

/** What the snapshot holds for one organization, as plain data. */
interface OrgView {
  readonly managed: readonly string[];
  readonly observed: Readonly<Record<string, readonly string[]>>;
  readonly applied: Readonly<Record<string, readonly string[]>>;
}

interface Case {
  readonly name: string;
  readonly mode: RunMode;
  readonly orgs: readonly OrgCase[];
  readonly put?: ReadonlyMap<UserId, PutBehaviour>;
  readonly maxChanges?: MaxChanges;
  readonly actingUsers?: ReadonlyMap<OrgId, UserId>;
  readonly before?: Snapshot;
  readonly expected: {
    /** Per organization: its outcome kind and, per user in file order, `entry kind` or `entry kind/result`. */
    readonly outcomes: readonly { readonly kind: OrgOutcome['kind']; readonly users?: readonly string[] }[];
    readonly refusals?: readonly string[];
    /** Role writes the fake received. */
    readonly writes: number;
    readonly failures?: readonly string[];
    readonly credentialsRejected?: readonly OrgId[];
    readonly snapshot: Readonly<Record<OrgId, OrgView>>;
  };
}

const PREVIOUS: Snapshot = {
  organizations: new Map([
    [ORG, { managed: new Map([[U1, { key: U1 }]]), observed: new Map(), applied: new Map([[U1, ['admin']]]) }],
  ]),
};

const cases: readonly Case[] = [
  {
    name: 'apply writes the change and moves the applied roles',
    mode: 'apply',
    orgs: [
      {
        id: ORG,
        desired: { [U1]: ['admin', 'provider'], [U2]: ['receptionist'] },
        users: [live(U1, 'provider'), live(U2, 'receptionist'), live(U9, 'admin')],
      },
    ],
    expected: {
      outcomes: [{ kind: 'observed', users: ['change/applied', 'unchanged'] }],
      writes: 1,
      snapshot: {
        [ORG]: {
          managed: [U1, U2],
          observed: { [U1]: ['admin', 'provider'], [U2]: ['receptionist'], [U9]: ['admin'] },
          applied: { [U1]: ['admin', 'provider'], [U2]: ['receptionist'] },
        },
      },
    },
  },
  {
    name: 'dry-run sends nothing and keeps the change planned',
    mode: 'dry-run',
    orgs: [
      { id: ORG, desired: { [U1]: ['admin', 'provider'], [U2]: ['receptionist'] }, users: [live(U1, 'provider')] },
    ],
    expected: {
      outcomes: [{ kind: 'observed', users: ['change/planned', 'not-found'] }],
      writes: 0,
      failures: ['not-found'],
      snapshot: { [ORG]: { managed: [U1], observed: { [U1]: ['provider'] }, applied: {} } },
    },
  },
  {
    name: 'a guard refuses the apply: nothing is sent, every change is not attempted',
    mode: 'apply',
    maxChanges: { kind: 'count', count: 1 },
    orgs: [
      {
        id: ORG,
        desired: { [U1]: ['admin'], [U2]: ['admin'], [U3]: ['provider'] },
        users: [live(U1, 'provider'), live(U2, 'provider'), live(U3, 'provider')],
      },
    ],
    before: PREVIOUS,
    expected: {
      outcomes: [{ kind: 'observed', users: ['change/not-attempted', 'change/not-attempted', 'unchanged'] }],
      refusals: ['max-changes'],
      writes: 0,
      snapshot: {
        [ORG]: {
          managed: [U1, U2, U3],
          observed: { [U1]: ['provider'], [U2]: ['provider'], [U3]: ['provider'] },
          applied: { [U1]: ['admin'], [U3]: ['provider'] },
        },
      },
    },
  },
  {
    name: 'a plan only warns about a guard: nothing is refused',
    mode: 'plan',
    actingUsers: new Map([[ORG, U1]]),
    orgs: [{ id: ORG, desired: { [U1]: ['provider'] }, users: [live(U1, 'admin', 'provider')] }],
    expected: {
      outcomes: [{ kind: 'observed', users: ['change/planned'] }],
      refusals: [],
      writes: 0,
      snapshot: { [ORG]: { managed: [U1], observed: { [U1]: ['admin', 'provider'] }, applied: {} } },
    },
  },
  {
    name: 'the acting user losing admin refuses the apply, though another admin is left',
    mode: 'apply',
    actingUsers: new Map([[ORG, U1]]),
    orgs: [{ id: ORG, desired: { [U1]: ['provider'] }, users: [live(U1, 'admin', 'provider'), live(U2, 'admin')] }],
    expected: {
      outcomes: [{ kind: 'observed', users: ['change/not-attempted'] }],
      refusals: ['self-admin'],
      writes: 0,
      snapshot: {
        [ORG]: { managed: [U1], observed: { [U1]: ['admin', 'provider'], [U2]: ['admin'] }, applied: {} },
      },
    },
  },
  {
    name: 'a plan that leaves the organization without an admin refuses the apply',
    mode: 'apply',
    actingUsers: new Map([[ORG, U1]]),
    orgs: [{ id: ORG, desired: { [U2]: ['provider'] }, users: [live(U1, 'provider'), live(U2, 'admin')] }],
    expected: {
      outcomes: [{ kind: 'observed', users: ['change/not-attempted'] }],
      refusals: ['no-admin'],
      writes: 0,
      snapshot: { [ORG]: { managed: [U2], observed: { [U1]: ['provider'], [U2]: ['admin'] }, applied: {} } },
    },
  },
  {
    name: 'rejected credentials stop the writes of that organization only',
    mode: 'apply',
    put: new Map([
      [U1, { kind: 'auth' }],
      [U2, { kind: 'auth' }],
    ]),
    orgs: [
      { id: ORG, desired: { [U1]: ['admin'], [U2]: ['admin'] }, users: [live(U1, 'provider'), live(U2, 'provider')] },
      { id: ORG2, desired: { [U3]: ['admin'] }, users: [live(U3, 'provider')] },
    ],
    before: PREVIOUS,
    expected: {
      outcomes: [
        { kind: 'auth-stopped', users: ['change/failed', 'change/failed'] },
        { kind: 'observed', users: ['change/applied'] },
      ],
      writes: 3,
      failures: ['auth', 'auth', 'auth'],
      credentialsRejected: [ORG],
      snapshot: {
        [ORG]: {
          managed: [U1, U2],
          observed: { [U1]: ['provider'], [U2]: ['provider'] },
          applied: { [U1]: ['admin'] },
        },
        [ORG2]: { managed: [U3], observed: { [U3]: ['admin'] }, applied: { [U3]: ['admin'] } },
      },
    },
  },
  {
    name: 'a PUT answered with other roles is a mismatch, not applied',
    mode: 'apply',
    put: new Map([[U1, { kind: 'answer', roles: [asLiveRole('provider')] }]]),
    orgs: [{ id: ORG, desired: { [U1]: ['admin', 'provider'] }, users: [live(U1, 'provider')] }],
    expected: {
      outcomes: [{ kind: 'observed', users: ['change/failed'] }],
      writes: 1,
      failures: ['mismatch'],
      snapshot: { [ORG]: { managed: [U1], observed: { [U1]: ['provider'] }, applied: {} } },
    },
  },
  {
    name: 'a rejected write fails that user; the others are written',
    mode: 'apply',
    put: new Map([[U1, { kind: 'status', status: 422 }]]),
    orgs: [{ id: ORG, desired: { [U1]: ['admin'], [U2]: ['admin'] }, users: [live(U1), live(U2, 'provider')] }],
    expected: {
      outcomes: [{ kind: 'observed', users: ['change/failed', 'change/applied'] }],
      writes: 2,
      failures: ['rejected'],
      snapshot: { [ORG]: { managed: [U1, U2], observed: { [U1]: [], [U2]: ['admin'] }, applied: { [U2]: ['admin'] } } },
    },
  },
  {
    name: 'a user not in the organization is a failure and is not remembered as managed',
    mode: 'apply',
    orgs: [{ id: ORG, desired: { 'nobody@x.example': ['admin'], [U1]: ['admin'] }, users: [live(U1, 'admin')] }],
    expected: {
      outcomes: [{ kind: 'observed', users: ['not-found', 'unchanged'] }],
      writes: 0,
      failures: ['not-found'],
      snapshot: { [ORG]: { managed: [U1], observed: { [U1]: ['admin'] }, applied: { [U1]: ['admin'] } } },
    },
  },
  {
    name: 'a protected user is never written and not counted as applied',
    mode: 'apply',
    orgs: [{ id: ORG, desired: { [U1]: ['admin'] }, users: [live(U1, 'owner', 'admin')] }],
    expected: {
      outcomes: [{ kind: 'observed', users: ['protected'] }],
      writes: 0,
      snapshot: { [ORG]: { managed: [U1], observed: { [U1]: ['admin', 'owner'] }, applied: {} } },
    },
  },
  {
    name: 'an organization that cannot be listed keeps its previous snapshot',
    mode: 'apply',
    orgs: [{ id: ORG, desired: { [U1]: ['provider'] }, users: [live(U1, 'admin')], listStatus: 500 }],
    before: PREVIOUS,
    expected: {
      outcomes: [{ kind: 'unobserved' }],
      writes: 0,
      failures: ['observe'],
      snapshot: { [ORG]: { managed: [U1], observed: {}, applied: { [U1]: ['admin'] } } },
    },
  },
  {
    name: 'credentials rejected while listing: unobserved, and the credentials count as rejected',
    mode: 'apply',
    orgs: [{ id: ORG, desired: { [U1]: ['provider'] }, users: [live(U1, 'admin')], listStatus: 401 }],
    expected: {
      outcomes: [{ kind: 'unobserved' }],
      writes: 0,
      failures: ['auth'],
      credentialsRejected: [ORG],
      snapshot: {},
    },
  },
  {
    name: 'a list without roles makes the engine read each managed user, and only those',
    mode: 'apply',
    orgs: [
      {
        id: ORG,
        desired: { [U1]: ['admin'] },
        users: [live(U1, 'provider'), live(U9, 'admin')],
        bareList: true,
      },
    ],
    expected: {
      outcomes: [{ kind: 'observed', users: ['change/applied'] }],
      writes: 1,
      snapshot: { [ORG]: { managed: [U1], observed: { [U1]: ['admin'] }, applied: { [U1]: ['admin'] } } },
    },
  },
];

function desiredState(orgs: readonly OrgCase[]): DesiredState {
  return {
    version: 1,
    timezone: 'UTC',
    organizations: orgs.map((o) => ({
      id: o.id,
      pos: { line: 1, col: 1 },
      unlisted: 'keep',
      keep: [],
      users: Object.entries(o.desired).map(([key, roles], i) => ({
        key,
        ref: parseUserRef(key)!,
        entry: { kind: 'roles', roles, enable: false },
        pos: { line: i + 2, col: 5 },
      })),
    })),
  };
}

function userSummary(outcome: OrgOutcome): string[] | undefined {
  if (outcome.kind === 'unobserved') return undefined;
  return outcome.users.map((u) => (u.kind === 'write' ? `${u.entry.kind}/${u.result.state}` : u.entry.kind));
}

function view(snapshot: Snapshot): Record<string, OrgView> {
  const sorted = (m: ReadonlyMap<UserId, readonly string[]>) => Object.fromEntries([...m].sort());
  return Object.fromEntries(
    [...snapshot.organizations].map(([org, s]) => [
      org,
      { managed: [...s.managed.keys()].sort(), observed: sorted(s.observed), applied: sorted(s.applied) },
    ]),
  );
}

async function run(c: Case): Promise<{ result: CycleResult; api: FakeParchment }> {
  const api = new FakeParchment(new Map(c.orgs.map((o) => [o.id, o])), c.put);
  const reconciler = new Reconciler({
    api,
    mode: c.mode,
    coordinator: new WriteCoordinator(),
    logger: silentLogger(),
    now: () => new Date(0),
    actingUsers: c.actingUsers ?? new Map(),
  });
  const result = await reconciler.cycle(desiredState(c.orgs), c.before ?? EMPTY_SNAPSHOT, {
    maxChanges: c.maxChanges ?? DEFAULT_MAX_CHANGES,
    force: false,
    source: { file: 'roles.yaml', sha256: 'x' },
  });
  return { result, api };
}

describe('Reconciler.cycle over an in-memory Parchment', () => {
  it.each(cases)('$name', async (c) => {
    const { result, api } = await run(c);
    const { expected } = c;
    expect(
      result.outcomes.map((o) => ({ kind: o.kind, ...(o.kind === 'unobserved' ? {} : { users: userSummary(o) }) })),
    ).toEqual(expected.outcomes);
    expect(result.refusals.map((r) => r.kind)).toEqual(expected.refusals ?? []);
    expect(api.calls.filter((call) => call.kind === 'put-roles')).toHaveLength(expected.writes);
    expect(result.outcomes.flatMap((o) => failuresOf(o).map((f) => f.reason))).toEqual(expected.failures ?? []);
    // Every rendering shows a failure under its organization and user: the message names neither again.
    for (const f of result.outcomes.flatMap(failuresOf)) {
      expect(f.message).not.toContain(ORG);
      if (f.user !== undefined) expect(f.message).not.toContain(f.user.key);
    }
    expect(
      result.outcomes.filter(credentialsRejected).map((o) => (o.kind === 'unobserved' ? o.org.id : o.plan.id)),
    ).toEqual(expected.credentialsRejected ?? []);
    expect(view(result.snapshot)).toEqual(expected.snapshot);
    // The report renders the same outcomes: its failures are the outcomes' failures.
    expect(result.report.summary.failed).toBe(expected.failures?.length ?? 0);
  });

  it('names the failure that stopped the writes once, at the organization, with the user in its message', async () => {
    const { result } = await run(cases.find((c) => c.name.startsWith('rejected credentials'))!);
    const stopped = result.outcomes[0]!;
    expect(stopped.kind).toBe('auth-stopped');
    if (stopped.kind !== 'auth-stopped') return;
    expect(stopped.failure).toMatchObject({ reason: 'auth', status: 401, requestId: 'req-err' });
    // Shown under the organization: it names the user whose write met the refusal, and the organization not at all.
    expect(stopped.failure.message).toMatch(new RegExp(`^writes stopped at ${U1}: `));
    expect(stopped.failure.message).not.toContain(ORG);
  });

  it('keeps the requestId of a mismatching answer', async () => {
    const { result } = await run(cases.find((c) => c.name.includes('mismatch'))!);
    const [failure] = failuresOf(result.outcomes[0]!);
    expect(failure).toMatchObject({ reason: 'mismatch', requestId: `put-${U1}` });
    expect(failure!.message).toMatch(/answered with roles \[provider\] instead of \[admin, provider\]/);
  });

  it('reads only the managed users when the list carries no roles', async () => {
    const { api } = await run(cases.find((c) => c.name.startsWith('a list without roles'))!);
    expect(api.calls.filter((call) => call.kind === 'get').map((call) => call.user)).toEqual([U1]);
  });

  it('stores what it wrote: a second cycle over the result has nothing to do', async () => {
    const c = cases[0]!;
    const api = new FakeParchment(new Map(c.orgs.map((o) => [o.id, o])));
    const reconciler = new Reconciler({
      api,
      mode: 'apply',
      coordinator: new WriteCoordinator(),
      logger: silentLogger(),
      now: () => new Date(0),
    });
    const opts = { maxChanges: DEFAULT_MAX_CHANGES, force: false, source: { file: 'roles.yaml', sha256: 'x' } };
    const first = await reconciler.cycle(desiredState(c.orgs), EMPTY_SNAPSHOT, opts);
    const second = await reconciler.cycle(desiredState(c.orgs), first.snapshot, opts);
    expect(userSummary(second.outcomes[0]!)).toEqual(['unchanged', 'unchanged']);
    expect(view(second.snapshot)).toEqual(view(first.snapshot));
  });
});
