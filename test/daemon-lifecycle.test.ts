/**
 * `role-sync run` and the access lifecycle, in real time: the daemon wakes at each `until`, so a
 * grant ends within seconds of it (not at the next resync), whether its `then` is `disabled` or a
 * role list; a file edit re-arms the timer; the lifecycle metrics follow.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningSimulator } from '../src/simulator/index.js';
import {
  COLLINS,
  daemonEnv,
  puts,
  spawnDaemon,
  startWorld,
  stopAllDaemons,
  USERS,
  waitFor,
} from './helpers/daemon-harness.js';

const sims: RunningSimulator[] = [];
afterEach(async () => {
  await stopAllDaemons();
  await Promise.all(sims.splice(0).map((s) => s.close()));
});

/** An RFC 3339 time `ms` from now, whole seconds, in UTC. */
function inAbout(ms: number): { text: string; at: number } {
  const at = Math.ceil((Date.now() + ms) / 1000) * 1000;
  return { text: new Date(at).toISOString().replace('.000Z', 'Z'), at };
}

function file(smithUntil: string, patelUntil: string): string {
  return [
    'version: 1',
    'timezone: Australia/Melbourne',
    'organizations:',
    `  ${COLLINS}:`,
    '    users:',
    `      ${USERS.ahmed}: [admin, provider]`,
    `      ${USERS.cameron}: [admin, provider]`,
    `      ${USERS.nguyen}: [provider]`,
    `      ${USERS.smith}: {roles: [provider], until: "${smithUntil}"}`,
    `      ${USERS.patel}: {roles: [receptionist], until: "${patelUntil}", then: [provider]}`,
    '',
  ].join('\n');
}

describe('role-sync run: expiring grants', () => {
  it('ends a grant within seconds of its until, for then: disabled and a role list, not at the resync', async () => {
    const w = await startWorld();
    sims.push(w.sim);
    const path = join(w.dir, 'roles.yaml');
    const smith = inAbout(3_000);
    const patel = inAbout(4_000);
    await writeFile(path, file(smith.text, patel.text));
    const d = spawnDaemon(
      path,
      ['--debounce', '200ms', '--resync-interval', '5m'],
      daemonEnv({ sim: w.sim, stateDir: w.stateDir }),
    );
    await d.waitForLog((l) => l.msg?.startsWith('reconcile cycle finished') === true, 10_000);
    expect(puts(w.sim)).toEqual([]);
    expect(await d.metric('role_sync_grants_expiring', { organization: COLLINS })).toBe(2);

    const disabled = await waitFor(
      () => puts(w.sim).find((r) => r.userId === USERS.smith && r.route.endsWith('/disable')),
      15_000,
      "Dr Smith's disable",
    );
    const answeredAt = Date.parse(disabled.time);
    expect(answeredAt).toBeGreaterThanOrEqual(smith.at);
    expect(answeredAt - smith.at).toBeLessThan(15_000);
    expect(w.sim.user(COLLINS, USERS.smith)).toMatchObject({ roles: ['member'], disabled: true });

    const changed = await waitFor(
      () => puts(w.sim).find((r) => r.userId === USERS.patel && r.route.endsWith('/roles')),
      15_000,
      "Nurse Patel's new roles",
    );
    expect(Date.parse(changed.time) - patel.at).toBeLessThan(15_000);
    expect(Date.parse(changed.time)).toBeGreaterThanOrEqual(patel.at);
    expect(changed.body).toEqual({ access_roles: ['provider'] });
    // Both were the expiry timer's doing: the resync interval is five minutes.
    const triggered = d.cycles().map((c) => (c['cycle'] as { triggers: string[] }).triggers);
    expect(triggered.filter((t) => t.includes('expiry')).length).toBeGreaterThanOrEqual(1);
    expect(triggered.some((t) => t.includes('resync'))).toBe(false);

    // The metrics are set when a cycle ends, a moment after the simulator has seen its last PUT.
    await waitFor(
      async () => ((await d.metric('role_sync_disables_total', { organization: COLLINS })) === 1 ? true : undefined),
      5_000,
      'role_sync_disables_total 1',
    );
    await waitFor(
      async () => ((await d.metric('role_sync_grants_expiring', { organization: COLLINS })) === 0 ? true : undefined),
      5_000,
      'role_sync_grants_expiring 0',
    );
    expect(await d.metric('role_sync_enables_total', { organization: COLLINS })).toBe(0);
    expect(puts(w.sim)).toHaveLength(2);
  }, 40_000);

  it('re-arms the timer when the file changes: a new until is honoured without a resync', async () => {
    const w = await startWorld();
    sims.push(w.sim);
    const path = join(w.dir, 'roles.yaml');
    const later = inAbout(3_600_000);
    await writeFile(path, file(later.text, later.text));
    const d = spawnDaemon(
      path,
      ['--debounce', '200ms', '--resync-interval', '5m'],
      daemonEnv({ sim: w.sim, stateDir: w.stateDir }),
    );
    await d.waitForLog((l) => l.msg?.startsWith('reconcile cycle finished') === true, 10_000);
    const soon = inAbout(3_000);
    await writeFile(path, file(soon.text, later.text));
    const disabled = await waitFor(
      () => puts(w.sim).find((r) => r.userId === USERS.smith && r.route.endsWith('/disable')),
      15_000,
      "Dr Smith's disable after the edit",
    );
    expect(Date.parse(disabled.time) - soon.at).toBeLessThan(15_000);
    expect(puts(w.sim)).toHaveLength(1);
  }, 40_000);
});
