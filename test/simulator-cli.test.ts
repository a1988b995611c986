/** `role-sync simulate` as a child process (needs a build: `npx tsc -p tsconfig.build.json`). */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = join(ROOT, 'dist', 'cli.js');

interface Listening {
  msg: string;
  baseUrl: string;
  env: { PARCHMENT_BASE_URL: string; PARCHMENT_PARTNER_ID: string; PARCHMENT_PARTNER_SECRET: string };
  organizations: {
    id: string;
    name?: string;
    env: { PARCHMENT_ORGANIZATION_SECRET: string; PARCHMENT_USER_ID: string };
  }[];
}

interface Running {
  child: ChildProcessWithoutNullStreams;
  listening: Listening;
  stdout: string[];
  stderr: () => string;
}

const children: ChildProcessWithoutNullStreams[] = [];

function spawnCli(args: string[]): {
  child: ChildProcessWithoutNullStreams;
  lines: Interface;
  stdout: string[];
  stderr: () => string;
} {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env: { ...process.env, LOG_LEVEL: 'info' } });
  children.push(child);
  const stdout: string[] = [];
  let err = '';
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const lines = createInterface({ input: child.stdout });
  lines.on('line', (line) => stdout.push(line));
  return { child, lines, stdout, stderr: () => err };
}

/** Resolves on the "simulator listening" line; rejects if the process exits first. */
async function startCli(args: string[]): Promise<Running> {
  const { child, lines, stdout, stderr } = spawnCli(['simulate', '--port', '0', ...args]);
  const listening = await new Promise<Listening>((resolve, reject) => {
    lines.on('line', (line) => {
      const parsed = JSON.parse(line) as Listening;
      if (parsed.msg === 'simulator listening') resolve(parsed);
    });
    child.once('exit', (code) => reject(new Error(`simulate exited with ${code}: ${stderr()}`)));
  });
  return { child, listening, stdout, stderr };
}

async function exitOf(child: ChildProcessWithoutNullStreams): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode;
  const [code] = (await once(child, 'exit')) as [number | null];
  return code;
}

async function mint(
  l: Listening,
  org = 0,
): Promise<{ status: number; body: { data: { accessToken: string; expiresIn: number } } }> {
  const o = l.organizations[org];
  const res = await fetch(`${l.env.PARCHMENT_BASE_URL}/v1/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-partner-id': l.env.PARCHMENT_PARTNER_ID,
      'x-partner-secret': l.env.PARCHMENT_PARTNER_SECRET,
      'x-organization-id': o?.id ?? '',
      'x-organization-secret': o?.env.PARCHMENT_ORGANIZATION_SECRET ?? '',
      'x-user-id': o?.env.PARCHMENT_USER_ID ?? '',
    },
    body: JSON.stringify({ grantType: 'client_credentials', scope: ['read:users', 'read:user'] }),
  });
  return { status: res.status, body: (await res.json()) as { data: { accessToken: string; expiresIn: number } } };
}

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing; build first with: npx tsc -p tsconfig.build.json`);
});

afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

describe('role-sync simulate', () => {
  it('prints the listening line with working credentials, serves the demo, stops on SIGTERM with exit 0', async () => {
    const { child, listening, stdout, stderr } = await startCli([]);
    expect(listening.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/external$/);
    expect(listening.env.PARCHMENT_BASE_URL).toBe(listening.baseUrl);
    expect(listening.env.PARCHMENT_PARTNER_SECRET).toBe('sim-partner-secret');
    expect(listening.organizations.map((o) => [o.name, o.env.PARCHMENT_USER_ID])).toEqual([
      ['Collins Street Clinic', 'a7748dfd-ceb2-4b17-8380-425c304f5ae7'],
      ['Fitzroy Telehealth', 'c0ffee00-1111-4222-8333-444455556666'],
    ]);

    for (const org of [0, 1]) {
      const token = await mint(listening, org);
      expect(token.status).toBe(200);
      const o = listening.organizations[org];
      const list = await fetch(`${listening.baseUrl}/v1/organizations/${o?.id}/users?limit=100`, {
        headers: {
          authorization: `Bearer ${token.body.data.accessToken}`,
          'x-organization-secret': o?.env.PARCHMENT_ORGANIZATION_SECRET ?? '',
        },
      });
      expect(list.status).toBe(200);
      const body = (await list.json()) as { data: { users: unknown[] } };
      expect(body.data.users).toHaveLength(org === 0 ? 11 : 5);
    }

    const err = stderr();
    expect(err).toContain(`export PARCHMENT_BASE_URL=${listening.baseUrl}`);
    expect(err).toContain('export PARCHMENT_PARTNER_ID=role-sync-demo');
    expect(err).toContain(
      'export PARCHMENT_ORGANIZATION_SECRET=sim-org-secret-collins ' +
        'PARCHMENT_USER_ID=a7748dfd-ceb2-4b17-8380-425c304f5ae7',
    );

    child.kill('SIGTERM');
    expect(await exitOf(child)).toBe(0);
    const logged = stdout.map((l) => JSON.parse(l) as { msg: string; route?: string; status?: number });
    expect(logged.filter((l) => l.msg === 'simulator request').map((l) => l.status)).toEqual([200, 200, 200, 200]);
    expect(logged.at(-1)?.msg).toBe('simulator stopped');
    // Request lines never carry the token or the organization secret.
    expect(stdout.slice(1).join('\n')).not.toMatch(/sim_[A-Za-z0-9_-]{20,}|sim-org-secret/);
  });

  it('stops on SIGINT with exit 0', async () => {
    const { child } = await startCli([]);
    child.kill('SIGINT');
    expect(await exitOf(child)).toBe(0);
  });

  it('applies --list-shape, --page-size, --token-ttl, --rate-limit, --fault-rate and --latency', async () => {
    const { listening } = await startCli([
      '--list-shape',
      'rs',
      '--page-size',
      '2',
      '--token-ttl',
      '2m',
      '--rate-limit',
      '100/s',
      '--fault-rate',
      '0',
      '--latency',
      '1ms',
    ]);
    const token = await mint(listening);
    expect(token.body.data.expiresIn).toBe(120);
    const o = listening.organizations[0];
    const res = await fetch(`${listening.baseUrl}/v1/organizations/${o?.id}/users`, {
      headers: {
        authorization: `Bearer ${token.body.data.accessToken}`,
        'x-organization-secret': o?.env.PARCHMENT_ORGANIZATION_SECRET ?? '',
      },
    });
    const body = (await res.json()) as { data: unknown[]; pagination: { count: number; hasNext: boolean } };
    expect(body.data).toHaveLength(2);
    expect(body.pagination).toMatchObject({ count: 2, hasNext: true });
  });

  it('plays the hostile cases: --wrong-user answers for another user, --overlap-pages repeats a user', async () => {
    const cameron = '3266a9fd-c21d-4600-93b4-d760dce49b05';
    const nguyen = '64c290b3-09df-46c2-833b-b3ad3054109b';
    const { listening } = await startCli([
      '--wrong-user',
      `${cameron}=${nguyen}`,
      '--overlap-pages',
      '--page-size',
      '4',
    ]);
    const token = await mint(listening);
    const o = listening.organizations[0];
    const headers = {
      authorization: `Bearer ${token.body.data.accessToken}`,
      'x-organization-secret': o?.env.PARCHMENT_ORGANIZATION_SECRET ?? '',
    };
    const users = `${listening.baseUrl}/v1/organizations/${o?.id}/users`;
    const read = (await (await fetch(`${users}/${cameron}`, { headers })).json()) as { data: { user_id: string } };
    expect(read.data.user_id).toBe(nguyen);

    const first = (await (await fetch(`${users}?limit=4`, { headers })).json()) as {
      data: { users: { user_id: string }[]; pagination: { lastKey: string } };
    };
    const next = `${users}?limit=4&lastKey=${encodeURIComponent(first.data.pagination.lastKey)}`;
    const second = (await (await fetch(next, { headers })).json()) as { data: { users: { user_id: string }[] } };
    expect(second.data.users[0]?.user_id).toBe(first.data.users[3]?.user_id);
  });

  it('lists the hostile cases in --help', async () => {
    const { child, stdout } = spawnCli(['simulate', '--help']);
    expect(await exitOf(child)).toBe(0);
    const help = stdout.join('\n');
    for (const text of ['--wrong-user', '--overlap-pages', 'legacyEmails: true', 'super_admin', 'no email']) {
      expect(help).toContain(text);
    }
  });

  it('applies --retry-after to its 429s', async () => {
    const { listening } = await startCli(['--rate-limit', '0.1', '--retry-after', '0']);
    const o = listening.organizations[0];
    expect((await mint(listening)).status).toBe(200);
    const limited = await fetch(`${listening.env.PARCHMENT_BASE_URL}/v1/organizations/${o?.id}/users`);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('0');
  });

  it('serves a seed file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sim-cli-'));
    const seed = join(dir, 'seed.yaml');
    await writeFile(
      seed,
      [
        'partners: [{partnerId: acme, partnerSecret: acme-secret}]',
        'organizations:',
        '  - id: 11111111-2222-4333-8444-555555555555',
        '    secret: org-secret',
        '    users:',
        '      - {id: u1, email: helper@acme.example, roles: [receptionist]}',
        '      - {id: u2, email: boss@acme.example, roles: [admin]}',
        '',
      ].join('\n'),
    );
    const { listening, stderr } = await startCli(['--seed', seed]);
    expect(listening.env.PARCHMENT_PARTNER_ID).toBe('acme');
    expect(listening.organizations).toEqual([
      {
        id: '11111111-2222-4333-8444-555555555555',
        env: { PARCHMENT_ORGANIZATION_SECRET: 'org-secret', PARCHMENT_USER_ID: 'u2' },
      },
    ]);
    expect((await mint(listening)).status).toBe(200);
    expect(stderr()).toContain('# organization 11111111-2222-4333-8444-555555555555:');
  });

  it.each([
    [
      'a bad seed file',
      (dir: string) => ['--seed', join(dir, 'missing.yaml')],
      /invalid simulator seed .*missing\.yaml:\n\s+cannot read the file: ENOENT/,
    ],
    ['an unknown list shape', () => ['--list-shape', 'csv'], /argument 'csv' is invalid/],
    ['a bad fault rate', () => ['--fault-rate', '2'], /"2" is not a fraction between 0 and 1/],
    ['a bad rate', () => ['--rate-limit', 'fast'], /"fast" is not a rate/],
    ['a bad Retry-After mode', () => ['--retry-after', 'soon'], /"soon" is not seconds, none, past-date/],
    ['a duration without a unit', () => ['--latency', '20'], /"20" is not a duration/],
    ['a --wrong-user without a pair', () => ['--wrong-user', 'u1'], /"u1" is not a list of ASKED=OTHER user id pairs/],
  ])('exits 1 on %s', async (_label, args, message) => {
    const dir = await mkdtemp(join(tmpdir(), 'sim-cli-'));
    const { child, stderr } = spawnCli(['simulate', '--port', '0', ...args(dir)]);
    expect(await exitOf(child)).toBe(1);
    expect(stderr()).toMatch(message);
  });

  it('exits 1 when the port is taken', async () => {
    const { listening } = await startCli([]);
    const port = new URL(listening.baseUrl).port;
    const { child, stderr } = spawnCli(['simulate', '--port', port]);
    expect(await exitOf(child)).toBe(1);
    expect(stderr()).toMatch(/cannot start: .*EADDRINUSE/);
  });
});
