/**
 * Text from Parchment is untrusted (README "Security model"): a server that echoes the request's credentials
 * in its error bodies, and a gateway whose HTML 502 page quotes the bearer token, must not get a
 * secret into any report format, any log line or the daemon's /status.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { esc } from '../src/core/render/markdown.js';
import { DEMO_PARTNER, type RunningSimulator } from '../src/simulator/index.js';
import { recordingProxy, type RecordingProxy } from './helpers/client-proxy.js';
import { spawnDaemon, stopAllDaemons } from './helpers/daemon-harness.js';
import {
  jsonReport,
  liveEnv,
  NO_GUARD,
  runCli,
  watchedSimulator,
  workspace,
  type CliRun,
  type Workspace,
} from './helpers/live-cli.js';
import { ACTING_USER, buildWorld, ORG } from './helpers/live-seed.js';

// Underscores, so the markdown report's escaping (`LEAK\_partner…`) would hide a leak from a plain search.
const PARTNER_SECRET = 'LEAK_partner_9f3a1d';
const ORG_SECRET = 'LEAK_org_secret_7c1e';

const world = buildWorld({ users: 12, changes: 8, emailEvery: 0 });
world.seed.partners[0]!.partnerSecret = PARTNER_SECRET;
world.seed.organizations[0]!.secret = ORG_SECRET;
/** Each refused in its own way; the 502 is an HTML page. */
const FAILING: Record<string, number> = {
  [world.changing[0]!]: 422,
  [world.changing[1]!]: 409,
  [world.changing[2]!]: 403,
  [world.changing[3]!]: 400,
  [world.changing[4]!]: 502,
};

let sim: RunningSimulator;
let proxy: RecordingProxy;
let ws: Workspace;
let config: string;
let staticToken: string;

beforeAll(async () => {
  sim = (await watchedSimulator({ seed: world.seed, echoSecrets: true })).sim;
  sim.configure({ failUser: FAILING });
  proxy = await recordingProxy(sim.baseUrl);
  ws = await workspace('rs-untrusted-');
  config = await ws.file('roles.yaml', world.yaml);
  // Minted behind the proxy's back: role-sync knows it only as PARCHMENT_ACCESS_TOKEN.
  const minted = await fetch(`${sim.baseUrl}/v1/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-partner-id': DEMO_PARTNER.partnerId,
      'x-partner-secret': PARTNER_SECRET,
      'x-organization-id': ORG,
      'x-organization-secret': ORG_SECRET,
      'x-user-id': ACTING_USER,
    },
    body: JSON.stringify({ grantType: 'client_credentials', scope: ['read:users', 'read:user', 'update:user'] }),
  });
  staticToken = ((await minted.json()) as { data: { accessToken: string } }).data.accessToken;
});

afterAll(async () => {
  await stopAllDaemons();
  await proxy.close();
  await sim.close();
  await ws.remove();
});

function env(extra: Record<string, string> = {}): Record<string, string> {
  return liveEnv({
    sim,
    stateDir: ws.stateDir,
    logLevel: 'debug',
    extra: {
      PARCHMENT_BASE_URL: proxy.baseUrl,
      PARCHMENT_PARTNER_SECRET: PARTNER_SECRET,
      PARCHMENT_ORGANIZATION_SECRET: ORG_SECRET,
      ...extra,
    },
  });
}

function secrets(): string[] {
  const minted = proxy.mintedTokens();
  expect(minted.length).toBeGreaterThan(0);
  return [PARTNER_SECRET, ORG_SECRET, staticToken, ...minted];
}

/** Every secret, as is, markdown-escaped, or as a 16-character prefix (a secret cut short is still a leak). */
function leaks(text: string): string[] {
  return secrets().flatMap((s) => [s, esc(s), s.slice(0, 16)].filter((form) => text.includes(form)));
}

function expectEchoedAndRedacted(run: CliRun): void {
  const output = run.stdout + run.stderr;
  expect(leaks(output)).toEqual([]);
  // The server did echo: the echoes are there, with the secrets replaced.
  expect(output).toMatch(/authorization: Bearer (\\)?\[redacted(\\)?\]/);
  expect(output).toMatch(/x-organization-secret: (\\)?\[redacted(\\)?\]/);
  expect(output).toMatch(/secret (\\)?\[redacted(\\)?\]/);
}

describe('secrets echoed by Parchment', () => {
  it('are redacted from the JSON report and the logs, every failure kept with its fields', async () => {
    const run = await runCli(['apply', '-c', config, '--format', 'json', ...NO_GUARD], env());
    expect(run.code, run.stderr).toBe(1);
    expectEchoedAndRedacted(run);
    const failures = jsonReport(run).organizations.flatMap((o) => o.failures);
    expect(failures.map((f) => f.status).sort()).toEqual([400, 403, 409, 422, 502]);
    const html = failures.find((f) => f.status === 502);
    expect(html?.detail).toContain('502 Bad Gateway');
    expect(html?.detail).toContain('Bearer [redacted]');
  }, 30_000);

  it('are redacted from the text and markdown reports', async () => {
    for (const format of ['text', 'markdown']) {
      const run = await runCli(['apply', '-c', config, '--format', format, ...NO_GUARD], env());
      expect(run.code, run.stderr).toBe(1);
      expectEchoedAndRedacted(run);
    }
  }, 30_000);

  it('redact a static PARCHMENT_ACCESS_TOKEN too', async () => {
    const run = await runCli(
      ['apply', '-c', config, '--format', 'markdown', ...NO_GUARD],
      env({ PARCHMENT_ACCESS_TOKEN: staticToken }),
    );
    expect(run.code, run.stderr).toBe(1);
    expectEchoedAndRedacted(run);
  }, 30_000);

  it('never reach the daemon logs or /status', async () => {
    sim.clearRequests();
    const token = 'a-status-token-for-the-full-page';
    const daemon = spawnDaemon(config, ['--resync-interval', '1h'], env({ ROLE_SYNC_STATUS_TOKEN: token }));
    await daemon.waitForLog((l) => l.msg?.startsWith('reconcile cycle finished') === true, 20_000);
    const status = await (await fetch(`${await daemon.base}/status`)).text();
    // The full page carries Parchment's failure details: redacted there too.
    const full = await (
      await fetch(`${await daemon.base}/status`, { headers: { authorization: `Bearer ${token}` } })
    ).text();
    await daemon.stop();
    expect(leaks(status)).toEqual([]);
    expect(full).toContain('"detail"');
    expect(leaks(full)).toEqual([]);
    expect(leaks(daemon.output())).toEqual([]);
    // The cycle did meet every echoing failure.
    const answered = new Set(sim.requests().map((r) => r.status));
    for (const status of Object.values(FAILING)) expect(answered).toContain(status);
  }, 30_000);
});
