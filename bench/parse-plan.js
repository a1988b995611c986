#!/usr/bin/env node
/**
 * Validating 50,000 users must cost about what parsing the bytes costs.
 * Two single-organization files of 50,000 users that differ in 1,000 users (the PR view):
 *   baseline  = yaml.parse(text, { uniqueKeys: false }) of both files;
 *   role-sync = loadDesiredFile of both (read, hash, parse, validate) + buildOfflineReport (the offline plan).
 * Peak RSS is measured in fresh child processes that run only one path once (with the parser processes
 * role-sync starts for files over 64 KiB); the bare parse's peak is
 * printed beside ours because the yaml library's document tree dominates both.
 * Targets: ratio <= 1.5, peak RSS < 300 MB. Run after a build: `node bench/parse-plan.js`.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { loadDesiredFile } from '../dist/desired-file.js';
import { peakSampler } from './lib/live.js';

const USERS = 50_000;
const CHANGED = 1_000;
const RUNS = 3;
const TARGET_RATIO = 1.5;
const TARGET_RSS_MB = 300;
const ORG = '7fa84d2b-26d7-4c71-9b5b-e591eff97e7d';
const ROLE_SETS = [['provider'], ['admin', 'provider'], ['receptionist', 'rx_reader'], ['receptionist'], ['admin']];

/** The offline plan is optional so the validate half can be measured on its own. */
async function loadPlanner() {
  try {
    const { buildOfflineReport } = await import('../dist/core/offline-report.js');
    return buildOfflineReport;
  } catch {
    return undefined;
  }
}

/** Every 50th user gets other roles in the head revision: CHANGED users differ, spread through the file. */
function makeFile(variant) {
  const step = USERS / CHANGED;
  const lines = ['version: 1', 'organizations:', `  ${ORG}:`, '    name: Benchmark Clinic', '    users:'];
  for (let i = 0; i < USERS; i++) {
    const shift = variant === 'head' && i % step === 0 ? 1 : 0;
    const roles = ROLE_SETS[(i + shift) % ROLE_SETS.length];
    const key =
      i % 3 === 0
        ? `${i.toString(16).padStart(8, '0')}-0000-4000-8000-${i.toString(16).padStart(12, '0')}`
        : `user${i}@bench.example`;
    lines.push(`      ${key}: [${roles.join(', ')}]`);
  }
  return `${lines.join('\n')}\n`;
}

async function roleSyncPath(headFile, baseFile, buildOfflineReport) {
  const [head, base] = await Promise.all([loadDesiredFile(headFile), loadDesiredFile(baseFile)]);
  if (head.kind === 'invalid' || base.kind === 'invalid') {
    const problem = [head, base].find((r) => r.kind === 'invalid').problems[0];
    throw new Error(`benchmark files must be valid: ${problem.message}`);
  }
  if (buildOfflineReport === undefined) return undefined;
  return buildOfflineReport(head.state, base.state, {
    source: { file: headFile, sha256: head.sha256, base: { file: baseFile, sha256: base.sha256 } },
    now: new Date(),
  });
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function bareParse(headFile, baseFile) {
  return [
    parse(readFileSync(headFile, 'utf8'), { uniqueKeys: false }),
    parse(readFileSync(baseFile, 'utf8'), { uniqueKeys: false }),
  ];
}

async function child(path, headFile, baseFile) {
  if (path === 'bare') bareParse(headFile, baseFile);
  else await roleSyncPath(headFile, baseFile, await loadPlanner());
  process.stdout.write('done');
}

/**
 * The yaml document tree is short-lived garbage; V8's default young generation lets two files' worth
 * pile up before a scavenge. The container runs the CLI with a 2 MB semi-space (its NODE_OPTIONS),
 * which keeps the peak down at no measured cost in time, so both figures are reported.
 */
const SMALL_SEMI_SPACE = '--max-semi-space-size=2';

/** The peak RSS of a fresh child running one path, its parser processes included (they run in parallel). */
async function peakRssMb(path, headFile, baseFile, nodeOptions = '') {
  const script = fileURLToPath(import.meta.url);
  const env = { ...process.env, NODE_OPTIONS: nodeOptions };
  const child = spawn(process.execPath, [script, '--child', path, headFile, baseFile], { env, stdio: 'ignore' });
  const sampler = peakSampler(child.pid);
  const code = await new Promise((resolve) => child.on('close', resolve));
  sampler.stop();
  if (code !== 0) throw new Error(`the ${path} child exited ${code}`);
  return (sampler.take() ?? 0) / 1024 / 1024;
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'role-sync-bench-'));
  try {
    const headFile = join(dir, 'head.yaml');
    const baseFile = join(dir, 'base.yaml');
    writeFileSync(headFile, makeFile('head'));
    writeFileSync(baseFile, makeFile('base'));
    const buildOfflineReport = await loadPlanner();

    const bare = [];
    const ours = [];
    let report;
    for (let run = 0; run <= RUNS; run++) {
      // Files are read inside the timed region for the baseline too, as loadDesiredFile does.
      let started = performance.now();
      bareParse(headFile, baseFile);
      const bareMs = performance.now() - started;
      started = performance.now();
      report = await roleSyncPath(headFile, baseFile, buildOfflineReport);
      const oursMs = performance.now() - started;
      if (run > 0) {
        bare.push(bareMs);
        ours.push(oursMs);
      }
    }

    const peakMb = await peakRssMb('role-sync', headFile, baseFile);
    const smallSemiPeakMb = await peakRssMb('role-sync', headFile, baseFile, SMALL_SEMI_SPACE);
    const barePeakMb = await peakRssMb('bare', headFile, baseFile);
    const bareMs = median(bare);
    const oursMs = median(ours);
    const ratio = oursMs / bareMs;
    const changes = report?.organizations.reduce((n, o) => n + o.changes.length, 0);
    const measured =
      buildOfflineReport === undefined ? 'validate only (offline plan not built)' : 'validate + offline plan';

    const rows = [
      ['files', `2 × ${USERS} users, ${CHANGED} differ`],
      ['yaml.parse ×2 (median)', `${bareMs.toFixed(0)} ms`],
      [`role-sync: ${measured} (median)`, `${oursMs.toFixed(0)} ms`],
      ['ratio', `${ratio.toFixed(2)}× (target ≤ ${TARGET_RATIO}×)`],
      ['peak RSS, role-sync (fresh process)', `${peakMb.toFixed(0)} MB (target < ${TARGET_RSS_MB} MB)`],
      [
        `peak RSS, role-sync with NODE_OPTIONS=${SMALL_SEMI_SPACE}`,
        `${smallSemiPeakMb.toFixed(0)} MB (as the container runs it)`,
      ],
      ['peak RSS, yaml.parse ×2 (fresh process)', `${barePeakMb.toFixed(0)} MB`],
      ['role changes planned', changes === undefined ? 'n/a' : String(changes)],
    ];
    const width = Math.max(...rows.map(([k]) => k.length));
    for (const [k, v] of rows) process.stdout.write(`${k.padEnd(width)}  ${v}\n`);
    const pass = ratio <= TARGET_RATIO && peakMb < TARGET_RSS_MB;
    process.stdout.write(
      `${JSON.stringify({
        bench: 'parse-plan',
        users: USERS,
        changed: CHANGED,
        runs: RUNS,
        measured,
        bareParseMs: Math.round(bareMs),
        roleSyncMs: Math.round(oursMs),
        ratio: Number(ratio.toFixed(3)),
        peakRssMb: Math.round(peakMb),
        peakRssMbSmallSemiSpace: Math.round(smallSemiPeakMb),
        bareParsePeakRssMb: Math.round(barePeakMb),
        plannedChanges: changes ?? null,
        targets: { ratio: TARGET_RATIO, peakRssMb: TARGET_RSS_MB },
        pass,
      })}\n`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--child') await child(process.argv[3], process.argv[4], process.argv[5]);
else await main();
