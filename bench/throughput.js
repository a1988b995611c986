#!/usr/bin/env node
/**
 * role-sync uses the request budget it is given and no more.
 * `role-sync apply` of 2,000 changes against a simulator that allows 50 requests/s (429 above it)
 * and answers after 20 ms, with ROLE_SYNC_RATE=50 and ROLE_SYNC_CONCURRENCY=4 (4 in flight at
 * 20 ms each could start 200/s, so the rate, not the concurrency, is the limit).
 *   ideal = every request the run needs (token + list pages + PUTs) at exactly 50/s.
 * Targets: wall time <= 1.1 x ideal; <= 1% of requests answered 429.
 * Run after a build: `node bench/throughput.js` (CHANGES=… to shorten).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimulator } from '../dist/simulator/index.js';
import { cliEnv, runCli, table, tally, world } from './lib/live.js';

const CHANGES = Number(process.env.CHANGES ?? 2000);
const RATE = 50;
const CONCURRENCY = 4;
const LATENCY_MS = 20;
const TARGET_RATIO = 1.1;
const TARGET_429_PERCENT = 1;

const { seed, yaml } = world(CHANGES + 1, CHANGES);
const sim = await startSimulator({ seed, rateLimit: { perSecond: RATE }, latencyMs: LATENCY_MS });
const dir = await mkdtemp(join(tmpdir(), 'rs-bench-throughput-'));
try {
  const config = join(dir, 'roles.yaml');
  await writeFile(config, yaml);
  const env = cliEnv(sim, join(dir, 'state'), {
    ROLE_SYNC_RATE: String(RATE),
    ROLE_SYNC_CONCURRENCY: String(CONCURRENCY),
  });

  const run = await runCli(['apply', '-c', config, '--max-changes', '100%', '--format', 'json'], env);
  if (run.code !== 0) throw new Error(`apply exited ${run.code}\n${run.stderr}`);
  const report = JSON.parse(run.stdout);
  if (report.summary.applied !== CHANGES) throw new Error(`applied ${report.summary.applied} of ${CHANGES}`);

  const requests = sim.requests();
  const t = tally(requests);
  const needed = t.total - t.rateLimited - t.other;
  const idealS = needed / RATE;
  const wallS = run.wallMs / 1000;
  const ratio = wallS / idealS;
  const limitedPercent = (100 * t.rateLimited) / t.total;
  const first = Date.parse(requests[0].time);
  const last = Date.parse(requests[requests.length - 1].time);
  const spanS = (last - first) / 1000;

  const verdict = (ok) => (ok ? 'ok' : 'MISSED');
  console.log(
    `apply of ${CHANGES} changes: simulator ${RATE} req/s (429 above), ${LATENCY_MS} ms latency; ROLE_SYNC_RATE=${RATE} ROLE_SYNC_CONCURRENCY=${CONCURRENCY}`,
  );
  console.log(
    table([
      [
        'requests sent',
        `${t.total} (token ${t.token}, list pages ${t.listPages}, PUTs ${t.puts}, answered 429 ${t.rateLimited}, other errors ${t.other})`,
      ],
      ['ideal (needed / rate)', `${idealS.toFixed(2)} s for ${needed} requests`],
      ['wall time (process)', `${wallS.toFixed(2)} s`],
      ['first to last request', `${spanS.toFixed(2)} s`],
      ['ratio wall / ideal', `${ratio.toFixed(3)}  target <= ${TARGET_RATIO}: ${verdict(ratio <= TARGET_RATIO)}`],
      [
        'answered 429',
        `${limitedPercent.toFixed(2)}%  target <= ${TARGET_429_PERCENT}%: ${verdict(limitedPercent <= TARGET_429_PERCENT)}`,
      ],
      ['node', process.version],
    ]),
  );
  console.log(
    JSON.stringify({
      bench: 'throughput',
      changes: CHANGES,
      rate: RATE,
      concurrency: CONCURRENCY,
      latencyMs: LATENCY_MS,
      requests: t.total,
      needed,
      rateLimited: t.rateLimited,
      idealS: +idealS.toFixed(2),
      wallS: +wallS.toFixed(2),
      ratio: +ratio.toFixed(3),
      rateLimitedPercent: +limitedPercent.toFixed(2),
      node: process.version,
    }),
  );
  process.exitCode = ratio <= TARGET_RATIO && limitedPercent <= TARGET_429_PERCENT ? 0 : 1;
} finally {
  await sim.close();
  await rm(dir, { recursive: true, force: true });
}
