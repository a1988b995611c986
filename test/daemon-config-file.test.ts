/**
 * `role-sync run` and the desired-state file as something other than a good regular file: a FIFO
 * (refused at once, never read; SIGTERM still ends the daemon promptly), and a file too large to
 * parse within the parser's heap, with the daemon's own heap capped as the shipped Deployment caps
 * it: the daemon stays up on its last good state.
 */
import { execFileSync } from 'node:child_process';
import { rename, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { readFileSync } from 'node:fs';
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
  waitFor,
  type DaemonProcess,
} from './helpers/daemon-harness.js';

const sims: RunningSimulator[] = [];
afterEach(async () => {
  await stopAllDaemons();
  await Promise.all(sims.splice(0).map((s) => s.close()));
});

async function world() {
  const w = await startWorld();
  sims.push(w.sim);
  return { ...w, path: join(w.dir, 'roles.yaml') };
}

const finished = (d: DaemonProcess, after = 0, timeoutMs = 10_000) =>
  d.waitForLog((l) => l.msg?.startsWith('reconcile cycle finished') === true, timeoutMs, after);

async function get(d: DaemonProcess, path: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`${await d.base}${path}`);
  return { status: res.status, text: await res.text() };
}

/** The NODE_OPTIONS the shipped Deployment gives the daemon. */
function deploymentNodeOptions(): string {
  const docs = readFileSync(join(REPO, 'deploy', 'kubernetes', 'deployment.yaml'), 'utf8').split(/^---$/m);
  const deployment = docs.map((d) => parse(d) as Record<string, any> | null).find((d) => d?.['kind'] === 'Deployment');
  const env = deployment!['spec'].template.spec.containers[0].env as { name: string; value?: string }[];
  const value = env.find((e) => e.name === 'NODE_OPTIONS')?.value;
  expect(value).toMatch(/--max-old-space-size=\d+/);
  return value!;
}

describe('role-sync run: a FIFO as the file', () => {
  it('exits 1 at once when the file is a FIFO at start', async () => {
    const { sim, dir, stateDir } = await world();
    const fifo = join(dir, 'roles.yaml');
    execFileSync('mkfifo', [fifo]);
    const started = Date.now();
    const d = spawnDaemon(fifo, [], daemonEnv({ sim, stateDir }));
    expect((await d.exited).code).toBe(1);
    expect(Date.now() - started).toBeLessThan(8_000);
    expect(d.output()).toContain(`cannot read ${fifo}: it is a named pipe (FIFO), not a regular file`);
    expect(sim.requests()).toEqual([]);
  });

  it('refuses a FIFO swapped in for the file, keeps its last good state, still stops promptly on SIGTERM', async () => {
    const { sim, dir, path, stateDir } = await world();
    await writeFile(path, collinsFile());
    const d = spawnDaemon(path, ['--debounce', '100ms', '--reread-interval', '200ms'], daemonEnv({ sim, stateDir }));
    await finished(d);
    const fifo = join(dir, 'next.fifo');
    execFileSync('mkfifo', [fifo]);
    await rename(fifo, path);
    await d.waitForLog((l) => String(l.msg).includes('it is a named pipe (FIFO), not a regular file'), 5_000);
    await waitFor(async () => ((await d.metric('role_sync_config_valid')) === 0 ? true : undefined), 5000, 'invalid');
    const readyz = await get(d, '/readyz');
    expect(readyz.status).toBe(503);
    expect(readyz.text).toContain('the desired-state file is not valid');
    // Re-reads on the timer keep finding the FIFO; none of them may block a thread.
    const after = d.logs.length;
    await d.waitForLog((l) => l.msg === 'desired-state file checked: unchanged', 5_000, after);

    const signalled = Date.now();
    const exit = await d.stop('SIGTERM');
    expect(exit.code).toBe(0);
    expect(Date.now() - signalled).toBeLessThan(5_000);
    expect(puts(sim)).toEqual([]);
  });
});

describe('role-sync run: a file too large to parse', () => {
  it('stays up on its last good state under the Deployment’s heap limit, config_valid 0, takes the fix', async () => {
    const { sim, dir, path, stateDir } = await world();
    await writeFile(path, collinsFile());
    const env = { ...daemonEnv({ sim, stateDir }), NODE_OPTIONS: deploymentNodeOptions() };
    const d = spawnDaemon(path, ['--debounce', '100ms'], env);
    await finished(d);
    const good = JSON.parse((await get(d, '/status')).text) as { desiredHash: string };

    // Under the byte limit, but 1.4 million list items: far beyond the parser's heap.
    const huge = join(dir, 'huge.yaml');
    await writeFile(
      huge,
      `version: 1\norganizations:\n  ${COLLINS}:\n    users:\n` +
        `      a@b.example: [${Array(1_400_000).fill('1').join(',')}]\n`,
    );
    await rename(huge, path);
    await d.waitForLog((l) => String(l.msg).includes('is too large to parse within 192 MB of memory'), 60_000);
    expect(await d.metric('role_sync_config_valid')).toBe(0);
    expect((await get(d, '/healthz')).status).toBe(200);
    const readyz = await get(d, '/readyz');
    expect(readyz.status).toBe(503);
    expect(readyz.text).toContain('the desired-state file is not valid');
    const status = JSON.parse((await get(d, '/status')).text) as Record<string, unknown>;
    expect(status).toMatchObject({ reason: 'ConfigInvalid', configValid: false, desiredHash: good.desiredHash });

    // Over the byte limit: refused before any parse.
    await writeFile(huge, 'version: 1\n');
    await truncate(huge, 3 * 1024 * 1024 + 1);
    await rename(huge, path);
    await d.waitForLog((l) => String(l.msg).includes('the limit is 3 MiB'), 10_000);

    const after = d.logs.length;
    await writeFile(path, collinsFile({ patel: ['admin'] }));
    await finished(d, after);
    expect(await d.metric('role_sync_config_valid')).toBe(1);
    expect(puts(sim).map((r) => r.userId)).toHaveLength(1);
    expect(d.child.exitCode).toBeNull();
  }, 120_000);
});
