/** Speaking to a running simulator over real HTTP, for simulator and contract tests. */
import type { RunningSimulator, SimSeed, SimUser } from '../../src/simulator/index.js';
import { DEMO_ACTING_USER, DEMO_PARTNER } from '../../src/simulator/index.js';

export const COLLINS = '7fa84d2b-26d7-4c71-9b5b-e591eff97e7d';
export const FITZROY = '3b1f9c2e-8d4a-4e6b-9f1a-2c5d7e8f9a0b';
export const COLLINS_SECRET = 'sim-org-secret-collins';
export const FITZROY_SECRET = 'sim-org-secret-fitzroy';
export const ALL_USER_SCOPES = ['read:users', 'read:user', 'update:user'];

/** Demo user ids by email. */
export const DEMO_USERS = {
  ahmed: 'a7748dfd-ceb2-4b17-8380-425c304f5ae7',
  cameron: '3266a9fd-c21d-4600-93b4-d760dce49b05',
  nguyen: '64c290b3-09df-46c2-833b-b3ad3054109b',
  practiceManager: 'fd288ccc-fb13-4be5-8f5c-66145f401585',
  frontDesk: 'b9625b26-85bd-404e-8dc6-21aee34fc155',
  weekendDesk: 'c30ab136-4916-45b2-bbac-a97ecf65726e',
  itAdmin: 'c0ffee00-1111-4222-8333-444455556666',
} as const;

export interface HttpResult {
  status: number;
  headers: Headers;
  // Tests index into envelopes freely; the contract tests check their shape.
  body: any;
}

export async function call(
  sim: RunningSimulator,
  method: string,
  path: string,
  opts: { headers?: Record<string, string>; body?: unknown; rawBody?: string } = {},
): Promise<HttpResult> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  let body: string | undefined = opts.rawBody;
  if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['content-type'] = 'application/json';
  }
  const res = await fetch(`${path.startsWith('/_sim') ? sim.origin : sim.baseUrl}${path}`, {
    method,
    headers,
    ...(body !== undefined ? { body } : {}),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text === '' ? undefined : JSON.parse(text) };
}

export function tokenHeaders(
  orgId = COLLINS,
  orgSecret = COLLINS_SECRET,
  userId = DEMO_ACTING_USER[orgId] ?? '',
): Record<string, string> {
  return {
    'x-partner-id': DEMO_PARTNER.partnerId,
    'x-partner-secret': DEMO_PARTNER.partnerSecret,
    'x-organization-id': orgId,
    'x-organization-secret': orgSecret,
    'x-user-id': userId,
  };
}

export function mintRequest(
  sim: RunningSimulator,
  opts: { headers?: Record<string, string>; body?: unknown } = {},
): Promise<HttpResult> {
  return call(sim, 'POST', '/v1/token', {
    headers: opts.headers ?? tokenHeaders(),
    body: opts.body ?? { grantType: 'client_credentials', scope: ALL_USER_SCOPES },
  });
}

/** A fresh access token; throws unless the simulator answered 200. */
export async function mintToken(
  sim: RunningSimulator,
  opts: { orgId?: string; orgSecret?: string; userId?: string; scopes?: string[] } = {},
): Promise<string> {
  const orgId = opts.orgId ?? COLLINS;
  const secret = opts.orgSecret ?? (orgId === FITZROY ? FITZROY_SECRET : COLLINS_SECRET);
  const res = await mintRequest(sim, {
    headers: tokenHeaders(orgId, secret, opts.userId ?? DEMO_ACTING_USER[orgId]),
    body: { grantType: 'client_credentials', scope: opts.scopes ?? ALL_USER_SCOPES },
  });
  if (res.status !== 200) throw new Error(`mint failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.data.accessToken as string;
}

export function authHeaders(token: string, orgSecret = COLLINS_SECRET): Record<string, string> {
  return { authorization: `Bearer ${token}`, 'x-organization-secret': orgSecret };
}

export function usersPath(orgId = COLLINS, userId?: string, action?: 'roles' | 'disable' | 'enable'): string {
  const user = userId !== undefined ? `/${encodeURIComponent(userId)}` : '';
  return `/v1/organizations/${orgId}/users${user}${action ? `/${action}` : ''}`;
}

/** The demo partner and one organization of `count` users: the acting user, then `u0000`… (opaque ids). */
export function bigSeed(count: number, orgId = COLLINS, orgSecret = COLLINS_SECRET): SimSeed {
  const users: SimUser[] = Array.from({ length: count - 1 }, (_, i) => ({
    id: `u${String(i).padStart(4, '0')}`,
    email: `User${i}@Big.Example`,
    roles: i % 3 === 0 ? ['admin'] : ['receptionist'],
  }));
  return {
    partners: [{ ...DEMO_PARTNER }],
    organizations: [
      {
        id: orgId,
        name: 'Big',
        secret: orgSecret,
        users: [{ id: DEMO_ACTING_USER[COLLINS] as string, email: 'acting@big.example', roles: ['admin'] }, ...users],
      },
    ],
  };
}

export const REQUEST_ID = /^1-[0-9a-f]{8}-[0-9a-f]{24}$/;
