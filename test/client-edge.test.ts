/** The client against scripted servers, for response shapes and failures the simulator never produces. */
import type { ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import type { UserId } from '../src/core/domain.js';
import type { ParchmentClient } from '../src/parchment/client.js';
import type { AttemptRecord } from '../src/parchment/http.js';
import { ParchmentApiError, ParchmentResponseError } from '../src/parchment/errors.js';
import type { RequestScheduler } from '../src/queue/contract.js';
import {
  CAMERON,
  COLLINS,
  collinsSettings,
  isTokenRequest,
  requestLines,
  scriptedServer,
  sendJson,
  testClient,
  tokenBody,
  type ScriptedRequest,
  type ScriptedServer,
  type TestClientOptions,
} from './helpers/client-fixtures.js';

let servers: ScriptedServer[] = [];
let clients: ParchmentClient[] = [];

afterEach(async () => {
  for (const c of clients) c.close();
  clients = [];
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

type Api = (req: ScriptedRequest, res: ServerResponse, apiIndex: number) => void;

/** A server that mints `tok-<n>` tokens and hands every other request to `api`, numbered from 0. */
async function serve(
  api: Api,
  token: (req: ScriptedRequest, res: ServerResponse, n: number) => void = (_q, res, n) =>
    sendJson(res, 200, tokenBody(`tok-${n}`)),
) {
  let tokens = 0;
  let calls = 0;
  const server = await scriptedServer((req, res) =>
    isTokenRequest(req) ? token(req, res, ++tokens) : api(req, res, calls++),
  );
  servers.push(server);
  return server;
}

async function clientFor(server: ScriptedServer, opts: Partial<TestClientOptions> = {}) {
  const made = testClient({ settings: await collinsSettings(server.baseUrl), ...opts });
  clients.push(made.client);
  return made;
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e,
  );
}

function apiRequests(server: ScriptedServer): ScriptedRequest[] {
  return server.requests.filter((r) => !isTokenRequest(r));
}

const user = (id: string, extra: Record<string, unknown> = {}) => ({ user_id: id, email: `${id}@x.example`, ...extra });

describe('the token call', () => {
  it('sends the five x- headers, JSON body, User-Agent and Accept; later calls: bearer and org secret', async () => {
    const server = await serve((_q, res) =>
      sendJson(res, 200, { success: true, data: user(CAMERON, { access_roles: ['admin'] }) }),
    );
    const { client } = await clientFor(server);
    await client.getUser(COLLINS, CAMERON);
    const [token, get] = server.requests;
    expect(token?.method).toBe('POST');
    expect(token?.headers).toMatchObject({
      'x-partner-id': 'role-sync-demo',
      'x-partner-secret': 'sim-partner-secret',
      'x-organization-id': COLLINS,
      'x-organization-secret': 'sim-org-secret-collins',
      'x-user-id': 'a7748dfd-ceb2-4b17-8380-425c304f5ae7',
      'content-type': 'application/json',
      accept: 'application/json',
      'user-agent': expect.stringMatching(/^role-sync\//),
    });
    expect(token?.headers['authorization']).toBeUndefined();
    expect(JSON.parse(token?.body ?? '')).toEqual({
      grantType: 'client_credentials',
      scope: ['read:users', 'read:user', 'update:user'],
    });
    expect(get?.headers).toMatchObject({
      authorization: 'Bearer tok-1',
      'x-organization-secret': 'sim-org-secret-collins',
      accept: 'application/json',
      'user-agent': expect.stringMatching(/^role-sync\//),
    });
    expect(get?.headers['x-partner-secret']).toBeUndefined();
  });

  it('reads a top-level snake_case access_token/expires_in response', async () => {
    let now = 0;
    const server = await serve(
      (_q, res) => sendJson(res, 200, { data: user(CAMERON) }),
      (_q, res, n) => sendJson(res, 200, { access_token: `snake-${n}`, expires_in: 600, token_type: 'Bearer' }),
    );
    const { client } = await clientFor(server, { now: () => now });
    await client.getUser(COLLINS, CAMERON);
    expect(apiRequests(server)[0]?.headers['authorization']).toBe('Bearer snake-1');
    now = 299_000;
    await client.getUser(COLLINS, CAMERON);
    expect(apiRequests(server)[1]?.headers['authorization']).toBe('Bearer snake-1');
    now = 301_000;
    await client.getUser(COLLINS, CAMERON);
    expect(apiRequests(server)[2]?.headers['authorization']).toBe('Bearer snake-2');
  });

  it('assumes a one-hour token when the response gives no lifetime', async () => {
    let now = 0;
    const server = await serve(
      (_q, res) => sendJson(res, 200, { data: user(CAMERON) }),
      (_q, res, n) => sendJson(res, 200, { success: true, data: { accessToken: `t${n}` } }),
    );
    const { client } = await clientFor(server, { now: () => now });
    await client.getUser(COLLINS, CAMERON);
    now = 3_299_000;
    await client.getUser(COLLINS, CAMERON);
    now = 3_301_000;
    await client.getUser(COLLINS, CAMERON);
    expect(apiRequests(server).map((r) => r.headers['authorization'])).toEqual(['Bearer t1', 'Bearer t1', 'Bearer t2']);
  });

  it('warns when the granted scopes lack what role-sync needs', async () => {
    const server = await serve(
      (_q, res) => sendJson(res, 200, { data: user(CAMERON) }),
      (_q, res) =>
        sendJson(res, 200, {
          success: true,
          data: { accessToken: 't', expiresIn: 3600, scope: ['read:user'] },
          requestId: 'rq-1',
        }),
    );
    const { client, log } = await clientFor(server);
    await client.getUser(COLLINS, CAMERON);
    const warning = log.lines().find((l) => Array.isArray(l['missingScopes']));
    expect(warning).toMatchObject({
      level: 40,
      organizationId: COLLINS,
      missingScopes: ['read:users', 'update:user'],
      requestId: 'rq-1',
    });
  });

  it('a token response without a token is a clear error that never quotes the body', async () => {
    const server = await serve(
      () => undefined,
      (_q, res) => sendJson(res, 200, { success: true, data: { token: 'hidden-value-123' }, requestId: 'rq-bad' }),
    );
    const { client } = await clientFor(server);
    const err = await rejection(client.listUsers(COLLINS));
    expect(err).toBeInstanceOf(ParchmentResponseError);
    expect((err as Error).message).toBe(
      'POST /v1/token (org 7fa84d2b…): no data.accessToken or access_token in the token response; requestId rq-bad',
    );
  });
});

describe('non-envelope error bodies', () => {
  it('an API Gateway {"message"} body', async () => {
    const server = await serve((_q, res) =>
      sendJson(res, 403, { message: 'Forbidden' }, { 'x-amzn-requestid': 'gw-123' }),
    );
    const { client } = await clientFor(server);
    const err = (await rejection(client.getUser(COLLINS, CAMERON))) as ParchmentApiError;
    expect(err).toBeInstanceOf(ParchmentApiError);
    expect([err.status, err.detail, err.requestId, err.code]).toEqual([403, 'Forbidden', 'gw-123', undefined]);
    expect(err.message).toBe(
      'GET /v1/organizations/{organization_id}/users/{user_id} (org 7fa84d2b…, user 3266a9fd…) ' +
        'failed: 403 — Forbidden; requestId gw-123',
    );
    expect(apiRequests(server)).toHaveLength(1);
  });

  it('an HTML page is stripped, truncated and retried as a 5xx', async () => {
    const html =
      '<html><head><title>502 Bad Gateway</title><style>body{}</style></head>' +
      `<body><h1>502 Bad Gateway</h1><p>${'x'.repeat(500)}</p></body></html>`;
    const server = await serve((_q, res) => {
      res.writeHead(502, { 'content-type': 'text/html' });
      res.end(html);
    });
    const { client } = await clientFor(server);
    const err = (await rejection(client.getUser(COLLINS, CAMERON))) as ParchmentApiError;
    expect(err.status).toBe(502);
    expect(err.detail?.startsWith('502 Bad Gateway 502 Bad Gateway xxx')).toBe(true);
    expect(err.detail?.length).toBe(201);
    expect(err.message).not.toContain('<');
    expect(apiRequests(server)).toHaveLength(4);
  });

  it('an empty body', async () => {
    const server = await serve((_q, res) => {
      res.writeHead(404);
      res.end();
    });
    const { client } = await clientFor(server);
    const err = (await rejection(client.getUser(COLLINS, CAMERON))) as ParchmentApiError;
    expect([err.status, err.detail]).toEqual([404, '(empty body)']);
  });

  it('the envelope: status, body statusCode, code, type, title, detail, validation and requestId', async () => {
    const server = await serve((_q, res) =>
      sendJson(res, 422, {
        success: false,
        statusCode: 422,
        code: 'VALIDATION_ERROR',
        error: {
          type: 'https://parchment.health/errors/validation-error',
          title: 'Validation failed',
          detail: 'access_roles is invalid',
          validation: [{ field: 'access_roles', message: 'Invalid enum value', code: 'VALIDATION_ERROR' }],
        },
        requestId: '1-68d1b225-2a98752c7b2da3fa489267fc',
      }),
    );
    const { client } = await clientFor(server);
    const err = (await rejection(client.replaceRoles(COLLINS, CAMERON, ['admin']))) as ParchmentApiError;
    expect(err).toMatchObject({
      status: 422,
      bodyStatusCode: 422,
      code: 'VALIDATION_ERROR',
      type: 'https://parchment.health/errors/validation-error',
      title: 'Validation failed',
      detail: 'access_roles is invalid',
      validation: [{ field: 'access_roles', message: 'Invalid enum value', code: 'VALIDATION_ERROR' }],
      requestId: '1-68d1b225-2a98752c7b2da3fa489267fc',
      method: 'PUT',
      route: '/v1/organizations/{organization_id}/users/{user_id}/roles',
      organizationId: COLLINS,
      userId: CAMERON,
      rateLimited: false,
    });
    expect(err.message).toBe(
      'PUT /v1/organizations/{organization_id}/users/{user_id}/roles (org 7fa84d2b…, user 3266a9fd…) ' +
        'failed: 422 Validation failed — access_roles is invalid; access_roles: Invalid enum value; ' +
        'requestId 1-68d1b225-2a98752c7b2da3fa489267fc',
    );
  });

  it('a redirect is not followed', async () => {
    const server = await serve((_q, res) => {
      res.writeHead(302, { location: 'http://127.0.0.1:1/elsewhere' });
      res.end();
    });
    const { client } = await clientFor(server);
    const err = (await rejection(client.getUser(COLLINS, CAMERON))) as ParchmentApiError;
    expect(err.status).toBe(302);
    expect(apiRequests(server)).toHaveLength(1);
  });
});

describe('Retry-After on a 429', () => {
  const at = Date.parse('2026-03-01T10:00:00Z');
  it.each([
    ['7', 7000],
    ['0', 0],
    [new Date(at + 30_000).toUTCString(), 30_000],
    [new Date(at - 30_000).toUTCString(), 0],
    ['soon', undefined],
    ['2026-03-01', undefined],
    [undefined, undefined],
  ])('Retry-After %j → %j ms', async (header, expected) => {
    const server = await serve((_q, res) =>
      sendJson(res, 429, { message: 'Too Many Requests' }, header === undefined ? {} : { 'retry-after': header }),
    );
    const { client } = await clientFor(server, { now: () => at });
    const err = (await rejection(client.getUser(COLLINS, CAMERON))) as ParchmentApiError;
    expect(err.rateLimited).toBe(true);
    expect(err.retryAfterMs).toBe(expected);
    expect(apiRequests(server)).toHaveLength(1);
  });
});

describe('paging and encoding', () => {
  it('sends lastKey back URL-encoded and ids percent-encoded in the path', async () => {
    const key = 'eyJwayI6IlVTRVIjMSJ9+/=&x y';
    const server = await serve((_q, res, i) =>
      sendJson(
        res,
        200,
        i === 0
          ? { data: [user('u1')], pagination: { hasNext: true, lastKey: key } }
          : { data: [user('u2')], pagination: { hasNext: false, lastKey: null } },
      ),
    );
    const { client } = await clientFor(server);
    const users = await client.listUsers(COLLINS);
    expect(users.map((u) => u.id)).toEqual(['u1', 'u2']);
    const second = new URL(apiRequests(server)[1]?.url ?? '', 'http://x');
    expect(second.searchParams.get('lastKey')).toBe(key);
    expect(apiRequests(server)[1]?.url).not.toContain('+/=&x y');
    expect(second.searchParams.get('limit')).toBe('100');

    await rejection(client.getUser(COLLINS, 'a/b#c?d' as UserId));
    expect(apiRequests(server)[2]?.url).toBe(`/external/v1/organizations/${COLLINS}/users/a%2Fb%23c%3Fd`);
  });

  it('stops on a repeated lastKey with a clear error', async () => {
    const server = await serve((_q, res, i) =>
      sendJson(res, 200, {
        data: { users: [user(`u${i}`)], pagination: { lastKey: i === 0 ? 'k1' : 'k2' } },
        requestId: `rq-${i}`,
      }),
    );
    const { client } = await clientFor(server);
    const err = await rejection(client.listUsers(COLLINS));
    expect(err).toBeInstanceOf(ParchmentResponseError);
    expect((err as Error).message).toBe(
      'GET /v1/organizations/{organization_id}/users (org 7fa84d2b…): page 3 returned a lastKey already used; ' +
        'stopping rather than looping forever; requestId rq-2',
    );
    expect(apiRequests(server)).toHaveLength(3);
  });

  it('hasNext false ends the list even with a lastKey', async () => {
    const server = await serve((_q, res) =>
      sendJson(res, 200, { data: [user('u1')], pagination: { hasNext: false, lastKey: 'more' } }),
    );
    const { client } = await clientFor(server);
    expect(await client.listUsers(COLLINS)).toHaveLength(1);
    expect(apiRequests(server)).toHaveLength(1);
  });

  it('accepts parchment_user_id, ignores malformed optional fields and keeps unknown roles', async () => {
    const server = await serve((_q, res) =>
      sendJson(res, 200, {
        data: {
          users: [
            {
              parchment_user_id: 'ABCDEF01-2345-4678-89AB-CDEF01234567',
              email: 42,
              full_name: null,
              access_roles: ['admin', 'auditor'],
            },
          ],
          pagination: { lastKey: null },
        },
      }),
    );
    const { client } = await clientFor(server);
    expect(await client.listUsers(COLLINS)).toEqual([
      { id: 'abcdef01-2345-4678-89ab-cdef01234567', roles: ['admin', 'auditor'] },
    ]);
  });

  it.each([
    [{ data: 'nope' }, 'data is neither an array of users nor an object with a users array'],
    [{ data: [{ email: 'a@b.example' }] }, 'data[0]: no user_id or parchment_user_id'],
    [{ data: [{ user_id: 'u1', access_roles: 'admin' }] }, 'data[0].access_roles:'],
    [{ data: [], pagination: { lastKey: 5 } }, 'pagination.lastKey:'],
  ])('a malformed list body %j is a clear error with the requestId', async (body, problem) => {
    const server = await serve((_q, res) => sendJson(res, 200, { ...body, requestId: 'rq-x' }));
    const { client } = await clientFor(server);
    const err = await rejection(client.listUsers(COLLINS));
    expect(err).toBeInstanceOf(ParchmentResponseError);
    expect((err as Error).message).toContain(problem);
    expect((err as Error).message).toMatch(/; requestId rq-x$/);
  });

  it('a non-JSON 200 is a clear error', async () => {
    const server = await serve((_q, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html>maintenance</html>');
    });
    const { client } = await clientFor(server);
    await expect(client.getUser(COLLINS, CAMERON)).rejects.toThrow(/body has no data object/);
  });

  it('a body nested deeper than 64 levels is refused unread, and an error body so nested is not parsed', async () => {
    const deep = (n: number): string => `{"data":${'['.repeat(n)}"\\u0041"${']'.repeat(n)}}`;
    const raw = (res: ServerResponse, status: number, text: string): void => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(text);
    };
    const server = await serve((_q, res, i) => {
      if (i === 0) raw(res, 200, deep(2_000_000));
      else if (i === 1) raw(res, 200, deep(62));
      else raw(res, 422, deep(100));
    });
    const { client } = await clientFor(server);
    const err = await rejection(client.getUser(COLLINS, CAMERON));
    expect(err).toBeInstanceOf(ParchmentResponseError);
    expect((err as Error).message).toMatch(/response body nests deeper than 64 levels; not read/);
    // 63 levels is within the bound: read, and refused only for its shape.
    const shallow = await rejection(client.getUser(COLLINS, CAMERON));
    expect((shallow as Error).message).not.toMatch(/nests deeper/);
    expect(shallow).toBeInstanceOf(ParchmentResponseError);
    const rejected = (await rejection(client.replaceRoles(COLLINS, CAMERON, ['provider']))) as ParchmentApiError;
    expect(rejected).toBeInstanceOf(ParchmentApiError);
    expect(rejected.status).toBe(422);
  });

  it('a PUT answer without data.access_roles is a clear error', async () => {
    const server = await serve((_q, res) =>
      sendJson(res, 200, { success: true, data: { user_id: CAMERON }, requestId: 'rq-put' }),
    );
    const { client } = await clientFor(server);
    await expect(client.replaceRoles(COLLINS, CAMERON, ['admin'])).rejects.toThrow(
      /data\.access_roles: .*; requestId rq-put$/,
    );
  });
});

describe('retry mechanics', () => {
  it('503, then a dropped connection, then success: three attempts, three log lines', async () => {
    const server = await serve((_q, res, i) => {
      if (i === 0) sendJson(res, 503, { success: false, statusCode: 503, error: { title: 'Service Unavailable' } });
      else if (i === 1) res.socket?.destroy();
      else sendJson(res, 200, { data: user(CAMERON, { access_roles: ['provider'] }) });
    });
    const records: AttemptRecord[] = [];
    const { client, log } = await clientFor(server, { onRequest: (r) => records.push(r) });
    expect((await client.getUser(COLLINS, CAMERON)).roles).toEqual(['provider']);
    expect(records.map((r) => [r.method, r.route, r.status])).toEqual([
      ['POST', '/v1/token', 200],
      ['GET', '/v1/organizations/{organization_id}/users/{user_id}', 503],
      ['GET', '/v1/organizations/{organization_id}/users/{user_id}', 'error'],
      ['GET', '/v1/organizations/{organization_id}/users/{user_id}', 200],
    ]);
    expect(records.every((r) => r.durationSeconds >= 0 && r.durationSeconds < 5)).toBe(true);
    const lines = requestLines(log).filter((l) => l['method'] === 'GET');
    expect(lines.map((l) => [l['attempt'], l['status'] ?? l['errorCode']])).toEqual([
      [1, 503],
      [2, 'ECONNRESET'],
      [3, 200],
    ]);
    expect(lines.map((l) => l['level'])).toEqual([40, 40, 30]);
  });

  it('a 5xx or 429 with a body over 16 MiB is cut off, still judged by its status', async () => {
    const huge = (res: ServerResponse, status: number, headers: Record<string, string> = {}): void => {
      res.writeHead(status, { 'content-type': 'text/plain', ...headers });
      const chunk = 'x'.repeat(1024 * 1024);
      // Written until the client hangs up: it must stop reading, not buffer the rest.
      const pump = (): void => {
        while (!res.destroyed && res.write(chunk));
        if (!res.destroyed) res.once('drain', pump);
      };
      res.once('close', () => res.removeAllListeners('drain'));
      pump();
    };
    const server = await serve((_q, res, i) => {
      if (i === 0) huge(res, 503, { 'x-request-id': 'gw-503' });
      else if (i === 1) sendJson(res, 200, { data: user(CAMERON, { access_roles: ['provider'] }) });
      else huge(res, 429, { 'retry-after': '3' });
    });
    const { client } = await clientFor(server);
    expect((await client.getUser(COLLINS, CAMERON)).roles).toEqual(['provider']);
    const limited = (await rejection(client.getUser(COLLINS, CAMERON))) as ParchmentApiError;
    expect(limited).toBeInstanceOf(ParchmentApiError);
    expect(limited).toMatchObject({ status: 429, rateLimited: true, retryAfterMs: 3000 });
    expect(limited.detail).toBe('response body exceeds 16 MiB; stopped reading it');
    expect(apiRequests(server)).toHaveLength(3);
  });

  it('each attempt is one scheduler run and back-off sleeps happen outside it', async () => {
    const server = await serve((_q, res, i) =>
      i < 3 ? sendJson(res, 500, { message: 'boom' }) : sendJson(res, 200, { data: user(CAMERON) }),
    );
    let active = 0;
    let runs = 0;
    const priorities: (number | undefined)[] = [];
    const scheduler: RequestScheduler = {
      run: async (attempt, opts) => {
        runs++;
        active++;
        priorities.push(opts?.priority);
        try {
          return await attempt(new AbortController().signal);
        } finally {
          active--;
        }
      },
    };
    const sleeps: { ms: number; activeRuns: number }[] = [];
    const { client } = await clientFor(server, {
      scheduler,
      sleep: async (ms) => {
        sleeps.push({ ms, activeRuns: active });
      },
    });
    await client.getUser(COLLINS, CAMERON);
    expect(runs).toBe(1 + 4);
    expect(priorities[0]).toBeGreaterThan(0);
    expect(sleeps.map((s) => s.activeRuns)).toEqual([0, 0, 0]);
    const [a, b, c] = sleeps.map((s) => s.ms);
    expect(a).toBeGreaterThanOrEqual(2);
    expect(a).toBeLessThanOrEqual(5);
    expect(b).toBeGreaterThanOrEqual(5);
    expect(b).toBeLessThanOrEqual(10);
    expect(c).toBeGreaterThanOrEqual(10);
    expect(c).toBeLessThanOrEqual(20);
  });

  it('retries the token call on 5xx and then proceeds', async () => {
    const server = await serve(
      (_q, res) => sendJson(res, 200, { data: user(CAMERON) }),
      (_q, res, n) => (n < 3 ? sendJson(res, 500, { message: 'boom' }) : sendJson(res, 200, tokenBody('late'))),
    );
    const { client } = await clientFor(server);
    await client.getUser(COLLINS, CAMERON);
    expect(server.requests.filter(isTokenRequest)).toHaveLength(3);
    expect(apiRequests(server)[0]?.headers['authorization']).toBe('Bearer late');
  });

  it('honours retry.attempts', async () => {
    const server = await serve((_q, res) => sendJson(res, 500, { message: 'boom' }));
    const { client } = await clientFor(server, { retry: { attempts: 2, baseMs: 1, capMs: 1 } });
    await rejection(client.getUser(COLLINS, CAMERON));
    expect(apiRequests(server)).toHaveLength(2);
  });
});
