#!/usr/bin/env node
/**
 * A directory of files must cost about what one file of the same users costs: `validate` of a
 * directory of 500 parts of 100 users (one organization each) against `validate` of one file
 * holding the same 500 organizations and 50,000 users (one file may hold about 60,000). Each is a fresh `role-sync validate`
 * child process (start-up included on both sides); the median of RUNS is compared.
 * Target: ratio <= 1.5. Run after a build: `node bench/directory.js` (PARTS=…, USERS_PER_PART=…).
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mb, runCli, table } from './lib/live.js';

const PARTS = Number(process.env.PARTS ?? 500);
const USERS_PER_PART = Number(process.env.USERS_PER_PART ?? 100);
const RUNS = 5;
const TARGET_RATIO = 1.5;
const ROLE_SETS = [['provider'], ['admin', 'provider'], ['receptionist', 'rx_reader'], ['receptionist'], ['admin']];

function orgId(p) {
  return `${p.toString(16).padStart(8, '0')}-0000-4000-8000-${p.toString(16).padStart(12, '0')}`;
}

function orgLines(p) {
  const lines = [`  ${orgId(p)}:`, `    name: Clinic ${p}`, '    users:'];
  for (let u = 0; u < USERS_PER_PART; u++) {
    const roles = ROLE_SETS[(p + u) % ROLE_SETS.length];
    lines.push(`      user${u}@clinic${p}.example: [${roles.join(', ')}]`);
  }
  return lines;
}

const root = await mkdtemp(join(tmpdir(), 'rs-bench-directory-'));
try {
  const dir = join(root, 'roles.d');
  await mkdir(dir);
  const all = ['version: 1', 'organizations:'];
  for (let p = 0; p < PARTS; p++) {
    const lines = orgLines(p);
    all.push(...lines);
    await writeFile(
      join(dir, `clinic-${String(p).padStart(4, '0')}.yaml`),
      ['version: 1', 'organizations:', ...lines, ''].join('\n'),
    );
  }
  const file = join(root, 'roles.yaml');
  await writeFile(file, `${all.join('\n')}\n`);

  const env = { PATH: process.env.PATH ?? '' };
  // Interleaved, so a machine busy with something else slows both sides alike.
  const runs = { file: [], dir: [] };
  for (let i = 0; i < RUNS; i++) {
    for (const [side, path] of [
      ['file', file],
      ['dir', dir],
    ]) {
      const run = await runCli(['validate', '-c', path], env);
      if (run.code !== 0) throw new Error(`validate ${path} exited ${run.code}\n${run.stderr}`);
      runs[side].push(run);
    }
  }
  const medianOf = (list) => {
    const sorted = [...list].sort((a, b) => a.wallMs - b.wallMs);
    return { median: sorted[Math.floor(list.length / 2)], verdict: sorted[0].stdout.trim() };
  };
  const single = medianOf(runs.file);
  const parts = medianOf(runs.dir);
  const ratio = parts.median.wallMs / single.median.wallMs;
  const rows = [
    [
      'one file',
      `${single.median.wallMs.toFixed(0)} ms, peak RSS ${mb(single.median.peakRssBytes)} (${single.verdict})`,
    ],
    ['directory', `${parts.median.wallMs.toFixed(0)} ms, peak RSS ${mb(parts.median.peakRssBytes)} (${parts.verdict})`],
    ['ratio', `${ratio.toFixed(2)}×  target ≤ ${TARGET_RATIO}: ${ratio <= TARGET_RATIO ? 'ok' : 'MISSED'}`],
    ['node', process.version],
  ];
  console.log(`validate: ${PARTS} parts of ${USERS_PER_PART} users vs one file of ${PARTS * USERS_PER_PART} users`);
  console.log(table(rows));
  console.log(
    JSON.stringify({
      bench: 'directory',
      parts: PARTS,
      usersPerPart: USERS_PER_PART,
      fileMs: Math.round(single.median.wallMs),
      directoryMs: Math.round(parts.median.wallMs),
      ratio: +ratio.toFixed(2),
      fileRssMB: Math.round((single.median.peakRssBytes ?? 0) / 1024 / 1024),
      directoryRssMB: Math.round((parts.median.peakRssBytes ?? 0) / 1024 / 1024),
      node: process.version,
    }),
  );
  process.exitCode = ratio <= TARGET_RATIO ? 0 : 1;
} finally {
  await rm(root, { recursive: true, force: true });
}
