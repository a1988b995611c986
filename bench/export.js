#!/usr/bin/env node
/**
 * `role-sync export` of one organization of 20,000 users, for each documented list shape:
 *   rs   — the list carries roles and emails: the token call and the list pages only;
 *   oas  — the vendor's example: roles but no email, so under `--key email` every user is read once;
 *   bare — ids and emails only, every user at once: every user is read once for their roles.
 * Reported per shape: requests sent, wall time at ROLE_SYNC_RATE=1000 (so the figures measure the
 * tool, not the budget) and the peak RSS of the role-sync child (VmHWM). The exports of all shapes
 * must be the same bytes, and a `validate` of the export must pass.
 * Run after a build: `node bench/export.js` (USERS=… to change the size, SHAPES=rs,oas to choose).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimulator } from '../dist/simulator/index.js';
import { ORG, cliEnv, mb, runCli, table, tally, world } from './lib/live.js';

const USERS = Number(process.env.USERS ?? 20_000);
const SHAPES = (process.env.SHAPES ?? 'rs,oas,bare').split(',');
const PAGE_SIZE = 100;
const RATE = 1000;

const { seed } = world(USERS, 0);
const dir = await mkdtemp(join(tmpdir(), 'rs-bench-export-'));
const rows = [];
const figures = {};
let reference;
let ok = true;
try {
  for (const shape of SHAPES) {
    const sim = await startSimulator({ seed, listShape: shape, pageSize: PAGE_SIZE });
    try {
      const env = cliEnv(sim, join(dir, 'state'), { ROLE_SYNC_RATE: String(RATE), ROLE_SYNC_CONCURRENCY: '8' });
      const run = await runCli(['export', '--org', ORG], env);
      if (run.code !== 0) throw new Error(`export (${shape}) exited ${run.code}\n${run.stderr}`);
      const t = tally(sim.requests());
      const file = join(dir, `${shape}.yaml`);
      await writeFile(file, run.stdout);
      const valid = await runCli(['validate', '-c', file], env);
      const same = reference === undefined || run.stdout === reference;
      reference ??= run.stdout;
      ok &&= valid.code === 0 && same && t.puts === 0;
      rows.push(
        [
          `${shape}: requests`,
          `${t.total} (token ${t.token}, list pages ${t.listPages}, user reads ${t.userReads}, PUTs ${t.puts})`,
        ],
        [`${shape}: wall time`, `${(run.wallMs / 1000).toFixed(2)} s at ROLE_SYNC_RATE=${RATE}`],
        [`${shape}: peak RSS`, mb(run.peakRssBytes)],
        [
          `${shape}: output`,
          `${(run.stdout.length / 1024 / 1024).toFixed(2)} MB; validates: ${valid.code === 0 ? 'ok' : 'NO'}; ` +
            `same bytes as the first shape: ${same ? 'ok' : 'NO'}`,
        ],
      );
      figures[shape] = {
        requests: t.total,
        userReads: t.userReads,
        wallS: +(run.wallMs / 1000).toFixed(2),
        peakRssMB: run.peakRssBytes === undefined ? null : Math.round(run.peakRssBytes / 1024 / 1024),
      };
    } finally {
      await sim.close();
    }
  }
  console.log(`export of one organization of ${USERS} users; ${PAGE_SIZE} users a list page`);
  console.log(table([...rows, ['node', process.version]]));
  console.log(JSON.stringify({ bench: 'export', users: USERS, rate: RATE, ...figures, node: process.version }));
  process.exitCode = ok ? 0 : 1;
} finally {
  await rm(dir, { recursive: true, force: true });
}
