import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runToEnd } from './helpers/child.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = join(ROOT, 'dist', 'cli.js');
const ORG = '7fa84d2b-26d7-4c71-9b5b-e591eff97e7d';

async function run(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env = { ...process.env };
  delete env['ROLE_SYNC_CONFIG'];
  return runToEnd(process.execPath, [CLI, ...args], { cwd: ROOT, env });
}

const doc = (...users: string[]): string =>
  `version: 1\ntimezone: Australia/Melbourne\norganizations:\n  ${ORG}:\n    name: Collins\n    users:\n` +
  users.map((u) => `      ${u}\n`).join('');

let dir: string;
let head: string;
let base: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'role-sync-lifecycle-'));
  head = join(dir, 'head.yaml');
  base = join(dir, 'base.yaml');
  await writeFile(
    head,
    doc(
      'left.in.march@c.example: disabled',
      'back@c.example: {roles: [provider], enabled: true}',
      'locum@c.example: {roles: [provider], until: 2099-01-31}',
      'ended@c.example: {roles: [provider], until: 2020-01-31}',
    ),
  );
  await writeFile(
    base,
    doc(
      'left.in.march@c.example: [receptionist, rx_reader]',
      'back@c.example: disabled',
      'locum@c.example: [provider]',
      'ended@c.example: [provider]',
    ),
  );
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the lifecycle forms through the CLI, offline', () => {
  it('validate accepts them and warns, at the until, about a grant that has ended', async () => {
    const r = await run(['validate', '-c', head]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(
      new RegExp(
        `^${head.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:10:51: warning: the grant of ended@c.example ended ` +
          '2020-01-31 23:59 \\+11:00 \\(\\d+ days ago\\): the entry now means disabled; update or remove "until"\\n$',
      ),
    );
    expect(r.stdout).toBe(`${head}: valid — 1 organization, 4 users (1 warning)\n`);
  });

  it('validate reports a malformed until with its line and column', async () => {
    const bad = join(dir, 'bad.yaml');
    await writeFile(bad, doc('a@c.example: {roles: [provider], until: next week}'));
    const r = await run(['validate', '-c', bad]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${bad}:7:47: error: "until" must be a date (YYYY-MM-DD`);
  });

  it('plan --against shows the disables, the enable and the expiries; exit 2 with --detailed-exitcode', async () => {
    const r = await run(['plan', '-c', head, '--against', base, '--detailed-exitcode']);
    expect(r.code).toBe(2);
    const lines = r.stdout.split('\n');
    expect(lines).toContain('  - left.in.march@c.example: disable (receptionist, rx_reader)  (the file says disabled)');
    expect(lines).toContain('  + back@c.example: enable, then member -> provider  (enabled: true)');
    expect(
      lines.find((l) => l.startsWith('  - ended@c.example: disable (provider)  (grant expired 2020-01-31')),
    ).toBeDefined();
    expect(
      lines.find((l) =>
        new RegExp(
          '^ {2}\\* locum@c\\.example: provider expires 2099-01-31 23:59 \\+11:00, in \\d+ days; ' +
            'then disabled \\(new until\\)$',
        ).test(l),
      ),
    ).toBeDefined();
    expect(r.stdout).toContain(
      'Plan: 0 to change (0 grants, 0 revocations), 2 to disable, 1 to enable, 2 expiry changes',
    );
  });

  it('plan --against --format json carries the new kinds', async () => {
    const r = await run(['plan', '-c', head, '--against', base, '--format', 'json']);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as {
      organizations: { accountChanges: { kind: string; user: { key: string }; cause?: string }[] }[];
      summary: { disables: number; enables: number; expiryChanges: number };
    };
    expect(report.organizations[0]!.accountChanges.map((a) => [a.kind, a.user.key, a.cause])).toEqual([
      ['disable', 'left.in.march@c.example', 'file'],
      ['enable', 'back@c.example', undefined],
      ['disable', 'ended@c.example', 'expired'],
    ]);
    expect(report.summary).toMatchObject({ disables: 2, enables: 1, expiryChanges: 2 });
  });
});
