/**
 * A directory of files (one part per clinic) and `--org` through the real CLI against the simulator:
 * three parts validate, apply and converge; problems name their part; `--org` sends nothing for the
 * organizations it leaves out (the simulator's request log says so) and the report names them.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DEMO_PARTNER, startSimulator, type RunningSimulator, type SimSeed } from '../src/simulator/index.js';
import { jsonReport, liveEnv, runCli, workspace, type Workspace } from './helpers/live-cli.js';

interface Clinic {
  readonly id: string;
  readonly name: string;
  readonly secret: string;
  readonly acting: string;
}

const CLINICS: readonly Clinic[] = [
  { id: '7fa84d2b-26d7-4c71-9b5b-e591eff97e7d', name: 'Collins', secret: 'secret-a', acting: 'a-admin' },
  { id: '3b1f9c2e-8d4a-4e6b-9f1a-2c5d7e8f9a0b', name: 'Fitzroy', secret: 'secret-b', acting: 'b-admin' },
  { id: '0d6c1f0e-5a55-4f57-9a43-1c2b3d4e5f60', name: 'Carlton', secret: 'secret-c', acting: 'c-admin' },
];
const [A, B, C] = CLINICS as [Clinic, Clinic, Clinic];

/** Each clinic: its acting admin, two providers and a receptionist. */
function seed(): SimSeed {
  return {
    partners: [{ ...DEMO_PARTNER }],
    organizations: CLINICS.map((c) => ({
      id: c.id,
      name: c.name,
      secret: c.secret,
      users: [
        { id: c.acting, email: `admin@${c.name}.example`, roles: ['admin', 'provider'] },
        { id: `${c.name}-gp1`, email: `gp1@${c.name}.example`, roles: ['provider'] },
        { id: `${c.name}-gp2`, email: `gp2@${c.name}.example`, roles: ['provider'] },
        { id: `${c.name}-desk`, email: `desk@${c.name}.example`, roles: ['receptionist'] },
      ],
    })),
  };
}

/** The part for one clinic: promotes gp1 to admin and gives the desk rx_reader. */
function part(c: Clinic): string {
  return [
    'version: 1',
    'organizations:',
    `  ${c.id}:`,
    `    name: ${c.name}`,
    '    users:',
    `      ${c.acting}: [admin, provider]`,
    `      gp1@${c.name}.example: [admin, provider]`,
    `      ${c.name}-gp2: [provider]`,
    `      desk@${c.name}.example: [receptionist, rx_reader]`,
    '',
  ].join('\n');
}

let sim: RunningSimulator | undefined;
let ws: Workspace | undefined;

afterEach(async () => {
  await sim?.close();
  await ws?.remove();
  sim = undefined;
  ws = undefined;
});

async function setUp(): Promise<{ s: RunningSimulator; w: Workspace; dir: string; env: Record<string, string> }> {
  sim = await startSimulator({ seed: seed() });
  ws = await workspace('rs-dir-');
  const dir = join(ws.dir, 'roles.d');
  await mkdir(dir);
  for (const [i, c] of CLINICS.entries()) await writeFile(join(dir, `${i + 1}-${c.name.toLowerCase()}.yaml`), part(c));
  const credentials = await ws.file(
    'credentials.json',
    JSON.stringify({
      organizations: Object.fromEntries(CLINICS.map((c) => [c.id, { secret: c.secret, userId: c.acting }])),
    }),
  );
  const { PARCHMENT_ORGANIZATION_SECRET: _s, PARCHMENT_USER_ID: _u, ...env } = liveEnv({ sim, stateDir: ws.stateDir });
  return { s: sim, w: ws, dir, env: { ...env, PARCHMENT_CREDENTIALS_FILE: credentials } };
}

function rolesOf(s: RunningSimulator, c: Clinic, id: string): string[] | undefined {
  return s.user(c.id, id)?.roles;
}

describe('a directory of three parts', () => {
  it('validates, applies and converges', async () => {
    const { s, dir, env } = await setUp();
    const valid = await runCli(['validate', '-c', dir], env);
    expect(valid.code, valid.stderr).toBe(0);
    expect(valid.stdout).toBe(`${dir}: valid — 3 parts, 3 organizations, 12 users\n`);

    const apply = await runCli(['apply', '-c', dir, '--format', 'json'], env);
    expect(apply.code, apply.stderr).toBe(0);
    const report = jsonReport(apply);
    expect(report.summary).toMatchObject({ changes: 6, applied: 6, failed: 0 });
    expect(report.organizations.map((o) => o.id)).toEqual([A.id, B.id, C.id]);
    for (const c of CLINICS) {
      expect(rolesOf(s, c, `${c.name}-gp1`)).toEqual(['admin', 'provider']);
      expect(rolesOf(s, c, `${c.name}-desk`)).toEqual(['receptionist', 'rx_reader']);
    }

    const again = await runCli(['plan', '-c', dir, '--detailed-exitcode'], env);
    expect(again.code, again.stdout + again.stderr).toBe(0);
  });

  it('locates an organization defined twice, at both places, and a broken part, before any request', async () => {
    const { s, dir, env } = await setUp();
    await writeFile(join(dir, '4-copy.yaml'), `# a copy\n${part(B)}`);
    await writeFile(join(dir, '5-broken.yml'), 'version: 1\norganizations:\n  [unclosed\n');
    const run = await runCli(['apply', '-c', dir], env);
    expect(run.code).toBe(1);
    const lines = run.stderr.trim().split('\n');
    expect(lines).toContain(
      `${dir}/2-fitzroy.yaml:3:3: error: organization ${B.id} is also defined in ${dir}/4-copy.yaml:4:3; ` +
        'define it in one part only',
    );
    expect(lines).toContain(
      `${dir}/4-copy.yaml:4:3: error: organization ${B.id} is already defined in ${dir}/2-fitzroy.yaml:3:3`,
    );
    expect(lines.some((l) => l.startsWith(`${dir}/5-broken.yml:4:1: error: YAML syntax:`))).toBe(true);
    expect(s.requests()).toEqual([]);
  });

  it('plan --against compares two directories offline', async () => {
    const { w, dir, env } = await setUp();
    const base = join(w.dir, 'base.d');
    await mkdir(base);
    await writeFile(join(base, 'a.yaml'), part(A));
    await writeFile(join(base, 'b.yaml'), part(B).replace('[receptionist, rx_reader]', '[receptionist]'));
    const plan = await runCli(['plan', '-c', dir, '--against', base, '--format', 'json'], env);
    expect(plan.code, plan.stderr).toBe(0);
    const report = JSON.parse(plan.stdout) as {
      organizations: { id: string; orgChange: string; changes: unknown[] }[];
      source: { parts: { file: string }[]; base: { parts: { file: string }[] } };
    };
    expect(report.organizations.map((o) => [o.id, o.orgChange, o.changes.length])).toEqual([
      [A.id, 'kept', 0],
      [B.id, 'kept', 1],
      [C.id, 'added', 0],
    ]);
    expect(report.source.parts).toHaveLength(3);
    expect(report.source.base.parts.map((p) => p.file)).toEqual([join(base, 'a.yaml'), join(base, 'b.yaml')]);
  });
});

describe('--org', () => {
  it('observes, plans and writes only that organization; the report names those left out', async () => {
    const { s, dir, env } = await setUp();
    const apply = await runCli(['apply', '-c', dir, '--org', B.id, '--format', 'json'], env);
    expect(apply.code, apply.stderr).toBe(0);
    const report = jsonReport(apply) as ReturnType<typeof jsonReport> & { leftOut: { id: string; name?: string }[] };
    expect(report.organizations.map((o) => o.id)).toEqual([B.id]);
    expect(report.leftOut).toEqual([
      { id: A.id, name: 'Collins' },
      { id: C.id, name: 'Carlton' },
    ]);
    expect(s.requests().length).toBeGreaterThan(0);
    expect(s.requests().filter((r) => r.organizationId !== B.id)).toEqual([]);
    expect(rolesOf(s, B, 'Fitzroy-gp1')).toEqual(['admin', 'provider']);
    expect(rolesOf(s, A, 'Collins-gp1')).toEqual(['provider']);
    expect(rolesOf(s, C, 'Carlton-gp1')).toEqual(['provider']);

    const text = await runCli(['plan', '-c', dir, '--org', A.id, '--org', C.id], env);
    expect(text.stdout).toContain(
      `Left out by --org (not observed, planned or written): 1 organization: Fitzroy (${B.id}).`,
    );
    const markdown = await runCli(['plan', '-c', dir, '--org', A.id, '--format', 'markdown'], env);
    expect(markdown.stdout).toContain('Left out by --org (not observed, planned or written): 2 organizations:');
  });

  it('refuses an organization that is not in the file before any request', async () => {
    const { s, dir, env } = await setUp();
    const missing = 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee';
    for (const command of ['plan', 'apply']) {
      const run = await runCli([command, '-c', dir, '--org', B.id, '--org', missing], env);
      expect(run.code).toBe(1);
      expect(run.stderr).toContain(`role-sync: --org: organization ${missing} is not in ${dir} (it defines ${A.id}, `);
    }
    expect(s.requests()).toEqual([]);
  });

  it('needs credentials only for the organizations in scope', async () => {
    const { s, w, dir, env } = await setUp();
    const onlyB = await w.file(
      'only-b.json',
      JSON.stringify({ organizations: { [B.id]: { secret: B.secret, userId: B.acting } } }),
    );
    const scoped = await runCli(['plan', '-c', dir, '--org', B.id], { ...env, PARCHMENT_CREDENTIALS_FILE: onlyB });
    expect(scoped.code, scoped.stderr).toBe(0);
    s.clearRequests();
    const all = await runCli(['plan', '-c', dir], { ...env, PARCHMENT_CREDENTIALS_FILE: onlyB });
    expect(all.code).toBe(1);
    expect(all.stderr).toContain(`no secret for organization ${A.id}`);
    expect(s.requests()).toEqual([]);
  });
});
