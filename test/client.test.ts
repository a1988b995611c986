/** The Parchment client against the real simulator over loopback. */
import { afterEach, describe, expect, it } from 'vitest';
import type { OrgId, UserId } from '../src/core/domain.js';
import {
  AuthFailedError,
  ParchmentApiError,
  ParchmentNetworkError,
  ReadOnlyViolation,
} from '../src/parchment/errors.js';
import type { ParchmentClient } from '../src/parchment/client.js';
import { isRateLimited } from '../src/queue/contract.js';
import {
  DEMO_PARTNER,
  startSimulator,
  type RunningSimulator,
  type SimOptions,
  type SimSeed,
} from '../src/simulator/index.js';
import { USER_AGENT } from '../src/version.js';
import {
  ACTING_USER,
  CAMERON,
  COLLINS,
  COLLINS_SECRET,
  collinsSettings,
  requestLines,
  simClient,
  testClient,
} from './helpers/client-fixtures.js';

const TOKEN_ROUTE = 'POST /v1/token';

let sim: RunningSimulator | undefined;
let clients: ParchmentClient[] = [];

afterEach(async () => {
  for (const c of clients) c.close();
  clients = [];
  await sim?.close();
  sim = undefined;
});

async function start(opts: SimOptions = {}): Promise<RunningSimulator> {
  sim = await startSimulator(opts);
  return sim;
}

async function client(s: RunningSimulator, opts: Parameters<typeof simClient>[1] = {}): ReturnType<typeof simClient> {
  const made = await simClient(s, opts);
  clients.push(made.client);
  return made;
}

function routes(s: RunningSimulator): string[] {
  return s.requests().map((r) => `${r.route} ${r.status}`);
}

function count(s: RunningSimulator, route: string): number {
  return s.requests().filter((r) => r.route === route).length;
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e,
  );
}

/** Collins with `n` users in total (the acting user first), ids in a fixed order. */
function bigSeed(n: number): SimSeed {
  const users: SimSeed['organizations'][number]['users'] = [
    { id: ACTING_USER, email: 'acting@collins.example', roles: ['admin'] },
  ];
  for (let i = 1; i < n; i++) {
    users.push({
      id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      email: `user${i}@collins.example`,
      roles: ['receptionist'],
    });
  }
  return { partners: [{ ...DEMO_PARTNER }], organizations: [{ id: COLLINS, secret: COLLINS_SECRET, users }] };
}

describe('listing users', () => {
  it.each(['oas', 'rs'] as const)('follows lastKey across pages in the %s shape', async (listShape) => {
    const s = await start({ seed: bigSeed(250), listShape, pageSize: 100 });
    const { client: c } = await client(s);
    const users = await c.listUsers(COLLINS);
    expect(users).toHaveLength(250);
    expect(new Set(users.map((u) => u.id)).size).toBe(250);
    const last = users.find((u) => u.id === ('00000000-0000-4000-8000-000000000249' as UserId));
    expect(last).toMatchObject({ roles: ['receptionist'] });
    // The oas shape is the vendor's example: no email; emails come only from read-user.
    expect(last?.email).toBe(listShape === 'oas' ? undefined : 'user249@collins.example');
    const lists = s.requests().filter((r) => r.route === 'GET /v1/organizations/{organization_id}/users');
    expect(lists.map((r) => r.query?.['limit'])).toEqual(['100', '100', '100']);
    expect(lists[0]?.query?.['lastKey']).toBeUndefined();
    expect(lists[1]?.query?.['lastKey']).toEqual(expect.any(String));
    expect(lists[2]?.query?.['lastKey']).not.toBe(lists[1]?.query?.['lastKey']);
  });

  it('takes the bare shape in one request and leaves roles unknown', async () => {
    const s = await start({ seed: bigSeed(250), listShape: 'bare' });
    const { client: c } = await client(s);
    const users = await c.listUsers(COLLINS);
    expect(users).toHaveLength(250);
    expect(users.find((u) => u.id === ACTING_USER)).toEqual({ id: ACTING_USER, email: 'acting@collins.example' });
    expect(users.every((u) => u.roles === undefined)).toBe(true);
    expect(count(s, 'GET /v1/organizations/{organization_id}/users')).toBe(1);
  });

  it('returns names, emails and roles from the demo organization (rs shape)', async () => {
    const s = await start({ listShape: 'rs' });
    const { client: c } = await client(s);
    const users = await c.listUsers(COLLINS);
    expect(users.find((u) => u.id === CAMERON)).toEqual({
      id: CAMERON,
      email: 'dr.cameron@collins.example',
      fullName: 'Dr Darlene Cameron',
      roles: ['admin', 'provider'],
    });
  });

  it('returns names and roles but no email in the vendor example shape (oas)', async () => {
    const s = await start();
    const { client: c } = await client(s);
    const users = await c.listUsers(COLLINS);
    expect(users.find((u) => u.id === CAMERON)).toEqual({
      id: CAMERON,
      fullName: 'Dr Darlene Cameron',
      roles: ['admin', 'provider'],
    });
  });
});

describe('reading and writing one user', () => {
  it('reads a user', async () => {
    const s = await start();
    const { client: c } = await client(s);
    expect(await c.getUser(COLLINS, CAMERON)).toEqual({
      id: CAMERON,
      email: 'dr.cameron@collins.example',
      fullName: 'Dr Darlene Cameron',
      roles: ['admin', 'provider'],
    });
  });

  it('replaces roles with the canonical list and returns what was stored', async () => {
    const s = await start();
    const { client: c } = await client(s);
    const result = await c.replaceRoles(COLLINS, CAMERON, ['rx_reader', 'receptionist', 'receptionist']);
    expect(result.roles).toEqual(['receptionist', 'rx_reader']);
    expect(result.requestId).toMatch(/^1-/);
    expect(s.user(COLLINS, CAMERON)?.roles).toEqual(['receptionist', 'rx_reader']);
    const put = s.requests().find((r) => r.method === 'PUT');
    expect(put?.body).toEqual({ access_roles: ['receptionist', 'rx_reader'] });
  });

  it('refuses to send an empty role list', async () => {
    const s = await start();
    const { client: c } = await client(s);
    await expect(c.replaceRoles(COLLINS, CAMERON, [])).rejects.toThrow(/empty role list/);
    expect(s.requests()).toHaveLength(0);
  });

  it('a 404 is thrown at once with status, code, detail and requestId', async () => {
    const s = await start();
    const { client: c } = await client(s);
    const missing = '11111111-2222-4333-8444-555555555555' as UserId;
    const err = await rejection(c.getUser(COLLINS, missing));
    expect(err).toBeInstanceOf(ParchmentApiError);
    const e = err as ParchmentApiError;
    expect(e.status).toBe(404);
    expect(e.rateLimited).toBe(false);
    expect(e.detail).toBe('User not found');
    expect(e.requestId).toMatch(/^1-/);
    expect(e.message).toBe(
      'GET /v1/organizations/{organization_id}/users/{user_id} (org 7fa84d2b…, user 11111111…) ' +
        `failed: 404 ${e.title} — User not found; requestId ${e.requestId}`,
    );
    expect(count(s, 'GET /v1/organizations/{organization_id}/users/{user_id}')).toBe(1);
  });

  it.each([400, 403, 409, 422])('a %i on PUT is thrown at once', async (status) => {
    const s = await start();
    s.configure({ failUser: { [CAMERON]: status } });
    const { client: c } = await client(s);
    const err = await rejection(c.replaceRoles(COLLINS, CAMERON, ['provider']));
    expect(err).toBeInstanceOf(ParchmentApiError);
    expect((err as ParchmentApiError).status).toBe(status);
    expect((err as ParchmentApiError).userId).toBe(CAMERON);
    expect(count(s, 'PUT /v1/organizations/{organization_id}/users/{user_id}/roles')).toBe(1);
  });
});

describe('headers and logs', () => {
  it('every request, the token call included, carries the User-Agent', async () => {
    const s = await start();
    const { client: c } = await client(s);
    await c.listUsers(COLLINS);
    await c.getUser(COLLINS, CAMERON);
    await c.replaceRoles(COLLINS, CAMERON, ['provider']);
    expect(s.requests().map((r) => r.route)).toContain(TOKEN_ROUTE);
    expect(s.requests().map((r) => r.headers.userAgent)).toEqual([USER_AGENT, USER_AGENT, USER_AGENT, USER_AGENT]);
    expect(USER_AGENT).toMatch(/^role-sync\/\d+\.\d+\.\d+/);
  });

  it('logs one info line per attempt: method, route, organization, user, status, attempt, requestId…', async () => {
    const s = await start();
    const { client: c, log } = await client(s);
    await c.getUser(COLLINS, CAMERON);
    const lines = requestLines(log);
    expect(lines).toHaveLength(2);
    const [token, get] = lines;
    expect(token).toMatchObject({
      level: 30,
      method: 'POST',
      route: '/v1/token',
      organizationId: COLLINS,
      status: 200,
      attempt: 1,
    });
    expect(get).toMatchObject({
      level: 30,
      method: 'GET',
      route: '/v1/organizations/{organization_id}/users/{user_id}',
      organizationId: COLLINS,
      userId: CAMERON,
      status: 200,
      attempt: 1,
      durationMs: expect.any(Number),
      requestId: expect.stringMatching(/^1-/),
    });
  });
});

describe('tokens', () => {
  it('concurrent first calls share one mint', async () => {
    const s = await start();
    const { client: c } = await client(s);
    await Promise.all([
      c.listUsers(COLLINS),
      c.getUser(COLLINS, CAMERON),
      c.getUser(COLLINS, ACTING_USER),
      c.listUsers(COLLINS),
    ]);
    expect(count(s, TOKEN_ROUTE)).toBe(1);
  });

  it('renews at half-life when the token is short-lived', async () => {
    const s = await start({ tokenTtlSeconds: 1 });
    let now = 1_000_000;
    const { client: c } = await client(s, { now: () => now });
    await c.getUser(COLLINS, CAMERON);
    now += 400;
    await c.getUser(COLLINS, CAMERON);
    expect(count(s, TOKEN_ROUTE)).toBe(1);
    now += 200;
    await c.getUser(COLLINS, CAMERON);
    expect(count(s, TOKEN_ROUTE)).toBe(2);
    expect(s.requests().every((r) => r.status === 200)).toBe(true);
  });

  it('renews five minutes before expiry', async () => {
    const s = await start({ tokenTtlSeconds: 3600 });
    let now = 0;
    const { client: c } = await client(s, { now: () => now });
    await c.getUser(COLLINS, CAMERON);
    now = 3299_000;
    await c.getUser(COLLINS, CAMERON);
    expect(count(s, TOKEN_ROUTE)).toBe(1);
    now = 3301_000;
    await c.getUser(COLLINS, CAMERON);
    expect(count(s, TOKEN_ROUTE)).toBe(2);
  });

  it('a 401 re-mints once for every request that saw it, then succeeds', async () => {
    const s = await start();
    const { client: c } = await client(s);
    await c.listUsers(COLLINS);
    s.revokeTokens();
    const users = [
      CAMERON,
      ACTING_USER,
      '64c290b3-09df-46c2-833b-b3ad3054109b' as UserId,
      'fd288ccc-fb13-4be5-8f5c-66145f401585' as UserId,
    ];
    const got = await Promise.all(users.map((u) => c.getUser(COLLINS, u)));
    expect(got.map((u) => u.id)).toEqual(users);
    expect(count(s, TOKEN_ROUTE)).toBe(2);
    const gets = s.requests().filter((r) => r.route === 'GET /v1/organizations/{organization_id}/users/{user_id}');
    expect(gets.filter((r) => r.status === 401)).toHaveLength(4);
    expect(gets.filter((r) => r.status === 200)).toHaveLength(4);
  });

  it('a 401 with the fresh token too is an AuthFailedError', async () => {
    const s = await start();
    s.configure({ failUser: { [CAMERON]: 401 } });
    const { client: c } = await client(s);
    const err = await rejection(c.replaceRoles(COLLINS, CAMERON, ['provider']));
    expect(err).toBeInstanceOf(AuthFailedError);
    expect(err).toBeInstanceOf(ParchmentApiError);
    expect((err as AuthFailedError).reason).toBe('token-rejected-after-renewal');
    expect((err as AuthFailedError).status).toBe(401);
    expect(routes(s)).toEqual([
      `${TOKEN_ROUTE} 200`,
      'PUT /v1/organizations/{organization_id}/users/{user_id}/roles 401',
      `${TOKEN_ROUTE} 200`,
      'PUT /v1/organizations/{organization_id}/users/{user_id}/roles 401',
    ]);
  });

  it('refused partner credentials are an AuthFailedError, not retried', async () => {
    const s = await start();
    const settings = await collinsSettings(s.baseUrl, { PARCHMENT_PARTNER_SECRET: 'wrong' });
    const { client: c } = testClient({ settings });
    clients.push(c);
    const err = await rejection(c.listUsers(COLLINS));
    expect(err).toBeInstanceOf(AuthFailedError);
    expect((err as AuthFailedError).reason).toBe('credentials-rejected');
    expect((err as AuthFailedError).detail).toBe('Invalid partner credentials provided.');
    expect(routes(s)).toEqual([`${TOKEN_ROUTE} 401`]);
  });

  it('a static access token is used as given and its 401 is final', async () => {
    const s = await start();
    const settings = await collinsSettings(s.baseUrl, { PARCHMENT_ACCESS_TOKEN: 'not-a-live-token' });
    const { client: c } = testClient({ settings });
    clients.push(c);
    const err = await rejection(c.getUser(COLLINS, CAMERON));
    expect(err).toBeInstanceOf(AuthFailedError);
    expect((err as AuthFailedError).reason).toBe('static-token-rejected');
    expect(routes(s)).toEqual(['GET /v1/organizations/{organization_id}/users/{user_id} 401']);
  });
});

describe('retries', () => {
  it.each(['500', '503'] as const)('retries a %s four times, then throws it', async (fault) => {
    const s = await start();
    const { client: c, log } = await client(s);
    await c.listUsers(COLLINS);
    s.configure({ faultRate: 1, faults: [fault] });
    const err = await rejection(c.getUser(COLLINS, CAMERON));
    expect(err).toBeInstanceOf(ParchmentApiError);
    expect((err as ParchmentApiError).status).toBe(Number(fault));
    const gets = requestLines(log).filter((l) => l['route'] === '/v1/organizations/{organization_id}/users/{user_id}');
    expect(gets.map((l) => [l['attempt'], l['status']])).toEqual([1, 2, 3, 4].map((a) => [a, Number(fault)]));
    s.configure({ faultRate: 0 });
    expect((await c.getUser(COLLINS, CAMERON)).id).toBe(CAMERON);
  });

  it('retries dropped connections, then throws a network error', async () => {
    const s = await start();
    const { client: c } = await client(s);
    await c.listUsers(COLLINS);
    s.configure({ faultRate: 1, faults: ['drop'] });
    const err = await rejection(c.replaceRoles(COLLINS, CAMERON, ['provider']));
    expect(err).toBeInstanceOf(ParchmentNetworkError);
    expect((err as ParchmentNetworkError).code).toBe('ECONNRESET');
    expect((err as ParchmentNetworkError).message).toMatch(
      /PUT .*\/roles \(org 7fa84d2b…, user 3266a9fd…\) failed: ECONNRESET after 4 attempts/,
    );
    expect(
      s
        .requests()
        .filter((r) => r.method === 'PUT')
        .map((r) => r.status),
    ).toEqual(['dropped', 'dropped', 'dropped', 'dropped']);
  });

  it('retries the token call too', async () => {
    const s = await start({ faultRate: 1, faults: ['503'] });
    const { client: c } = await client(s);
    const err = await rejection(c.listUsers(COLLINS));
    expect((err as ParchmentApiError).status).toBe(503);
    expect((err as ParchmentApiError).route).toBe('/v1/token');
    expect(count(s, TOKEN_ROUTE)).toBe(4);
  });

  it('times out a slow request on every attempt, quickly', async () => {
    const s = await start();
    const { client: c, log } = await client(s, { timeoutMs: 150 });
    await c.listUsers(COLLINS);
    s.configure({ latencyMs: 400 });
    const started = Date.now();
    const err = await rejection(c.getUser(COLLINS, CAMERON));
    const elapsed = Date.now() - started;
    expect(err).toBeInstanceOf(ParchmentNetworkError);
    expect((err as ParchmentNetworkError).code).toBe('ETIMEDOUT');
    const gets = requestLines(log).filter((l) => l['route'] === '/v1/organizations/{organization_id}/users/{user_id}');
    expect(gets.map((l) => [l['attempt'], l['errorCode']])).toEqual([1, 2, 3, 4].map((a) => [a, 'ETIMEDOUT']));
    expect(elapsed).toBeGreaterThanOrEqual(4 * 150);
    expect(elapsed).toBeLessThan(3_000);
  });

  it('a 429 is surfaced to the caller with retryAfterMs and not retried by the client', async () => {
    const s = await start();
    s.configure({ failUser: { [CAMERON]: 429 } });
    const { client: c } = await client(s);
    const err = await rejection(c.replaceRoles(COLLINS, CAMERON, ['provider']));
    expect(err).toBeInstanceOf(ParchmentApiError);
    expect(isRateLimited(err)).toBe(true);
    expect((err as ParchmentApiError).retryAfterMs).toBe(1000);
    expect(count(s, 'PUT /v1/organizations/{organization_id}/users/{user_id}/roles')).toBe(1);
  });

  it('a 429 from the simulator rate limit is surfaced too', async () => {
    const s = await start({ rateLimit: { perSecond: 0.5, burst: 2 } });
    const { client: c } = await client(s);
    const results = await Promise.allSettled([c.getUser(COLLINS, CAMERON), c.getUser(COLLINS, CAMERON)]);
    const rejected = results
      .filter((r): r is PromiseRejectedResult => r.status === 'rejected')
      .map((r) => r.reason as unknown);
    expect(rejected.length).toBeGreaterThan(0);
    expect(rejected.every((e) => isRateLimited(e) && (e as ParchmentApiError).retryAfterMs !== undefined)).toBe(true);
  });
});

describe('read-only mode', () => {
  it('refuses a PUT below the client: nothing is sent, reads and the token call still work', async () => {
    const s = await start();
    const { client: c, log } = await client(s, { readOnly: true });
    expect(await c.listUsers(COLLINS)).toHaveLength(11);
    const err = await rejection(c.replaceRoles(COLLINS, CAMERON, ['provider']));
    expect(err).toBeInstanceOf(ReadOnlyViolation);
    expect((err as ReadOnlyViolation).method).toBe('PUT');
    expect((err as ReadOnlyViolation).route).toBe('/v1/organizations/{organization_id}/users/{user_id}/roles');
    expect(s.requests().some((r) => r.method === 'PUT')).toBe(false);
    expect(s.requests().map((r) => r.route)).toEqual([TOKEN_ROUTE, 'GET /v1/organizations/{organization_id}/users']);
    expect(s.user(COLLINS, CAMERON)?.roles).toEqual(['admin', 'provider']);
    expect(log.lines().some((l) => l['refused'] === 'read-only' && l['method'] === 'PUT')).toBe(true);
  });
});

describe('cancellation', () => {
  it('an aborted signal stops the call without retries', async () => {
    const s = await start();
    const { client: c } = await client(s);
    await c.listUsers(COLLINS);
    s.configure({ latencyMs: 300 });
    const controller = new AbortController();
    const pending = rejection(c.getUser(COLLINS, CAMERON, controller.signal));
    setTimeout(() => controller.abort(), 50);
    const err = await pending;
    expect((err as Error).name).toBe('AbortError');
    expect(count(s, 'GET /v1/organizations/{organization_id}/users/{user_id}')).toBeLessThanOrEqual(1);
  });

  it('an organization without loaded credentials is refused before any request', async () => {
    const s = await start();
    const { client: c } = await client(s);
    await expect(c.listUsers('3b1f9c2e-8d4a-4e6b-9f1a-2c5d7e8f9a0b' as OrgId)).rejects.toThrow(/no credentials/);
    expect(s.requests()).toHaveLength(0);
  });
});
