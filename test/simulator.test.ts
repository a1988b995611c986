import { Agent, request as httpRequest } from 'node:http';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { createLogger } from '../src/log.js';
import {
  DEMO_ACTING_USER,
  DEMO_PARTNER,
  demoSeed,
  loadSeedFile,
  SeedError,
  startSimulator,
  type RunningSimulator,
  type SimOptions,
} from '../src/simulator/index.js';
import {
  ALL_USER_SCOPES,
  authHeaders,
  bigSeed,
  call,
  COLLINS,
  COLLINS_SECRET,
  DEMO_USERS,
  FITZROY,
  FITZROY_SECRET,
  mintRequest,
  mintToken,
  REQUEST_ID,
  tokenHeaders,
  usersPath,
} from './helpers/sim-http.js';
import { nextServerRequest } from './helpers/wait-for.js';

let sim: RunningSimulator;

async function start(opts: SimOptions = {}): Promise<RunningSimulator> {
  sim = await startSimulator(opts);
  return sim;
}

afterEach(async () => {
  await sim?.close();
});

describe('POST /v1/token', () => {
  beforeEach(async () => {
    await start();
  });

  it('mints a bearer token in the documented envelope', async () => {
    const res = await mintRequest(sim, {
      body: { grantType: 'client_credentials', scope: ['read:users', 'read:user', 'read:users'] },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.body).toMatchObject({
      success: true,
      statusCode: 200,
      message: 'Token generated successfully',
      data: { expiresIn: 3600, tokenType: 'Bearer', scope: ['read:users', 'read:user'] },
      meta: { apiVersion: '1.0' },
    });
    expect(typeof res.body.data.accessToken).toBe('string');
    expect(res.body.data.accessToken.length).toBeGreaterThan(20);
    expect(typeof res.body.meta.responseTime).toBe('number');
    expect(res.body.requestId).toMatch(REQUEST_ID);
    expect(new Date(res.body.timestamp).toISOString()).toBe(res.body.timestamp);
    expect(res.headers.get('x-request-id')).toBeNull();
  });

  it('gives every token a different value and honours tokenTtlSeconds', async () => {
    const a = await mintToken(sim);
    const b = await mintToken(sim);
    expect(a).not.toBe(b);
    sim.configure({ tokenTtlSeconds: 120 });
    const res = await mintRequest(sim);
    expect(res.body.data.expiresIn).toBe(120);
  });

  it.each([
    ['a wrong partner secret', { 'x-partner-secret': 'nope' }],
    ['an unknown partner', { 'x-partner-id': 'someone-else' }],
  ])('refuses %s with 401 "Invalid partner credentials provided."', async (_label, override) => {
    const res = await mintRequest(sim, { headers: { ...tokenHeaders(), ...override } });
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({
      success: false,
      statusCode: 401,
      code: 'UNAUTHORIZED',
      error: {
        type: 'https://parchment.health/errors/authentication-required',
        title: 'Unauthorized',
        detail: 'Invalid partner credentials provided.',
      },
      meta: { apiVersion: '1.0' },
    });
    expect(res.body.requestId).toMatch(REQUEST_ID);
  });

  it('refuses missing partner headers with 401', async () => {
    const { 'x-partner-id': _id, 'x-partner-secret': _secret, ...rest } = tokenHeaders();
    const res = await mintRequest(sim, { headers: rest });
    expect(res.status).toBe(401);
    expect(res.body.error.detail).toBe('Invalid partner credentials provided.');
  });

  it('answers an unknown scope with 422 and a validation list', async () => {
    const res = await mintRequest(sim, {
      body: { grantType: 'client_credentials', scope: ['read:users', 'remove:patient'] },
    });
    expect(res.status).toBe(422);
    expect(res.body).toMatchObject({
      success: false,
      statusCode: 422,
      error: {
        type: 'https://parchment.health/errors/validation-error',
        title: 'Validation failed',
        detail: 'There were some problems with your input.',
      },
    });
    expect(res.body.error.validation).toHaveLength(1);
    expect(res.body.error.validation[0]).toMatchObject({ field: 'scope', code: 'VALIDATION_ERROR' });
    expect(res.body.error.validation[0].message).toMatch(
      /^Invalid enum value\. Expected 'create:patient' \| .*received 'remove:patient'$/,
    );
  });

  it.each([
    ['no grantType', { scope: ['read:users'] }, 'grantType', 'Required'],
    [
      'another grant type',
      { grantType: 'password', scope: ['read:users'] },
      'grantType',
      "Invalid enum value. Expected 'client_credentials', received 'password'",
    ],
    ['no scope', { grantType: 'client_credentials' }, 'scope', 'Required'],
    [
      'a scope string',
      { grantType: 'client_credentials', scope: 'read:users' },
      'scope',
      'Expected array, received string',
    ],
  ])('answers %s with 422', async (_label, body, field, message) => {
    const res = await mintRequest(sim, { body });
    expect(res.status).toBe(422);
    expect(res.body.error.validation).toContainEqual({ field, message, code: 'VALIDATION_ERROR' });
  });

  it('answers a body that is not JSON with 400', async () => {
    const res = await call(sim, 'POST', '/v1/token', {
      headers: { ...tokenHeaders(), 'content-type': 'application/json' },
      rawBody: '{nope',
    });
    expect(res.status).toBe(400);
    expect(res.body.error.type).toBe('https://parchment.health/errors/invalid-request');
  });

  it('answers a body over 1 MiB with 413', async () => {
    const res = await call(sim, 'POST', '/v1/token', {
      headers: { ...tokenHeaders(), 'content-type': 'application/json' },
      rawBody: `"${'x'.repeat(1024 * 1024)}"`,
    });
    expect(res.status).toBe(413);
    expect(res.body).toMatchObject({ success: false, statusCode: 413, error: { detail: 'Request body is too large' } });
  });

  it.each([
    ['a wrong organization secret', tokenHeaders(COLLINS, 'wrong')],
    ['an unknown organization', tokenHeaders('00000000-0000-4000-8000-000000000000', COLLINS_SECRET, DEMO_USERS.ahmed)],
    ["another organization's secret", tokenHeaders(COLLINS, FITZROY_SECRET)],
  ])('refuses %s with 401', async (_label, headers) => {
    const res = await mintRequest(sim, { headers });
    expect(res.status).toBe(401);
    expect(res.body.error.detail).toBe('Invalid organization credentials provided.');
  });

  it.each([
    ['a user of another organization', DEMO_USERS.itAdmin],
    ['an unknown user', '11111111-2222-4333-8444-555555555555'],
    ['a disabled user', DEMO_USERS.weekendDesk],
  ])('refuses x-user-id of %s with 401', async (_label, userId) => {
    const res = await mintRequest(sim, { headers: tokenHeaders(COLLINS, COLLINS_SECRET, userId) });
    expect(res.status).toBe(401);
    expect(res.body.error.detail).toBe('Invalid user for this organization.');
  });
});

describe('bearer, organization and scope checks', () => {
  beforeEach(async () => {
    await start();
  });

  it('accepts a valid token with the organization secret', async () => {
    const token = await mintToken(sim);
    expect((await call(sim, 'GET', usersPath(), { headers: authHeaders(token) })).status).toBe(200);
  });

  it('answers no Authorization header with 401 authentication-required', async () => {
    const res = await call(sim, 'GET', usersPath(), { headers: { 'x-organization-secret': COLLINS_SECRET } });
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({
      success: false,
      statusCode: 401,
      code: 'UNAUTHORIZED',
      error: {
        type: 'https://parchment.health/errors/authentication-required',
        detail: 'Valid authentication token is required',
      },
    });
  });

  it('answers an unknown token with 401 "invalid token"', async () => {
    const res = await call(sim, 'GET', usersPath(), { headers: authHeaders('sim_made-up') });
    expect(res.status).toBe(401);
    expect(res.body.error.detail).toBe('invalid token');
  });

  it('answers an expired token with 401 "token expired"', async () => {
    sim.configure({ tokenTtlSeconds: 0 });
    const token = await mintToken(sim);
    const res = await call(sim, 'GET', usersPath(), { headers: authHeaders(token) });
    expect(res.status).toBe(401);
    expect(res.body.error.detail).toBe('token expired');
  });

  it('refuses every token issued before revokeTokens(), and accepts later ones', async () => {
    const old = await mintToken(sim);
    sim.revokeTokens();
    const refused = await call(sim, 'GET', usersPath(), { headers: authHeaders(old) });
    expect(refused.status).toBe(401);
    expect(refused.body.code).toBe('UNAUTHORIZED');
    const fresh = await mintToken(sim);
    expect((await call(sim, 'GET', usersPath(), { headers: authHeaders(fresh) })).status).toBe(200);
  });

  it('answers a token for another organization with 403', async () => {
    const token = await mintToken(sim, { orgId: FITZROY });
    const res = await call(sim, 'GET', usersPath(COLLINS), { headers: authHeaders(token, COLLINS_SECRET) });
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({
      statusCode: 403,
      code: 'FORBIDDEN',
      error: { type: 'https://parchment.health/errors/access-denied' },
    });
  });

  it('answers a missing organization secret with 401 "Missing x-organization-secret"', async () => {
    const token = await mintToken(sim);
    const res = await call(sim, 'GET', usersPath(), { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(401);
    expect(res.body.error.detail).toBe('Missing x-organization-secret');
  });

  it('answers a wrong organization secret with 401', async () => {
    const token = await mintToken(sim);
    const res = await call(sim, 'GET', usersPath(), { headers: authHeaders(token, FITZROY_SECRET) });
    expect(res.status).toBe(401);
    expect(res.body.error.detail).toBe('Invalid x-organization-secret');
  });

  it.each([
    ['list users', 'GET', usersPath(), 'read:users'],
    ['read a user', 'GET', usersPath(COLLINS, DEMO_USERS.cameron), 'read:user'],
    ['update roles', 'PUT', usersPath(COLLINS, DEMO_USERS.cameron, 'roles'), 'update:user'],
    ['disable', 'PUT', usersPath(COLLINS, DEMO_USERS.cameron, 'disable'), 'update:user'],
    ['enable', 'PUT', usersPath(COLLINS, DEMO_USERS.cameron, 'enable'), 'update:user'],
  ])('needs the scope to %s (403 insufficient-scope without it)', async (_label, method, path, scope) => {
    const token = await mintToken(sim, { scopes: ALL_USER_SCOPES.filter((s) => s !== scope) });
    const res = await call(sim, method, path, {
      headers: authHeaders(token),
      ...(method === 'PUT' ? { body: { access_roles: ['provider'] } } : {}),
    });
    expect(res.status).toBe(403);
    expect(res.body.error).toEqual({
      type: 'https://parchment.health/errors/insufficient-scope',
      title: 'Insufficient permissions',
      detail: `This operation requires the '${scope}' scope`,
    });
    expect(sim.user(COLLINS, DEMO_USERS.cameron)?.roles).toEqual(['admin', 'provider']);
  });

  it('answers an unknown route with a 404 envelope', async () => {
    const token = await mintToken(sim);
    for (const [method, path] of [
      ['GET', '/v1/organizations'],
      ['DELETE', usersPath(COLLINS, DEMO_USERS.cameron)],
      ['GET', '/../v2/token'],
    ] as const) {
      const res = await call(sim, method, path, { headers: authHeaders(token) });
      expect(res.status).toBe(404);
      expect(res.body).toMatchObject({
        success: false,
        statusCode: 404,
        error: { type: 'https://parchment.health/errors/resource-not-found' },
      });
    }
    const outside = await fetch(`${sim.origin}/v1/token`, { method: 'POST' });
    expect(outside.status).toBe(404);
    expect(sim.requests().at(-1)?.route).toBe('POST (no route)');
  });
});

describe('GET .../users (list)', () => {
  it('pages 250 users 100 at a time in the OAS shape, in stable id order', async () => {
    await start({ seed: bigSeed(250) });
    const token = await mintToken(sim);
    const pages: {
      users: { user_id: string }[];
      pagination: { total: number; limit: number; lastKey: string | null };
    }[] = [];
    let lastKey: string | null = null;
    do {
      const query: string = `?limit=100${lastKey ? `&lastKey=${encodeURIComponent(lastKey)}` : ''}`;
      const res = await call(sim, 'GET', `${usersPath()}${query}`, { headers: authHeaders(token) });
      expect(res.status).toBe(200);
      expect(res.body.message).toBe('Users retrieved successfully');
      pages.push(res.body.data);
      lastKey = res.body.data.pagination.lastKey;
    } while (lastKey !== null && pages.length < 10);
    expect(pages.map((p) => p.users.length)).toEqual([100, 100, 50]);
    expect(pages.map((p) => p.pagination.total)).toEqual([250, 250, 250]);
    expect(pages[0]?.pagination.limit).toBe(100);
    const ids = pages.flatMap((p) => p.users.map((u) => u.user_id));
    expect(new Set(ids).size).toBe(250);
    expect(ids).toEqual([...ids].sort());
    expect(Buffer.from(pages[0]?.pagination.lastKey ?? '', 'base64').toString('utf8')).toMatch(/^\{"pk":"ORG#/);
  });

  it('lists exactly the vendor example fields in the oas shape: no email, and no name made from one', async () => {
    await start({ seed: bigSeed(3) });
    const token = await mintToken(sim);
    const res = await call(sim, 'GET', usersPath(), { headers: authHeaders(token) });
    expect(res.body.data.users[1]).toEqual({
      user_id: 'u0000',
      external_user_id: 'SIM#u0000',
      full_name: '',
      access_roles: ['admin'],
    });
  });

  it('lists users with email, full name and roles in the rs shape, emails lower-cased', async () => {
    await start({ seed: bigSeed(3), listShape: 'rs' });
    const token = await mintToken(sim);
    const res = await call(sim, 'GET', usersPath(), { headers: authHeaders(token) });
    expect(res.body.data[1]).toEqual({
      user_id: 'u0000',
      email: 'user0@big.example',
      full_name: 'user0@big.example',
      access_roles: ['admin'],
    });
  });

  it('defaults limit to 20 and never returns more than pageSize', async () => {
    await start({ seed: bigSeed(30), pageSize: 7 });
    const token = await mintToken(sim);
    const big = await call(sim, 'GET', `${usersPath()}?limit=100`, { headers: authHeaders(token) });
    expect(big.body.data.users).toHaveLength(7);
    sim.configure({ pageSize: 100 });
    const dflt = await call(sim, 'GET', usersPath(), { headers: authHeaders(token) });
    expect(dflt.body.data.users).toHaveLength(20);
    expect(dflt.body.data.pagination).toMatchObject({ total: 30, limit: 20 });
    expect(typeof dflt.body.data.pagination.lastKey).toBe('string');
  });

  it.each(['0', '101', 'abc', '1.5', '-1'])('answers limit=%s with 400', async (limit) => {
    await start();
    const token = await mintToken(sim);
    const res = await call(sim, 'GET', `${usersPath()}?limit=${limit}`, { headers: authHeaders(token) });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({
      type: 'https://parchment.health/errors/bad-request',
      detail: 'limit must be an integer between 1 and 100',
    });
  });

  it('answers a lastKey it did not issue with 400', async () => {
    await start();
    const token = await mintToken(sim);
    const foreign = Buffer.from(JSON.stringify({ pk: `ORG#${FITZROY}`, sk: 'USER#x' })).toString('base64');
    for (const key of ['not-base64-json', foreign]) {
      const res = await call(sim, 'GET', `${usersPath()}?lastKey=${encodeURIComponent(key)}`, {
        headers: authHeaders(token),
      });
      expect(res.status).toBe(400);
      expect(res.body.error.detail).toBe('Invalid lastKey');
    }
  });

  it('uses the RS shape: data[] with a top-level pagination', async () => {
    await start({ seed: bigSeed(25), listShape: 'rs' });
    const token = await mintToken(sim);
    const first = await call(sim, 'GET', `${usersPath()}?limit=10`, { headers: authHeaders(token) });
    expect(Array.isArray(first.body.data)).toBe(true);
    expect(first.body.data).toHaveLength(10);
    expect(first.body.data[0].access_roles).toEqual(['admin']);
    expect(first.body.pagination).toMatchObject({ count: 10, hasNext: true, limit: 10, offset: 0 });
    const key = first.body.pagination.lastKey as string;
    const second = await call(sim, 'GET', `${usersPath()}?limit=10&lastKey=${encodeURIComponent(key)}`, {
      headers: authHeaders(token),
    });
    expect(second.body.pagination).toMatchObject({ count: 10, hasNext: true, offset: 10 });
    const third = await call(
      sim,
      'GET',
      `${usersPath()}?limit=10&lastKey=${encodeURIComponent(second.body.pagination.lastKey)}`,
      {
        headers: authHeaders(token),
      },
    );
    expect(third.body.pagination).toEqual({ count: 5, hasNext: false, limit: 10, offset: 20, lastKey: null });
  });

  it('uses the bare shape: every user at once, ids and emails only', async () => {
    await start({ seed: bigSeed(250), listShape: 'bare', pageSize: 10 });
    const token = await mintToken(sim);
    const res = await call(sim, 'GET', `${usersPath()}?limit=5`, { headers: authHeaders(token) });
    expect(res.status).toBe(200);
    expect(res.body.message).toBe('Retrieved 250 users successfully');
    expect(res.body.data).toHaveLength(250);
    expect(Object.keys(res.body.data[1]).sort()).toEqual(['email', 'user_id']);
    expect(res.body.pagination).toBeUndefined();
  });

  it('lists disabled users with the member role only', async () => {
    await start();
    const token = await mintToken(sim);
    const res = await call(sim, 'GET', usersPath(), { headers: authHeaders(token) });
    const weekend = res.body.data.users.find((u: { user_id: string }) => u.user_id === DEMO_USERS.weekendDesk);
    expect(weekend.access_roles).toEqual(['member']);
    expect(res.body.data.pagination).toEqual({ total: 11, limit: 20, lastKey: null });
  });
});

describe('GET .../users/{user_id}', () => {
  beforeEach(async () => {
    await start();
  });

  it('returns a provider with details and provider_details', async () => {
    const token = await mintToken(sim);
    const res = await call(sim, 'GET', usersPath(COLLINS, DEMO_USERS.cameron), { headers: authHeaders(token) });
    expect(res.status).toBe(200);
    expect(res.body.message).toBe('User details retrieved successfully');
    expect(res.body.data).toMatchObject({
      user_id: DEMO_USERS.cameron,
      email: 'dr.cameron@collins.example',
      full_name: 'Dr Darlene Cameron',
      access_roles: ['admin', 'provider'],
      details: { given_name: 'Darlene', family_name: 'Cameron', title: 'Dr' },
      provider_details: { given_name: 'Darlene', family_name: 'Cameron' },
    });
  });

  it('leaves provider_details out and nulls provider-only details for other users', async () => {
    const token = await mintToken(sim);
    const res = await call(sim, 'GET', usersPath(COLLINS, DEMO_USERS.frontDesk), { headers: authHeaders(token) });
    expect(res.body.data.provider_details).toBeUndefined();
    expect(res.body.data.details).toEqual({
      given_name: 'Jess',
      family_name: 'Walker',
      title: null,
      date_of_birth: null,
      sex: null,
    });
  });

  it('finds a UUID user id in any case', async () => {
    const token = await mintToken(sim);
    const res = await call(sim, 'GET', usersPath(COLLINS, DEMO_USERS.cameron.toUpperCase()), {
      headers: authHeaders(token),
    });
    expect(res.body.data.user_id).toBe(DEMO_USERS.cameron);
  });

  it('answers an unknown user (or one of another organization) with 404 "User not found"', async () => {
    const token = await mintToken(sim);
    for (const id of ['no-such-user', DEMO_USERS.itAdmin]) {
      const res = await call(sim, 'GET', usersPath(COLLINS, id), { headers: authHeaders(token) });
      expect(res.status).toBe(404);
      expect(res.body).toMatchObject({
        success: false,
        statusCode: 404,
        code: 'RESOURCE_NOT_FOUND',
        error: { type: 'https://parchment.health/errors/resource-not-found', detail: 'User not found' },
      });
    }
  });
});

describe('PUT .../users/{user_id}/roles', () => {
  let token: string;
  beforeEach(async () => {
    await start();
    token = await mintToken(sim);
  });

  const put = (userId: string, body: unknown, raw?: string) =>
    call(sim, 'PUT', usersPath(COLLINS, userId, 'roles'), {
      headers: authHeaders(token),
      ...(raw !== undefined ? { rawBody: raw } : { body }),
    });

  it('replaces the roles and answers the new list', async () => {
    const res = await put(DEMO_USERS.cameron, { access_roles: ['provider', 'provider'] });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      success: true,
      statusCode: 200,
      message: 'User roles updated successfully',
      data: { user_id: DEMO_USERS.cameron, access_roles: ['provider'] },
    });
    expect(sim.user(COLLINS, DEMO_USERS.cameron)?.roles).toEqual(['provider']);
    const read = await call(sim, 'GET', usersPath(COLLINS, DEMO_USERS.cameron), { headers: authHeaders(token) });
    expect(read.body.data.access_roles).toEqual(['provider']);
  });

  it('accepts rx_reader together with receptionist', async () => {
    const res = await put(DEMO_USERS.frontDesk, { access_roles: ['receptionist', 'rx_reader'] });
    expect(res.status).toBe(200);
    expect(res.body.data.access_roles).toEqual(['receptionist', 'rx_reader']);
  });

  it.each([
    ['an empty list', { access_roles: [] }],
    ['a non-array', { access_roles: 'admin' }],
    ['no access_roles', { roles: ['admin'] }],
    ['owner', { access_roles: ['owner'] }],
    ['member', { access_roles: ['provider', 'member'] }],
    ['an unknown role', { access_roles: ['superuser'] }],
    ['a non-string', { access_roles: [1] }],
  ])('answers %s with 400 and changes nothing', async (_label, body) => {
    const res = await put(DEMO_USERS.cameron, body);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({
      success: false,
      statusCode: 400,
      error: {
        type: 'https://parchment.health/errors/invalid-request',
        title: 'Invalid request',
        detail: 'access_roles must be a non-empty array of valid roles',
      },
    });
    expect(sim.user(COLLINS, DEMO_USERS.cameron)?.roles).toEqual(['admin', 'provider']);
  });

  it('answers a missing or malformed body with 400', async () => {
    expect((await put(DEMO_USERS.cameron, undefined, '')).status).toBe(400);
    expect((await put(DEMO_USERS.cameron, undefined, '{"access_roles":')).status).toBe(400);
  });

  it('answers rx_reader without receptionist with 400', async () => {
    const res = await put(DEMO_USERS.frontDesk, { access_roles: ['rx_reader'] });
    expect(res.status).toBe(400);
    expect(res.body.error.detail).toBe('rx_reader must be combined with receptionist');
  });

  it('answers an unknown user with 404', async () => {
    const res = await put('no-such-user', { access_roles: ['admin'] });
    expect(res.status).toBe(404);
    expect(res.body.error).toMatchObject({
      type: 'https://parchment.health/errors/resource-not-found',
      title: 'Resource not found',
      detail: 'User not found',
    });
  });

  it('answers a disabled user with 409 and leaves it at member', async () => {
    const res = await put(DEMO_USERS.weekendDesk, { access_roles: ['receptionist'] });
    expect(res.status).toBe(409);
    expect(res.body.error.type).toBe('https://parchment.health/errors/resource-conflict');
    expect(sim.user(COLLINS, DEMO_USERS.weekendDesk)).toMatchObject({ roles: ['member'], disabled: true });
  });

  it('answers failUser statuses with the documented envelopes until cleared', async () => {
    sim.configure({ failUser: { [DEMO_USERS.cameron]: 404, [DEMO_USERS.nguyen]: 422, [DEMO_USERS.frontDesk]: 429 } });
    const notFound = await put(DEMO_USERS.cameron, { access_roles: ['provider'] });
    expect(notFound.status).toBe(404);
    expect(notFound.body.error.detail).toBe('User not found');
    const invalid = await put(DEMO_USERS.nguyen, { access_roles: ['provider'] });
    expect(invalid.status).toBe(422);
    expect(invalid.body).toMatchObject({
      statusCode: 422,
      code: 'VALIDATION_ERROR',
      error: { type: 'https://parchment.health/errors/validation-error' },
    });
    expect(invalid.body.error.validation.length).toBeGreaterThan(0);
    const limited = await put(DEMO_USERS.frontDesk, { access_roles: ['receptionist'] });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('1');
    expect(sim.user(COLLINS, DEMO_USERS.cameron)?.roles).toEqual(['admin', 'provider']);
    const read = await call(sim, 'GET', usersPath(COLLINS, DEMO_USERS.cameron), { headers: authHeaders(token) });
    expect(read.status).toBe(200);
    sim.configure({ failUser: {} });
    expect((await put(DEMO_USERS.cameron, { access_roles: ['provider'] })).status).toBe(200);
  });
});

describe('disable and enable', () => {
  it('disables to member, enables to member, and says so when already done', async () => {
    await start();
    const token = await mintToken(sim);
    const act = (action: 'disable' | 'enable') =>
      call(sim, 'PUT', usersPath(COLLINS, DEMO_USERS.cameron, action), { headers: authHeaders(token) });

    const disabled = await act('disable');
    expect(disabled.status).toBe(200);
    expect(disabled.body).toMatchObject({
      success: true,
      message: 'User disabled successfully',
      data: { user_id: DEMO_USERS.cameron },
    });
    expect(sim.user(COLLINS, DEMO_USERS.cameron)).toMatchObject({ roles: ['member'], disabled: true });
    expect((await act('disable')).body.message).toBe('User is already disabled');

    const enabled = await act('enable');
    expect(enabled.body).toMatchObject({ message: 'User enabled successfully', data: { user_id: DEMO_USERS.cameron } });
    expect(sim.user(COLLINS, DEMO_USERS.cameron)).toEqual(expect.objectContaining({ roles: ['member'] }));
    expect(sim.user(COLLINS, DEMO_USERS.cameron)?.disabled).toBeUndefined();
    expect((await act('enable')).body.message).toBe('User is already enabled');

    const roles = await call(sim, 'PUT', usersPath(COLLINS, DEMO_USERS.cameron, 'roles'), {
      headers: authHeaders(token),
      body: { access_roles: ['provider'] },
    });
    expect(roles.status).toBe(200);
  });

  it('answers an unknown user with 404', async () => {
    await start();
    const token = await mintToken(sim);
    for (const action of ['disable', 'enable'] as const) {
      const res = await call(sim, 'PUT', usersPath(COLLINS, 'nobody', action), { headers: authHeaders(token) });
      expect(res.status).toBe(404);
    }
  });
});

describe('rate limit', () => {
  it('answers 429 with an integer Retry-After once the bucket is empty, on every API route', async () => {
    await start({ rateLimit: { perSecond: 0.5, burst: 2 } });
    const token = await mintToken(sim);
    const ok = await call(sim, 'GET', usersPath(), { headers: authHeaders(token) });
    expect(ok.status).toBe(200);
    const limited = await call(sim, 'GET', usersPath(), { headers: authHeaders(token) });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
    expect(Number(limited.headers.get('retry-after'))).toBeLessThanOrEqual(2);
    expect(limited.body).toMatchObject({
      success: false,
      statusCode: 429,
      error: {
        type: 'https://parchment.health/errors/rate-limit-exceeded',
        title: 'Too many requests',
        detail: 'Rate limit exceeded. Please try again later.',
      },
    });
    expect((await mintRequest(sim)).status).toBe(429);
    expect((await call(sim, 'GET', '/_sim/requests')).status).toBe(200);
    expect(sim.requests().map((r) => r.status)).toEqual([200, 200, 429, 429]);

    sim.configure({ rateLimit: undefined });
    expect((await call(sim, 'GET', usersPath(), { headers: authHeaders(token) })).status).toBe(200);
  });

  it('refills at perSecond', async () => {
    // Only Date is faked: the server and sockets run on real timers, the bucket on this clock.
    vi.useFakeTimers({ toFake: ['Date'], now: Date.parse('2026-03-01T10:00:00Z') });
    try {
      await start({ rateLimit: { perSecond: 20, burst: 1 } });
      expect((await mintRequest(sim)).status).toBe(200);
      expect((await mintRequest(sim)).status).toBe(429);
      vi.setSystemTime(Date.now() + 40);
      expect((await mintRequest(sim)).status).toBe(429);
      vi.setSystemTime(Date.now() + 15);
      expect((await mintRequest(sim)).status).toBe(200);
    } finally {
      vi.useRealTimers();
    }
  });

  it('is a token bucket: a burst of one second, then perSecond', async () => {
    await start({ rateLimit: { perSecond: 5 } });
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await mintRequest(sim)).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429]);
  });

  it.each([
    ['none', (v: string | null) => expect(v).toBeNull()],
    [0, (v: string | null) => expect(v).toBe('0')],
    [1_000_000_000, (v: string | null) => expect(v).toBe('1000000000')],
    [
      'past-date',
      (v: string | null) => {
        expect(v).toMatch(/^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/);
        expect(Date.parse(v ?? '')).toBeLessThan(Date.now());
      },
    ],
  ] as const)('retryAfter %j shapes the Retry-After of rate-limit and forced 429s alike', async (mode, check) => {
    await start({ rateLimit: { perSecond: 0.1, burst: 1 }, retryAfter: mode });
    expect((await mintRequest(sim)).status).toBe(200);
    const limited = await mintRequest(sim);
    expect(limited.status).toBe(429);
    check(limited.headers.get('retry-after'));

    sim.configure({ rateLimit: undefined, failUser: { [DEMO_USERS.cameron]: 429 } });
    const token = await mintToken(sim);
    const forced = await call(sim, 'PUT', usersPath(COLLINS, DEMO_USERS.cameron, 'roles'), {
      headers: authHeaders(token),
      body: { access_roles: ['provider'] },
    });
    expect(forced.status).toBe(429);
    check(forced.headers.get('retry-after'));
  });
});

describe('faults', () => {
  it.each([
    ['500', 500, 'https://parchment.health/errors/internal-error'],
    ['503', 503, 'https://parchment.health/errors/service-unavailable'],
  ] as const)('answers every request with %s at faultRate 1', async (kind, status, type) => {
    await start({ faultRate: 1, faults: [kind] });
    for (let i = 0; i < 3; i++) {
      const res = await mintRequest(sim);
      expect(res.status).toBe(status);
      expect(res.body).toMatchObject({ success: false, statusCode: status, error: { type } });
    }
    expect(sim.requests().map((r) => r.status)).toEqual([status, status, status]);
  });

  it('drops the connection without an answer for "drop"', async () => {
    await start({ faultRate: 1, faults: ['drop'] });
    await expect(mintRequest(sim)).rejects.toThrow();
    expect(sim.requests()).toEqual([expect.objectContaining({ route: 'POST /v1/token', status: 'dropped' })]);
  });

  it('applies the write and then drops the connection for "lost-reply"', async () => {
    await start();
    const token = await mintToken(sim);
    sim.configure({ faultRate: 1, faults: ['lost-reply'] });
    const sent = call(sim, 'PUT', usersPath(COLLINS, DEMO_USERS.cameron, 'roles'), {
      headers: authHeaders(token),
      body: { access_roles: ['provider'] },
    });
    await expect(sent).rejects.toThrow();
    expect(sim.user(COLLINS, DEMO_USERS.cameron)?.roles).toEqual(['provider']);
    expect(sim.requests().at(-1)).toMatchObject({
      route: 'PUT /v1/organizations/{organization_id}/users/{user_id}/roles',
      status: 'dropped',
    });
  });

  it('uses the injected random source to decide and to pick', async () => {
    const draws = [0.9, 0.2, 0.1, 0.4, 0.8];
    await start({ faultRate: 0.5, faults: ['500', '503'], random: () => draws.shift() ?? 0.99 });
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await mintRequest(sim)).status);
    // 0.9 ≥ 0.5: no fault; 0.2 < 0.5 then 0.1 picks 500; 0.4 < 0.5 then 0.8 picks 503; then no fault.
    expect(statuses).toEqual([200, 500, 503, 200]);
  });

  it('leaves /_sim/ alone and stops once faultRate is 0', async () => {
    await start({ faultRate: 1, faults: ['500'] });
    expect((await call(sim, 'GET', '/_sim/state')).status).toBe(200);
    sim.configure({ faultRate: 0 });
    expect((await mintRequest(sim)).status).toBe(200);
  });
});

describe('latency', () => {
  it('delays API answers but not /_sim/', async () => {
    await start({ latencyMs: 150 });
    let t = performance.now();
    expect((await mintRequest(sim)).status).toBe(200);
    expect(performance.now() - t).toBeGreaterThanOrEqual(145);
    t = performance.now();
    await call(sim, 'GET', '/_sim/requests');
    expect(performance.now() - t).toBeLessThan(145);
  });
});

describe('request log', () => {
  it('records route templates, ids, statuses, bodies and the user agent, but no credentials', async () => {
    await start();
    const token = await mintToken(sim);
    await call(sim, 'PUT', usersPath(COLLINS, DEMO_USERS.cameron, 'roles'), {
      headers: { ...authHeaders(token), 'user-agent': 'role-sync/test' },
      body: { access_roles: ['provider'] },
    });
    await call(sim, 'GET', `${usersPath()}?limit=5`, { headers: authHeaders(token) });
    const log = sim.requests();
    expect(log.map((r) => r.seq)).toEqual([1, 2, 3]);
    expect(log[0]).toMatchObject({
      method: 'POST',
      path: '/external/v1/token',
      route: 'POST /v1/token',
      organizationId: COLLINS,
      status: 200,
    });
    expect(log[1]).toEqual({
      seq: 2,
      time: expect.stringMatching(/Z$/),
      method: 'PUT',
      path: `/external/v1/organizations/${COLLINS}/users/${DEMO_USERS.cameron}/roles`,
      route: 'PUT /v1/organizations/{organization_id}/users/{user_id}/roles',
      organizationId: COLLINS,
      userId: DEMO_USERS.cameron,
      status: 200,
      body: { access_roles: ['provider'] },
      headers: { userAgent: 'role-sync/test' },
    });
    expect(log[2]).toMatchObject({ route: 'GET /v1/organizations/{organization_id}/users', query: { limit: '5' } });
    const text = JSON.stringify(log);
    for (const secret of [token, COLLINS_SECRET, 'sim-partner-secret']) expect(text).not.toContain(secret);
    expect(await (await fetch(`${sim.origin}/_sim/requests`)).json()).toEqual(log);
    sim.clearRequests();
    expect(sim.requests()).toEqual([]);
  });

  it('logs one pino line per request without tokens or secrets', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(chunk.toString());
        cb();
      },
    });
    await start({ logger: createLogger({ stream: 'stdout', level: 'info', destination: sink }) });
    const token = await mintToken(sim);
    await call(sim, 'GET', usersPath(), { headers: authHeaders(token) });
    const entries = lines
      .join('')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(entries.map((e) => [e['route'], e['status']])).toEqual([
      ['POST /v1/token', 200],
      ['GET /v1/organizations/{organization_id}/users', 200],
    ]);
    expect(entries[1]?.['requestId']).toMatch(REQUEST_ID);
    for (const secret of [token, COLLINS_SECRET, 'sim-partner-secret']) expect(lines.join('')).not.toContain(secret);
  });
});

describe('/_sim/ endpoints', () => {
  beforeEach(async () => {
    await start();
  });

  it("changes roles behind the API's back (PUT roles and setRoles)", async () => {
    const res = await call(sim, 'PUT', `/_sim/organizations/${COLLINS}/users/${DEMO_USERS.cameron}/roles`, {
      body: { access_roles: ['owner', 'whatever'] },
    });
    expect(res.status).toBe(200);
    expect(res.body.roles).toEqual(['owner', 'whatever']);
    const token = await mintToken(sim);
    const read = await call(sim, 'GET', usersPath(COLLINS, DEMO_USERS.cameron), { headers: authHeaders(token) });
    expect(read.body.data.access_roles).toEqual(['owner', 'whatever']);
    sim.setRoles(COLLINS, DEMO_USERS.cameron, ['receptionist']);
    expect(sim.user(COLLINS, DEMO_USERS.cameron)?.roles).toEqual(['receptionist']);
    expect(() => sim.setRoles(COLLINS, 'nobody', ['admin'])).toThrow(/no user nobody/);
    expect(sim.requests().every((r) => !r.path.startsWith('/_sim'))).toBe(true);
  });

  it('refuses bad control requests', async () => {
    expect(
      (await call(sim, 'PUT', `/_sim/organizations/${COLLINS}/users/nobody/roles`, { body: { access_roles: [] } }))
        .status,
    ).toBe(404);
    expect(
      (
        await call(sim, 'PUT', `/_sim/organizations/${COLLINS}/users/${DEMO_USERS.cameron}/roles`, {
          body: { access_roles: 'x' },
        })
      ).status,
    ).toBe(400);
    expect((await call(sim, 'PATCH', '/_sim/config', { body: { faultRate: 2 } })).status).toBe(400);
    expect((await call(sim, 'PATCH', '/_sim/config', { body: { colour: 'red' } })).status).toBe(400);
    expect((await call(sim, 'GET', '/_sim/nothing')).status).toBe(404);
  });

  it('revokes tokens, clears the log, patches the config and shows the state', async () => {
    const token = await mintToken(sim);
    expect((await call(sim, 'POST', '/_sim/revoke-tokens')).status).toBe(204);
    expect((await call(sim, 'GET', usersPath(), { headers: authHeaders(token) })).status).toBe(401);
    expect((await call(sim, 'GET', '/_sim/requests')).body).toHaveLength(2);
    expect((await call(sim, 'DELETE', '/_sim/requests')).status).toBe(204);
    expect((await call(sim, 'GET', '/_sim/requests')).body).toEqual([]);

    const patched = await call(sim, 'PATCH', '/_sim/config', {
      body: { listShape: 'bare', rateLimit: { perSecond: 100 }, failUser: { [DEMO_USERS.cameron]: 422 } },
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({
      listShape: 'bare',
      rateLimit: { perSecond: 100 },
      failUser: { [DEMO_USERS.cameron]: 422 },
    });
    const fresh = await mintToken(sim);
    expect(Array.isArray((await call(sim, 'GET', usersPath(), { headers: authHeaders(fresh) })).body.data)).toBe(true);
    expect((await call(sim, 'PATCH', '/_sim/config', { body: { rateLimit: null } })).body.rateLimit).toBeUndefined();

    const state = await call(sim, 'GET', '/_sim/state');
    expect(state.body.config.listShape).toBe('bare');
    expect(state.body.organizations.map((o: { id: string }) => o.id)).toEqual([COLLINS, FITZROY]);
    expect(JSON.stringify(state.body)).not.toContain(COLLINS_SECRET);
    expect(state.body.organizations[0].users).toHaveLength(11);
  });

  it('resets users, log and config (POST /_sim/reset and reset())', async () => {
    sim.setRoles(COLLINS, DEMO_USERS.cameron, ['provider']);
    sim.configure({ listShape: 'rs', faultRate: 0 });
    await mintToken(sim);
    expect((await call(sim, 'POST', '/_sim/reset')).status).toBe(204);
    expect(sim.user(COLLINS, DEMO_USERS.cameron)?.roles).toEqual(['admin', 'provider']);
    expect(sim.requests()).toEqual([]);
    expect((await call(sim, 'GET', '/_sim/state')).body.config.listShape).toBe('oas');
    sim.setRoles(COLLINS, DEMO_USERS.cameron, ['provider']);
    sim.reset();
    expect(sim.user(COLLINS, DEMO_USERS.cameron)?.roles).toEqual(['admin', 'provider']);
  });
});

describe('configure()', () => {
  it('rejects values out of range', async () => {
    await start();
    expect(() => sim.configure({ faultRate: 1.5 })).toThrow(/faultRate/);
    expect(() => sim.configure({ pageSize: 0 })).toThrow(/pageSize/);
    expect(() => sim.configure({ faults: [] })).toThrow(/faults/);
  });
});

describe('seeds', () => {
  it('demoSeed has the organizations and users of roles.example.yaml', async () => {
    const { readFile } = await import('node:fs/promises');
    const example = parseYaml(await readFile(new URL('../roles.example.yaml', import.meta.url), 'utf8')) as {
      organizations: Record<string, { name: string; users: Record<string, unknown> }>;
    };
    const seed = demoSeed();
    for (const [orgId, org] of Object.entries(example.organizations)) {
      const simOrg = seed.organizations.find((o) => o.id === orgId);
      expect(simOrg?.name).toBe(org.name);
      for (const key of Object.keys(org.users)) {
        expect(
          simOrg?.users.some((u) => u.id === key || u.email === key),
          key,
        ).toBe(true);
      }
      expect(simOrg?.users.some((u) => u.id === DEMO_ACTING_USER[orgId] && u.roles.includes('admin'))).toBe(true);
    }
    expect(seed.organizations.flatMap((o) => o.users)).toHaveLength(16);
  });

  it('starts from a seed of its own, lower-casing emails and UUIDs', async () => {
    await start({
      seed: {
        partners: [{ partnerId: 'p', partnerSecret: 's' }],
        organizations: [
          {
            id: COLLINS.toUpperCase(),
            secret: 'o',
            users: [{ id: 'ABCDEF00-1111-4222-8333-444455556666', email: 'Mixed@Case.Example', roles: ['admin'] }],
          },
        ],
      },
    });
    expect(sim.user(COLLINS, 'abcdef00-1111-4222-8333-444455556666')).toEqual({
      id: 'abcdef00-1111-4222-8333-444455556666',
      email: 'mixed@case.example',
      roles: ['admin'],
    });
    const res = await call(sim, 'POST', '/v1/token', {
      headers: {
        'x-partner-id': 'p',
        'x-partner-secret': 's',
        'x-organization-id': COLLINS,
        'x-organization-secret': 'o',
        'x-user-id': 'ABCDEF00-1111-4222-8333-444455556666',
      },
      body: { grantType: 'client_credentials', scope: ['read:users'] },
    });
    expect(res.status).toBe(200);
  });

  it('refuses an invalid seed with every problem listed', async () => {
    const bad = {
      partners: [],
      organizations: [
        {
          id: COLLINS,
          secret: 's',
          users: [
            { id: 'a', email: 'a@x.example', roles: ['admin'] },
            { id: 'a', email: 'A@x.example', roles: ['admin'] },
          ],
        },
      ],
    };
    await expect(startSimulator({ seed: bad })).rejects.toThrow(/partners: needs at least one partner/);
    const dup = { ...bad, partners: [{ partnerId: 'p', partnerSecret: 's' }] };
    await expect(startSimulator({ seed: dup })).rejects.toThrow(SeedError);
    await expect(startSimulator({ seed: dup })).rejects.toThrow(
      /users\[1\]\.id: user "a" is listed twice[\s\S]*users\[1\]\.email: "a@x\.example" is listed twice/,
    );
  });

  it('loads YAML and JSON seed files and explains bad ones with the file name', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sim-seed-'));
    const yamlPath = join(dir, 'seed.yaml');
    await writeFile(
      yamlPath,
      [
        'partners:',
        '  - {partnerId: p, partnerSecret: s}',
        'organizations:',
        `  - id: ${COLLINS}`,
        '    secret: o',
        '    users:',
        '      - {id: u1, email: u1@x.example, roles: [admin]}',
        '',
      ].join('\n'),
    );
    expect((await loadSeedFile(yamlPath)).organizations[0]?.users[0]?.id).toBe('u1');
    const jsonPath = join(dir, 'seed.json');
    await writeFile(jsonPath, JSON.stringify(demoSeed()));
    expect(await loadSeedFile(jsonPath)).toEqual(demoSeed());

    const badPath = join(dir, 'bad.yaml');
    await writeFile(
      badPath,
      [
        'partners: [{partnerId: p, partnerSecret: s}]',
        'organizations:',
        '  - id: o',
        '    secret: s',
        '    colour: red',
        '    users:',
        '      - {id: u, email: nope, roles: [member], disabled: true}',
        '      - {id: v, email: v@x.example, roles: [admin], disabled: true}',
        '',
      ].join('\n'),
    );
    const err = await loadSeedFile(badPath).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SeedError);
    expect((err as SeedError).message).toContain(badPath);
    expect([...(err as SeedError).problems].sort()).toEqual([
      'organizations[0].users[0].email: must be an email address',
      'organizations[0]: Unrecognized key: "colour"',
    ]);
    await writeFile(
      badPath,
      [
        'partners: [{partnerId: p, partnerSecret: s}]',
        'organizations:',
        '  - {id: o, secret: s, users: [{id: v, email: v@x.example, roles: [admin], disabled: true}]}',
        '',
      ].join('\n'),
    );
    await expect(loadSeedFile(badPath)).rejects.toThrow(/users\[0\]\.roles: a disabled user holds exactly \[member\]/);
    await writeFile(badPath, 'partners: [\n');
    await expect(loadSeedFile(badPath)).rejects.toThrow(/not valid YAML or JSON/);
    await expect(loadSeedFile(join(dir, 'missing.yaml'))).rejects.toThrow(/cannot read the file: ENOENT/);
  });
});

describe('hostile cases', () => {
  const legacySeed = (legacyEmails: boolean) => ({
    partners: [{ ...DEMO_PARTNER }],
    organizations: [
      {
        id: COLLINS,
        secret: COLLINS_SECRET,
        legacyEmails,
        users: [
          { id: DEMO_ACTING_USER[COLLINS] as string, email: 'acting@x.example', roles: ['admin'] },
          { id: 'old-1', email: 'Dr.A@x.example', roles: ['provider'] },
          { id: 'old-2', email: 'dr.a@x.example', roles: ['super_admin', 'PROVIDER'] },
        ],
      },
    ],
  });

  it('seeds one email on two accounts only under legacyEmails, and serves the emails as written', async () => {
    await expect(startSimulator({ seed: legacySeed(false) })).rejects.toThrow(
      /users\[2\]\.email: "dr\.a@x\.example" is listed twice .*\(set legacyEmails: true to seed that\)/,
    );
    await start({ seed: legacySeed(true), listShape: 'rs' });
    const token = await mintToken(sim);
    const list = await call(sim, 'GET', usersPath(), { headers: authHeaders(token) });
    expect(list.body.data.map((u: { email: string }) => u.email)).toEqual([
      'acting@x.example',
      'Dr.A@x.example',
      'dr.a@x.example',
    ]);
    const read = await call(sim, 'GET', usersPath(COLLINS, 'old-1'), { headers: authHeaders(token) });
    expect(read.body.data).toMatchObject({ user_id: 'old-1', email: 'Dr.A@x.example' });
  });

  it('serves any seeded role string as a live role, and lets /_sim/ set one', async () => {
    await start({ seed: legacySeed(true) });
    const token = await mintToken(sim);
    const read = await call(sim, 'GET', usersPath(COLLINS, 'old-2'), { headers: authHeaders(token) });
    expect(read.body.data.access_roles).toEqual(['super_admin', 'PROVIDER']);
    const set = await call(sim, 'PUT', `/_sim/organizations/${COLLINS}/users/old-1/roles`, {
      body: { access_roles: ['owner', 'Admin'] },
    });
    expect(set.status).toBe(200);
    expect(sim.user(COLLINS, 'old-1')?.roles).toEqual(['owner', 'Admin']);
  });

  it('answers reads and role writes for another user under wrongUser; the write lands on the one asked', async () => {
    await start();
    const token = await mintToken(sim);
    const headers = authHeaders(token);
    const patched = await call(sim, 'PATCH', '/_sim/config', {
      body: { wrongUser: { [DEMO_USERS.cameron.toUpperCase()]: DEMO_USERS.nguyen } },
    });
    expect(patched.body.wrongUser).toEqual({ [DEMO_USERS.cameron]: DEMO_USERS.nguyen });

    const read = await call(sim, 'GET', usersPath(COLLINS, DEMO_USERS.cameron), { headers });
    expect(read.body.data).toMatchObject({ user_id: DEMO_USERS.nguyen, email: 'dr.nguyen@collins.example' });
    const put = await call(sim, 'PUT', usersPath(COLLINS, DEMO_USERS.cameron, 'roles'), {
      headers,
      body: { access_roles: ['receptionist'] },
    });
    expect(put.body.data).toEqual({ user_id: DEMO_USERS.nguyen, access_roles: ['receptionist'] });
    expect(sim.user(COLLINS, DEMO_USERS.cameron)?.roles).toEqual(['receptionist']);
    expect(sim.user(COLLINS, DEMO_USERS.nguyen)?.roles).toEqual(['provider']);

    const other = await call(sim, 'GET', usersPath(COLLINS, DEMO_USERS.ahmed), { headers });
    expect(other.body.data.user_id).toBe(DEMO_USERS.ahmed);
    sim.reset();
    const again = await call(sim, 'GET', usersPath(COLLINS, DEMO_USERS.cameron), { headers });
    expect(again.body.data.user_id).toBe(DEMO_USERS.cameron);
  });

  it.each(['oas', 'rs'] as const)(
    'repeats the last user of each page on the next under overlapPages (%s)',
    async (listShape) => {
      await start({ seed: bigSeed(7), listShape, pageSize: 3, overlapPages: true });
      const token = await mintToken(sim);
      const ids: string[] = [];
      let lastKey: string | undefined;
      do {
        const res = await call(
          sim,
          'GET',
          `${usersPath()}?limit=3${lastKey ? `&lastKey=${encodeURIComponent(lastKey)}` : ''}`,
          {
            headers: authHeaders(token),
          },
        );
        const items = (listShape === 'oas' ? res.body.data.users : res.body.data) as { user_id: string }[];
        ids.push(...items.map((u) => u.user_id));
        lastKey = (listShape === 'oas' ? res.body.data.pagination.lastKey : res.body.pagination.lastKey) ?? undefined;
      } while (lastKey !== undefined);
      const order = sim.seed.organizations[0]!.users.map((u) => u.id).sort();
      expect(ids).toEqual([...order.slice(0, 3), order[2], ...order.slice(3, 6), order[5], order[6]]);
    },
  );
});

describe('close()', () => {
  it('stops promptly with an idle keep-alive connection open', async () => {
    await start();
    const agent = new Agent({ keepAlive: true });
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(`${sim.origin}/_sim/state`, { agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(200);
    const t = performance.now();
    await sim.close();
    expect(performance.now() - t).toBeLessThan(1000);
    agent.destroy();
    await expect(fetch(`${sim.origin}/_sim/state`)).rejects.toThrow();
  });

  it('stops promptly while a delayed answer is pending', async () => {
    await start({ latencyMs: 5000 });
    const arrived = nextServerRequest(sim.origin, new URL(`${sim.baseUrl}/v1/token`).pathname);
    const pending = mintRequest(sim).catch((e: unknown) => e);
    // The request is read and now waiting out the added latency: that is the answer close() must not wait for.
    await arrived;
    expect(sim.requests()).toEqual([]);
    const t = performance.now();
    await sim.close();
    expect(performance.now() - t).toBeLessThan(1000);
    expect(await pending).toBeInstanceOf(Error);
  });
});
