#!/usr/bin/env node
/**
 * A directory of files must cost about what one file of the same users costs: `validate` of a
 * directory of 500 parts of 100 users (one organization each) against `validate` of one file
 * holding the same 500 organizations and 50,000 users (one file may hold about 60,000). Each is a fresh `role-sync validate`
 * child process (start-up included on both sides); the median of RUNS is compared.
 * The CLI refuses more than 3 MiB in all (what one file may hold), so 1,000 parts of 100 users
 * (about 4.5 MB) are compared in process too, by the core alone without the read limits: each
 * part's text parsed and validated, then the parts merged, against the one text of the same
 * 100,000 users parsed and validated (CORE_PARTS=… to change the size).
 * Target: ratio <= 1.5. Run after a build: `node bench/directory.js` (PARTS=…, USERS_PER_PART=…).
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mergeParts } from '../dist/core/config-parts.js';
import { parseDesiredState } from '../dist/core/file-model.js';
import { mb, runCli, table } from './lib/live.js';

const PARTS = Number(process.env.PARTS ?? 500);
const CORE_PARTS = Number(process.env.CORE_PARTS ?? 1_000);
const USERS_PER_PART = Number(process.env.USERS_PER_PART ?? 100);
const RUNS = 5;
const TARGET_RATIO = 1.5;
const ROLE_SETS = [['provider'], ['admin', 'provider'], ['receptionist', 'rx_reader'], ['receptionist'], ['admin']];

function orgId(p) {
  return `${p.toString(16).padStart(8, '0')}-0000-4000-8000-${p.toString(16).padStart(12, '0')}`;
}

/** The core's work for a directory, in process: every part parsed and validated, then merged. */
function coreDirectory(texts) {
  const parts = texts.map((text, i) => ({ file: `roles.d/${i}.yaml`, state: parseDesiredState(text).state }));
  if (mergeParts('roles.d', parts).state === undefined) throw new Error('the parts must merge');
}

function coreFile(text) {
  if (parseDesiredState(text).state === undefined) throw new Error('the one file must be valid');
}

/** Median milliseconds of RUNS interleaved runs of each side. */
function interleaved(sides) {
  const times = sides.map(() => []);
  for (let i = 0; i < RUNS; i++) {
    sides.forEach((run, s) => {
      const started = performance.now();
      run();
      times[s].push(performance.now() - started);
    });
  }
  return times.map((t) => t.sort((a, b) => a - b)[Math.floor(RUNS / 2)]);
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
  const partTexts = Array.from({ length: CORE_PARTS }, (_, p) =>
    ['version: 1', 'organizations:', ...orgLines(p), ''].join('\n'),
  );
  const oneText = ['version: 1', 'organizations:', ...partTexts.flatMap((t) => t.split('\n').slice(2, -1)), ''].join(
    '\n',
  );
  const [coreFileMs, coreDirMs] = interleaved([() => coreFile(oneText), () => coreDirectory(partTexts)]);
  const coreRatio = coreDirMs / coreFileMs;
  const rows = [
    [
      'one file',
      `${single.median.wallMs.toFixed(0)} ms, peak RSS ${mb(single.median.peakRssBytes)} (${single.verdict})`,
    ],
    ['directory', `${parts.median.wallMs.toFixed(0)} ms, peak RSS ${mb(parts.median.peakRssBytes)} (${parts.verdict})`],
    ['ratio', `${ratio.toFixed(2)}×  target ≤ ${TARGET_RATIO}: ${ratio <= TARGET_RATIO ? 'ok' : 'MISSED'}`],
    [
      `core, ${CORE_PARTS} parts`,
      `${coreDirMs.toFixed(0)} ms vs ${coreFileMs.toFixed(0)} ms for one text of ${CORE_PARTS * USERS_PER_PART} users ` +
        `(in process, no read limits): ${coreRatio.toFixed(2)}×  target ≤ ${TARGET_RATIO}: ` +
        `${coreRatio <= TARGET_RATIO ? 'ok' : 'MISSED'}`,
    ],
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
      coreParts: CORE_PARTS,
      coreFileMs: Math.round(coreFileMs),
      coreDirectoryMs: Math.round(coreDirMs),
      coreRatio: +coreRatio.toFixed(2),
      fileRssMB: Math.round((single.median.peakRssBytes ?? 0) / 1024 / 1024),
      directoryRssMB: Math.round((parts.median.peakRssBytes ?? 0) / 1024 / 1024),
      node: process.version,
    }),
  );
  process.exitCode = ratio <= TARGET_RATIO && coreRatio <= TARGET_RATIO ? 0 : 1;
} finally {
  await rm(root, { recursive: true, force: true });
}
