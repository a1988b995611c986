import { describe, expect, it } from 'vitest';
import { nextWake, type DesiredState } from '../src/core/desired-state.js';
import { asLiveRole, parseOrgId, parseUserId, type OrgId, type UserId } from '../src/core/domain.js';
import { parseDesiredState } from '../src/core/file-model.js';
import { DEFAULT_MAX_CHANGES } from '../src/core/guards.js';
import { EMPTY_SNAPSHOT, type ObservedUser, type Snapshot } from '../src/core/observed-state.js';
import type { OrgOutcome } from '../src/core/outcome.js';
import { renderJson } from '../src/core/render/json.js';
import { renderMarkdown } from '../src/core/render/markdown.js';
import { renderText } from '../src/core/render/text.js';
import type { RunMode } from '../src/core/run-mode.js';
import { Reconciler, type CycleResult } from '../src/engine/reconciler.js';
import { silentLogger } from '../src/log.js';
import { WriteCoordinator } from '../src/queue/write-coordinator.js';
import { FakeParchment, type FakeCall, type FakeOrg } from './helpers/fake-parchment.js';

const ORG = parseOrgId('7fa84d2b-26d7-4c71-9b5b-e591eff97e7d')!;
const id = (n: number): UserId => parseUserId(`aaaaaaaa-0000-4000-8000-${String(n).padStart(12, '0')}`)!;
const ACTING = id(1);
const user = (n: number, email: string, ...roles: string[]): ObservedUser => ({
  id: id(n),
  email: email as ObservedUser['email'] & string,
  roles: roles.map(asLiveRole),
});

function desired(org: string, zone = 'UTC'): DesiredState {
  const text = `version: 1\ntimezone: ${zone}\norganizations:\n  ${ORG}:\n${org}`;
  const { state, problems } = parseDesiredState(text);
  if (state === undefined) throw new Error(problems.map((p) => p.message).join('\n'));
  return state;
}

const usersBlock = (...lines: string[]): string => `    users:\n${lines.map((l) => `      ${l}\n`).join('')}`;

interface Run {
  readonly result: CycleResult;
  readonly api: FakeParchment;
  readonly calls: FakeCall[];
}

class World {
  readonly api: FakeParchment;
  snapshot: Snapshot = EMPTY_SNAPSHOT;

  constructor(org: FakeOrg) {
    this.api = new FakeParchment(new Map([[ORG, org]]));
  }

  async cycle(
    state: DesiredState,
    opts: {
      mode?: RunMode;
      now?: Date;
      acting?: UserId | null;
      maxDisables?: number;
      force?: boolean;
    } = {},
  ): Promise<Run> {
    const before = this.api.calls.length;
    const acting = opts.acting === undefined ? ACTING : opts.acting;
    const reconciler = new Reconciler({
      api: this.api,
      mode: opts.mode ?? 'apply',
      coordinator: new WriteCoordinator(),
      logger: silentLogger(),
      now: () => opts.now ?? new Date('2027-01-28T00:00:00Z'),
      actingUsers: acting === null ? new Map() : new Map<OrgId, UserId>([[ORG, acting]]),
    });
    const result = await reconciler.cycle(state, this.snapshot, {
      maxChanges: DEFAULT_MAX_CHANGES,
      ...(opts.maxDisables !== undefined ? { maxDisables: opts.maxDisables } : {}),
      force: opts.force === true,
      source: { file: 'roles.yaml', sha256: 'x' },
    });
    if (result.refusals.length === 0) this.snapshot = result.snapshot;
    return { result, api: this.api, calls: this.api.calls.slice(before) };
  }
}

const writes = (calls: readonly FakeCall[]): string[] =>
  calls.flatMap((c) =>
    c.kind === 'put-roles'
      ? [`roles ${c.user} ${c.roles.join(',')}`]
      : c.kind === 'disable' || c.kind === 'enable'
        ? [`${c.kind} ${c.user}`]
        : [],
  );

function kinds(outcome: OrgOutcome | undefined): string[] {
  if (outcome === undefined || outcome.kind === 'unobserved') return [];
  return outcome.users.map((u) => (u.kind === 'write' ? `${u.entry.kind}/${u.result.state}` : u.entry.kind));
}

describe('disable and enable through the engine', () => {
  it('disables an offboarded user with PUT disable only; a second apply writes nothing', async () => {
    const w = new World({ users: [user(1, 'me@c.example', 'admin'), user(2, 'left@c.example', 'receptionist')] });
    const state = desired(usersBlock('me@c.example: [admin]', 'left@c.example: disabled'));
    const first = await w.cycle(state);
    expect(kinds(first.result.outcomes[0])).toEqual(['unchanged', 'disable/applied']);
    expect(writes(first.calls)).toEqual([`disable ${id(2)}`]);
    expect(w.api.roles(ORG, id(2))).toEqual(['member']);
    expect(first.result.report.organizations[0]!.accountChanges).toEqual([
      {
        kind: 'disable',
        user: { key: 'left@c.example', id: id(2), email: 'left@c.example' },
        from: ['receptionist'],
        cause: 'file',
        result: { state: 'applied' },
      },
    ]);
    expect(w.snapshot.organizations.get(ORG)?.applied.get(id(2))).toEqual(['member']);

    const second = await w.cycle(state);
    expect(kinds(second.result.outcomes[0])).toEqual(['unchanged', 'unchanged']);
    expect(writes(second.calls)).toEqual([]);
  });

  it('enables, then gives the roles, in that order; a second apply writes nothing', async () => {
    const w = new World({ users: [user(1, 'me@c.example', 'admin'), user(2, 'back@c.example', 'member')] });
    const state = desired(usersBlock('me@c.example: [admin]', 'back@c.example: {roles: [provider], enabled: true}'));
    const first = await w.cycle(state);
    expect(kinds(first.result.outcomes[0])).toEqual(['unchanged', 'enable/applied']);
    expect(writes(first.calls)).toEqual([`enable ${id(2)}`, `roles ${id(2)} provider`]);
    expect(w.api.roles(ORG, id(2))).toEqual(['provider']);
    const second = await w.cycle(state);
    expect(writes(second.calls)).toEqual([]);
  });

  it('leaves alone a user disabled in Parchment whose entry lacks enabled: true, saying how to re-enable', async () => {
    const w = new World({ users: [user(1, 'me@c.example', 'admin'), user(2, 'gone@c.example', 'member')] });
    const { result, calls } = await w.cycle(desired(usersBlock('me@c.example: [admin]', 'gone@c.example: [provider]')));
    expect(kinds(result.outcomes[0])).toEqual(['unchanged', 'disabled']);
    expect(writes(calls)).toEqual([]);
    expect(result.report.warnings.map((x) => x.message)).toContainEqual(
      expect.stringContaining('to bring them back, write gone@c.example: {roles: [provider], enabled: true}'),
    );
  });

  it('a dry run plans the enable and sends nothing', async () => {
    const w = new World({ users: [user(1, 'me@c.example', 'admin'), user(2, 'back@c.example', 'member')] });
    const state = desired(usersBlock('me@c.example: [admin]', 'back@c.example: {roles: [provider], enabled: true}'));
    const dry = await w.cycle(state, { mode: 'dry-run' });
    expect(kinds(dry.result.outcomes[0])).toEqual(['unchanged', 'enable/planned']);
    expect(writes(dry.calls)).toEqual([]);
  });
});

describe('expiring grants through the engine (an injected clock)', () => {
  const state = desired(
    usersBlock(
      'me@c.example: [admin]',
      'locum@c.example: {roles: [provider], until: 2027-01-31}',
      'casual@c.example: {roles: [receptionist, rx_reader], until: 2027-01-31T17:00:00+11:00, then: [receptionist]}',
    ),
    'Australia/Melbourne',
  );
  const world = (): World =>
    new World({
      users: [
        user(1, 'me@c.example', 'admin'),
        user(2, 'locum@c.example', 'provider'),
        user(3, 'casual@c.example', 'receptionist', 'rx_reader'),
      ],
    });

  it('before until, the grants stand and are listed soonest first with their time', async () => {
    const w = world();
    const { result, calls } = await w.cycle(state, { now: new Date('2027-01-28T01:00:00Z') });
    expect(writes(calls)).toEqual([]);
    const org = result.report.organizations[0]!;
    expect(org.expiring?.map((g) => [g.user.key, g.expires.shown])).toEqual([
      ['casual@c.example', '2027-01-31 17:00 +11:00'],
      ['locum@c.example', '2027-01-31 23:59 +11:00'],
    ]);
    expect(renderText(result.report, { colour: false })).toContain(
      '  * locum@c.example (aaaaaaaa…): provider expires 2027-01-31 23:59 +11:00, in 3 days; then disabled',
    );
    expect(renderMarkdown(result.report)).toContain(
      '- locum@c.example (aaaaaaaa…): provider expires 2027-01-31 23:59 +11:00, in 3 days; then disabled',
    );
    const json = JSON.parse(renderJson(result.report)) as { organizations: { expiring: unknown[] }[] };
    expect(json.organizations[0]!.expiring).toHaveLength(2);
  });

  it('from until on, each entry means its then: a role change, and a disable caused by the expiry', async () => {
    const w = world();
    const afterCasual = await w.cycle(state, { now: new Date('2027-01-31T06:00:00Z') });
    expect(writes(afterCasual.calls)).toEqual([`roles ${id(3)} receptionist`]);
    const afterLocum = await w.cycle(state, { now: new Date('2027-01-31T13:00:00Z') });
    expect(writes(afterLocum.calls)).toEqual([`disable ${id(2)}`]);
    const change = afterLocum.result.report.organizations[0]!.accountChanges?.[0];
    expect(change).toMatchObject({ kind: 'disable', cause: 'expired', expired: { shown: '2027-01-31 23:59 +11:00' } });
    const again = await w.cycle(state, { now: new Date('2027-02-01T00:00:00Z') });
    expect(writes(again.calls)).toEqual([]);
  });

  it('the daemon wakes at the next until, and past a timer’s longest wait in steps', () => {
    expect(nextWake(state, Date.parse('2027-01-31T05:59:59Z'))).toEqual({ kind: 'expire', delayMs: 1000 });
    expect(nextWake(state, Date.parse('2027-01-31T06:00:00Z'))).toEqual({
      kind: 'expire',
      delayMs: 7 * 3_600_000,
    });
    expect(nextWake(state, Date.parse('2027-01-31T13:00:00Z'))).toBeUndefined();
    expect(nextWake(state, Date.parse('2026-01-01T00:00:00Z'))).toEqual({ kind: 'wait', delayMs: 2 ** 31 - 1 });
  });
});

describe('unlisted: disable', () => {
  const org = (users: ObservedUser[]): FakeOrg => ({ users });
  const everyone = [
    user(1, 'me@c.example', 'admin'),
    user(2, 'listed@c.example', 'provider'),
    user(3, 'owner@c.example', 'owner', 'admin'),
    user(4, 'support@c.example', 'support'),
    user(5, 'odd@c.example', 'super_admin'),
    user(6, 'gone@c.example', 'member'),
    user(7, 'billing@c.example', 'admin'),
    user(8, 'break.glass@c.example', 'admin'),
    user(9, 'stale@c.example', 'receptionist'),
  ];
  const file = desired(
    `    unlisted: disable\n    keep: [billing@c.example, ${id(8)}, nobody@c.example]\n` +
      usersBlock('listed@c.example: [provider]'),
  );

  it('disables every unlisted user except the acting user, protected ones, disabled ones and keep', async () => {
    const w = new World(org(everyone));
    const { result, calls } = await w.cycle(file);
    expect(writes(calls)).toEqual([`disable ${id(9)}`]);
    const report = result.report.organizations[0]!;
    expect(report.accountChanges).toEqual([
      expect.objectContaining({
        kind: 'disable',
        cause: 'unlisted',
        from: ['receptionist'],
        result: { state: 'applied' },
      }),
    ]);
    expect(report.unmanaged.map((u) => [u.user.key, u.exempt])).toEqual([
      ['me@c.example', 'acting-user'],
      ['owner@c.example', 'protected'],
      ['support@c.example', 'protected'],
      ['odd@c.example', 'protected'],
      ['gone@c.example', 'disabled'],
      ['billing@c.example', 'keep'],
      ['break.glass@c.example', 'keep'],
    ]);
    const md = renderMarkdown(result.report);
    expect(md).toContain(
      '| stale@c.example (aaaaaaaa…) | disable (receptionist) | not in the file; unlisted: disable | applied |',
    );
    expect(md).toContain('- billing@c.example (aaaaaaaa…): admin (not disabled: in keep)');
    expect(renderText(result.report, { colour: false })).toContain(
      '      me@c.example (aaaaaaaa…): admin  (not disabled: the acting user)',
    );
    expect(report.unlisted).toEqual({
      policy: 'disable',
      keep: ['billing@c.example', id(8), 'nobody@c.example'],
    });
    expect(result.report.warnings.map((x) => x.message)).toContainEqual(
      `"keep" lists nobody@c.example (line 6), who is not in organization ${ORG}: it protects no one`,
    );
    // Not in the file, so not managed: it never becomes "no longer managed".
    expect([...w.snapshot.organizations.get(ORG)!.managed.keys()]).toEqual([id(2)]);
    const second = await w.cycle(file);
    expect(writes(second.calls)).toEqual([]);
  });

  it('disables no one while the acting user is unknown, and says so', async () => {
    const w = new World(org(everyone));
    const { result, calls } = await w.cycle(file, { acting: null });
    expect(writes(calls)).toEqual([]);
    expect(result.report.warnings.map((x) => x.message)).toContainEqual(
      expect.stringContaining('the acting user is unknown, so no unlisted user is disabled'),
    );
  });

  it('reads the roles of unlisted users a bare list does not carry before judging them', async () => {
    const w = new World({ users: everyone, bareList: true });
    const { calls } = await w.cycle(file);
    expect(calls.filter((c) => c.kind === 'get')).toHaveLength(everyone.length);
    expect(writes(calls)).toEqual([`disable ${id(9)}`]);
  });

  it('under unlisted: keep (the default) touches no one', async () => {
    const w = new World(org(everyone));
    const { calls } = await w.cycle(desired(usersBlock('listed@c.example: [provider]')));
    expect(writes(calls)).toEqual([]);
  });
});

describe('guards on disables', () => {
  const many = (n: number): ObservedUser[] => [
    user(1, 'me@c.example', 'admin'),
    ...Array.from({ length: n }, (_, i) => user(10 + i, `u${i}@c.example`, 'receptionist')),
  ];
  const offboardAll = (n: number): DesiredState =>
    desired(usersBlock('me@c.example: [admin]', ...Array.from({ length: n }, (_, i) => `u${i}@c.example: disabled`)));

  it('refuses more than --max-disables (default 3) per organization, writing nothing', async () => {
    const w = new World({ users: many(4) });
    const refused = await w.cycle(offboardAll(4));
    expect(refused.result.refusals.map((r) => r.kind)).toEqual(['max-disables']);
    expect(refused.result.refusals[0]!.message).toContain('4 disables exceed --max-disables 3');
    expect(writes(refused.calls)).toEqual([]);
    expect(kinds(refused.result.outcomes[0]).filter((k) => k.startsWith('disable'))).toEqual(
      Array(4).fill('disable/not-attempted'),
    );
    const allowed = await w.cycle(offboardAll(4), { maxDisables: 4 });
    expect(allowed.result.refusals).toEqual([]);
    expect(writes(allowed.calls)).toHaveLength(4);
  });

  it('counts unlisted disables too', async () => {
    const w = new World({ users: many(4) });
    const { result, calls } = await w.cycle(desired(`    unlisted: disable\n${usersBlock('me@c.example: [admin]')}`));
    expect(result.refusals.map((r) => r.kind)).toEqual(['max-disables']);
    expect(writes(calls)).toEqual([]);
  });

  it('never disables the acting user without --force', async () => {
    const w = new World({ users: [user(1, 'me@c.example', 'admin'), user(2, 'other@c.example', 'admin')] });
    const { result, calls } = await w.cycle(desired(usersBlock('me@c.example: disabled')));
    expect(result.refusals.map((r) => r.kind)).toEqual(['self-disable']);
    expect(writes(calls)).toEqual([]);
  });

  it('counts a disable that takes the last admin away in the no-admin guard', async () => {
    const w = new World({ users: [user(1, 'me@c.example', 'provider'), user(2, 'boss@c.example', 'admin')] });
    const { result, calls } = await w.cycle(desired(usersBlock('boss@c.example: disabled')));
    expect(result.refusals.map((r) => r.kind)).toEqual(['no-admin']);
    expect(writes(calls)).toEqual([]);
  });

  it('counts disables and enables in --max-changes', async () => {
    const users = [
      user(1, 'me@c.example', 'admin'),
      ...Array.from({ length: 11 }, (_, i) => user(10 + i, `u${i}@c.example`, i < 2 ? 'receptionist' : 'member')),
    ];
    const w = new World({ users });
    const lines = Array.from({ length: 11 }, (_, i) =>
      i < 2 ? `u${i}@c.example: disabled` : `u${i}@c.example: {roles: [provider], enabled: true}`,
    );
    const { result } = await w.cycle(desired(usersBlock('me@c.example: [admin]', ...lines)), { maxDisables: 5 });
    expect(result.refusals.map((r) => r.kind)).toEqual(['max-changes']);
    expect(result.refusals[0]!.message).toContain('11 changes exceed --max-changes 10');
  });
});
