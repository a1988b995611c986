/**
 * The whole /metrics page of a running daemon (a child process against the simulator), as Prometheus
 * sees it: `promtool check metrics` accepts it, and drift that is healed before the next scrape still
 * leaves a trace in role_sync_drift_detected_total.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningSimulator } from '../src/simulator/index.js';
import {
  COLLINS,
  collinsFile,
  daemonEnv,
  puts,
  REPO,
  spawnDaemon,
  startWorld,
  stopAllDaemons,
  USERS,
  waitFor,
  type DaemonProcess,
} from './helpers/daemon-harness.js';
import { findPromtool, promtool, PROMTOOL_MISSING } from './helpers/promtool.js';

const sims: RunningSimulator[] = [];
afterEach(async () => {
  await stopAllDaemons();
  await Promise.all(sims.splice(0).map((s) => s.close()));
});

async function world() {
  const w = await startWorld();
  sims.push(w.sim);
  const path = join(w.dir, 'roles.yaml');
  await writeFile(path, collinsFile());
  return { ...w, path };
}

const cyclesDone = (d: DaemonProcess, n: number) =>
  waitFor(() => (d.cycles().length >= n ? true : undefined), 10_000, `${n} finished cycles`);
const driftDetected = (d: DaemonProcess) => d.metric('role_sync_drift_detected_total', { organization: COLLINS });

describe('role_sync_drift_detected_total', () => {
  it('counts a drift that was healed within the cycle, and each new drift after it', async () => {
    const { sim, path, stateDir } = await world();
    const d = spawnDaemon(path, ['--debounce', '200ms', '--resync-interval', '300ms'], daemonEnv({ sim, stateDir }));
    await cyclesDone(d, 1);
    expect(await driftDetected(d)).toBe(0);

    sim.setRoles(COLLINS, USERS.patel, ['admin']);
    await waitFor(() => (puts(sim).length === 1 ? true : undefined), 5000, 'the healing PUT');
    // Healed: the gauge is back to 0 by the time anyone scrapes; the counter remembers.
    const after = d.cycles().length;
    await cyclesDone(d, after + 1);
    expect(await d.metric('role_sync_drifted_users', { organization: COLLINS })).toBe(0);
    expect(await driftDetected(d)).toBe(1);

    sim.setRoles(COLLINS, USERS.smith, ['receptionist']);
    await waitFor(() => (puts(sim).length === 2 ? true : undefined), 5000, 'the second healing PUT');
    await cyclesDone(d, d.cycles().length + 1);
    expect(await driftDetected(d)).toBe(2);
  });

  it('counts a drift left in place (--dry-run) once, however many cycles see it again', async () => {
    const { sim, path, stateDir } = await world();
    const d = spawnDaemon(
      path,
      ['--dry-run', '--debounce', '200ms', '--resync-interval', '300ms'],
      daemonEnv({ sim, stateDir }),
    );
    await cyclesDone(d, 1);
    sim.setRoles(COLLINS, USERS.cameron, ['provider']);
    const driftLogs = () => d.logs.filter((l) => l.msg?.startsWith('drift:') === true).length;
    await waitFor(() => (driftLogs() >= 3 ? true : undefined), 5000, 'three cycles seeing the same drift');
    await cyclesDone(d, d.cycles().length + 1);
    expect(await d.metric('role_sync_drifted_users', { organization: COLLINS })).toBe(1);
    expect(await driftDetected(d)).toBe(1);
    expect(puts(sim)).toEqual([]);
  });
});

describe('the /metrics page of a running daemon', () => {
  const tool = findPromtool();

  it.skipIf(!tool)(`passes promtool check metrics${tool ? '' : ` (skipped: ${PROMTOOL_MISSING})`}`, async () => {
    const { sim, path, stateDir } = await world();
    const d = spawnDaemon(path, ['--debounce', '200ms', '--resync-interval', '300ms'], daemonEnv({ sim, stateDir }));
    await cyclesDone(d, 1);
    // Drift, a write and API traffic, so every labelled family has children on the page.
    sim.setRoles(COLLINS, USERS.patel, ['admin']);
    await waitFor(() => (puts(sim).length === 1 ? true : undefined), 5000, 'the healing PUT');
    await cyclesDone(d, d.cycles().length + 1);
    const page = await (await fetch(`${await d.base}/metrics`)).text();

    const check = await promtool(['check', 'metrics'], { stdin: page });
    expect(check.output, 'promtool check metrics says nothing about the page').toBe('');
    expect(check.code).toBe(0);
    const { version } = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')) as { version: string };
    expect(page).toContain(`role_sync_build_info{version="${version}"} 1`);
    expect(page).toMatch(/^role_sync_drift_detected_total\{organization="[^"]+"\} 1$/m);
    expect(page).not.toMatch(/^nodejs_active_\w+_total/m);
    expect(page).toMatch(/^# TYPE nodejs_active_handles gauge$/m);
  });
});
