/**
 * `role-sync apply` through the real CLI against a misbehaving simulator (docs/parchment-api.md, "Rate limits"):
 * 5xx and dropped connections, a 429 storm, and a 401 in the middle of the run.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningSimulator } from '../src/simulator/index.js';
import { DEMO_PARTNER } from '../src/simulator/index.js';
import {
  jsonReport,
  liveEnv,
  NO_GUARD,
  puts,
  revokeTokensAtFirstPut,
  runCli,
  tokenCalls,
  watchedSimulator,
  workspace,
  type Workspace,
} from './helpers/live-cli.js';
import { buildWorld, divergent, ORG_SECRET, seededRandom } from './helpers/live-seed.js';

let sim: RunningSimulator | undefined;
let ws: Workspace | undefined;

afterEach(async () => {
  await sim?.close();
  await ws?.remove();
  sim = undefined;
  ws = undefined;
});

describe('apply with faults', () => {
  it('converges through 10% of requests answered 500/503 or dropped; a second apply sends no PUT', async () => {
    const world = buildWorld({ users: 70, changes: 50 });
    const watched = await watchedSimulator({ seed: world.seed, faultRate: 0.1, random: seededRandom(20240611) });
    sim = watched.sim;
    ws = await workspace();
    const config = await ws.file('roles.yaml', world.yaml);
    const env = liveEnv({ sim, stateDir: ws.stateDir });

    const first = await runCli(['apply', '-c', config, '--format', 'json', ...NO_GUARD], env);
    expect(first.code, first.stderr).toBe(0);
    const report = jsonReport(first);
    expect(report.summary).toMatchObject({ changes: 50, applied: 50, failed: 0, pending: 0 });
    expect(divergent(sim, world.desired)).toEqual([]);
    // The faults really happened, to writes as well as reads.
    const statuses = sim.requests().map((r) => r.status);
    const faulted = statuses.filter((s) => s === 500 || s === 503 || s === 'dropped');
    expect(faulted.length).toBeGreaterThanOrEqual(3);
    expect(puts(sim.requests()).some((r) => r.status !== 200)).toBe(true);

    sim.clearRequests();
    const second = await runCli(['apply', '-c', config, '--format', 'json', ...NO_GUARD], env);
    expect(second.code, second.stderr).toBe(0);
    expect(jsonReport(second).summary).toMatchObject({ changes: 0, applied: 0, failed: 0, unchanged: 71 });
    expect(puts(sim.requests())).toEqual([]);
    expect(sim.requests().length).toBeGreaterThan(0);
  });

  it('converges when writes take effect but their replies are lost (the replayed PUT is harmless)', async () => {
    const world = buildWorld({ users: 40, changes: 30 });
    const watched = await watchedSimulator({
      seed: world.seed,
      faultRate: 0.3,
      faults: ['lost-reply'],
      random: seededRandom(7),
    });
    sim = watched.sim;
    ws = await workspace();
    const config = await ws.file('roles.yaml', world.yaml);
    const env = liveEnv({ sim, stateDir: ws.stateDir });

    const first = await runCli(['apply', '-c', config, '--format', 'json', ...NO_GUARD], env);
    expect(first.code, first.stderr).toBe(0);
    expect(jsonReport(first).summary).toMatchObject({ changes: 30, applied: 30, failed: 0 });
    expect(divergent(sim, world.desired)).toEqual([]);
    // Some PUTs were applied by the simulator and still never answered, so role-sync sent them again.
    const lostPuts = puts(sim.requests()).filter((r) => r.status === 'dropped');
    expect(lostPuts.length).toBeGreaterThan(0);

    sim.configure({ faultRate: 0 });
    sim.clearRequests();
    const second = await runCli(['apply', '-c', config, '--format', 'json', ...NO_GUARD], env);
    expect(second.code, second.stderr).toBe(0);
    expect(puts(sim.requests())).toEqual([]);
  });

  it('rides out a 429 storm without failing a user, and sends nothing while Retry-After holds', async () => {
    const world = buildWorld({ users: 60, changes: 50 });
    const watched = await watchedSimulator({ seed: world.seed, rateLimit: { perSecond: 10 } });
    sim = watched.sim;
    ws = await workspace();
    const config = await ws.file('roles.yaml', world.yaml);

    const run = await runCli(
      ['apply', '-c', config, '--format', 'json', ...NO_GUARD],
      liveEnv({ sim, stateDir: ws.stateDir, rate: 100 }),
    );
    expect(run.code, run.stderr).toBe(0);
    expect(jsonReport(run).summary).toMatchObject({ applied: 50, failed: 0 });
    expect(divergent(sim, world.desired)).toEqual([]);
    expect(run.stderr).toContain('rate limited by Parchment: pausing all requests');
    // Fifty writes waiting in the queue must not look like a listener leak.
    expect(run.stderr).not.toContain('MaxListenersExceededWarning');

    const log = sim.requests().map((r) => ({ at: Date.parse(r.time), status: r.status }));
    const limited = log.filter((r) => r.status === 429);
    expect(limited.length).toBeGreaterThan(0);
    // A bucket of 10/s says Retry-After: 1 (whole seconds, never 0). Requests already on the wire when
    // the 429 was sent may still arrive just after it; nothing else may arrive before the second is up.
    const RETRY_AFTER_MS = 1000;
    const IN_FLIGHT_MS = 200;
    const CLOCK_MS = 5;
    for (const l of limited) {
      const early = log.filter((r) => r.at > l.at + IN_FLIGHT_MS && r.at < l.at + RETRY_AFTER_MS - CLOCK_MS);
      expect(early, `requests inside the pause after the 429 at ${new Date(l.at).toISOString()}`).toEqual([]);
    }
  });

  it('re-mints the token exactly once after a 401 in the middle of the run', async () => {
    const world = buildWorld({ users: 60, changes: 40 });
    const watched = await watchedSimulator({ seed: world.seed, latencyMs: 30 });
    sim = watched.sim;
    revokeTokensAtFirstPut(watched);
    ws = await workspace();
    const config = await ws.file('roles.yaml', world.yaml);

    const run = await runCli(
      ['apply', '-c', config, '--format', 'json', ...NO_GUARD],
      liveEnv({ sim, stateDir: ws.stateDir }),
    );
    expect(run.code, run.stderr).toBe(0);
    expect(jsonReport(run).summary).toMatchObject({ applied: 40, failed: 0 });
    expect(divergent(sim, world.desired)).toEqual([]);
    const requests = sim.requests();
    expect(requests.filter((r) => r.status === 401).length).toBeGreaterThan(0);
    expect(tokenCalls(requests).map((r) => r.status)).toEqual([200, 200]);
    // A request answered 401 is retried once with the fresh token, which works: no user sees two 401s.
    const unauthorized = requests.filter((r) => r.status === 401).map((r) => r.userId);
    expect(new Set(unauthorized).size).toBe(unauthorized.length);
    // Only requests already in flight when the token was revoked see the 401 (at most the 4 of
    // ROLE_SYNC_CONCURRENCY, plus the re-mint's own wait); queued ones go out with the new token.
    expect(unauthorized.length).toBeLessThanOrEqual(8);
  });

  it('withdraws the writes still waiting once Parchment refuses the credentials: they are never sent', async () => {
    const world = buildWorld({ users: 40, changes: 30 });
    const watched = await watchedSimulator({ seed: world.seed, latencyMs: 10 });
    sim = watched.sim;
    // Every role write is answered 401, even with a fresh token: the credentials are refused.
    sim.configure({ failUser: Object.fromEntries(world.changing.map((id) => [id, 401])) });
    ws = await workspace();
    const config = await ws.file('roles.yaml', world.yaml);

    const run = await runCli(
      ['apply', '-c', config, '--format', 'json', ...NO_GUARD],
      liveEnv({ sim, stateDir: ws.stateDir, rate: 20 }),
    );
    expect(run.code, run.stderr).toBe(1);
    const changes = jsonReport(run).organizations[0]!.changes;
    expect(changes).toHaveLength(30);
    const sentTo = new Set(puts(sim.requests()).map((r) => r.userId));
    // Only the writes already on the wire when the first refusal was known went out; the rest of the
    // queue (all 30 were queued at once) was withdrawn and is reported as not attempted.
    expect(sentTo.size).toBeGreaterThan(0);
    expect(sentTo.size).toBeLessThanOrEqual(10);
    // One token at the start, one renewal after the first 401; the refusal of that fresh token ends it.
    expect(tokenCalls(sim.requests())).toHaveLength(2);
    for (const change of changes) {
      const sent = sentTo.has(change.user.id ?? change.user.key);
      expect(change.result, change.user.key).toMatchObject(
        sent ? { state: 'failed', failure: { reason: 'auth' } } : { state: 'not-attempted', reason: 'auth' },
      );
    }
  });

  it('never prints a secret or a token, through faults and a 401', async () => {
    const world = buildWorld({ users: 40, changes: 30 });
    const watched = await watchedSimulator({
      seed: world.seed,
      faultRate: 0.1,
      random: seededRandom(7),
      latencyMs: 10,
    });
    sim = watched.sim;
    revokeTokensAtFirstPut(watched);
    ws = await workspace();
    const config = await ws.file('roles.yaml', world.yaml);
    const env = liveEnv({ sim, stateDir: ws.stateDir, logLevel: 'debug' });

    const json = await runCli(['apply', '-c', config, '--format', 'json', ...NO_GUARD], env);
    expect(json.code, json.stderr).toBe(0);
    const output = json.stdout + json.stderr;
    // The output is the full story: per-request lines, 401s and injected faults included.
    expect(output).toContain('"status":401');
    expect(output).toMatch(/"status":50[03]|"errorCode":"ECONNRESET"/);
    expect(output).toContain('"msg":"parchment request"');

    for (const secret of [DEMO_PARTNER.partnerSecret, ORG_SECRET]) expect(output).not.toContain(secret);
    expect(output).not.toMatch(/bearer /i);
    // Simulator tokens are `sim_` and 43 base64url characters.
    expect(output).not.toMatch(/sim_[A-Za-z0-9_-]{20,}/);
  });
});
