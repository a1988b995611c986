/**
 * `role-sync run` beyond file edits: drift healed at resync, dry-run that only
 * reports, guards, readiness, metrics, and a clean SIGTERM while writes are in flight.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DEMO_PARTNER, demoSeed, startSimulator, type RunningSimulator, type SimSeed } from '../src/simulator/index.js';
import {
  COLLINS,
  COLLINS_SECRET,
  collinsFile,
  daemonEnv,
  LIVE_ROLES,
  puts,
  putSummary,
  spawnDaemon,
  startWorld,
  stopAllDaemons,
  tempDir,
  USERS,
  waitFor,
  type DaemonProcess,
} from './helpers/daemon-harness.js';
import { DAEMON_METRIC_NAMES } from './helpers/daemon-prom.js';
import { writeInPlace } from './helpers/daemon-writers.js';

const STATUS_TOKEN = 'a-status-token-for-tests';

const sims: RunningSimulator[] = [];
afterEach(async () => {
  await stopAllDaemons();
  await Promise.all(sims.splice(0).map((s) => s.close()));
});

async function world(opts: Parameters<typeof startWorld>[0] = {}) {
  const w = await startWorld(opts);
  sims.push(w.sim);
  const path = join(w.dir, 'roles.yaml');
  return { ...w, path };
}

const finished = (d: DaemonProcess, after = 0, timeoutMs = 10_000) =>
  d.waitForLog((l) => l.msg?.startsWith('reconcile cycle finished') === true, timeoutMs, after);

describe('role-sync run: drift', () => {
  it('heals an out-of-band change at the next resync, logs it, and exposes every metric', async () => {
    const { sim, path, stateDir } = await world();
    await writeFile(path, collinsFile());
    const d = spawnDaemon(path, ['--debounce', '200ms', '--resync-interval', '1s'], daemonEnv({ sim, stateDir }));
    await finished(d);
    expect(puts(sim)).toEqual([]);

    sim.setRoles(COLLINS, USERS.patel, ['admin']);
    const drift = await d.waitForLog((l) => l.msg?.startsWith('drift:') === true, 5000);
    expect(drift['drift']).toMatchObject({
      organization: COLLINS,
      userId: USERS.patel,
      from: ['receptionist'],
      to: ['admin'],
      outcome: 'healed',
    });
    await waitFor(() => (puts(sim).length > 0 ? true : undefined), 3000, 'the healing PUT');
    expect(puts(sim).map(putSummary)).toEqual([{ user: USERS.patel, roles: ['receptionist'] }]);
    expect(sim.user(COLLINS, USERS.patel)?.roles).toEqual(['receptionist']);

    const metricsAfter = await waitFor(
      async () => {
        const m = await d.metrics();
        return (m.get('role_sync_changes_applied_total')?.samples[0]?.value ?? 0) >= 1 ? m : undefined;
      },
      3000,
      'the applied change in /metrics',
    );
    for (const name of DAEMON_METRIC_NAMES) {
      expect(metricsAfter.get(name)?.samples.length ?? 0, `${name} has samples`).toBeGreaterThan(0);
    }
    expect(metricsAfter.has('process_resident_memory_bytes')).toBe(true);
    expect(await d.metric('role_sync_drifted_users', { organization: COLLINS })).toBe(0);
    expect(await d.metric('role_sync_api_requests_total', { method: 'PUT', status: '200' })).toBe(1);
    expect(await d.metric('role_sync_unmanaged_users', { organization: COLLINS })).toBe(6);
    expect(await d.metric('role_sync_last_success_timestamp_seconds')).toBeGreaterThan(Date.now() / 1000 - 60);
  });

  it('under --dry-run reports drift and pending changes in logs, /status and metrics, and never writes', async () => {
    const { sim, path, stateDir } = await world();
    // nguyen differs from the live roles: a pending change, since role-sync never applied it.
    await writeFile(path, collinsFile({ nguyen: ['admin', 'provider'] }));
    const d = spawnDaemon(
      path,
      ['--dry-run', '--debounce', '200ms', '--resync-interval', '500ms'],
      daemonEnv({ sim, stateDir, extra: { ROLE_SYNC_STATUS_TOKEN: STATUS_TOKEN } }),
    );
    await finished(d);
    sim.setRoles(COLLINS, USERS.cameron, ['provider']);
    const drift = await d.waitForLog((l) => l.msg?.startsWith('drift:') === true, 5000);
    expect(drift['drift']).toMatchObject({
      userId: USERS.cameron,
      from: ['admin', 'provider'],
      to: ['provider'],
      outcome: 'reported only (dry-run)',
    });
    // The same drift seen again keeps its first-seen time.
    const again = await d.waitForLog((l) => l.msg?.startsWith('drift:') === true, 5000, d.logs.indexOf(drift) + 1);
    expect((again['drift'] as { firstSeen: string }).firstSeen).toBe(
      (drift['drift'] as { firstSeen: string }).firstSeen,
    );

    const status = (await d.status()) as {
      dryRun: boolean;
      pendingChanges: number;
      organizations: { id: string; driftedUsers: { userId: string; firstSeen: string }[] }[];
    };
    expect(status.dryRun).toBe(true);
    // The summary names drifted users by id only; the roles are on the full page.
    expect(status.organizations).toEqual([
      expect.objectContaining({
        id: COLLINS,
        driftedUsers: [{ userId: USERS.cameron, firstSeen: expect.any(String) }],
      }),
    ]);
    expect(status.pendingChanges).toBe(1);
    const full = (await (
      await fetch(`${await d.base}/status`, { headers: { authorization: `Bearer ${STATUS_TOKEN}` } })
    ).json()) as { drift: { userId: string; from: string[]; to: string[] }[] };
    expect(full.drift).toEqual([
      expect.objectContaining({ userId: USERS.cameron, from: ['admin', 'provider'], to: ['provider'] }),
    ]);
    expect(await d.metric('role_sync_drifted_users', { organization: COLLINS })).toBe(1);
    expect(await d.metric('role_sync_pending_changes', { organization: COLLINS })).toBe(1);
    expect(sim.requests().filter((r) => r.method !== 'GET' && !r.path.endsWith('/v1/token'))).toEqual([]);
    expect(sim.user(COLLINS, USERS.cameron)?.roles).toEqual(['provider']);
    expect((await d.stop()).code).toBe(0);
  });
});

describe('role-sync run: organizations', () => {
  it('keeps reconciling the others when the file gains an organization it has no credentials for', async () => {
    const { sim, path, stateDir } = await world();
    await writeFile(path, collinsFile());
    const d = spawnDaemon(path, ['--debounce', '200ms'], daemonEnv({ sim, stateDir }));
    await finished(d);
    const after = d.logs.length;
    const fitzroy = '3b1f9c2e-8d4a-4e6b-9f1a-2c5d7e8f9a0b';
    await writeInPlace(
      path,
      `${collinsFile({ smith: ['admin'] })}  ${fitzroy}:\n` +
        '    users:\n      dr.okafor@fitzroy.example: [admin, provider]\n',
    );
    const cycle = await finished(d, after, 5000);
    expect(cycle['cycle']).toMatchObject({ result: 'failure', applied: 1 });
    expect(
      d.logs.slice(after).some((l) => l.msg === 'cannot load credentials for every organization in the file'),
    ).toBe(true);
    expect(puts(sim).map(putSummary)).toEqual([{ user: USERS.smith, roles: ['admin'] }]);
    const status = (await d.status()) as {
      reason: string;
      organizations: { id: string; reason: string; failedUsers: unknown[] }[];
    };
    expect(status.reason).toBe('ObserveFailed');
    expect(status.organizations).toEqual([
      expect.objectContaining({ id: COLLINS, reason: 'Succeeded', failedUsers: [] }),
      expect.objectContaining({ id: fitzroy, reason: 'ObserveFailed', failedUsers: [{ reason: 'observe' }] }),
    ]);
    expect(await d.metric('role_sync_apply_failures_total', { organization: fitzroy, reason: 'observe' })).toBe(1);
  });
});

describe('role-sync run: guards', () => {
  it('logs and counts a refusal and writes nothing; --force writes', async () => {
    const { sim, path, stateDir } = await world();
    const wanted = collinsFile({ nguyen: ['admin', 'provider'], smith: ['admin', 'provider'] });
    await writeFile(path, wanted);
    const d = spawnDaemon(path, ['--max-changes', '1'], daemonEnv({ sim, stateDir }));
    const cycle = await finished(d);
    expect(cycle['cycle']).toMatchObject({ result: 'refused', applied: 0 });
    expect(d.logs.some((l) => /exceed --max-changes/.test(l.msg ?? ''))).toBe(true);
    expect(await d.metric('role_sync_reconcile_runs_total', { result: 'refused' })).toBe(1);
    expect(puts(sim)).toEqual([]);
    await d.stop();

    const forced = spawnDaemon(path, ['--max-changes', '1', '--force'], daemonEnv({ sim, stateDir }));
    expect((await finished(forced))['cycle']).toMatchObject({ result: 'success', applied: 2 });
    expect(puts(sim)).toHaveLength(2);
  });
});

describe('role-sync run: readiness and start', () => {
  it('is not ready before the first reconcile completes, then ready', async () => {
    const { sim, path, stateDir } = await world({ latencyMs: 600 });
    await writeFile(path, collinsFile());
    const d = spawnDaemon(path, [], daemonEnv({ sim, stateDir }));
    const base = await d.base;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const early = await fetch(`${base}/readyz`);
    expect(early.status).toBe(503);
    expect(await early.text()).toContain('no reconcile has completed yet');
    await finished(d);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
  });

  it('exits 1 when the file is invalid at start, naming line and column', async () => {
    const { sim, path, stateDir } = await world();
    await writeFile(path, collinsFile({ smith: ['root'] }));
    const d = spawnDaemon(path, [], daemonEnv({ sim, stateDir }));
    expect((await d.exited).code).toBe(1);
    expect(d.logs.some((l) => /roles\.yaml:\d+:\d+: error: .*root/.test(l.msg ?? ''))).toBe(true);
    expect(sim.requests()).toEqual([]);
  });

  it('exits 1 when the ops address is taken', async () => {
    const { sim, path, stateDir } = await world();
    await writeFile(path, collinsFile());
    const first = spawnDaemon(path, [], daemonEnv({ sim, stateDir }));
    const port = new URL(await first.base).port;
    const second = spawnDaemon(path, ['--listen', `127.0.0.1:${port}`], daemonEnv({ sim, stateDir }));
    expect((await second.exited).code).toBe(1);
    expect(second.logs.some((l) => l.msg === 'cannot start the daemon' && /EADDRINUSE/.test(String(l['err'])))).toBe(
      true,
    );
  });
});

describe('role-sync run: shutdown', () => {
  it('on SIGTERM with writes in flight lets them finish, saves a consistent snapshot, exits 0 in 10 s', async () => {
    const seed: SimSeed = demoSeed();
    const collins = seed.organizations.find((o) => o.id === COLLINS)!;
    const staff = Array.from({ length: 40 }, (_, i) => `5eed0000-0000-4000-8000-${String(i).padStart(12, '0')}`);
    collins.users.push(...staff.map((id, i) => ({ id, email: `staff${i}@collins.example`, roles: ['provider'] })));
    const sim = await startSimulator({ seed, latencyMs: 300 });
    sims.push(sim);
    const dir = await tempDir();
    const stateDir = join(await tempDir('rs-state-'), 'state');
    const path = join(dir, 'roles.yaml');
    const users = staff.map((id) => `      ${id}: [receptionist]`).join('\n');
    await writeFile(path, `${collinsFile()}${users}\n`);
    const d = spawnDaemon(path, ['--force'], daemonEnv({ sim, stateDir, extra: { ROLE_SYNC_CONCURRENCY: '4' } }));
    await waitFor(() => (puts(sim).length >= 4 ? true : undefined), 10_000, 'the first PUTs');

    const signalled = Date.now();
    const exit = await d.stop('SIGTERM');
    const tookMs = Date.now() - signalled;
    expect(exit.code).toBe(0);
    expect(tookMs).toBeLessThan(10_000);
    expect(d.logs.some((l) => l.msg === 'stopped')).toBe(true);
    // The cycle the signal cut short is not a success.
    expect(d.cycles().at(-1)?.['cycle']).toMatchObject({ result: 'interrupted', reason: 'Interrupted' });

    // No new work after the signal: far fewer than the 40 writes went out.
    const written = puts(sim).filter((r) => r.status === 200);
    expect(written.length).toBeLessThan(staff.length);
    const snapshot = JSON.parse(await readFile(join(stateDir, 'snapshot.json'), 'utf8')) as {
      organizations: Record<string, { applied: Record<string, string[]> }>;
    };
    const applied = snapshot.organizations[COLLINS]!.applied;
    // Consistent: the snapshot says "applied" for exactly the users Parchment now has at the new roles.
    for (const id of staff) {
      const live = sim.user(COLLINS, id)!.roles;
      if (applied[id] !== undefined) expect(live, id).toEqual(applied[id]);
      expect(applied[id] !== undefined && applied[id].includes('receptionist'), id).toBe(live.includes('receptionist'));
    }
    expect(staff.filter((id) => applied[id] !== undefined)).toHaveLength(written.length);
    expect(applied[USERS.ahmed]).toEqual(LIVE_ROLES.ahmed);
  });

  it('stops promptly when idle, on SIGINT too', async () => {
    const { sim, path, stateDir } = await world();
    await writeFile(path, collinsFile());
    const d = spawnDaemon(path, [], daemonEnv({ sim, stateDir }));
    await finished(d);
    const signalled = Date.now();
    const exit = await d.stop('SIGINT');
    expect(exit.code).toBe(0);
    expect(Date.now() - signalled).toBeLessThan(2000);
    expect(JSON.parse(await readFile(join(stateDir, 'snapshot.json'), 'utf8'))).toMatchObject({ snapshotVersion: 1 });
  });
});

describe('role-sync run: secrets', () => {
  it('never prints a secret or token: debug logs, /status and /metrics, through faults, a 401 and drift', async () => {
    const { sim, path, stateDir } = await world();
    await writeFile(path, collinsFile({ patel: ['admin'] }));
    sim.configure({ faultRate: 0.2 });
    const d = spawnDaemon(
      path,
      ['--debounce', '200ms', '--resync-interval', '1s'],
      daemonEnv({ sim, stateDir, extra: { ROLE_SYNC_STATUS_TOKEN: STATUS_TOKEN } }),
    );
    await finished(d);
    sim.configure({ faultRate: 0 });
    sim.revokeTokens();
    sim.setRoles(COLLINS, USERS.nguyen, ['admin', 'provider']);
    await d.waitForLog((l) => l.msg?.startsWith('drift:') === true, 5000);
    await waitFor(
      () => (sim.user(COLLINS, USERS.nguyen)?.roles.includes('admin') === false ? true : undefined),
      5000,
      'the drift healed after the 401',
    );

    const base = await d.base;
    const full = { headers: { authorization: `Bearer ${STATUS_TOKEN}` } };
    const served = [
      await (await fetch(`${base}/status`)).text(),
      await (await fetch(`${base}/status`, full)).text(),
      await (await fetch(`${base}/metrics`)).text(),
    ];
    await d.stop();
    const everything = [d.output(), ...served].join('\n');
    // The run did see a 401 (and re-minted), so the token was in play while these were written.
    expect(sim.requests().some((r) => r.status === 401)).toBe(true);
    expect(d.output()).toContain('"status":401');
    for (const secret of [DEMO_PARTNER.partnerSecret, COLLINS_SECRET, STATUS_TOKEN])
      expect(everything).not.toContain(secret);
    expect(everything.toLowerCase()).not.toContain('bearer ');
    expect(everything).not.toMatch(/sim_[A-Za-z0-9_-]{16,}/);
  });
});

describe('role-sync run: credentials', () => {
  it('reads rotated secret files again after Parchment rejects the credentials, then carries on', async () => {
    const { sim, dir, path, stateDir } = await world();
    await writeFile(path, collinsFile({ patel: ['admin'] }));
    const secretFile = join(dir, 'organization-secret');
    await writeFile(secretFile, 'an-old-secret\n');
    const env = daemonEnv({ sim, stateDir });
    delete env['PARCHMENT_ORGANIZATION_SECRET'];
    env['PARCHMENT_ORGANIZATION_SECRET_FILE'] = secretFile;
    const d = spawnDaemon(path, ['--debounce', '200ms', '--resync-interval', '1s'], env);

    const rejected = await finished(d);
    expect(rejected['cycle']).toMatchObject({ result: 'failure' });
    expect(puts(sim)).toEqual([]);
    expect(sim.requests().some((r) => r.route === 'POST /v1/token' && r.status === 401)).toBe(true);

    // The Secret is rotated in place, as the kubelet does for a mounted Secret.
    await writeFile(secretFile, `${COLLINS_SECRET}\n`);
    await d.waitForLog((l) => l.msg?.startsWith('Parchment rejected the credentials') === true, 5000);
    await waitFor(() => (puts(sim).length > 0 ? true : undefined), 5000, 'the PUT with the rotated secret');
    expect(puts(sim).map(putSummary)).toEqual([{ user: USERS.patel, roles: ['admin'] }]);
  });
});
