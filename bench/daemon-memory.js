#!/usr/bin/env node
/**
 * The daemon's memory against the shipped Deployment's 512Mi limit. One organization of USERS
 * managed users (default 60,000, near what the parse heap holds), the daemon run with the
 * Deployment's NODE_OPTIONS; after its first reconcile the file is replaced by one that does not
 * parse within the parse heap (1.4 million one-character list items, under the 3 MiB size limit).
 * Reported: the peak of the RSS of the daemon and its parser process together (what counts
 * against a container's limit; sampled every 10 ms from /proc), through the first reconcile and
 * through the refused file, and whether the daemon stayed up on its last good state.
 * Run after a build: `node bench/daemon-memory.js` (USERS=… to change the size).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { startSimulator } from '../dist/simulator/index.js';
import { CLI, cliEnv, mb, ORG, peakSampler, table, world } from './lib/live.js';

const USERS = Number(process.env.USERS ?? 60_000);
const LIMIT_BYTES = 512 * 1024 * 1024;

async function deploymentNodeOptions() {
  const docs = (await readFile(new URL('../deploy/kubernetes/deployment.yaml', import.meta.url), 'utf8')).split(
    /^---$/m,
  );
  const deployment = docs.map((d) => parse(d)).find((d) => d?.kind === 'Deployment');
  const env = deployment.spec.template.spec.containers[0].env ?? [];
  return env.find((e) => e.name === 'NODE_OPTIONS')?.value ?? '';
}

/** Waits for a JSON log line of the daemon matching `match`. */
function logWaiter(child) {
  const lines = [];
  const waiters = [];
  let pending = '';
  child.stdout.setEncoding('utf8').on('data', (chunk) => {
    pending += chunk;
    let nl;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      try {
        lines.push(JSON.parse(line));
      } catch {
        lines.push({ msg: line });
      }
    }
    for (const w of [...waiters]) w();
  });
  child.on('close', () => {
    for (const l of lines.filter((x) => x.level >= 50).slice(-5))
      process.stderr.write(`daemon: ${JSON.stringify(l)}\n`);
  });
  return (match, timeoutMs = 120_000) =>
    new Promise((resolve, reject) => {
      const start = lines.length;
      const timer = setTimeout(() => reject(new Error('timed out waiting for the daemon')), timeoutMs);
      const check = () => {
        const found = lines.slice(start).find(match);
        if (!found) return;
        clearTimeout(timer);
        waiters.splice(waiters.indexOf(check), 1);
        resolve(found);
      };
      waiters.push(check);
      check();
    });
}

const nodeOptions = await deploymentNodeOptions();
const { seed, yaml } = world(USERS, 0);
const sim = await startSimulator({ seed, listShape: 'oas', pageSize: 500 });
const dir = await mkdtemp(join(tmpdir(), 'rs-bench-daemon-memory-'));
try {
  const config = join(dir, 'roles.yaml');
  await writeFile(config, yaml);
  const env = {
    ...cliEnv(sim, join(dir, 'state'), { ROLE_SYNC_RATE: '1000', LOG_LEVEL: 'info' }),
    NODE_OPTIONS: nodeOptions,
  };
  const child = spawn(process.execPath, [CLI, 'run', '-c', config, '--listen', '127.0.0.1:0', '--debounce', '200ms'], {
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise((resolve) => child.on('close', (code) => resolve(code)));
  const logged = logWaiter(child);
  const died = exited.then((code) => {
    throw new Error(`the daemon exited (${code}) under NODE_OPTIONS="${nodeOptions}"`);
  });
  died.catch(() => undefined);
  const waitFor = (match) => Promise.race([logged(match), died]);
  const sampler = peakSampler(child.pid);
  const listening = await waitFor((l) => l.msg?.startsWith('ops server listening'));
  const base = `http://127.0.0.1:${listening.port}`;
  await waitFor((l) => l.msg?.startsWith('reconcile cycle finished'));
  const afterCycle = sampler.take() ?? 0;

  const bomb = `version: 1\norganizations:\n  ${ORG}:\n    users:\n      a@b.example: [${Array(1_400_000).fill('1').join(',')}]\n`;
  await writeFile(join(dir, 'next.yaml'), bomb);
  await rename(join(dir, 'next.yaml'), config);
  const refused = await waitFor((l) => l.msg?.startsWith('the desired-state file is not valid'));
  const afterRefusal = sampler.take() ?? 0;
  sampler.stop();
  const healthz = (await fetch(`${base}/healthz`)).status;
  const status = await (await fetch(`${base}/status`)).json();
  child.kill('SIGTERM');
  const code = await exited;
  const up = healthz === 200 && status.configValid === false && status.desiredHash !== null;

  console.log(`daemon, ${USERS} managed users, NODE_OPTIONS="${nodeOptions}"`);
  console.log(
    table([
      ['peak RSS, daemon + parser, start and first reconcile', mb(afterCycle)],
      ['peak RSS, daemon + parser, a file too large to parse', `${mb(afterRefusal)} (limit ${mb(LIMIT_BYTES)})`],
      ['refused with', refused.msg],
      ['stayed up on the last good state', up ? 'yes' : 'NO'],
      ['exit after SIGTERM', String(code)],
      ['node', process.version],
    ]),
  );
  console.log(
    JSON.stringify({
      bench: 'daemon-memory',
      users: USERS,
      nodeOptions,
      peakRssAfterCycleMB: Math.round(afterCycle / 1024 / 1024),
      peakRssAfterRefusalMB: Math.round(afterRefusal / 1024 / 1024),
      stayedUp: up,
      node: process.version,
    }),
  );
  process.exitCode = up && Math.max(afterCycle, afterRefusal) < LIMIT_BYTES && code === 0 ? 0 : 1;
} finally {
  await sim.close();
  await rm(dir, { recursive: true, force: true });
}
