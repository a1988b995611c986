/**
 * Secrets never leak: a scenario touching every failure path, with every log byte and every error
 * rendered every way a caller might render it, searched for every secret and every token minted.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { UserId } from '../src/core/domain.js';
import { ParchmentClient } from '../src/parchment/client.js';
import { loadSettings } from '../src/parchment/settings.js';
import { demoSeed, startSimulator, type RunningSimulator, type SimSeed } from '../src/simulator/index.js';
import { ACTING_USER, CAMERON, COLLINS, captureLog, FAST_RETRY } from './helpers/client-fixtures.js';
import { recordingProxy, type RecordingProxy } from './helpers/client-proxy.js';

const PARTNER_SECRET = 'LEAKCHECK-partner-9f3a1d';
const ORG_SECRET = 'LEAKCHECK-org-7c1e55';
const STATIC_TOKEN = 'LEAKCHECK-static-token-3b8e';
const WRONG_PARTNER_SECRET = 'LEAKCHECK-wrong-partner-0d4c';

let sim: RunningSimulator;
let proxy: RecordingProxy;
let dir: string;

beforeAll(async () => {
  const seed: SimSeed = demoSeed();
  seed.partners = [{ partnerId: 'role-sync-demo', partnerSecret: PARTNER_SECRET }];
  const collins = seed.organizations.find((o) => o.id === COLLINS);
  if (collins) collins.secret = ORG_SECRET;
  sim = await startSimulator({ seed });
  proxy = await recordingProxy(sim.baseUrl);
  dir = await mkdtemp(join(tmpdir(), 'role-sync-leak-'));
});

afterAll(async () => {
  await proxy.close();
  await sim.close();
  await rm(dir, { recursive: true, force: true });
});

it('no secret or token appears in logs or in any rendering of any error', async () => {
  const log = captureLog();
  const errors: unknown[] = [];
  const capture = async (p: Promise<unknown>): Promise<void> => {
    await p.then(
      () => expect.unreachable('expected a failure'),
      (e: unknown) => {
        errors.push(e);
        // What a careless caller would do: hand the error to pino's standard serializer.
        log.logger.error({ err: e }, 'call failed');
      },
    );
  };
  const env = {
    PARCHMENT_BASE_URL: proxy.baseUrl,
    PARCHMENT_PARTNER_ID: 'role-sync-demo',
    PARCHMENT_PARTNER_SECRET: PARTNER_SECRET,
    PARCHMENT_USER_ID: ACTING_USER,
    PARCHMENT_ORGANIZATION_SECRET: ORG_SECRET,
  };
  const make = (settings: Awaited<ReturnType<typeof loadSettings>>, readOnly = false) =>
    new ParchmentClient({ settings, logger: log.logger, readOnly, retry: FAST_RETRY, timeoutMs: 150 });

  const client = make(await loadSettings(env, [COLLINS]));
  try {
    await client.listUsers(COLLINS);
    sim.revokeTokens();
    await client.getUser(COLLINS, CAMERON);

    sim.configure({ failUser: { [CAMERON]: 422 } });
    await capture(client.replaceRoles(COLLINS, CAMERON, ['provider']));
    sim.configure({ failUser: { [CAMERON]: 401 } });
    await capture(client.replaceRoles(COLLINS, CAMERON, ['provider']));
    sim.configure({ failUser: {} });
    await capture(client.getUser(COLLINS, '11111111-2222-4333-8444-555555555555' as UserId));

    sim.configure({ faultRate: 1, faults: ['drop'] });
    await capture(client.getUser(COLLINS, CAMERON));
    sim.configure({ faultRate: 1, faults: ['503'] });
    await capture(client.getUser(COLLINS, CAMERON));
    sim.configure({ faultRate: 0, latencyMs: 400 });
    await capture(client.getUser(COLLINS, CAMERON));
    sim.configure({ latencyMs: 0 });
  } finally {
    client.close();
  }

  const readOnly = make(await loadSettings(env, [COLLINS]), true);
  await capture(readOnly.replaceRoles(COLLINS, CAMERON, ['provider'])).finally(() => readOnly.close());

  const staticToken = make(await loadSettings({ ...env, PARCHMENT_ACCESS_TOKEN: STATIC_TOKEN }, [COLLINS]));
  await capture(staticToken.listUsers(COLLINS)).finally(() => staticToken.close());

  const wrongPartner = make(await loadSettings({ ...env, PARCHMENT_PARTNER_SECRET: WRONG_PARTNER_SECRET }, [COLLINS]));
  await capture(wrongPartner.listUsers(COLLINS)).finally(() => wrongPartner.close());

  const broken = join(dir, 'broken.yaml');
  await writeFile(broken, `partnerSecret: "${PARTNER_SECRET}\norganizations: [\n`);
  await capture(loadSettings({ ...env, PARCHMENT_CREDENTIALS_FILE: broken }, [COLLINS]));
  const typed = join(dir, 'typed.yaml');
  await writeFile(typed, `organizations:\n  ${COLLINS}: {secret: [${ORG_SECRET}]}\n${PARTNER_SECRET}: 1\n`);
  await capture(loadSettings({ PARCHMENT_CREDENTIALS_FILE: typed }, [COLLINS]));
  const secretFile = join(dir, 'secret');
  await writeFile(secretFile, ORG_SECRET);
  await capture(loadSettings({ ...env, PARCHMENT_ORGANIZATION_SECRET_FILE: secretFile }, [COLLINS]));

  const minted = proxy.mintedTokens();
  expect(minted.length).toBeGreaterThanOrEqual(4);
  const secrets = [PARTNER_SECRET, ORG_SECRET, STATIC_TOKEN, WRONG_PARTNER_SECRET, ...minted];

  expect(errors).toHaveLength(12);
  const renderings = errors.flatMap((e) => [
    (e as Error).message,
    String(e),
    JSON.stringify(e),
    inspect(e, { depth: 10 }),
    inspect(e, { depth: 10, showHidden: true }),
    (e as Error).stack ?? '',
  ]);
  const output = [log.text(), ...renderings].join('\n');
  expect(log.lines().filter((l) => l['msg'] === 'call failed')).toHaveLength(12);
  // The secrets were on the wire, so finding none in the output means something.
  const wire = proxy.exchanges.map((x) => JSON.stringify(x.headers) + x.responseText).join('\n');
  for (const s of secrets) {
    if (s !== WRONG_PARTNER_SECRET && s !== STATIC_TOKEN) expect(wire).toContain(s);
    expect(output).not.toContain(s);
  }
  expect(output).toContain('ECONNRESET');
  expect(output).toContain('ETIMEDOUT');
  expect(output).toContain('read-only mode refused PUT');
});
