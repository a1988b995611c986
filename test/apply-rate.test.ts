/**
 * The request rate against the simulator's token-bucket limit: `ROLE_SYNC_RATE=auto` learns it
 * through the real CLI; a `Retry-After` that asks for no pause still pauses 1 s; one that asks
 * for ever ends in a failure saying Parchment kept rate-limiting.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { AimdRate } from '../src/queue/rate-controller.js';
import { RateLimitedTooLongError, RequestQueue } from '../src/queue/request-queue.js';
import { startSimulator, type RetryAfterMode, type RunningSimulator } from '../src/simulator/index.js';
import { CAMERON, COLLINS, simClient } from './helpers/client-fixtures.js';
import { jsonReport, liveEnv, NO_GUARD, runCli, workspace, type Workspace } from './helpers/live-cli.js';
import { buildWorld, divergent } from './helpers/live-seed.js';

let sim: RunningSimulator | undefined;
let ws: Workspace | undefined;

afterEach(async () => {
  await sim?.close();
  await ws?.remove();
  sim = undefined;
  ws = undefined;
});

interface LogLine {
  readonly msg?: string;
  readonly delayMs?: number;
  readonly ratePerSecond?: number;
}

function logLines(stderr: string): LogLine[] {
  return stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogLine);
}

describe('apply with no rate setting (ROLE_SYNC_RATE=auto)', () => {
  it('learns a limit of 10/s it is not told: all applied, few 429s, and about the time the limit allows', async () => {
    const LIMIT = 10;
    const world = buildWorld({ users: 90, changes: 80 });
    sim = await startSimulator({ seed: world.seed, rateLimit: { perSecond: LIMIT }, latencyMs: 5 });
    ws = await workspace();
    const config = await ws.file('roles.yaml', world.yaml);
    const env = liveEnv({ sim, stateDir: ws.stateDir, logLevel: 'info', extra: { ROLE_SYNC_RATE: 'auto' } });

    const began = Date.now();
    const run = await runCli(['apply', '-c', config, '--format', 'json', ...NO_GUARD], env);
    const wallS = (Date.now() - began) / 1000;
    expect(run.code, run.stderr).toBe(0);
    expect(jsonReport(run).summary).toMatchObject({ applied: 80, failed: 0 });
    expect(divergent(sim, world.desired)).toEqual([]);

    const requests = sim.requests();
    const limited = requests.filter((r) => r.status === 429).length;
    expect(limited / requests.length).toBeLessThanOrEqual(0.05);
    const idealS = (requests.length - limited) / LIMIT;
    // Generous for a shared CI machine; bench/rate.js measures the real figure.
    expect(wallS).toBeLessThan(idealS * 1.5 + 2);

    // The rate was learned from 5/s upwards, and logged when it moved.
    const rates = logLines(run.stderr).flatMap((l) => (l.ratePerSecond === undefined ? [] : [l.ratePerSecond]));
    expect(rates.length).toBeGreaterThan(0);
    expect(Math.max(...rates)).toBeGreaterThan(5);
    expect(run.stderr).toMatch(/request rate now [\d.]+\/s, learned from Parchment's answers/);
  });
});

describe('Retry-After that asks for no pause', () => {
  it.each<[string, RetryAfterMode]>([
    ['Retry-After: 0', 0],
    ['a date in the past', 'past-date'],
  ])('%s: every 429 pauses all requests for at least 1 s, and each is counted', async (_label, retryAfter) => {
    const world = buildWorld({ users: 40, changes: 30 });
    sim = await startSimulator({ seed: world.seed, rateLimit: { perSecond: 5 }, retryAfter });
    ws = await workspace();
    const config = await ws.file('roles.yaml', world.yaml);
    // A fixed 50/s, ten times the limit: without the minimum pause nearly every request was a 429.
    const run = await runCli(
      ['apply', '-c', config, '--format', 'json', ...NO_GUARD],
      liveEnv({ sim, stateDir: ws.stateDir, rate: 50 }),
    );
    expect(run.code, run.stderr).toBe(0);
    expect(jsonReport(run).summary).toMatchObject({ applied: 30, failed: 0 });

    const log = sim.requests().map((r) => ({ at: Date.parse(r.time), status: r.status }));
    const limited = log.filter((r) => r.status === 429);
    expect(limited.length).toBeGreaterThan(0);
    expect(limited.length / log.length).toBeLessThan(0.5);
    // Requests already on the wire when a 429 was sent may arrive just after it; none may start
    // later inside the second.
    const IN_FLIGHT_MS = 200;
    const CLOCK_MS = 5;
    for (const l of limited) {
      const early = log.filter((r) => r.at > l.at + IN_FLIGHT_MS && r.at < l.at + 1000 - CLOCK_MS);
      expect(early, `requests inside the pause after the 429 at ${new Date(l.at).toISOString()}`).toEqual([]);
    }
    const pauses = logLines(run.stderr).filter((l) => l.msg === 'rate limited by Parchment: pausing all requests');
    expect(pauses).toHaveLength(limited.length);
    for (const p of pauses) expect(p.delayMs).toBe(1000);
  });
});

describe('Retry-After that asks for ever', () => {
  it('a request refused with 429 longer than the limit fails, saying Parchment kept rate-limiting', async () => {
    sim = await startSimulator({ retryAfter: 1_000_000_000 });
    sim.configure({ failUser: { [CAMERON]: 429 } });
    // The limit and the pause cap are injected so this takes seconds; the defaults are 5 minutes and 60 s.
    const queue = new RequestQueue({
      rate: new AimdRate({ maxPerSecond: 50 }),
      concurrency: 4,
      maxPauseMs: 500,
      rateLimitedGiveUpMs: 2_000,
    });
    const { client } = await simClient(sim, { scheduler: queue });
    try {
      const err = await client.replaceRoles(COLLINS, CAMERON, ['provider']).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(RateLimitedTooLongError);
      expect((err as Error).message).toMatch(/^Parchment kept rate-limiting this request: answered 429 \d+ times/);
      expect((err as Error).message).toContain('429 Too many requests');
      const puts = sim.requests().filter((r) => r.method === 'PUT');
      // One attempt every 500 ms pause until 2 s had passed since the first 429.
      expect(puts.length).toBeGreaterThanOrEqual(4);
      expect(puts.length).toBeLessThanOrEqual(6);
      expect(puts.every((r) => r.status === 429)).toBe(true);
      // The rest of the run carries on.
      await expect(client.getUser(COLLINS, CAMERON)).resolves.toMatchObject({ id: CAMERON });
    } finally {
      client.close();
      queue.close();
    }
  });
});
