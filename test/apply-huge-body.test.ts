/**
 * Every response body is capped at 16 MiB while it streams in (README "Security model"): a list
 * answer that never ends, or one of 200 MiB, is a failure of the organization with a clear
 * message, read no further, never taken as a (padded) empty list, and the process stays small.
 */
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import type { HugeBody, RunningSimulator } from '../src/simulator/index.js';
import {
  jsonReport,
  liveEnv,
  NO_GUARD,
  puts,
  REPO,
  runCli,
  watchedSimulator,
  workspace,
  type CliRun,
  type Workspace,
} from './helpers/live-cli.js';
import { buildWorld } from './helpers/live-seed.js';

const MAX_RSS_KB = 300 * 1024;
const PRELOAD = pathToFileURL(join(REPO, 'test', 'helpers', 'report-max-rss.js')).href;

let sim: RunningSimulator | undefined;
let ws: Workspace | undefined;

afterEach(async () => {
  await sim?.close();
  await ws?.remove();
  sim = undefined;
  ws = undefined;
});

function maxRssKb(run: CliRun): number {
  const m = /max-rss-kb (\d+)\s*$/.exec(run.stderr);
  if (!m) throw new Error(`no max-rss line in stderr:\n${run.stderr}`);
  return Number(m[1]);
}

async function applyAgainst(hugeListBody: HugeBody): Promise<CliRun> {
  const world = buildWorld({ users: 20, changes: 5 });
  sim = (await watchedSimulator({ seed: world.seed, hugeListBody })).sim;
  ws = await workspace('rs-huge-');
  const config = await ws.file('roles.yaml', world.yaml);
  return runCli(
    ['apply', '-c', config, '--format', 'json', ...NO_GUARD],
    liveEnv({ sim, stateDir: ws.stateDir, extra: { NODE_OPTIONS: `--import=${PRELOAD}` } }),
  );
}

function expectCapped(run: CliRun): void {
  expect(run.code, run.stderr).toBe(1);
  const failures = jsonReport(run).organizations.flatMap((o) => o.failures);
  expect(failures).toHaveLength(1);
  expect(failures[0]).toMatchObject({ reason: 'observe', status: 200 });
  expect(failures[0]?.message).toContain('response body exceeds 16 MiB; stopped reading it');
  expect(puts(sim?.requests() ?? [])).toEqual([]);
  expect(maxRssKb(run)).toBeLessThan(MAX_RSS_KB);
}

it('an endless list body is cut off at 16 MiB: an observe failure, exit 1, nothing written', async () => {
  expectCapped(await applyAgainst('endless'));
}, 30_000);

it('a 200 MiB list body (an empty list padded with blanks) is refused by its length, not read as empty', async () => {
  expectCapped(await applyAgainst(200 * 1024 * 1024));
}, 30_000);
