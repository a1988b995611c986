/**
 * The access lifecycle through the real CLI against the simulator: offboarding (`disabled`),
 * bringing someone back (`enabled: true`, enable strictly before roles), a user disabled outside
 * role-sync left alone, `unlisted: disable` with every exemption, the `--max-disables` guard, and
 * grants whose `until` has passed.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  DEMO_PARTNER,
  startSimulator,
  type RunningSimulator,
  type SimSeed,
  type SimUser,
} from '../src/simulator/index.js';
import { liveEnv, puts, runCli, workspace, type Workspace } from './helpers/live-cli.js';
import { ACTING_USER, ORG, ORG_SECRET } from './helpers/live-seed.js';

let sim: RunningSimulator | undefined;
let ws: Workspace | undefined;

afterEach(async () => {
  await sim?.close();
  await ws?.remove();
  sim = undefined;
  ws = undefined;
});

const u = (id: string, roles: string[], extra: Partial<SimUser> = {}): SimUser => ({
  id,
  email: `${id}@c.example`,
  roles,
  ...extra,
});

const ME = u(ACTING_USER, ['admin', 'provider']);

function seed(users: SimUser[]): SimSeed {
  return {
    partners: [{ ...DEMO_PARTNER }],
    organizations: [{ id: ORG, name: 'Collins', secret: ORG_SECRET, users: [ME, ...users] }],
  };
}

function file(users: string[], org = ''): string {
  return [
    'version: 1',
    'timezone: Australia/Melbourne',
    'organizations:',
    `  ${ORG}:`,
    '    name: Collins',
    ...(org === '' ? [] : [org]),
    '    users:',
    `      ${ACTING_USER}: [admin, provider]`,
    ...users.map((l) => `      ${l}`),
    '',
  ].join('\n');
}

async function setUp(users: SimUser[], yaml: string) {
  sim = await startSimulator({ seed: seed(users) });
  ws = await workspace('rs-lifecycle-');
  const config = await ws.file('roles.yaml', yaml);
  return { s: sim, config, env: liveEnv({ sim, stateDir: ws.stateDir }) };
}

/** The writes the simulator answered, in order: `disable id`, `enable id`, `roles id a,b`. */
function writes(s: RunningSimulator): string[] {
  return puts(s.requests()).map((r) => {
    const action = r.route.split('/').at(-1)!;
    if (action !== 'roles') return `${action} ${r.userId}`;
    return `roles ${r.userId} ${((r.body as { access_roles: string[] }).access_roles ?? []).join(',')}`;
  });
}

interface Report {
  organizations: {
    accountChanges?: { kind: string; user: { key: string }; cause?: string; result: { state: string } }[];
    unmanaged: { user: { key: string }; exempt?: string }[];
    skipped: { user: { key: string }; reason: string }[];
    expiring?: { user: { key: string }; expires: { shown: string } }[];
  }[];
  summary: { disables: number; enables: number; applied: number; pending: number };
  warnings: { message: string }[];
}

describe('offboarding and bringing someone back', () => {
  it('disables with PUT disable and nothing else; a second apply writes nothing', async () => {
    const { s, config, env } = await setUp(
      [u('left', ['receptionist', 'rx_reader'])],
      file(['left@c.example: disabled']),
    );
    const first = await runCli(['apply', '-c', config, '--format', 'json'], env);
    expect(first.code, first.stderr).toBe(0);
    expect(writes(s)).toEqual(['disable left']);
    expect(s.user(ORG, 'left')).toMatchObject({ roles: ['member'], disabled: true });
    const report = JSON.parse(first.stdout) as Report;
    expect(report.organizations[0]!.accountChanges).toEqual([
      expect.objectContaining({ kind: 'disable', cause: 'file', result: { state: 'applied' } }),
    ]);
    expect(report.summary).toMatchObject({ disables: 1, applied: 1 });

    s.clearRequests();
    const second = await runCli(['apply', '-c', config], env);
    expect(second.code, second.stderr).toBe(0);
    expect(writes(s)).toEqual([]);
    expect(second.stdout).toContain('2 unchanged');
  });

  it('plan shows the disable as a revocation of every role, and writes nothing', async () => {
    const { s, config, env } = await setUp([u('left', ['admin', 'provider'])], file(['left@c.example: disabled']));
    const plan = await runCli(['plan', '-c', config, '--detailed-exitcode'], env);
    expect(plan.code, plan.stderr).toBe(2);
    expect(plan.stdout).toContain(
      '  - left@c.example (left@c.example, left): disable (admin, provider)  (the file says disabled)',
    );
    expect(writes(s)).toEqual([]);
  });

  it('enables, then gives the roles, strictly in that order (the request log); then nothing to do', async () => {
    const { s, config, env } = await setUp(
      [u('back', ['member'], { disabled: true })],
      file(['back@c.example: {roles: [receptionist, rx_reader], enabled: true}']),
    );
    const apply = await runCli(['apply', '-c', config], env);
    expect(apply.code, apply.stderr).toBe(0);
    expect(apply.stdout).toContain(
      '  + back@c.example (back@c.example, back): enable, then member -> receptionist, rx_reader',
    );
    expect(writes(s)).toEqual(['enable back', 'roles back receptionist,rx_reader']);
    const [enable, roles] = puts(s.requests());
    expect(enable!.seq).toBeLessThan(roles!.seq);
    expect(roles!.status).toBe(200);
    expect(s.user(ORG, 'back')).toMatchObject({ roles: ['receptionist', 'rx_reader'] });
    expect(s.user(ORG, 'back')?.disabled).toBeUndefined();

    s.clearRequests();
    expect((await runCli(['apply', '-c', config], env)).code).toBe(0);
    expect(writes(s)).toEqual([]);
  });

  it('leaves a user disabled outside role-sync alone, and says how to re-enable through the file', async () => {
    const { s, config, env } = await setUp(
      [u('emergency', ['member'], { disabled: true })],
      file(['emergency@c.example: [provider]']),
    );
    const apply = await runCli(['apply', '-c', config, '--format', 'json'], env);
    expect(apply.code, apply.stderr).toBe(0);
    expect(writes(s)).toEqual([]);
    const report = JSON.parse(apply.stdout) as Report;
    expect(report.organizations[0]!.skipped).toEqual([
      expect.objectContaining({ user: expect.objectContaining({ key: 'emergency@c.example' }), reason: 'disabled' }),
    ]);
    expect(report.warnings.map((w) => w.message)).toContainEqual(
      expect.stringContaining('write emergency@c.example: {roles: [provider], enabled: true}'),
    );
    expect(s.user(ORG, 'emergency')).toMatchObject({ roles: ['member'], disabled: true });
  });
});

describe('unlisted: disable', () => {
  it('disables unlisted users, never owners, support, unknown roles, disabled users or keep', async () => {
    const users = [
      u('owner', ['owner', 'admin']),
      u('support', ['support']),
      u('odd', ['super_admin']),
      u('gone', ['member'], { disabled: true }),
      u('billing', ['admin']),
      u('glass', ['admin']),
      u('stale', ['receptionist']),
      u('old-locum', ['provider']),
    ];
    // The acting user is in the file here; an unlisted one is exempt too (see the next case).
    const { s, config, env } = await setUp(
      users,
      file([], '    unlisted: disable\n    keep: [billing@c.example, glass, nobody@c.example]'),
    );
    const plan = await runCli(['plan', '-c', config], env);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toContain('    unlisted: disable (keep: billing@c.example, glass, nobody@c.example)');
    expect(plan.stdout).toContain(
      '  - stale@c.example (stale@c.example, stale): disable (receptionist)  (not in the file; unlisted: disable)',
    );

    const apply = await runCli(['apply', '-c', config, '--format', 'json'], env);
    expect(apply.code, apply.stderr).toBe(0);
    expect(writes(s).sort()).toEqual(['disable old-locum', 'disable stale']);
    const report = JSON.parse(apply.stdout) as Report;
    expect(report.organizations[0]!.unmanaged.map((m) => [m.user.key, m.exempt])).toEqual([
      ['billing@c.example', 'keep'],
      ['glass@c.example', 'keep'],
      ['gone@c.example', 'disabled'],
      ['odd@c.example', 'protected'],
      ['owner@c.example', 'protected'],
      ['support@c.example', 'protected'],
    ]);
    expect(report.warnings.map((w) => w.message)).toContainEqual(
      `"keep" lists nobody@c.example (line 7), who is not in organization ${ORG}: it protects no one`,
    );
    s.clearRequests();
    expect((await runCli(['apply', '-c', config], env)).code).toBe(0);
    expect(writes(s)).toEqual([]);
  });

  it('never disables the acting user when the file does not list it', async () => {
    const { s, config, env } = await setUp(
      [u('stale', ['receptionist'])],
      ['version: 1', 'organizations:', `  ${ORG}:`, '    unlisted: disable', '    users: {}', ''].join('\n'),
    );
    const apply = await runCli(['apply', '-c', config, '--format', 'json'], env);
    expect(apply.code, apply.stderr).toBe(0);
    expect(writes(s)).toEqual(['disable stale']);
    const report = JSON.parse(apply.stdout) as Report;
    expect(report.organizations[0]!.unmanaged.map((m) => [m.user.key, m.exempt])).toEqual([
      [ACTING_USER, 'acting-user'],
    ]);
  });
});

describe('--max-disables', () => {
  const four = ['a', 'b', 'c', 'd'].map((n) => u(n, ['receptionist']));
  const yaml = file(four.map((x) => `${x.email}: disabled`));

  it('refuses more than 3 disables per organization by default: exit 3, nothing written', async () => {
    const { s, config, env } = await setUp(four, yaml);
    const refused = await runCli(['apply', '-c', config], env);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain('4 disables exceed --max-disables 3');
    expect(writes(s)).toEqual([]);
    const allowed = await runCli(['apply', '-c', config, '--max-disables', '4'], env);
    expect(allowed.code, allowed.stderr).toBe(0);
    expect(writes(s).sort()).toEqual(['disable a', 'disable b', 'disable c', 'disable d']);
  });

  it('rejects a value that is not a count', async () => {
    const { config, env } = await setUp(four, yaml);
    const bad = await runCli(['apply', '-c', config, '--max-disables', 'lots'], env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('"lots" is not a count of disables');
  });
});

describe('grants whose until has passed', () => {
  it('warns at the until and plans their then: disabled, or a role list', async () => {
    const { s, config, env } = await setUp(
      [u('locum', ['provider']), u('casual', ['receptionist', 'rx_reader']), u('next', ['provider'])],
      file([
        'locum@c.example: {roles: [provider], until: 2020-01-31}',
        'casual@c.example: {roles: [receptionist, rx_reader], until: "2020-02-01T09:00:00+11:00", ' +
          'then: [receptionist]}',
        'next@c.example: {roles: [provider], until: 2099-12-31}',
      ]),
    );
    const apply = await runCli(['apply', '-c', config, '--format', 'json'], env);
    expect(apply.code, apply.stderr).toBe(0);
    const warned = apply.stderr.split('\n').filter((l) => l.includes('update or remove "until"'));
    expect(warned).toHaveLength(2);
    expect(warned[0]).toMatch(/:8:\d+: warning: the grant of locum@c\.example ended 2020-01-31 23:59 \+11:00 \(/);
    expect(warned[1]).toMatch(/:9:\d+: warning: the grant of casual@c\.example ended 2020-02-01 09:00 \+11:00 \(/);
    expect(writes(s).sort()).toEqual(['disable locum', 'roles casual receptionist']);
    const report = JSON.parse(apply.stdout) as Report;
    expect(report.organizations[0]!.accountChanges).toEqual([
      expect.objectContaining({ kind: 'disable', cause: 'expired', result: { state: 'applied' } }),
    ]);
  });
});
