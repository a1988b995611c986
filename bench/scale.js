#!/usr/bin/env node
/**
 * One organization of 20,000 managed users, all already as the file says. The list (shape `oas`,
 * which carries roles; 100 users a page) must be the only reads: a live `plan` and an `apply` each
 * send the token call and the list pages, nothing else. Reported: requests, wall time and the peak
 * RSS of the role-sync child process and its parser process together (from /proc, every 10 ms).
 * ROLE_SYNC_RATE=1000 so the figures measure the tool, not the budget; at the default 5/s the same
 * requests would take (pages + 1) / 5 seconds. Target: peak RSS < 250 MB.
 * Run after a build: `node bench/scale.js` (USERS=… to change the size).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimulator } from '../dist/simulator/index.js';
import { cliEnv, mb, runCli, table, tally, world } from './lib/live.js';

const USERS = Number(process.env.USERS ?? 20_000);
const PAGE_SIZE = 100;
const RATE = 1000;
const DEFAULT_RATE = 5;
const TARGET_RSS_MB = 250;

const { seed, yaml } = world(USERS, 0);
const sim = await startSimulator({ seed, listShape: 'oas', pageSize: PAGE_SIZE });
const dir = await mkdtemp(join(tmpdir(), 'rs-bench-scale-'));
try {
  const config = join(dir, 'roles.yaml');
  await writeFile(config, yaml);
  const env = cliEnv(sim, join(dir, 'state'), { ROLE_SYNC_RATE: String(RATE) });
  const pages = Math.ceil(USERS / PAGE_SIZE);
  const rows = [];
  const figures = {};
  let ok = true;

  for (const command of ['plan', 'apply']) {
    sim.clearRequests();
    const run = await runCli([command, '-c', config, '--format', 'json', '--detailed-exitcode'], env);
    if (run.code !== 0) throw new Error(`${command} exited ${run.code}\n${run.stderr}`);
    const report = JSON.parse(run.stdout);
    if (report.summary.unchanged !== USERS)
      throw new Error(`${command}: ${report.summary.unchanged} unchanged of ${USERS}`);
    const t = tally(sim.requests());
    const onlyPages = t.total === t.token + t.listPages && t.listPages === pages && t.token === 1;
    const rssOk = run.peakRssBytes !== undefined && run.peakRssBytes < TARGET_RSS_MB * 1024 * 1024;
    ok &&= onlyPages && rssOk;
    rows.push(
      [
        `${command}: requests`,
        `${t.total} (token ${t.token}, list pages ${t.listPages}, user reads ${t.userReads}, PUTs ${t.puts})  list pages + token only: ${onlyPages ? 'ok' : 'MISSED'}`,
      ],
      [
        `${command}: wall time`,
        `${(run.wallMs / 1000).toFixed(2)} s at ROLE_SYNC_RATE=${RATE}; at the default ${DEFAULT_RATE}/s the ${t.total} requests alone take ${(t.total / DEFAULT_RATE).toFixed(1)} s`,
      ],
      [`${command}: peak RSS`, `${mb(run.peakRssBytes)}  target < ${TARGET_RSS_MB} MB: ${rssOk ? 'ok' : 'MISSED'}`],
    );
    figures[command] = {
      requests: t.total,
      wallS: +(run.wallMs / 1000).toFixed(2),
      peakRssMB: run.peakRssBytes === undefined ? null : Math.round(run.peakRssBytes / 1024 / 1024),
    };
  }

  console.log(`${USERS} managed users, none to change; list shape oas, ${PAGE_SIZE} users a page`);
  console.log(table([...rows, ['node', process.version]]));
  console.log(
    JSON.stringify({
      bench: 'scale',
      users: USERS,
      pageSize: PAGE_SIZE,
      rate: RATE,
      pages,
      defaultRateS: +((pages + 1) / DEFAULT_RATE).toFixed(1),
      ...figures,
      node: process.version,
    }),
  );
  process.exitCode = ok ? 0 : 1;
} finally {
  await sim.close();
  await rm(dir, { recursive: true, force: true });
}
