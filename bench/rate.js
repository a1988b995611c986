#!/usr/bin/env node
/**
 * `ROLE_SYNC_RATE=auto` against limits it is not told: `role-sync apply` of 120, 400 and 800
 * changes against a simulator whose token bucket allows 3, 20 and 40 requests/s (burst: one
 * second's worth; 429 with Retry-After above it), 20 ms latency, ROLE_SYNC_CONCURRENCY at its
 * default. Each limit is run twice, side by side: with no rate setting (auto) and with the old
 * fixed default, ROLE_SYNC_RATE=5.
 *   ideal = the requests the run needs (token + list pages + PUTs, 429s not counted) ÷ the limit.
 * Targets for auto: wall time (process start to exit) <= 1.2 x ideal and <= 3% of requests answered 429.
 * Run after a build: `node bench/rate.js` (LIMITS=3,20 and MODES=auto to run a part).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimulator } from '../dist/simulator/index.js';
import { cliEnv, runCli, table, tally, world } from './lib/live.js';

const CASES = [
  { limit: 3, changes: 120 },
  { limit: 20, changes: 400 },
  { limit: 40, changes: 800 },
];
const MODES = [
  { name: 'auto', env: {} },
  { name: 'fixed 5/s', env: { ROLE_SYNC_RATE: '5' } },
];
const LATENCY_MS = 20;
const TARGET_RATIO = 1.2;
const TARGET_429_PERCENT = 3;

const limits = process.env.LIMITS?.split(',').map(Number);
const modes = process.env.MODES?.split(',');
const cases = CASES.filter((c) => limits === undefined || limits.includes(c.limit));
const runModes = MODES.filter((m) => modes === undefined || modes.includes(m.name.split(' ')[0]));

async function measure({ limit, changes }, mode) {
  const { seed, yaml } = world(changes + 1, changes);
  const sim = await startSimulator({ seed, rateLimit: { perSecond: limit }, latencyMs: LATENCY_MS });
  const dir = await mkdtemp(join(tmpdir(), 'rs-bench-rate-'));
  try {
    const config = join(dir, 'roles.yaml');
    await writeFile(config, yaml);
    const env = cliEnv(sim, join(dir, 'state'), { ...mode.env, LOG_LEVEL: 'info' });
    const run = await runCli(['apply', '-c', config, '--max-changes', '100%', '--format', 'json'], env);
    if (run.code !== 0) throw new Error(`apply exited ${run.code}\n${run.stderr.slice(-2000)}`);
    const report = JSON.parse(run.stdout);
    if (report.summary.applied !== changes) throw new Error(`applied ${report.summary.applied} of ${changes}`);
    const t = tally(sim.requests());
    const needed = t.total - t.rateLimited - t.other;
    const idealS = needed / limit;
    const wallS = run.wallMs / 1000;
    const rates = run.stderr
      .split('\n')
      .filter((l) => l.includes('"ratePerSecond"'))
      .map((l) => JSON.parse(l).ratePerSecond);
    return {
      limit,
      changes,
      mode: mode.name,
      requests: t.total,
      needed,
      rateLimited: t.rateLimited,
      idealS: +idealS.toFixed(2),
      wallS: +wallS.toFixed(2),
      ratio: +(wallS / idealS).toFixed(3),
      rateLimitedPercent: +((100 * t.rateLimited) / t.total).toFixed(2),
      loggedRates: rates,
    };
  } finally {
    await sim.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const results = [];
for (const c of cases) for (const m of runModes) results.push(await measure(c, m));

const verdict = (r) =>
  r.mode !== 'auto' ? '' : r.ratio <= TARGET_RATIO && r.rateLimitedPercent <= TARGET_429_PERCENT ? '  ok' : '  MISSED';
console.log(
  `apply against an unknown limit: simulator token bucket, ${LATENCY_MS} ms latency, ROLE_SYNC_CONCURRENCY default (4)`,
);
console.log(
  table(
    results.map((r) => [
      `limit ${r.limit}/s, ${r.changes} changes, ${r.mode}`,
      `${r.requests} requests (${r.rateLimited} answered 429 = ${r.rateLimitedPercent}%), ` +
        `${r.wallS} s vs ideal ${r.idealS} s = ${r.ratio}x${verdict(r)}` +
        (r.loggedRates.length > 0 ? `; rate logged: ${r.loggedRates.join(' → ')}` : ''),
    ]),
  ),
);
console.log(
  `  targets for auto: ratio <= ${TARGET_RATIO}, <= ${TARGET_429_PERCENT}% answered 429; node ${process.version}`,
);
for (const r of results) console.log(JSON.stringify({ bench: 'rate', latencyMs: LATENCY_MS, ...r }));
process.exitCode = results.every((r) => verdict(r) !== '  MISSED') ? 0 : 1;
