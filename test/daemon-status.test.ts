/**
 * `/status` of `role-sync run`: without a token no personal data (no email, name or role list),
 * with ROLE_SYNC_STATUS_TOKEN the full page; a wrong token is refused; every page is bounded in
 * size and built once per change, however many requests come. Also: hashes last attempted and
 * applied, reason codes, and a snapshot that cannot be written (readiness, metric).
 */
import { rmSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { demoSeed, type RunningSimulator, type SimSeed } from '../src/simulator/index.js';
import {
  COLLINS,
  daemonEnv,
  puts,
  spawnDaemon,
  startWorld,
  stopAllDaemons,
  waitFor,
  type DaemonProcess,
} from './helpers/daemon-harness.js';

const TOKEN = 'status-token-0123456789abcdef';

const sims: RunningSimulator[] = [];
afterEach(async () => {
  await stopAllDaemons();
  await Promise.all(sims.splice(0).map((s) => s.close()));
});

async function world(opts: Parameters<typeof startWorld>[0] = {}) {
  const w = await startWorld(opts);
  sims.push(w.sim);
  return { ...w, path: join(w.dir, 'roles.yaml') };
}

const finished = (d: DaemonProcess, after = 0, timeoutMs = 10_000) =>
  d.waitForLog((l) => l.msg?.startsWith('reconcile cycle finished') === true, timeoutMs, after);

async function get(d: DaemonProcess, path: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${await d.base}${path}`, { headers });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/** Keyed by email: a change, an unchanged user, a protected owner and a key nobody has. */
const FILE = [
  'version: 1',
  'organizations:',
  `  ${COLLINS}:`,
  '    name: Collins Street Clinic',
  '    users:',
  '      dr.ahmed@collins.example: [admin, provider]',
  '      dr.cameron@collins.example: [provider]',
  '      front.desk@collins.example: [receptionist]',
  '      practice.manager@collins.example: [admin]',
  '      ghost@collins.example: [provider]',
  '',
].join('\n');

const CAMERON = '3266a9fd-c21d-4600-93b4-d760dce49b05';
const NGUYEN = '64c290b3-09df-46c2-833b-b3ad3054109b';

function personalData(seed: SimSeed): string[] {
  const users = seed.organizations.flatMap((o) => o.users);
  return [
    ...users.flatMap((u) => [u.email ?? '', u.fullName ?? '']).filter((s) => s !== ''),
    'ghost@collins.example',
    ...['admin', 'provider', 'receptionist', 'rx_reader', 'owner', 'support', 'member'].map((r) => `"${r}"`),
  ];
}

describe('role-sync run: /status', () => {
  it('holds no email, name or role list without the token; the full page with it; a wrong token is 401', async () => {
    const { sim, path, stateDir } = await world();
    await writeFile(path, FILE);
    const d = spawnDaemon(
      path,
      ['--debounce', '200ms'],
      daemonEnv({ sim, stateDir, extra: { ROLE_SYNC_STATUS_TOKEN: TOKEN } }),
    );
    await finished(d);
    expect(puts(sim).map((r) => r.userId)).toEqual([CAMERON]);
    sim.setRoles(COLLINS, NGUYEN, ['admin']);

    const summary = await get(d, '/status');
    expect(summary.status).toBe(200);
    for (const item of personalData(demoSeed())) expect(summary.text, item).not.toContain(item);
    const page = JSON.parse(summary.text);
    expect(page).toMatchObject({
      statusVersion: 1,
      detail: 'summary',
      reason: 'UserNotFound',
      configValid: true,
      lastAttemptedHash: expect.stringMatching(/^[0-9a-f]{64}$/),
      // Not every user could be written (ghost is nobody): this content is not "applied" yet.
      lastAppliedHash: null,
      snapshotOk: true,
      lastCycle: { result: 'failure', reason: 'UserNotFound', mode: 'apply' },
    });
    expect(page.desiredHash).toBe(page.lastAttemptedHash);
    expect(page.organizations).toEqual([
      expect.objectContaining({
        id: COLLINS,
        reason: 'UserNotFound',
        changes: 1,
        applied: 1,
        failed: 1,
        skipped: 1,
        failedUsers: [{ reason: 'not-found' }],
      }),
    ]);

    const full = await get(d, '/status', { authorization: `Bearer ${TOKEN}` });
    expect(full.status).toBe(200);
    const fullPage = JSON.parse(full.text);
    expect(fullPage.detail).toBe('full');
    expect(full.text).toContain('ghost@collins.example');
    expect(full.text).toContain('dr.cameron@collins.example');
    expect(fullPage.report.organizations[0].changes[0]).toMatchObject({
      from: ['admin', 'provider'],
      to: ['provider'],
    });

    for (const authorization of [`Bearer ${TOKEN}x`, 'Bearer nope', `Basic ${TOKEN}`, TOKEN]) {
      const refused = await get(d, '/status', { authorization });
      expect(refused.status, authorization).toBe(401);
      expect(refused.headers.get('www-authenticate')).toMatch(/^Bearer /);
      for (const item of [...personalData(demoSeed()), COLLINS, CAMERON]) expect(refused.text).not.toContain(item);
    }

    // Fix the file: the next cycle writes everything, and the content becomes the one last applied.
    await writeFile(path, FILE.replace('      ghost@collins.example: [provider]\n', ''));
    const after = d.logs.length;
    const fixed = await finished(d, after);
    expect(fixed['cycle']).toMatchObject({ result: 'success', reason: 'Succeeded' });
    const applied = JSON.parse((await get(d, '/status')).text);
    expect(applied).toMatchObject({ reason: 'Succeeded' });
    expect(applied.lastAppliedHash).toBe(applied.lastAttemptedHash);
    expect(applied.lastAppliedHash).not.toBe(page.lastAttemptedHash);

    // An invalid edit is attempted, not applied: the hashes part, and the reason says why.
    await writeFile(path, 'version: 1\norganizations: [\n');
    await waitFor(async () => (await d.metric('role_sync_config_valid')) === 0 || undefined, 5000, 'config_valid 0');
    const invalid = JSON.parse((await get(d, '/status')).text);
    expect(invalid).toMatchObject({ reason: 'ConfigInvalid', configValid: false, configProblemCount: 1 });
    expect(invalid.lastAppliedHash).toBe(applied.lastAppliedHash);
    expect(invalid.desiredHash).toBe(applied.lastAppliedHash);
    expect(invalid.lastAttemptedHash).not.toBe(applied.lastAppliedHash);
    expect(invalid.configProblems).toBeUndefined();
    const invalidFull = JSON.parse((await get(d, '/status', { authorization: `Bearer ${TOKEN}` })).text);
    expect(invalidFull.configProblems).toEqual([expect.stringContaining(`${path}:`)]);
  });

  it('without a token configured, any Authorization header is refused and the summary is still served', async () => {
    const { sim, path, stateDir } = await world();
    await writeFile(path, FILE);
    const d = spawnDaemon(path, [], daemonEnv({ sim, stateDir }));
    await finished(d);
    expect((await get(d, '/status')).status).toBe(200);
    expect((await get(d, '/status', { authorization: `Bearer ${TOKEN}` })).status).toBe(401);
  });

  it('refuses a status token shorter than 16 characters at start', async () => {
    const { sim, path, stateDir } = await world();
    await writeFile(path, FILE);
    const d = spawnDaemon(path, [], daemonEnv({ sim, stateDir, extra: { ROLE_SYNC_STATUS_TOKEN: 'short' } }));
    expect((await d.exited).code).toBe(1);
    expect(d.output()).toContain('ROLE_SYNC_STATUS_TOKEN: must be at least 16 characters');
    expect(d.output()).not.toContain('"short"');
  });

  it('keeps every page under 1 MiB for a large organization, and builds it once for 8 parallel requests', async () => {
    const managed = 10_000;
    // Twice as many unmanaged users: about 2 MB of report in the list shape without emails.
    const users = Array.from({ length: 3 * managed }, (_, i) => ({
      id: `u${String(i).padStart(5, '0')}`,
      email: `user${i}@big.example`,
      fullName: `User Number ${i}`,
      roles: ['receptionist'],
    }));
    const seed = demoSeed();
    seed.organizations[0]!.users.push(...users);
    const { sim, path, stateDir } = await world({ seed, pageSize: 500 });
    const lines = users.slice(0, managed).map((u) => `      ${u.id}: [receptionist]`);
    await writeFile(path, ['version: 1', 'organizations:', `  ${COLLINS}:`, '    users:', ...lines, ''].join('\n'));
    const d = spawnDaemon(
      path,
      ['--max-changes', '100%'],
      daemonEnv({ sim, stateDir, extra: { ROLE_SYNC_STATUS_TOKEN_FILE: await tokenFile(stateDir) } }),
    );
    await finished(d, 0, 30_000);

    const rss = (text: string): number => (JSON.parse(text) as { process: { rssBytes: number } }).process.rssBytes;
    const before = rss((await get(d, '/status')).text);
    const pages = await Promise.all(
      Array.from({ length: 8 }, (_, i) => get(d, '/status', i % 2 === 0 ? { authorization: `Bearer ${TOKEN}` } : {})),
    );
    for (const p of pages) {
      expect(p.status).toBe(200);
      expect(Buffer.byteLength(p.text)).toBeLessThanOrEqual(1024 * 1024);
    }
    const full = JSON.parse(pages[0]!.text);
    expect(full.detail).toBe('full');
    const unmanaged = full.report.organizations[0];
    // The unmanaged list (20,000 users and more) is cut, and the cut is counted.
    expect(unmanaged.unmanaged.length + unmanaged.unmanagedOmitted).toBeGreaterThanOrEqual(2 * managed);
    expect(unmanaged.unmanagedOmitted).toBeGreaterThan(0);
    const summary = JSON.parse(pages[1]!.text);
    expect(summary.organizations[0]).toMatchObject({ unchanged: managed, unmanaged: expect.any(Number) });
    // The page is a cached string: the same bytes after the live head, and no growth per request.
    expect(pages[2]!.text.slice(pages[2]!.text.indexOf('"reason"'))).toBe(
      pages[0]!.text.slice(pages[0]!.text.indexOf('"reason"')),
    );
    expect(rss(pages.at(-1)!.text) - before).toBeLessThan(64 * 1024 * 1024);
  }, 60_000);
});

async function tokenFile(stateDir: string): Promise<string> {
  const path = `${stateDir}-token`;
  await writeFile(path, `${TOKEN}\n`);
  return path;
}

describe('role-sync run: the snapshot', () => {
  it('exits 1 at start naming the state directory when it cannot be written', async () => {
    const { sim, path, stateDir } = await world();
    await writeFile(path, FILE);
    writeFileSync(stateDir, 'a file, not a directory\n');
    const d = spawnDaemon(path, [], daemonEnv({ sim, stateDir }));
    expect((await d.exited).code).toBe(1);
    expect(d.output()).toContain(`cannot write the observed-state snapshot in ${stateDir} (ROLE_SYNC_STATE_DIR)`);
    expect(sim.requests()).toEqual([]);
  });

  it('says so on /readyz, in role_sync_snapshot_ok and /status when a snapshot write fails, and recovers', async () => {
    const { sim, path, stateDir } = await world();
    await writeFile(path, FILE.replace('      ghost@collins.example: [provider]\n', ''));
    const d = spawnDaemon(path, ['--debounce', '200ms', '--resync-interval', '1h'], daemonEnv({ sim, stateDir }));
    await finished(d);
    expect((await get(d, '/readyz')).status).toBe(200);
    expect(await d.metric('role_sync_snapshot_ok')).toBe(1);

    rmSync(stateDir, { recursive: true, force: true });
    writeFileSync(stateDir, 'in the way\n');
    let after = d.logs.length;
    d.child.kill('SIGHUP');
    await finished(d, after);
    const readyz = await get(d, '/readyz');
    expect(readyz.status).toBe(503);
    expect(readyz.text).toContain(`not ready: cannot write the observed-state snapshot in ${stateDir}`);
    expect(await d.metric('role_sync_snapshot_ok')).toBe(0);
    expect(JSON.parse((await get(d, '/status')).text)).toMatchObject({ reason: 'SnapshotFailed', snapshotOk: false });

    rmSync(stateDir, { force: true });
    after = d.logs.length;
    d.child.kill('SIGHUP');
    await finished(d, after);
    expect((await get(d, '/readyz')).status).toBe(200);
    expect(await d.metric('role_sync_snapshot_ok')).toBe(1);
  });
});
