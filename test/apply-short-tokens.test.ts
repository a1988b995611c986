/**
 * Tokens that live two seconds, a revocation in the middle of the run, and a queue slow enough
 * that requests wait longer than a token lives: a token that ran out while its request waited is
 * renewed again, and only a token minted for the request and refused while still valid stops writes.
 */
import { afterEach, expect, it } from 'vitest';
import { AuthFailedError } from '../src/parchment/errors.js';
import type { RunningSimulator } from '../src/simulator/index.js';
import { CAMERON, COLLINS, collinsSettings, testClient } from './helpers/client-fixtures.js';
import {
  jsonReport,
  liveEnv,
  NO_GUARD,
  revokeTokensAtFirstPut,
  runCli,
  tokenCalls,
  watchedSimulator,
  workspace,
  type Workspace,
} from './helpers/live-cli.js';
import { buildWorld, divergent } from './helpers/live-seed.js';

let sim: RunningSimulator | undefined;
let ws: Workspace | undefined;

afterEach(async () => {
  await sim?.close();
  await ws?.remove();
  sim = undefined;
  ws = undefined;
});

it('converges with 2 s tokens, a revocation mid-run and requests waiting longer than a token lives', async () => {
  const world = buildWorld({ users: 60, changes: 50, emailEvery: 0 });
  const watched = await watchedSimulator({ seed: world.seed, tokenTtlSeconds: 2, latencyMs: 20 });
  sim = watched.sim;
  revokeTokensAtFirstPut(watched);
  ws = await workspace();
  const config = await ws.file('roles.yaml', world.yaml);

  const run = await runCli(
    ['apply', '-c', config, '--format', 'json', ...NO_GUARD],
    liveEnv({ sim, stateDir: ws.stateDir, rate: 8, concurrency: 4 }),
  );
  const report = jsonReport(run);
  expect(report.organizations.flatMap((o) => o.failures.map((f) => f.message))).toEqual([]);
  expect(run.code, run.stderr).toBe(0);
  expect(report.summary).toMatchObject({ applied: 50, failed: 0 });
  expect(divergent(sim, world.desired)).toEqual([]);
  const requests = sim.requests();
  // The scenario really happened: tokens expired and were revoked under the run, and were re-minted.
  expect(requests.filter((r) => r.status === 401).length).toBeGreaterThan(0);
  expect(tokenCalls(requests).length).toBeGreaterThan(3);
}, 60_000);

const TOKEN = 'POST /v1/token';
const PUT = 'PUT /v1/organizations/{organization_id}/users/{user_id}/roles';

/**
 * Every token is refused as soon as it is minted, while the client's clock moves `stepMs` at each
 * reading: with 0 a renewed token is still fresh when its retry goes out, with 1,000 (half the 2 s
 * lifetime) it is already due for renewal by then.
 */
async function refuseEveryMint(stepMs: number) {
  const watched = await watchedSimulator({ tokenTtlSeconds: 2 });
  sim = watched.sim;
  const running = watched.sim;
  let step = 0;
  let t = 1_000_000;
  const { client } = testClient({ settings: await collinsSettings(running.baseUrl), now: () => (t += step) });
  await client.getUser(COLLINS, CAMERON);
  step = stepMs;
  watched.events.on('answer', (a) => {
    if (a.method === 'POST') running.revokeTokens();
  });
  running.revokeTokens();
  running.clearRequests();
  const failure = await client.replaceRoles(COLLINS, CAMERON, ['provider']).then(
    () => expect.unreachable('the write must fail'),
    (e: unknown) => e,
  );
  client.close();
  return { failure, routes: running.requests().map((r) => `${r.route} ${String(r.status)}`) };
}

it('a token minted for the request and refused while fresh stops at once', async () => {
  const { failure, routes } = await refuseEveryMint(0);
  expect(failure).toBeInstanceOf(AuthFailedError);
  expect((failure as AuthFailedError).reason).toBe('token-rejected-after-renewal');
  expect(routes).toEqual([`${PUT} 401`, `${TOKEN} 200`, `${PUT} 401`]);
});

it('a renewed token that ran out before its retry went out is renewed again, a bounded number of times', async () => {
  const { failure, routes } = await refuseEveryMint(1_000);
  expect(failure).toBeInstanceOf(AuthFailedError);
  expect((failure as AuthFailedError).reason).toBe('tokens-outlived');
  expect(failure instanceof Error ? failure.message : '').toContain('tokens live shorter than the request queue');
  // The token due at the start is renewed, then five renewals for tokens that ran out; none counts as refused.
  expect(routes.filter((r) => r === `${TOKEN} 200`)).toHaveLength(6);
  expect(routes.filter((r) => r === `${PUT} 401`)).toHaveLength(6);
});
