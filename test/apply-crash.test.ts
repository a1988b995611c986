/**
 * `kill -9` in the middle of `role-sync apply`, then `apply` again: the re-run
 * converges, and the snapshot is the old or the new one, never torn, whatever the crash left behind.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningSimulator } from '../src/simulator/index.js';
import {
  jsonReport,
  liveEnv,
  NO_GUARD,
  puts,
  runCli,
  watchedSimulator,
  workspace,
  type Workspace,
} from './helpers/live-cli.js';
import { buildWorld, divergent } from './helpers/live-seed.js';

let sim: RunningSimulator | undefined;
let ws: Workspace | undefined;

afterEach(async () => {
  await sim?.close();
  await ws?.remove();
  sim = undefined;
  ws = undefined;
});

interface SnapshotJson {
  snapshotVersion: number;
  writtenAt: string;
  organizations: Record<
    string,
    { managed: Record<string, unknown>; observed: Record<string, string[]>; applied: Record<string, string[]> }
  >;
}

async function readSnapshot(stateDir: string): Promise<SnapshotJson> {
  const snapshot = JSON.parse(await readFile(join(stateDir, 'snapshot.json'), 'utf8')) as SnapshotJson;
  expect(snapshot.snapshotVersion).toBe(1);
  return snapshot;
}

describe('apply killed with SIGKILL halfway', () => {
  it('leaves the previous snapshot intact, and the next apply converges', async () => {
    const CHANGES = 100;
    const world = buildWorld({ users: 119, changes: CHANGES });
    const settled = buildWorld({ users: 119, changes: 0 });
    const watched = await watchedSimulator({ seed: world.seed, latencyMs: 50 });
    sim = watched.sim;
    ws = await workspace();
    const env = liveEnv({ sim, stateDir: ws.stateDir, rate: 50 });
    const config = await ws.file('roles.yaml', world.yaml);

    // A first apply with nothing to change leaves a snapshot for the crash to threaten.
    const baseline = await runCli(['apply', '-c', await ws.file('settled.yaml', settled.yaml)], env);
    expect(baseline.code, baseline.stderr).toBe(0);
    const before = await readFile(join(ws.stateDir, 'snapshot.json'), 'utf8');
    expect(Object.keys((await readSnapshot(ws.stateDir)).organizations)).toHaveLength(1);

    let written = 0;
    const killed = await runCli(['apply', '-c', config, ...NO_GUARD], env, (child) => {
      watched.events.on('answer', (a) => {
        if (a.method !== 'PUT' || a.status !== 200) return;
        written += 1;
        if (written === CHANGES / 2) child.kill('SIGKILL');
      });
    });
    watched.events.removeAllListeners('answer');
    expect(killed.signal, killed.stderr).toBe('SIGKILL');
    // PUTs the simulator received before the kill still take effect after its 50 ms latency. A request
    // of ours, sent now, waits out the same latency behind them: once it is answered, they all are.
    await fetch(`${sim.baseUrl}/v1/token`, { method: 'POST' });

    const left = divergent(sim, world.desired);
    expect(left.length).toBeGreaterThan(0);
    expect(left.length).toBeLessThanOrEqual(CHANGES / 2);
    expect(await readFile(join(ws.stateDir, 'snapshot.json'), 'utf8')).toBe(before);
    expect(await readdir(ws.stateDir)).toEqual(['snapshot.json']);

    // A crash inside a snapshot write leaves a half-written temp file; it must not get in the way.
    await writeFile(join(ws.stateDir, '.snapshot.json.99999.1700000000000.tmp'), before.slice(0, before.length / 2));

    sim.clearRequests();
    const rerun = await runCli(['apply', '-c', config, '--format', 'json', ...NO_GUARD], env);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(jsonReport(rerun).summary).toMatchObject({ changes: left.length, applied: left.length, failed: 0 });
    expect(new Set(puts(sim.requests()).map((r) => r.userId))).toEqual(new Set(left));
    expect(divergent(sim, world.desired)).toEqual([]);

    const after = await readSnapshot(ws.stateDir);
    const [org] = Object.values(after.organizations);
    expect(Object.keys(org!.managed)).toHaveLength(world.desired.size);
    for (const [id, roles] of world.desired) expect(org!.applied[id]?.slice().sort(), id).toEqual([...roles].sort());
    expect((await readdir(ws.stateDir)).filter((f) => f.endsWith('.tmp'))).toEqual([
      '.snapshot.json.99999.1700000000000.tmp',
    ]);

    const plan = await runCli(['plan', '-c', config, '--detailed-exitcode'], env);
    expect(plan.code, plan.stdout + plan.stderr).toBe(0);
  });
});
