/**
 * Identity is never guessed, through the real CLI against the simulator's hostile
 * cases: one email on two accounts, one id on two list pages, two keys for one user, a read or a
 * write answered for another user, the vendor's list shape without emails, live roles role-sync
 * cannot give back, and the guards that stand in when the acting user is unknown.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { RecordedRequest, RunningSimulator, SimOptions, SimSeed, SimUser } from '../src/simulator/index.js';
import { DEMO_PARTNER, startSimulator } from '../src/simulator/index.js';
import { EMAIL_READ_WINDOW } from '../src/engine/observe.js';
import { jsonReport, liveEnv, puts, runCli, workspace, type Workspace } from './helpers/live-cli.js';
import { ACTING_USER, buildWorld, divergent, emailOf, ORG, ORG_SECRET, userId } from './helpers/live-seed.js';
import { mintToken } from './helpers/sim-http.js';

let sim: RunningSimulator | undefined;
let ws: Workspace | undefined;

afterEach(async () => {
  await sim?.close();
  await ws?.remove();
  sim = undefined;
  ws = undefined;
});

async function setUp(
  seed: SimSeed,
  yaml: string,
  opts: Omit<SimOptions, 'seed'> = {},
): Promise<{ s: RunningSimulator; config: string; env: Record<string, string> }> {
  sim = await startSimulator({ seed, ...opts });
  ws = await workspace('rs-identity-');
  const config = await ws.file('roles.yaml', yaml);
  return { s: sim, config, env: liveEnv({ sim, stateDir: ws.stateDir }) };
}

function seedOf(users: SimUser[], extra: { legacyEmails?: boolean } = {}): SimSeed {
  return {
    partners: [{ ...DEMO_PARTNER }],
    organizations: [{ id: ORG, name: 'Collins Street Clinic', secret: ORG_SECRET, ...extra, users }],
  };
}

function fileOf(...lines: string[]): string {
  return ['version: 1', 'organizations:', `  ${ORG}:`, '    users:', ...lines.map((l) => `      ${l}`), ''].join('\n');
}

const ACTING: SimUser = { id: ACTING_USER, email: 'dr.ahmed@collins.example', roles: ['admin', 'provider'] };
const USER_ROUTE = 'GET /v1/organizations/{organization_id}/users/{user_id}';
const reads = (requests: readonly RecordedRequest[]) => requests.filter((r) => r.route === USER_ROUTE);
const putTo = (requests: readonly RecordedRequest[], id: string) => puts(requests).filter((r) => r.userId === id);

describe('one key, several live users: ambiguous, nothing sent to any of them', () => {
  it.each(['rs', 'bare'] as const)(
    'fails an email held by two accounts in different case (%s shape), and still applies the others',
    async (listShape) => {
      const seed = seedOf(
        [
          ACTING,
          { id: 'legacy-1', email: 'Dr.A@collins.example', roles: ['provider'] },
          { id: 'legacy-2', email: 'dr.a@collins.example', roles: ['receptionist'] },
          { id: 'other', email: 'other@collins.example', roles: ['receptionist'] },
        ],
        { legacyEmails: true },
      );
      const yaml = fileOf(`${ACTING_USER}: [admin, provider]`, 'dr.a@collins.example: [admin]', 'other: [provider]');
      const { s, config, env } = await setUp(seed, yaml, { listShape });

      const run = await runCli(['apply', '-c', config, '--format', 'json'], env);
      expect(run.code, run.stderr).toBe(1);
      const org = jsonReport(run).organizations[0]!;
      expect(org.failures).toEqual([
        expect.objectContaining({
          user: expect.objectContaining({ key: 'dr.a@collins.example' }),
          reason: 'ambiguous',
          message: expect.stringMatching(/one email on 2 Parchment accounts \(legacy-1, legacy-2\)/),
        }),
      ]);
      expect(putTo(s.requests(), 'legacy-1')).toEqual([]);
      expect(putTo(s.requests(), 'legacy-2')).toEqual([]);
      expect(s.user(ORG, 'other')?.roles).toEqual(['provider']);
      // Neither account is reported as unmanaged: the file names them, if ambiguously.
      expect(org.unmanaged).toEqual([]);

      const text = await runCli(['plan', '-c', config], env);
      expect(text.stdout).toMatch(/dr\.a@collins\.example.*failed, ambiguous/);
      const markdown = await runCli(['plan', '-c', config, '--format', 'markdown'], env);
      expect(markdown.stdout).toMatch(/dr\.a@collins\.example.*: ambiguous/);
    },
  );

  it('fails every user whose id the list returns on two pages; the rest of the organization is applied', async () => {
    // Sorted ids: a7748dfd…, other0-2, u00000-u00009; pages of 3 repeat the users at 2, 5, 8 and 11.
    const world = buildWorld({ users: 10, changes: 3, emailEvery: 0 });
    const { s, config, env } = await setUp(world.seed, world.yaml, {
      listShape: 'rs',
      pageSize: 3,
      overlapPages: true,
    });

    const run = await runCli(['apply', '-c', config, '--format', 'json'], env);
    expect(run.code, run.stderr).toBe(1);
    const org = jsonReport(run).organizations[0]!;
    expect(org.failures.map((f) => [f.user?.key, f.reason])).toEqual([
      [userId(1), 'ambiguous'],
      [userId(4), 'ambiguous'],
      [userId(7), 'ambiguous'],
    ]);
    expect(org.failures[0]!.message).toContain(`Parchment listed user ${userId(1)} 2 times`);
    expect(putTo(s.requests(), userId(1))).toEqual([]);
    expect(divergent(s, new Map([0, 2].map((i) => [userId(i), world.desired.get(userId(i))!])))).toEqual([]);
    // A repeated unmanaged user is listed once.
    expect(org.unmanaged.map((u) => u.user.id)).toEqual(['other0', 'other1', 'other2']);
  });

  it('fails both keys when an id key and an email key name one user, and writes neither', async () => {
    const world = buildWorld({ users: 6, changes: 0, emailEvery: 0 });
    const yaml = world.yaml.replace(/\n$/, `\n      ${emailOf(3)}: [admin]\n`);
    const { s, config, env } = await setUp(world.seed, yaml, { listShape: 'rs' });

    const run = await runCli(['apply', '-c', config, '--format', 'json'], env);
    expect(run.code, run.stderr).toBe(1);
    const org = jsonReport(run).organizations[0]!;
    expect(org.failures.map((f) => [f.user?.key, f.reason])).toEqual([
      [userId(3), 'ambiguous'],
      [emailOf(3), 'ambiguous'],
    ]);
    expect(puts(s.requests())).toEqual([]);
  });
});

describe('an answer for another user', () => {
  it('fails a user whose read answers for someone else, and never redirects the write there', async () => {
    // The bare shape has no roles: each managed user is read, and the read decides what is written.
    const world = buildWorld({ users: 5, changes: 2, emailEvery: 1 });
    const { s, config, env } = await setUp(world.seed, world.yaml, {
      listShape: 'bare',
      wrongUser: { [userId(0)]: userId(3) },
    });

    const run = await runCli(['apply', '-c', config, '--format', 'json'], env);
    expect(run.code, run.stderr).toBe(1);
    const org = jsonReport(run).organizations[0]!;
    expect(org.failures).toEqual([
      expect.objectContaining({
        user: expect.objectContaining({ key: emailOf(0), id: userId(0) }),
        reason: 'wrong-user',
        message: expect.stringContaining(`Parchment answered for another user (${userId(3)})`),
      }),
    ]);
    expect(putTo(s.requests(), userId(0))).toEqual([]);
    expect(putTo(s.requests(), userId(3))).toEqual([]);
    expect(s.user(ORG, userId(3))?.roles).toEqual(world.initial.get(userId(3)));
    expect(s.user(ORG, userId(1))?.roles).toEqual(world.desired.get(userId(1)));
  });

  it('fails a user whose role write is answered for someone else', async () => {
    const world = buildWorld({ users: 5, changes: 2, emailEvery: 0 });
    const { s, config, env } = await setUp(world.seed, world.yaml, {
      listShape: 'rs',
      wrongUser: { [userId(0)]: userId(3) },
    });

    const run = await runCli(['apply', '-c', config, '--format', 'json'], env);
    expect(run.code, run.stderr).toBe(1);
    const report = jsonReport(run);
    const change = report.organizations[0]!.changes.find((c) => c.user.key === userId(0))!;
    expect(change.result).toMatchObject({
      state: 'failed',
      failure: { reason: 'wrong-user', message: expect.stringContaining(`answered for another user (${userId(3)})`) },
    });
    expect(report.summary).toMatchObject({ applied: 1, failed: 1 });
    // The write was sent once, to the user asked for; only its answer was about someone else.
    expect(puts(s.requests()).map((r) => r.userId)).toEqual(expect.arrayContaining([userId(0), userId(1)]));
    expect(putTo(s.requests(), userId(3))).toEqual([]);
  });
});

describe("the vendor's list shape, without emails", () => {
  it('resolves email keys by reading listed users, only until every email key is found', async () => {
    const world = buildWorld({ users: 40, changes: 6, emailEvery: 0 });
    // One email key, for u00001: the fifth listed user after acting, other0-2 and u00000.
    const yaml = world.yaml.replace(`${userId(1)}:`, `${emailOf(1)}:`);
    const { s, config, env } = await setUp(world.seed, yaml);

    const run = await runCli(['apply', '-c', config, '--format', 'json'], env);
    expect(run.code, run.stderr).toBe(0);
    expect(jsonReport(run).summary).toMatchObject({ applied: 6, failed: 0 });
    expect(divergent(s, world.desired)).toEqual([]);
    const read = reads(s.requests()).length;
    expect(read).toBeGreaterThanOrEqual(6);
    expect(read).toBeLessThanOrEqual(6 + EMAIL_READ_WINDOW - 1);

    // Keyed by id only, nothing is read: the list carries the roles.
    s.clearRequests();
    const byId = await runCli(['apply', '-c', await ws!.file('by-id.yaml', world.yaml)], env);
    expect(byId.code, byId.stderr).toBe(0);
    expect(reads(s.requests())).toEqual([]);
  });

  it('reads every listed user at most once for an email nobody has, and names the gap', async () => {
    const world = buildWorld({ users: 12, changes: 0, emailEvery: 0 });
    const yaml = world.yaml.replace(/\n$/, '\n      nobody@collins.example: [provider]\n');
    const { s, config, env } = await setUp(world.seed, yaml, { wrongUser: { [userId(4)]: userId(5) } });

    const run = await runCli(['plan', '-c', config, '--format', 'json'], env);
    expect(run.code, run.stderr).toBe(1);
    const ids = reads(s.requests()).map((r) => r.userId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toHaveLength(world.seed.organizations[0]!.users.length);
    const failures = jsonReport(run).organizations[0]!.failures;
    expect(failures.map((f) => [f.user?.key, f.reason])).toEqual([
      [userId(4), 'wrong-user'],
      ['nobody@collins.example', 'not-found'],
    ]);
    expect(failures[1]!.message).toContain('1 listed user(s) have no email in the list or in their read');
  });
});

describe('live roles role-sync cannot assign', () => {
  it('never writes a user holding an unknown role, and warns naming it; member is only the baseline', async () => {
    const seed = seedOf([
      ACTING,
      { id: 'super', email: 'super@collins.example', roles: ['super_admin', 'admin'] },
      { id: 'shouty', email: 'shouty@collins.example', roles: ['PROVIDER'] },
      { id: 'based', email: 'based@collins.example', roles: ['admin', 'member'] },
      { id: 'moved', email: 'moved@collins.example', roles: ['provider', 'member'] },
      { id: 'off', email: 'off@collins.example', roles: ['member'] },
    ]);
    const yaml = fileOf(
      `${ACTING_USER}: [admin, provider]`,
      'super: [admin]',
      'shouty: [provider]',
      'based: [admin]',
      'moved: [receptionist]',
      'off: [provider]',
    );
    const { s, config, env } = await setUp(seed, yaml);

    const run = await runCli(['apply', '-c', config, '--format', 'json'], env);
    expect(run.code, run.stderr).toBe(0);
    const report = jsonReport(run);
    const org = report.organizations[0]!;
    expect(org.skipped.map((k) => [k.user.key, k.reason])).toEqual([
      ['super', 'protected'],
      ['shouty', 'protected'],
      ['off', 'disabled'],
    ]);
    const warnings = report.warnings.map((w) => w.message).join('\n');
    expect(warnings).toContain('super holds super_admin: never written');
    expect(warnings).toContain('shouty holds PROVIDER: never written');
    expect(org.changes.map((c) => [c.user.key, c.removed])).toEqual([['moved', ['provider']]]);
    expect(org.unchanged).toBe(2);
    expect(puts(s.requests()).map((r) => r.userId)).toEqual(['moved']);
    expect(s.user(ORG, 'super')?.roles).toEqual(['super_admin', 'admin']);
    expect(s.user(ORG, 'shouty')?.roles).toEqual(['PROVIDER']);
  });
});

describe('guards with a static token', () => {
  async function staticTokenEnv(s: RunningSimulator, env: Record<string, string>): Promise<Record<string, string>> {
    const token = await mintToken(s, { orgId: ORG, orgSecret: ORG_SECRET, userId: ACTING_USER });
    const { PARCHMENT_PARTNER_ID: _id, PARCHMENT_PARTNER_SECRET: _secret, PARCHMENT_USER_ID: _user, ...rest } = env;
    return { ...rest, PARCHMENT_ACCESS_TOKEN: token };
  }

  const users: SimUser[] = [
    ACTING,
    { id: 'second-admin', email: 'second@collins.example', roles: ['admin'] },
    { id: 'doctor', email: 'doctor@collins.example', roles: ['provider'] },
    { id: 'off', email: 'off@collins.example', roles: ['member'], disabled: true },
  ];
  const demoteAll = fileOf(`${ACTING_USER}: [provider]`, 'second-admin: [provider]', 'doctor: [provider]');

  it('refuses a plan leaving no admin (exit 3), warns of the unknown acting user; --force goes on', async () => {
    const { s, config, env } = await setUp(seedOf(users), demoteAll);
    const tokenEnv = await staticTokenEnv(s, env);

    const refused = await runCli(['apply', '-c', config, '--format', 'json'], tokenEnv);
    expect(refused.code, refused.stderr).toBe(3);
    expect(refused.stderr).toContain(`role-sync: refused: organization ${ORG}: after this plan no user`);
    expect(puts(s.requests())).toEqual([]);
    const unknownActing = /the acting user is unknown \(a static PARCHMENT_ACCESS_TOKEN without PARCHMENT_USER_ID\)/;
    expect(jsonReport(refused).warnings.map((w) => w.message)).toContainEqual(expect.stringMatching(unknownActing));

    const plan = await runCli(['plan', '-c', config], tokenEnv);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toMatch(unknownActing);
    expect(plan.stdout).toContain('an apply would be refused by a safety guard');

    const forced = await runCli(['apply', '-c', config, '--force', '--format', 'json'], tokenEnv);
    expect(forced.code, forced.stderr).toBe(0);
    expect(jsonReport(forced).warnings.map((w) => w.message)).toContainEqual(expect.stringMatching(unknownActing));
    expect(s.user(ORG, 'second-admin')?.roles).toEqual(['provider']);
  });

  it('counts an unmanaged admin, and warns on every run even when nothing changes', async () => {
    const { s, config, env } = await setUp(
      seedOf([...users, { id: 'unlisted-admin', email: 'boss@collins.example', roles: ['admin'] }]),
      demoteAll,
    );
    const tokenEnv = await staticTokenEnv(s, env);

    const applied = await runCli(['apply', '-c', config, '--format', 'json'], tokenEnv);
    expect(applied.code, applied.stderr).toBe(0);
    expect(s.user(ORG, ACTING_USER)?.roles).toEqual(['provider']);

    const again = await runCli(['apply', '-c', config, '--format', 'json'], tokenEnv);
    expect(again.code, again.stderr).toBe(0);
    expect(
      jsonReport(again)
        .warnings.map((w) => w.message)
        .join('\n'),
    ).toContain('the acting user is unknown');
  });

  it('with partner credentials and PARCHMENT_USER_ID there is no such warning', async () => {
    const { config, env } = await setUp(seedOf(users), fileOf(`${ACTING_USER}: [admin, provider]`));
    const run = await runCli(['plan', '-c', config, '--format', 'json'], env);
    expect(run.code, run.stderr).toBe(0);
    expect(jsonReport(run).warnings).toEqual([]);
  });
});
