/**
 * The simulator's hostile modes (README "The simulator"): error bodies that echo the request's
 * credentials, a gateway's HTML 502, and a list body too large to hold, streamed.
 */
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { DEMO_PARTNER, startSimulator, type RunningSimulator } from '../src/simulator/index.js';
import { REPO, CLI } from './helpers/live-cli.js';
import { ACTING_USER, CAMERON, COLLINS, COLLINS_SECRET } from './helpers/client-fixtures.js';

let sim: RunningSimulator | undefined;

afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

async function token(s: RunningSimulator): Promise<string> {
  const res = await fetch(`${s.baseUrl}/v1/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-partner-id': DEMO_PARTNER.partnerId,
      'x-partner-secret': DEMO_PARTNER.partnerSecret,
      'x-organization-id': COLLINS,
      'x-organization-secret': COLLINS_SECRET,
      'x-user-id': ACTING_USER,
    },
    body: JSON.stringify({ grantType: 'client_credentials', scope: ['read:users', 'read:user', 'update:user'] }),
  });
  return ((await res.json()) as { data: { accessToken: string } }).data.accessToken;
}

function putRoles(s: RunningSimulator, bearer: string): Promise<Response> {
  return fetch(`${s.baseUrl}/v1/organizations/${COLLINS}/users/${CAMERON}/roles`, {
    method: 'PUT',
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${bearer}`,
      'x-organization-secret': COLLINS_SECRET,
    },
    body: JSON.stringify({ access_roles: ['provider'] }),
  });
}

describe('echoSecrets', () => {
  it('quotes the bearer token, the organization secret and the partner secret in title and detail', async () => {
    sim = await startSimulator({ echoSecrets: true });
    const bearer = await token(sim);
    sim.configure({ failUser: { [CAMERON]: 422 } });
    const body = (await (await putRoles(sim, bearer)).json()) as { error: { title: string; detail: string } };
    for (const text of [body.error.title, body.error.detail]) {
      expect(text).toContain(`authorization: Bearer ${bearer}`);
      expect(text).toContain(`x-organization-secret: ${COLLINS_SECRET}`);
      expect(text).toContain(DEMO_PARTNER.partnerSecret);
    }
  });

  it('is off by default, and a 502 is a gateway HTML page that quotes them only when on', async () => {
    sim = await startSimulator();
    const bearer = await token(sim);
    sim.configure({ failUser: { [CAMERON]: 502 } });
    const quiet = await putRoles(sim, bearer);
    expect(quiet.status).toBe(502);
    expect(quiet.headers.get('content-type')).toMatch(/^text\/html/);
    const page = await quiet.text();
    expect(page).toContain('<h1>502 Bad Gateway</h1>');
    expect(page).not.toContain(bearer);
    sim.configure({ echoSecrets: true });
    expect(await (await putRoles(sim, bearer)).text()).toContain(`Bearer ${bearer}`);
  });
});

describe('hugeListBody', () => {
  /** Reads the list answer, counting bytes without keeping them; stops after `limit` bytes. */
  async function readList(s: RunningSimulator, limit: number) {
    const bearer = await token(s);
    return new Promise<{ status: number; length?: string; bytes: number; ended: boolean; text: string }>(
      (resolve, reject) => {
        const req = request(
          `${s.baseUrl}/v1/organizations/${COLLINS}/users`,
          { headers: { authorization: `Bearer ${bearer}`, 'x-organization-secret': COLLINS_SECRET } },
          (res) => {
            let bytes = 0;
            let text = '';
            res.on('data', (chunk: Buffer) => {
              bytes += chunk.length;
              if (text.length < 4096) text += chunk.toString();
              if (bytes >= limit) {
                res.destroy();
                resolve({ status: res.statusCode ?? 0, bytes, ended: false, text });
              }
            });
            res.on('end', () =>
              resolve({ status: res.statusCode ?? 0, length: res.headers['content-length'], bytes, ended: true, text }),
            );
          },
        );
        req.on('error', reject);
        req.end();
      },
    );
  }

  it('sends exactly the bytes asked for, with their Content-Length: an empty list and blanks', async () => {
    sim = await startSimulator({ hugeListBody: 3 * 1024 * 1024 + 17 });
    const got = await readList(sim, Infinity);
    expect(got).toMatchObject({
      status: 200,
      ended: true,
      bytes: 3 * 1024 * 1024 + 17,
      length: String(3 * 1024 * 1024 + 17),
    });
    expect(got.text).toMatch(/^\{"success":true,.*"users":\[\]/);
  });

  it('"endless" keeps sending until the client goes away, and the simulator still answers afterwards', async () => {
    sim = await startSimulator();
    sim.configure({ hugeListBody: 'endless' });
    const got = await readList(sim, 64 * 1024 * 1024);
    expect(got).toMatchObject({ status: 200, ended: false });
    sim.configure({ hugeListBody: undefined });
    expect((await readList(sim, Infinity)).ended).toBe(true);
  });
});

it('role-sync simulate --echo-secrets --huge-list-body 64MiB switches both modes on', async () => {
  const child = spawn(
    process.execPath,
    [CLI, 'simulate', '--port', '0', '--echo-secrets', '--huge-list-body', '64MiB'],
    {
      cwd: REPO,
      env: { PATH: process.env['PATH'] ?? '', LOG_LEVEL: 'info' },
    },
  );
  try {
    const origin = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout }).on('line', (line) => {
        const entry = JSON.parse(line) as { msg?: string; baseUrl?: string };
        if (entry.msg === 'simulator listening' && entry.baseUrl) resolve(new URL(entry.baseUrl).origin);
      });
      child.once('exit', (code) => reject(new Error(`simulate exited with ${String(code)}`)));
    });
    const state = (await (await fetch(`${origin}/_sim/state`)).json()) as { config: Record<string, unknown> };
    expect(state.config).toMatchObject({ echoSecrets: true, hugeListBody: 64 * 1024 * 1024 });
  } finally {
    child.kill('SIGTERM');
  }
});
