/**
 * Read-only runs and safety guards through the real CLI (exit codes, dry-run and guards): `plan`
 * and `apply --dry-run` never write; a guard refusal writes nothing and exits 3.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningSimulator } from '../src/simulator/index.js';
import { startSimulator } from '../src/simulator/index.js';
import { jsonReport, liveEnv, puts, runCli, workspace, type Workspace } from './helpers/live-cli.js';
import { ACTING_USER, buildWorld, divergent, ORG, type LiveWorld } from './helpers/live-seed.js';

let sim: RunningSimulator | undefined;
let ws: Workspace | undefined;

afterEach(async () => {
  await sim?.close();
  await ws?.remove();
  sim = undefined;
  ws = undefined;
});

async function setUp(world: LiveWorld): Promise<{ s: RunningSimulator; config: string; env: Record<string, string> }> {
  sim = await startSimulator({ seed: world.seed });
  ws = await workspace();
  const config = await ws.file('roles.yaml', world.yaml);
  return { s: sim, config, env: liveEnv({ sim, stateDir: ws.stateDir }) };
}

describe('read-only runs', () => {
  it('apply --dry-run and plan never PUT; --detailed-exitcode: 2 while changes pend, 0 once applied', async () => {
    const world = buildWorld({ users: 40, changes: 8 });
    const { s, config, env } = await setUp(world);

    const dry = await runCli(['apply', '-c', config, '--dry-run', '--format', 'json'], env);
    expect(dry.code, dry.stderr).toBe(0);
    const report = jsonReport(dry);
    expect(report).toMatchObject({ kind: 'apply', dryRun: true });
    expect(report.summary).toMatchObject({ changes: 8, applied: 0, pending: 8 });
    expect(report.organizations[0]!.changes.every((c) => c.result.state === 'planned')).toBe(true);

    expect((await runCli(['apply', '-c', config, '--dry-run', '--detailed-exitcode'], env)).code).toBe(2);
    expect((await runCli(['plan', '-c', config], env)).code).toBe(0);
    const plan = await runCli(['plan', '-c', config, '--detailed-exitcode', '--format', 'json'], env);
    expect(plan.code, plan.stderr).toBe(2);
    expect(jsonReport(plan)).toMatchObject({ kind: 'plan', summary: { changes: 8, pending: 8 } });

    // Four read-only runs: reads and token calls only, and nothing changed in Parchment.
    expect(s.requests().length).toBeGreaterThanOrEqual(8);
    expect(puts(s.requests())).toEqual([]);
    expect(s.requests().every((r) => r.method === 'GET' || r.route === 'POST /v1/token')).toBe(true);
    expect(divergent(s, world.initial)).toEqual([]);

    expect((await runCli(['apply', '-c', config], env)).code).toBe(0);
    expect(divergent(s, world.desired)).toEqual([]);
    s.clearRequests();
    expect((await runCli(['apply', '-c', config, '--dry-run', '--detailed-exitcode'], env)).code).toBe(0);
    expect((await runCli(['plan', '-c', config, '--detailed-exitcode'], env)).code).toBe(0);
    expect(puts(s.requests())).toEqual([]);
  });
});

describe('safety guards', () => {
  it('refuses more changes than 25% of managed users (and than 10): no PUT, exit 3; --force goes', async () => {
    const world = buildWorld({ users: 59, changes: 20 });
    const { s, config, env } = await setUp(world);

    const refused = await runCli(['apply', '-c', config, '--format', 'json'], env);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain(
      `role-sync: refused: organization ${ORG}: 20 changes exceed --max-changes 15 ` +
        '(25% of 60 managed users, at least 10); review the plan and re-run with --force or a higher --max-changes',
    );
    expect(puts(s.requests())).toEqual([]);
    const report = jsonReport(refused);
    expect(
      report.organizations[0]!.changes.every((c) => c.result.state === 'not-attempted' && c.result.reason === 'guard'),
    ).toBe(true);
    expect(report.summary).toMatchObject({ applied: 0, pending: 20 });

    // Read-only runs: a dry-run says the apply would be refused (3); a plan is never refused, it warns.
    expect((await runCli(['apply', '-c', config, '--dry-run', '--detailed-exitcode'], env)).code).toBe(3);
    const plan = await runCli(['plan', '-c', config, '--detailed-exitcode', '--format', 'json'], env);
    expect(plan.code, plan.stderr).toBe(2);
    const planned = jsonReport(plan);
    expect(planned.organizations[0]!.changes.every((c) => c.result.state === 'planned')).toBe(true);
    expect(planned.warnings.map((w) => w.message)).toContain(
      `an apply would be refused by a safety guard: organization ${ORG}: 20 changes exceed --max-changes 15 ` +
        '(25% of 60 managed users, at least 10); review the plan and re-run with --force or a higher --max-changes',
    );
    expect(puts(s.requests())).toEqual([]);

    const forced = await runCli(['apply', '-c', config, '--force'], env);
    expect(forced.code, forced.stderr).toBe(0);
    expect(puts(s.requests())).toHaveLength(20);
    expect(divergent(s, world.desired)).toEqual([]);
  });

  it('always allows 10 changes, refuses 11 when that is more than 25%', async () => {
    const ten = buildWorld({ users: 12, changes: 10 });
    const { s, config, env } = await setUp(ten);
    expect((await runCli(['apply', '-c', config], env)).code).toBe(0);
    expect(puts(s.requests())).toHaveLength(10);
    await s.close();
    await ws!.remove();

    const eleven = buildWorld({ users: 12, changes: 11 });
    const next = await setUp(eleven);
    const run = await runCli(['apply', '-c', next.config], next.env);
    expect(run.code).toBe(3);
    expect(run.stderr).toContain('11 changes exceed --max-changes 10');
    expect(puts(next.s.requests())).toEqual([]);
  });

  it('takes --max-changes as a count or a percentage', async () => {
    const world = buildWorld({ users: 59, changes: 20 });
    const { s, config, env } = await setUp(world);

    const count = await runCli(['apply', '-c', config, '--max-changes', '5'], env);
    expect(count.code).toBe(3);
    expect(count.stderr).toContain('20 changes exceed --max-changes 5;');
    const tenPercent = await runCli(['apply', '-c', config, '--max-changes', '10%'], env);
    expect(tenPercent.code).toBe(3);
    expect(tenPercent.stderr).toContain('20 changes exceed --max-changes 10 (10% of 60 managed users, at least 10)');
    const invalid = await runCli(['apply', '-c', config, '--max-changes', 'lots'], env);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toContain('"lots" is not a count (40) or a percentage (25%)');
    expect(puts(s.requests())).toEqual([]);

    const half = await runCli(['apply', '-c', config, '--max-changes', '50%'], env);
    expect(half.code, half.stderr).toBe(0);
    expect(puts(s.requests())).toHaveLength(20);

    // The count form at exactly the number of changes lets them through.
    s.setRoles(ORG, world.changing[0]!, ['admin', 'provider', 'receptionist']);
    expect((await runCli(['apply', '-c', config, '--max-changes', '1'], env)).code).toBe(0);
    expect(divergent(s, world.desired)).toEqual([]);
  });

  it('refuses a plan that takes admin away from PARCHMENT_USER_ID: exit 3, no PUT; --force proceeds', async () => {
    const world = buildWorld({ users: 20, changes: 2, actingRoles: ['provider'] });
    const { s, config, env } = await setUp(world);

    const run = await runCli(['apply', '-c', config], env);
    expect(run.code).toBe(3);
    expect(run.stderr).toContain(
      `refused: organization ${ORG}: the plan takes admin away from the acting user ${ACTING_USER}`,
    );
    expect(puts(s.requests())).toEqual([]);
    expect(s.user(ORG, ACTING_USER)?.roles).toEqual(['admin', 'provider']);

    const dry = await runCli(['apply', '-c', config, '--dry-run'], env);
    expect(dry.code).toBe(3);
    expect(puts(s.requests())).toEqual([]);

    const forced = await runCli(['apply', '-c', config, '--force'], env);
    expect(forced.code, forced.stderr).toBe(0);
    expect(s.user(ORG, ACTING_USER)?.roles).toEqual(['provider']);
  });
});
