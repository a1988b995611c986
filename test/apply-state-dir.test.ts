/**
 * The snapshot's directory checked before the first write: a state directory that cannot be written
 * stops `apply` before anything is sent; one that fails after the writes began still gets the
 * whole report printed, then exit 1.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { chmod, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningSimulator } from '../src/simulator/index.js';
import { jsonReport, liveEnv, puts, runCli, watchedSimulator, workspace, type Workspace } from './helpers/live-cli.js';
import { buildWorld } from './helpers/live-seed.js';

let sim: RunningSimulator | undefined;
let ws: Workspace | undefined;

afterEach(async () => {
  await sim?.close();
  await ws?.remove();
  sim = undefined;
  ws = undefined;
});

async function setUp(changes = 3) {
  const world = buildWorld({ users: 10, changes });
  const watched = await watchedSimulator({ seed: world.seed });
  sim = watched.sim;
  ws = await workspace();
  const config = await ws.file('roles.yaml', world.yaml);
  return { world, watched, sim: watched.sim, ws, config };
}

const isRoot = process.getuid?.() === 0;

describe('apply: the state directory before the first write', () => {
  it('exits 1 naming the path when the state directory is a regular file, and sends nothing', async () => {
    const { sim, ws, config } = await setUp();
    const stateDir = await ws.file('state', 'not a directory\n');
    const run = await runCli(['apply', '-c', config], liveEnv({ sim, stateDir }));
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(
      `role-sync: cannot write the observed-state snapshot in ${stateDir} (ROLE_SYNC_STATE_DIR): ` +
        'it exists and is not a directory (EEXIST); nothing was sent',
    );
    expect(run.stderr).not.toContain('internal error');
    expect(run.stdout).toBe('');
    expect(sim.requests()).toEqual([]);
  });

  it('exits 1 when a parent of the state directory is a file, or snapshot.json is a directory', async () => {
    const { sim, ws, config } = await setUp();
    const file = await ws.file('plain', 'x\n');
    const under = await runCli(['apply', '-c', config], liveEnv({ sim, stateDir: join(file, 'state') }));
    expect(under.code).toBe(1);
    expect(under.stderr).toContain(
      `in ${join(file, 'state')} (ROLE_SYNC_STATE_DIR): a part of the path is not a directory`,
    );

    const stateDir = join(ws.dir, 'state2');
    await mkdir(join(stateDir, 'snapshot.json'), { recursive: true });
    const blocked = await runCli(['apply', '-c', config], liveEnv({ sim, stateDir }));
    expect(blocked.code).toBe(1);
    expect(blocked.stderr).toContain(`in ${stateDir} (ROLE_SYNC_STATE_DIR): snapshot.json in it is not a regular file`);
    expect(sim.requests()).toEqual([]);
  });

  it.skipIf(isRoot)('exits 1 when the state directory is read-only', async () => {
    const { sim, ws, config } = await setUp();
    const stateDir = join(ws.dir, 'ro');
    await mkdir(stateDir);
    await chmod(stateDir, 0o500);
    try {
      const run = await runCli(['apply', '-c', config], liveEnv({ sim, stateDir }));
      expect(run.code).toBe(1);
      expect(run.stderr).toContain(
        `in ${stateDir} (ROLE_SYNC_STATE_DIR): permission denied (EACCES); nothing was sent`,
      );
      expect(sim.requests()).toEqual([]);
    } finally {
      await chmod(stateDir, 0o700);
    }
  });

  it('creates a missing state directory; plan and --dry-run never need one', async () => {
    const { sim, ws, config } = await setUp(0);
    const blocked = await ws.file('blocked', 'x\n');
    for (const args of [['plan'], ['apply', '--dry-run']]) {
      const run = await runCli([...args, '-c', config], liveEnv({ sim, stateDir: blocked }));
      expect(run.code, `${args.join(' ')}\n${run.stderr}`).toBe(0);
    }
    const fresh = join(ws.dir, 'new', 'state');
    const run = await runCli(['apply', '-c', config], liveEnv({ sim, stateDir: fresh }));
    expect(run.code, run.stderr).toBe(0);
  });

  it('prints the whole report, then exits 1, when the snapshot cannot be written after the writes', async () => {
    const { world, watched, sim, ws, config } = await setUp(3);
    // As soon as Parchment has answered the first PUT, the state directory becomes a file.
    watched.events.on('answer', (a) => {
      if (a.method !== 'PUT') return;
      watched.events.removeAllListeners('answer');
      rmSync(ws.stateDir, { recursive: true, force: true });
      writeFileSync(ws.stateDir, 'in the way\n');
    });
    const run = await runCli(['apply', '-c', config, '--format', 'json'], liveEnv({ sim, stateDir: ws.stateDir }));
    expect(run.code).toBe(1);
    const report = jsonReport(run);
    expect(report.summary.applied).toBe(world.changing.length);
    expect(puts(sim.requests())).toHaveLength(world.changing.length);
    expect(run.stderr).toContain(
      'role-sync: the changes in the report were made, but the observed-state snapshot could not be written ' +
        `in ${ws.stateDir}`,
    );
    expect(run.stderr).not.toContain('internal error');
  });
});
