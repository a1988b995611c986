/** Every request the client puts on the wire conforms to Parchment's published OpenAPI document. */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { UserId } from '../src/core/domain.js';
import { DEMO_PARTNER, startSimulator, type RunningSimulator, type SimSeed } from '../src/simulator/index.js';
import {
  ACTING_USER,
  CAMERON,
  COLLINS,
  COLLINS_SECRET,
  collinsSettings,
  testClient,
} from './helpers/client-fixtures.js';
import { recordingProxy, type RecordingProxy } from './helpers/client-proxy.js';
import { validateRequest } from './helpers/contract-validator.js';

const TEMPLATES: readonly { readonly template: string; readonly pattern: RegExp }[] = [
  { template: '/v1/token', pattern: /^\/external\/v1\/token$/ },
  {
    template: '/v1/organizations/{organization_id}/users',
    pattern: /^\/external\/v1\/organizations\/(?<organization_id>[^/]+)\/users$/,
  },
  {
    template: '/v1/organizations/{organization_id}/users/{user_id}',
    pattern: /^\/external\/v1\/organizations\/(?<organization_id>[^/]+)\/users\/(?<user_id>[^/]+)$/,
  },
  {
    template: '/v1/organizations/{organization_id}/users/{user_id}/roles',
    pattern: /^\/external\/v1\/organizations\/(?<organization_id>[^/]+)\/users\/(?<user_id>[^/]+)\/roles$/,
  },
];

let sim: RunningSimulator;
let proxy: RecordingProxy;

beforeAll(async () => {
  const users: SimSeed['organizations'][number]['users'] = [
    { id: ACTING_USER, email: 'acting@collins.example', roles: ['admin'] },
    { id: CAMERON, email: 'dr.cameron@collins.example', roles: ['admin', 'provider'] },
  ];
  for (let i = 0; i < 150; i++)
    users.push({
      id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      email: `u${i}@collins.example`,
      roles: ['receptionist'],
    });
  sim = await startSimulator({
    seed: { partners: [{ ...DEMO_PARTNER }], organizations: [{ id: COLLINS, secret: COLLINS_SECRET, users }] },
    listShape: 'oas',
  });
  proxy = await recordingProxy(sim.baseUrl);
});

afterAll(async () => {
  await proxy.close();
  await sim.close();
});

it('token, paged list, read, roles PUT and a 401 re-mint all validate against the OpenAPI document', async () => {
  const { client } = testClient({ settings: await collinsSettings(proxy.baseUrl) });
  try {
    expect(await client.listUsers(COLLINS)).toHaveLength(152);
    sim.revokeTokens();
    await client.getUser(COLLINS, CAMERON);
    await client.replaceRoles(COLLINS, '00000000-0000-4000-8000-000000000007' as UserId, ['receptionist', 'rx_reader']);
  } finally {
    client.close();
  }

  const checked = proxy.exchanges.map((x) => {
    const match = TEMPLATES.map((t) => ({ t, m: t.pattern.exec(x.path) })).find((c) => c.m !== null);
    expect(match, x.path).toBeDefined();
    const template = match?.t.template ?? '';
    const params = Object.fromEntries(
      Object.entries(match?.m?.groups ?? {}).map(([k, v]) => [k, decodeURIComponent(v)]),
    );
    const headers = Object.fromEntries(
      Object.entries(x.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : v]),
    );
    const problems = validateRequest(x.method, template, { headers, query: x.query, params, body: x.body });
    return { what: `${x.method} ${template} ${JSON.stringify(x.query)}`, status: x.status, problems };
  });
  expect(checked.filter((c) => c.problems.length > 0)).toEqual([]);
  // The scenario must really have exercised every operation, a cursor and the 401 path.
  const seen = checked.map((c) => `${c.what.split(' ').slice(0, 2).join(' ')} ${c.status}`);
  expect(seen).toEqual([
    'POST /v1/token 200',
    'GET /v1/organizations/{organization_id}/users 200',
    'GET /v1/organizations/{organization_id}/users 200',
    'GET /v1/organizations/{organization_id}/users/{user_id} 401',
    'POST /v1/token 200',
    'GET /v1/organizations/{organization_id}/users/{user_id} 200',
    'PUT /v1/organizations/{organization_id}/users/{user_id}/roles 200',
  ]);
  expect(checked.some((c) => c.what.includes('lastKey'))).toBe(true);
});
