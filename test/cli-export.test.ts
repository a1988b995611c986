/**
 * `role-sync export` through the real CLI against the simulator: for every documented list shape the
 * export validates and a live plan against it shows no change; it is byte-stable; it only reads.
 */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  DEMO_ACTING_USER,
  DEMO_PARTNER,
  startSimulator,
  type ListShape,
  type RunningSimulator,
  type SimSeed,
} from '../src/simulator/index.js';
import { jsonReport, liveEnv, runCli, workspace, type Workspace } from './helpers/live-cli.js';
import { ORG, ORG_SECRET } from './helpers/live-seed.js';

const FITZROY = '3b1f9c2e-8d4a-4e6b-9f1a-2c5d7e8f9a0b';
const FITZROY_SECRET = 'sim-org-secret-fitzroy';
const ACTING = DEMO_ACTING_USER[ORG]!;

/** A clinic with every kind of user export must handle. */
function seed(): SimSeed {
  return {
    partners: [{ ...DEMO_PARTNER }],
    organizations: [
      {
        id: ORG,
        name: 'Collins Street Clinic',
        secret: ORG_SECRET,
        users: [
          { id: ACTING, email: 'dr.ahmed@collins.example', fullName: 'Dr Sara Ahmed', roles: ['admin', 'provider'] },
          {
            id: 'u-desk',
            email: 'Front.Desk@collins.example',
            fullName: 'Jess Walker',
            roles: ['receptionist', 'rx_reader'],
          },
          { id: 'u-gp', email: 'dr.nguyen@collins.example', roles: ['provider'] },
          { id: 'u-left', email: 'left@collins.example', fullName: 'Former Staff', roles: ['member'], disabled: true },
          { id: 'u-owner', email: 'owner@collins.example', fullName: 'Priya Raman', roles: ['owner', 'admin'] },
          { id: 'u-support', email: 'support@parchment.example', roles: ['support'] },
          { id: 'u-odd', email: 'odd@collins.example', fullName: 'Odd Role', roles: ['super_admin'] },
        ],
      },
      {
        id: FITZROY,
        name: 'Fitzroy Telehealth',
        secret: FITZROY_SECRET,
        users: [
          { id: DEMO_ACTING_USER[FITZROY]!, email: 'it.admin@fitzroy.example', roles: ['admin'] },
          { id: 'f-gp', email: 'dr.okafor@fitzroy.example', roles: ['provider'] },
        ],
      },
    ],
  };
}

let sim: RunningSimulator | undefined;
let ws: Workspace | undefined;

afterEach(async () => {
  await sim?.close();
  await ws?.remove();
  sim = undefined;
  ws = undefined;
});

async function setUp(
  listShape: ListShape = 'rs',
): Promise<{ s: RunningSimulator; w: Workspace; env: Record<string, string> }> {
  sim = await startSimulator({ seed: seed(), listShape, pageSize: 3 });
  ws = await workspace('rs-export-');
  return { s: sim, w: ws, env: liveEnv({ sim, stateDir: ws.stateDir }) };
}

/** Both organizations' secrets and acting users in one credentials file. */
async function twoOrgEnv(w: Workspace, env: Record<string, string>): Promise<Record<string, string>> {
  const credentials = await w.file(
    'credentials.json',
    JSON.stringify({
      organizations: {
        [ORG]: { secret: ORG_SECRET, userId: ACTING },
        [FITZROY]: { secret: FITZROY_SECRET, userId: DEMO_ACTING_USER[FITZROY] },
      },
    }),
  );
  const { PARCHMENT_ORGANIZATION_SECRET: _secret, PARCHMENT_USER_ID: _user, ...rest } = env;
  return { ...rest, PARCHMENT_CREDENTIALS_FILE: credentials };
}

function readOnly(s: RunningSimulator): boolean {
  return s.requests().every((r) => r.method === 'GET' || r.route === 'POST /v1/token');
}

describe('export → validate → plan shows no change', () => {
  for (const shape of ['oas', 'bare', 'rs'] as const) {
    it(`with the ${shape} list shape (a disabled user, an owner, support and an unknown role)`, async () => {
      const { s, w, env } = await setUp(shape);
      const exported = await runCli(['export', '--org', ORG], env);
      expect(exported.code, exported.stderr).toBe(0);
      const text = exported.stdout;
      expect(text).toContain('      dr.ahmed@collins.example: [admin, provider]  # Dr Sara Ahmed, id ');
      expect(text).toContain('      front.desk@collins.example: [receptionist, rx_reader]  # Jess Walker, id u-desk\n');
      expect(text).toMatch(/# owner@collins\.example: owner, admin \(Priya Raman, id u-owner\) — holds owner/);
      expect(text).toMatch(/# support@parchment\.example: support \(id u-support\) — holds support/);
      expect(text).toMatch(/# odd@collins\.example: super_admin \(Odd Role, id u-odd\) — holds super_admin/);
      expect(text).toContain('      left@collins.example: disabled  # Former Staff, id u-left\n');
      expect(readOnly(s)).toBe(true);
      // The bare shape carries no roles and the vendor's (oas) no emails: every user is read, once.
      const reads = s.requests().filter((r) => r.route.endsWith('/users/{user_id}'));
      expect(reads).toHaveLength(shape === 'rs' ? 0 : 7);
      expect(new Set(reads.map((r) => r.userId)).size).toBe(reads.length);

      const file = await w.file('collins.yaml', text);
      const valid = await runCli(['validate', '-c', file], env);
      expect(valid.code, valid.stderr).toBe(0);

      s.clearRequests();
      const plan = await runCli(['plan', '-c', file, '--detailed-exitcode', '--format', 'json'], env);
      expect(plan.code, plan.stderr).toBe(0);
      expect(jsonReport(plan).summary).toMatchObject({ changes: 0, pending: 0, failed: 0, skipped: 0, unchanged: 4 });
      expect(readOnly(s)).toBe(true);

      const again = await runCli(['export', '--org', ORG], env);
      expect(again.stdout).toBe(text);
    });
  }

  it('keys users by id with --key id', async () => {
    // rs lists emails; the oas shape (the vendor's example) has none to put in the comment.
    const { w, env } = await setUp('rs');
    const exported = await runCli(['export', '--org', ORG, '--key', 'id'], env);
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stdout).toContain('      u-gp: [provider]  # dr.nguyen@collins.example\n');
    const file = await w.file('by-id.yaml', exported.stdout);
    const plan = await runCli(['plan', '-c', file, '--detailed-exitcode'], env);
    expect(plan.code, plan.stderr).toBe(0);
  });

  it('--out DIR writes one part per organization; the directory validates and plans no change', async () => {
    const { s, w, env } = await setUp();
    const both = await twoOrgEnv(w, env);
    const dir = join(w.dir, 'roles.d/');
    const exported = await runCli(['export', '--out', dir], both);
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stdout).toBe('');
    expect((await readdir(dir)).sort()).toEqual([`${FITZROY}.yaml`, `${ORG}.yaml`]);
    const valid = await runCli(['validate', '-c', dir], both);
    expect(valid.stdout).toBe(`${dir}: valid — 2 parts, 2 organizations, 6 users\n`);
    const plan = await runCli(['plan', '-c', dir, '--detailed-exitcode', '--format', 'json'], both);
    expect(plan.code, plan.stderr).toBe(0);
    expect(jsonReport(plan).summary).toMatchObject({ organizations: 2, changes: 0, failed: 0 });

    const first = await readFile(join(dir, `${ORG}.yaml`), 'utf8');
    expect((await runCli(['export', '--out', dir], both)).code).toBe(0);
    expect(await readFile(join(dir, `${ORG}.yaml`), 'utf8')).toBe(first);
    expect(readOnly(s)).toBe(true);
  });

  it('--out FILE writes one document holding every organization', async () => {
    const { w, env } = await setUp();
    const out = join(w.dir, 'all.yaml');
    const exported = await runCli(['export', '--out', out], await twoOrgEnv(w, env));
    expect(exported.code, exported.stderr).toBe(0);
    const text = await readFile(out, 'utf8');
    expect(text.indexOf(FITZROY)).toBeLessThan(text.indexOf(ORG));
  });
});

describe('export refuses before any request', () => {
  it('an --org without credentials', async () => {
    const { s, w, env } = await setUp();
    const both = await twoOrgEnv(w, env);
    const credentials = await w.file('one.json', JSON.stringify({ organizations: { [ORG]: { secret: ORG_SECRET } } }));
    const run = await runCli(['export', '--org', FITZROY], { ...both, PARCHMENT_CREDENTIALS_FILE: credentials });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`no secret for organization ${FITZROY}`);
    expect(s.requests()).toEqual([]);
  });

  it('no --org and no credentials file naming organizations', async () => {
    const { s, env } = await setUp();
    const run = await runCli(['export'], env);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('no organization to export; give --org ID');
    expect(s.requests()).toEqual([]);
  });

  it('an --org that is not an organization id', async () => {
    const { s, env } = await setUp();
    const run = await runCli(['export', '--org', 'collins'], env);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('"collins" is not an organization id (a UUID)');
    expect(s.requests()).toEqual([]);
  });
});
