/**
 * What `role-sync apply` reports and refuses to touch, through the real CLI:
 * per-user results, rejected writes with Parchment's requestId, protected users, and several
 * organizations with per-organization credentials.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningSimulator } from '../src/simulator/index.js';
import { DEMO_ACTING_USER, startSimulator } from '../src/simulator/index.js';
import {
  jsonReport,
  NO_GUARD,
  liveEnv,
  puts,
  REPO,
  runCli,
  tokenCalls,
  watchedSimulator,
  workspace,
  type Workspace,
} from './helpers/live-cli.js';
import { buildWorld, divergent, ORG } from './helpers/live-seed.js';

const REQUEST_ID = /^1-[0-9a-f]{8}-[0-9a-f]{24}$/;

let sim: RunningSimulator | undefined;
let ws: Workspace | undefined;

afterEach(async () => {
  await sim?.close();
  await ws?.remove();
  sim = undefined;
  ws = undefined;
});

describe('apply reports', () => {
  it('shows progress as log lines when stderr is not a terminal, ending with every write done', async () => {
    const world = buildWorld({ users: 30, changes: 25 });
    sim = await startSimulator({ seed: world.seed });
    ws = await workspace();
    const config = await ws.file('roles.yaml', world.yaml);
    const run = await runCli(['apply', '-c', config, ...NO_GUARD], {
      ...liveEnv({ sim, stateDir: ws.stateDir }),
      LOG_LEVEL: 'info',
    });
    expect(run.code, run.stderr).toBe(0);
    const progress = run.stderr
      .split('\n')
      .filter((l) => l.includes('"msg":"apply progress"'))
      .map((l) => JSON.parse(l) as { done: number; total: number });
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.at(-1)).toMatchObject({ done: 25, total: 25 });
    expect(run.stderr).not.toContain('\r');
  });

  it('fails users answered 404 and 422 with their requestId, applies the others, exits 1; --out = stdout', async () => {
    const world = buildWorld({ users: 30, changes: 20 });
    const [gone, invalid] = world.changing as [string, string];
    const watched = await watchedSimulator({ seed: world.seed });
    sim = watched.sim;
    sim.configure({ failUser: { [gone]: 404, [invalid]: 422 } });
    ws = await workspace();
    const config = await ws.file('roles.yaml', world.yaml);
    const out = join(ws.dir, 'report.json');

    const run = await runCli(
      ['apply', '-c', config, '--format', 'json', '--out', out, ...NO_GUARD],
      liveEnv({ sim, stateDir: ws.stateDir }),
    );
    expect(run.code, run.stderr).toBe(1);
    expect(await readFile(out, 'utf8')).toBe(run.stdout);

    const report = jsonReport(run);
    expect(report).toMatchObject({ reportVersion: 1, kind: 'apply', dryRun: false });
    expect(report.summary).toMatchObject({ changes: 20, applied: 18, failed: 2, pending: 0 });
    const [org] = report.organizations;
    const byId = new Map(org!.changes.map((c) => [c.user.id, c]));
    for (const id of world.changing) {
      expect(byId.get(id)?.result.state, id).toBe(id === gone || id === invalid ? 'failed' : 'applied');
    }

    // The requestId in the report is the one the simulator gave that user's PUT.
    const answered = (id: string): string | undefined =>
      watched.answers.find((a) => a.method === 'PUT' && a.userId === id)?.requestId;
    const failure = (id: string) => org!.failures.find((f) => f.user?.id === id);
    expect(failure(gone)).toMatchObject({
      reason: 'rejected',
      status: 404,
      code: 'RESOURCE_NOT_FOUND',
      requestId: answered(gone),
    });
    expect(failure(invalid)).toMatchObject({
      reason: 'rejected',
      status: 422,
      code: 'VALIDATION_ERROR',
      requestId: answered(invalid),
    });
    expect(failure(gone)!.requestId).toMatch(REQUEST_ID);
    expect(failure(invalid)!.requestId).toMatch(REQUEST_ID);
    expect(byId.get(gone)?.result.failure).toMatchObject({ status: 404, requestId: answered(gone) });
    expect(org!.failures).toHaveLength(2);

    const others = new Map([...world.desired].filter(([id]) => id !== gone && id !== invalid));
    expect(divergent(sim, others)).toEqual([]);
    expect(
      divergent(
        sim,
        new Map([
          [gone, world.desired.get(gone)!],
          [invalid, world.desired.get(invalid)!],
        ]),
      ),
    ).toEqual([gone, invalid]);
  });

  it('never writes a user holding owner or support, and reports them as protected', async () => {
    const world = buildWorld({ users: 12, changes: 4, owners: 1, support: 1 });
    sim = await startSimulator({ seed: world.seed });
    ws = await workspace();
    const config = await ws.file('roles.yaml', world.yaml);

    const run = await runCli(['apply', '-c', config, '--format', 'json'], liveEnv({ sim, stateDir: ws.stateDir }));
    expect(run.code, run.stderr).toBe(0);
    const report = jsonReport(run);
    const skipped = report.organizations[0]!.skipped;
    expect(skipped.map((s) => [s.user.id, s.reason]).sort()).toEqual([
      ['owner0', 'protected'],
      ['support0', 'protected'],
    ]);
    expect(
      skipped
        .find((s) => s.user.id === 'owner0')
        ?.liveRoles.slice()
        .sort(),
    ).toEqual(['admin', 'owner']);
    expect(report.summary).toMatchObject({ applied: 4, skipped: 2, failed: 0 });

    const written = new Set(puts(sim.requests()).map((r) => r.userId));
    expect(written.size).toBe(4);
    for (const id of world.protectedUsers) expect(written.has(id)).toBe(false);
    expect(sim.user(ORG, 'owner0')?.roles).toEqual(['owner', 'admin']);
    expect(sim.user(ORG, 'support0')?.roles).toEqual(['support']);
    expect(report.warnings.some((w) => w.message.includes('holds owner'))).toBe(true);
  });
});

describe('two organizations with a credentials file', () => {
  const COLLINS = '7fa84d2b-26d7-4c71-9b5b-e591eff97e7d';
  const FITZROY = '3b1f9c2e-8d4a-4e6b-9f1a-2c5d7e8f9a0b';

  async function credentialsEnv(s: RunningSimulator, w: Workspace): Promise<Record<string, string>> {
    const organizations = Object.fromEntries(
      s.seed.organizations.map((o) => [o.id, { secret: o.secret, userId: DEMO_ACTING_USER[o.id] }]),
    );
    const credentials = await w.file('credentials.json', JSON.stringify({ organizations }));
    const env = liveEnv({ sim: s, stateDir: w.stateDir, extra: { PARCHMENT_CREDENTIALS_FILE: credentials } });
    // Each organization's acting user comes from the file; nothing global may stand in for it.
    delete env['PARCHMENT_USER_ID'];
    delete env['PARCHMENT_ORGANIZATION_SECRET'];
    return env;
  }

  it('applies roles.example.yaml to both organizations, each with its own acting user', async () => {
    sim = await startSimulator();
    ws = await workspace();
    const env = await credentialsEnv(sim, ws);
    const example = join(REPO, 'roles.example.yaml');

    const run = await runCli(['apply', '-c', example, '--format', 'json'], env);
    expect(run.code, run.stderr).toBe(0);
    const report = jsonReport(run);
    expect(report.organizations.map((o) => o.id)).toEqual([COLLINS, FITZROY]);
    expect(report.summary.failed).toBe(0);
    expect(report.summary.applied).toBeGreaterThan(0);
    const putOrgs = new Set(puts(sim.requests()).map((r) => r.organizationId));
    expect(putOrgs).toEqual(new Set([COLLINS, FITZROY]));
    expect(tokenCalls(sim.requests()).map((r) => r.status)).toEqual([200, 200]);
    expect(sim.user(FITZROY, '5c494250-5bab-4d21-9ce5-7e8d5bbc85f0')?.roles.slice().sort()).toEqual([
      'admin',
      'provider',
    ]);
    expect(sim.user(COLLINS, '3266a9fd-c21d-4600-93b4-d760dce49b05')?.roles).toEqual(['provider']);

    const again = await runCli(['plan', '-c', example, '--detailed-exitcode'], env);
    expect(again.code, again.stdout + again.stderr).toBe(0);
  });

  it("refuses a plan taking admin from one organization's acting user (from the credentials file)", async () => {
    sim = await startSimulator();
    ws = await workspace();
    const env = await credentialsEnv(sim, ws);
    const example = await readFile(join(REPO, 'roles.example.yaml'), 'utf8');
    const fitzroyActing = DEMO_ACTING_USER[FITZROY]!;
    const demoted = example.replace(`${fitzroyActing}: [admin]`, `${fitzroyActing}: [provider]`);
    expect(demoted).not.toBe(example);
    const config = await ws.file('roles.yaml', demoted);

    const run = await runCli(['apply', '-c', config], env);
    expect(run.code).toBe(3);
    expect(run.stderr).toContain(
      `refused: organization ${FITZROY}: the plan takes admin away from the acting user ${fitzroyActing}`,
    );
    expect(run.stderr).not.toContain(`organization ${COLLINS}: the plan takes admin`);
    expect(puts(sim.requests())).toEqual([]);
    expect(sim.user(FITZROY, fitzroyActing)?.roles).toEqual(['admin']);
  });
});
