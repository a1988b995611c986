/**
 * The daemon's one learned request rate (ROLE_SYNC_RATE=auto): shown as `role_sync_request_rate`,
 * logged when it moves, and kept from one cycle to the next rather than learned again.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningSimulator } from '../src/simulator/index.js';
import { daemonEnv, spawnDaemon, startWorld, stopAllDaemons } from './helpers/daemon-harness.js';
import { writeInPlace } from './helpers/daemon-writers.js';
import { buildWorld } from './helpers/live-seed.js';

const sims: RunningSimulator[] = [];
afterEach(async () => {
  await stopAllDaemons();
  await Promise.all(sims.splice(0).map((s) => s.close()));
});

describe('role-sync run with ROLE_SYNC_RATE=auto', () => {
  it('learns the rate in its first cycle, exposes it as a metric and keeps it for the next cycles', async () => {
    const world = buildWorld({ users: 50, changes: 40 });
    // A list that carries roles and emails: a resync cycle is one list page, which never waits on the budget.
    const { sim, dir, stateDir } = await startWorld({
      seed: world.seed,
      listShape: 'rs',
      rateLimit: { perSecond: 8 },
      latencyMs: 5,
    });
    sims.push(sim);
    const path = join(dir, 'roles.yaml');
    await writeInPlace(path, world.yaml);
    const d = spawnDaemon(
      path,
      ['--debounce', '200ms', '--resync-interval', '500ms', '--max-changes', '100%'],
      daemonEnv({ sim, stateDir, extra: { ROLE_SYNC_RATE: 'auto', ROLE_SYNC_CONCURRENCY: '4' } }),
    );
    const isCycle = (l: { msg?: string }): boolean => l.msg?.startsWith('reconcile cycle finished') === true;
    const first = await d.waitForLog(isCycle, 30_000);
    expect(sim.requests().filter((r) => r.method === 'PUT' && r.status === 200)).toHaveLength(40);

    const learned = await d.metric('role_sync_request_rate');
    expect(learned).toBeDefined();
    // 40 writes waiting on a budget that starts at 5/s: slow start raised it, the 8/s limit cut it back.
    expect(learned).not.toBe(5);
    expect(d.logs.some((l) => typeof l['ratePerSecond'] === 'number' && l.msg?.startsWith('request rate now'))).toBe(
      true,
    );

    // Resync cycles send a list or two each, never waiting on the budget: the rate stays what was learned.
    await d.waitForLog(isCycle, 10_000, d.logs.indexOf(first) + 1);
    const second = d.logs.filter(isCycle).at(-1)!;
    await d.waitForLog(isCycle, 10_000, d.logs.indexOf(second) + 1);
    expect(await d.metric('role_sync_request_rate')).toBe(learned);
  });
});
