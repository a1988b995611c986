/**
 * `role-sync run` reacting to every way the file gets replaced (test/helpers/daemon-writers.ts):
 * each edit leads to the right PUTs at the simulator within 3 s, and only those.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSimulator } from '../src/simulator/index.js';
import {
  collinsFile,
  daemonEnv,
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
import {
  ConfigMapVolume,
  deleteAndRecreate,
  GitSyncVolume,
  writeByRename,
  writeInPlace,
} from './helpers/daemon-writers.js';

const FAST = ['--debounce', '200ms', '--resync-interval', '5m'];
let sim: RunningSimulator;

beforeAll(async () => {
  ({ sim } = await startWorld());
});
afterAll(async () => {
  await sim.close();
});
afterEach(async () => {
  await stopAllDaemons();
  sim.reset();
  sim.clearRequests();
});

/** A daemon on `path` whose first cycle has finished (and, the file matching the live roles, written nothing). */
async function daemonOn(path: string, args: readonly string[] = FAST): Promise<DaemonProcess> {
  const d = spawnDaemon(path, args, daemonEnv({ sim, stateDir: join(await tempDir('rs-state-'), 'state') }));
  await d.waitForLog((l) => l.msg?.startsWith('reconcile cycle finished') === true, 10_000);
  expect(puts(sim)).toEqual([]);
  return d;
}

const byUser = (a: { user: string | undefined }, b: { user: string | undefined }): number =>
  String(a.user).localeCompare(String(b.user));

/** Apply `edit`, then expect exactly these PUTs within 3 s of it, and a finished cycle with nothing more. */
async function expectPuts(
  d: DaemonProcess,
  edit: () => Promise<void>,
  expected: ReturnType<typeof putSummary>[],
): Promise<number> {
  const cyclesBefore = d.cycles().length;
  const started = Date.now();
  await edit();
  await waitFor(() => (puts(sim).length >= expected.length ? true : undefined), 3000, `${expected.length} PUT(s)`);
  const latency = Date.now() - started;
  await d.waitForLog(
    (l) => l.msg?.startsWith('reconcile cycle finished') === true,
    5000,
    d.logs.indexOf(d.cycles()[cyclesBefore - 1]!) + 1,
  );
  // The order between users is not specified: compare as sets.
  expect(puts(sim).map(putSummary).sort(byUser)).toEqual([...expected].sort(byUser));
  return latency;
}

describe('role-sync run: file edits', () => {
  it.each([
    ['an in-place rewrite', writeInPlace],
    ['a temp file renamed over the file', writeByRename],
    ['delete then re-create', deleteAndRecreate],
  ])('applies %s', async (_name, write) => {
    const path = join(await tempDir(), 'roles.yaml');
    await writeFile(path, collinsFile());
    const d = await daemonOn(path);
    const latency = await expectPuts(d, () => write(path, collinsFile({ nguyen: ['admin', 'provider'] })), [
      { user: USERS.nguyen, roles: ['admin', 'provider'] },
    ]);
    expect(latency).toBeLessThan(3000);
    sim.clearRequests();
    await expectPuts(
      d,
      () => write(path, collinsFile({ nguyen: ['provider'], patel: ['receptionist', 'rx_reader'] })),
      [
        { user: USERS.nguyen, roles: ['provider'] },
        { user: USERS.patel, roles: ['receptionist', 'rx_reader'] },
      ],
    );
  });

  it('applies a Kubernetes ConfigMap update (..data symlink swap)', async () => {
    const volume = new ConfigMapVolume(await tempDir());
    await volume.create(collinsFile());
    const d = await daemonOn(volume.path);
    await expectPuts(d, () => volume.update(collinsFile({ smith: ['admin'] })), [
      { user: USERS.smith, roles: ['admin'] },
    ]);
    sim.clearRequests();
    await expectPuts(d, () => volume.update(collinsFile({ smith: ['provider'] })), [
      { user: USERS.smith, roles: ['provider'] },
    ]);
  });

  it('applies a git-sync update (the checkout link swapped to a new worktree)', async () => {
    const volume = new GitSyncVolume(await tempDir());
    await volume.create(collinsFile());
    const d = await daemonOn(volume.path);
    await expectPuts(d, () => volume.update(collinsFile({ cameron: ['provider'] })), [
      { user: USERS.cameron, roles: ['provider'] },
    ]);
    sim.clearRequests();
    await expectPuts(d, () => volume.update(collinsFile({ cameron: ['admin', 'provider'] })), [
      { user: USERS.cameron, roles: ['admin', 'provider'] },
    ]);
  });

  it('refuses an invalid edit (line:col logged, config_valid 0, not ready, no write), applies the fix', async () => {
    const path = join(await tempDir(), 'roles.yaml');
    await writeFile(path, collinsFile());
    const d = await daemonOn(path);
    await waitFor(
      async () => ((await fetch(`${await d.base}/readyz`)).status === 200 ? true : undefined),
      3000,
      'ready',
    );

    const cyclesBefore = d.cycles().length;
    await writeInPlace(path, collinsFile({ nguyen: ['superuser'] }));
    const problem = await d.waitForLog((l) => /roles\.yaml:\d+:\d+: error: .*superuser/.test(l.msg ?? ''), 3000);
    const line =
      collinsFile()
        .split('\n')
        .findIndex((l) => l.includes(USERS.nguyen)) + 1;
    expect(problem.msg).toMatch(new RegExp(`roles\\.yaml:${line}:\\d+: error:`));
    expect(await d.metric('role_sync_config_valid')).toBe(0);
    expect((await fetch(`${await d.base}/readyz`)).status).toBe(503);
    expect(((await d.status()) as { configValid: boolean }).configValid).toBe(false);
    // An empty file (a half-written save) is invalid too, never "no users wanted".
    await writeInPlace(path, '');
    await d.waitForLog((l) => /roles\.yaml:1:1: error:/.test(l.msg ?? ''), 3000);
    expect(d.cycles()).toHaveLength(cyclesBefore);
    expect(puts(sim)).toEqual([]);

    await expectPuts(d, () => writeInPlace(path, collinsFile({ nguyen: ['admin', 'provider'] })), [
      { user: USERS.nguyen, roles: ['admin', 'provider'] },
    ]);
    expect(await d.metric('role_sync_config_valid')).toBe(1);
    expect((await fetch(`${await d.base}/readyz`)).status).toBe(200);
  });

  it('does nothing when the same content is written again', async () => {
    const path = join(await tempDir(), 'roles.yaml');
    const text = collinsFile();
    await writeFile(path, text);
    const d = await daemonOn(path);
    const requestsBefore = sim.requests().length;
    for (const write of [writeInPlace, writeByRename]) {
      const checked = d.logs.length;
      await write(path, text);
      await d.waitForLog(
        (l) => l.msg === 'desired-state file checked: unchanged' && l['reason'] === 'event',
        3000,
        checked,
      );
    }
    expect(sim.requests().length).toBe(requestsBefore);
    // A real edit afterwards proves events were flowing: it alone is read as a change.
    await expectPuts(d, () => writeInPlace(path, collinsFile({ patel: ['admin'] })), [
      { user: USERS.patel, roles: ['admin'] },
    ]);
    expect(d.logs.filter((l) => l.msg === 'the desired-state file changed')).toHaveLength(1);
    expect(d.cycles().map((c) => (c['cycle'] as { triggers: string[] }).triggers)).toEqual([
      ['start'],
      ['file-change'],
    ]);
  });

  it('re-reads the file on SIGHUP', async () => {
    const path = join(await tempDir(), 'roles.yaml');
    await writeFile(path, collinsFile());
    // A debounce longer than the test: only SIGHUP can pick the edit up in time.
    const d = await daemonOn(path, ['--debounce', '1m', '--reread-interval', '1h']);
    await expectPuts(d, async () => {
      await writeInPlace(path, collinsFile({ smith: ['admin', 'provider'] }));
      d.child.kill('SIGHUP');
    }, [{ user: USERS.smith, roles: ['admin', 'provider'] }]);
  });
});
