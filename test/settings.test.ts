import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OrgId } from '../src/core/domain.js';
import { DEFAULT_BASE_URL, loadSettings, SettingsError } from '../src/parchment/settings.js';

const ORG_A = '7fa84d2b-26d7-4c71-9b5b-e591eff97e7d' as OrgId;
const ORG_B = '3b1f9c2e-8d4a-4e6b-9f1a-2c5d7e8f9a0b' as OrgId;
const USER = 'a7748dfd-ceb2-4b17-8380-425c304f5ae7';
const PARTNER_SECRET = 'partner-secret-Zq81xT';
const ORG_SECRET = 'org-secret-Kp02wY';
const TOKEN = 'static-token-Hm55rV';
const SECRETS = [PARTNER_SECRET, ORG_SECRET, TOKEN, 'file-org-secret-Bb71', 'file-partner-secret-Cc93'];

const partner = { PARCHMENT_PARTNER_ID: 'acme', PARCHMENT_PARTNER_SECRET: PARTNER_SECRET, PARCHMENT_USER_ID: USER };
const oneOrg = { ...partner, PARCHMENT_ORGANIZATION_SECRET: ORG_SECRET };

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'role-sync-settings-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function file(name: string, content: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, content);
  return path;
}

/** The SettingsError thrown, after checking its message names the variable and holds no secret. */
async function settingsError(env: NodeJS.ProcessEnv, orgs: readonly OrgId[] = [ORG_A]): Promise<SettingsError> {
  const err: unknown = await loadSettings(env, orgs).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SettingsError);
  const e = err as SettingsError;
  expect(e.message).toContain(e.variable);
  for (const s of SECRETS) {
    expect(e.message).not.toContain(s);
    expect(JSON.stringify(e)).not.toContain(s);
  }
  return e;
}

describe('loadSettings: defaults and values', () => {
  it('uses the documented defaults with partner credentials', async () => {
    const s = await loadSettings(oneOrg, [ORG_A]);
    expect(s.baseUrl.href).toBe(DEFAULT_BASE_URL);
    expect(s.rate).toEqual({ kind: 'auto', maxPerSecond: 50 });
    expect(s.concurrency).toBe(4);
    expect(s.stateDir).toBe('./.role-sync');
    expect(s.auth).toEqual({ kind: 'partner', partnerId: 'acme', partnerSecret: PARTNER_SECRET, userId: USER });
    expect(s.organizations.get(ORG_A)).toEqual({ organizationId: ORG_A, secret: ORG_SECRET, actingUser: USER });
  });

  it('reads rate, concurrency and state dir', async () => {
    const s = await loadSettings(
      { ...oneOrg, ROLE_SYNC_RATE: '2.5', ROLE_SYNC_CONCURRENCY: '8', ROLE_SYNC_STATE_DIR: '/var/lib/rs' },
      [ORG_A],
    );
    expect([s.rate, s.concurrency, s.stateDir]).toEqual([{ kind: 'fixed', perSecond: 2.5 }, 8, '/var/lib/rs']);
  });

  it.each([
    [{ ROLE_SYNC_RATE: 'auto' }, { kind: 'auto', maxPerSecond: 50 }],
    [{ ROLE_SYNC_RATE: ' Auto ' }, { kind: 'auto', maxPerSecond: 50 }],
    [{ ROLE_SYNC_RATE_MAX: '12.5' }, { kind: 'auto', maxPerSecond: 12.5 }],
    [
      { ROLE_SYNC_RATE: 'auto', ROLE_SYNC_RATE_MAX: '200' },
      { kind: 'auto', maxPerSecond: 200 },
    ],
    [
      { ROLE_SYNC_RATE: '7', ROLE_SYNC_RATE_MAX: '3' },
      { kind: 'fixed', perSecond: 7 },
    ],
  ])('ROLE_SYNC_RATE / ROLE_SYNC_RATE_MAX %j', async (env, rate) => {
    const s = await loadSettings({ ...oneOrg, ...env }, [ORG_A]);
    expect(s.rate).toEqual(rate);
  });

  it('an access token replaces partner credentials', async () => {
    const s = await loadSettings({ PARCHMENT_ACCESS_TOKEN: TOKEN, PARCHMENT_ORGANIZATION_SECRET: ORG_SECRET }, [ORG_A]);
    expect(s.auth).toEqual({ kind: 'token', accessToken: TOKEN });
  });

  it('treats an empty variable as unset', async () => {
    const s = await loadSettings({ ...oneOrg, PARCHMENT_ACCESS_TOKEN: '', ROLE_SYNC_RATE: '' }, [ORG_A]);
    expect(s.auth.kind).toBe('partner');
    expect(s.rate).toEqual({ kind: 'auto', maxPerSecond: 50 });
  });

  it.each([
    'http://127.0.0.1:8080/external',
    'http://127.3.4.5/external',
    'http://localhost:1/external',
    'http://[::1]:9/external',
  ])('allows http:// for loopback %s', async (url) => {
    const s = await loadSettings({ ...oneOrg, PARCHMENT_BASE_URL: url }, [ORG_A]);
    expect(s.baseUrl.href).toBe(url);
  });
});

describe('loadSettings: each variable is checked and named', () => {
  it.each([
    ['http://api.example.com/external', /loopback/],
    ['http://10.0.0.1/external', /loopback/],
    ['http://127.0.0.1.evil.example/external', /loopback/],
    ['ftp://127.0.0.1/external', /https/],
    ['not a url', /valid URL/],
    [`https://user:${PARTNER_SECRET}@api.example.com/external`, /credentials/],
    ['https://api.example.com/external?x=1', /query/],
  ])('PARCHMENT_BASE_URL %s', async (url, message) => {
    const e = await settingsError({ ...oneOrg, PARCHMENT_BASE_URL: url });
    expect(e.variable).toBe('PARCHMENT_BASE_URL');
    expect(e.message).toMatch(message);
  });

  it.each(['PARCHMENT_PARTNER_ID', 'PARCHMENT_PARTNER_SECRET', 'PARCHMENT_USER_ID'])('missing %s', async (name) => {
    const env: NodeJS.ProcessEnv = { ...oneOrg };
    delete env[name];
    const e = await settingsError(env);
    expect(e.variable).toBe(name);
    expect(e.message).toContain('PARCHMENT_ACCESS_TOKEN');
  });

  it('names the first missing partner variable and lists all', async () => {
    const e = await settingsError({ PARCHMENT_ORGANIZATION_SECRET: ORG_SECRET });
    expect(e.variable).toBe('PARCHMENT_PARTNER_ID');
    expect(e.message).toContain('Missing: PARCHMENT_PARTNER_ID, PARCHMENT_PARTNER_SECRET, PARCHMENT_USER_ID');
  });

  it('PARCHMENT_USER_ID must look like a Parchment id', async () => {
    const e = await settingsError({ ...oneOrg, PARCHMENT_USER_ID: 'not an id!' });
    expect(e.variable).toBe('PARCHMENT_USER_ID');
  });

  it.each([['0'], ['-1'], ['abc'], ['Infinity'], [' '], ['autos']])('ROLE_SYNC_RATE=%j', async (v) => {
    const e = await settingsError({ ...oneOrg, ROLE_SYNC_RATE: v });
    expect(e.variable).toBe('ROLE_SYNC_RATE');
    expect(e.message).toContain('or auto');
  });

  it.each([['0'], ['-1'], ['auto'], ['Infinity']])('ROLE_SYNC_RATE_MAX=%j', async (v) => {
    const e = await settingsError({ ...oneOrg, ROLE_SYNC_RATE_MAX: v });
    expect(e.variable).toBe('ROLE_SYNC_RATE_MAX');
  });

  it.each([['0'], ['1.5'], ['-2'], ['four']])('ROLE_SYNC_CONCURRENCY=%j', async (v) => {
    const e = await settingsError({ ...oneOrg, ROLE_SYNC_CONCURRENCY: v });
    expect(e.variable).toBe('ROLE_SYNC_CONCURRENCY');
  });

  it('PARCHMENT_ORGANIZATION_SECRET is refused for two organizations', async () => {
    const e = await settingsError(oneOrg, [ORG_A, ORG_B]);
    expect(e.variable).toBe('PARCHMENT_ORGANIZATION_SECRET');
    expect(e.message).toContain('PARCHMENT_CREDENTIALS_FILE');
  });

  it('every requested organization needs a secret', async () => {
    const e = await settingsError(partner, [ORG_A]);
    expect(e.variable).toBe('PARCHMENT_ORGANIZATION_SECRET');
    expect(e.message).toContain(ORG_A);
  });
});

describe('loadSettings: NAME_FILE', () => {
  it('reads each secret from a file, stripping one trailing newline', async () => {
    const s = await loadSettings(
      {
        PARCHMENT_PARTNER_ID_FILE: await file('pid', 'acme\n'),
        PARCHMENT_PARTNER_SECRET_FILE: await file('psecret', `${PARTNER_SECRET}\r\n`),
        PARCHMENT_USER_ID_FILE: await file('uid', USER),
        PARCHMENT_ORGANIZATION_SECRET_FILE: await file('osecret', `${ORG_SECRET}\n\n`),
      },
      [ORG_A],
    );
    expect(s.auth).toEqual({ kind: 'partner', partnerId: 'acme', partnerSecret: PARTNER_SECRET, userId: USER });
    expect(s.organizations.get(ORG_A)?.secret).toBe(`${ORG_SECRET}\n`);
  });

  it('reads the access token from a file', async () => {
    const s = await loadSettings(
      { PARCHMENT_ACCESS_TOKEN_FILE: await file('tok', `${TOKEN}\n`), PARCHMENT_ORGANIZATION_SECRET: ORG_SECRET },
      [ORG_A],
    );
    expect(s.auth).toEqual({ kind: 'token', accessToken: TOKEN });
  });

  it('refuses NAME and NAME_FILE together', async () => {
    const e = await settingsError({ ...oneOrg, PARCHMENT_PARTNER_SECRET_FILE: await file('both', PARTNER_SECRET) });
    expect(e.variable).toBe('PARCHMENT_PARTNER_SECRET');
    expect(e.message).toContain('PARCHMENT_PARTNER_SECRET_FILE');
  });

  it('names the _FILE variable when the file is missing', async () => {
    const e = await settingsError({ ...partner, PARCHMENT_ORGANIZATION_SECRET_FILE: join(dir, 'absent') });
    expect(e.variable).toBe('PARCHMENT_ORGANIZATION_SECRET_FILE');
    expect(e.message).toContain('ENOENT');
  });

  it('names the _FILE variable when the file is a directory', async () => {
    const e = await settingsError({ ...partner, PARCHMENT_ORGANIZATION_SECRET_FILE: dir });
    expect(e.variable).toBe('PARCHMENT_ORGANIZATION_SECRET_FILE');
  });

  it('refuses a named pipe or a device at once, without waiting for a writer or reading for ever', async () => {
    const fifo = join(dir, 'secret.fifo');
    execFileSync('mkfifo', [fifo]);
    const began = Date.now();
    const pipe = await settingsError({ ...partner, PARCHMENT_ORGANIZATION_SECRET_FILE: fifo });
    expect(pipe.variable).toBe('PARCHMENT_ORGANIZATION_SECRET_FILE');
    expect(pipe.message).toContain('a named pipe (FIFO), not a regular file');
    const device = await settingsError({ ...partner, PARCHMENT_ORGANIZATION_SECRET_FILE: '/dev/zero' });
    expect(device.message).toContain('a character device, not a regular file');
    const credentials = await settingsError({ PARCHMENT_CREDENTIALS_FILE: fifo });
    expect(credentials.variable).toBe('PARCHMENT_CREDENTIALS_FILE');
    expect(credentials.message).toContain('a named pipe (FIFO)');
    expect(Date.now() - began).toBeLessThan(2000);
  });

  it('refuses a secret file over 64 KiB and a credentials file over 1 MiB', async () => {
    const secret = await settingsError({
      ...partner,
      PARCHMENT_ORGANIZATION_SECRET_FILE: await file('huge-secret', 'x'.repeat(64 * 1024 + 1)),
    });
    expect(secret.message).toContain('is larger than 65536 bytes');
    const padded = `organizations: {}\n${'#'.repeat(1024 * 1024)}\n`;
    const credentials = await settingsError({ PARCHMENT_CREDENTIALS_FILE: await file('huge.yaml', padded) });
    expect(credentials.variable).toBe('PARCHMENT_CREDENTIALS_FILE');
    expect(credentials.message).toContain('is larger than 1048576 bytes');
    const fits = await file('fits', `${'s'.repeat(64 * 1024 - 1)}\n`);
    const s = await loadSettings({ ...partner, PARCHMENT_ORGANIZATION_SECRET_FILE: fits }, [ORG_A]);
    expect(s.organizations.get(ORG_A)?.secret).toHaveLength(64 * 1024 - 1);
  });

  it('refuses an empty secret file', async () => {
    const e = await settingsError({
      ...oneOrg,
      PARCHMENT_PARTNER_SECRET: undefined,
      PARCHMENT_PARTNER_SECRET_FILE: await file('empty', '\n'),
    });
    expect(e.variable).toBe('PARCHMENT_PARTNER_SECRET_FILE');
    expect(e.message).toContain('empty');
  });
});

describe('loadSettings: PARCHMENT_CREDENTIALS_FILE', () => {
  it('reads organizations and partner credentials from YAML', async () => {
    const path = await file(
      'creds.yaml',
      `partnerId: acme\npartnerSecret: file-partner-secret-Cc93\nuserId: ${USER}\norganizations:\n` +
        `  ${ORG_A}:\n    secret: file-org-secret-Bb71\n  ${ORG_B.toUpperCase()}:\n    secret: b-secret\n`,
    );
    const s = await loadSettings({ PARCHMENT_CREDENTIALS_FILE: path }, [ORG_A, ORG_B]);
    expect(s.auth).toEqual({
      kind: 'partner',
      partnerId: 'acme',
      partnerSecret: 'file-partner-secret-Cc93',
      userId: USER,
    });
    expect(s.organizations.get(ORG_A)?.secret).toBe('file-org-secret-Bb71');
    expect(s.organizations.get(ORG_B)?.secret).toBe('b-secret');
  });

  it('takes an acting user per organization, which wins over PARCHMENT_USER_ID', async () => {
    const OTHER = 'c0ffee00-1111-4222-8333-444455556666';
    const path = await file(
      'creds.yaml',
      `partnerId: acme\npartnerSecret: p\norganizations:\n  ${ORG_A}:\n    secret: a\n` +
        `  ${ORG_B}:\n    secret: b\n    userId: ${OTHER}\n`,
    );
    const e = await settingsError({ PARCHMENT_CREDENTIALS_FILE: path }, [ORG_A, ORG_B]);
    expect(e.variable).toBe('PARCHMENT_USER_ID');
    const s = await loadSettings({ PARCHMENT_CREDENTIALS_FILE: path, PARCHMENT_USER_ID: USER }, [ORG_A, ORG_B]);
    expect(s.organizations.get(ORG_A)?.actingUser).toBe(USER);
    expect(s.organizations.get(ORG_B)?.actingUser).toBe(OTHER);
  });

  it('reads JSON, and environment variables win over the file', async () => {
    const path = await file(
      'creds.json',
      JSON.stringify({
        partnerId: 'from-file',
        partnerSecret: 'file-partner-secret-Cc93',
        userId: USER,
        organizations: { [ORG_A]: { secret: 'file-org-secret-Bb71' } },
      }),
    );
    const s = await loadSettings(
      { PARCHMENT_CREDENTIALS_FILE: path, PARCHMENT_PARTNER_ID: 'from-env', PARCHMENT_ORGANIZATION_SECRET: ORG_SECRET },
      [ORG_A],
    );
    expect(s.auth).toMatchObject({ kind: 'partner', partnerId: 'from-env', partnerSecret: 'file-partner-secret-Cc93' });
    expect(s.organizations.get(ORG_A)?.secret).toBe(ORG_SECRET);
  });

  it('an access token in the file is used', async () => {
    const path = await file('tok.yaml', `accessToken: ${TOKEN}\norganizations:\n  ${ORG_A}: {secret: x}\n`);
    const s = await loadSettings({ PARCHMENT_CREDENTIALS_FILE: path }, [ORG_A]);
    expect(s.auth).toEqual({ kind: 'token', accessToken: TOKEN });
  });

  it('names the file and key of an unknown key', async () => {
    const path = await file('typo.yaml', `partnerSecert: file-partner-secret-Cc93\n`);
    const e = await settingsError({ ...oneOrg, PARCHMENT_CREDENTIALS_FILE: path });
    expect(e.variable).toBe('PARCHMENT_CREDENTIALS_FILE');
    expect(e.message).toContain(path);
    expect(e.message).toContain('partnerSecert');
  });

  it('names the key of a wrongly typed value without quoting it', async () => {
    const path = await file('type.yaml', `organizations:\n  ${ORG_A}:\n    secret: [file-org-secret-Bb71]\n`);
    const e = await settingsError({ ...partner, PARCHMENT_CREDENTIALS_FILE: path });
    expect(e.message).toContain(`organizations.${ORG_A}.secret`);
  });

  it('refuses an organization key that is not a UUID', async () => {
    const path = await file('badorg.yaml', `organizations:\n  clinic-1: {secret: file-org-secret-Bb71}\n`);
    const e = await settingsError({ ...oneOrg, PARCHMENT_CREDENTIALS_FILE: path });
    expect(e.message).toContain('organizations.clinic-1');
  });

  it('reports YAML syntax errors by position, never by content', async () => {
    const path = await file('broken.yaml', `partnerSecret: "file-partner-secret-Cc93\norganizations: [\n`);
    const e = await settingsError({ ...oneOrg, PARCHMENT_CREDENTIALS_FILE: path });
    expect(e.message).toMatch(/broken\.yaml:\d+:\d+: not valid YAML or JSON/);
  });

  it('names the variable when the file cannot be read', async () => {
    const path = await file('locked.yaml', 'organizations: {}\n');
    await chmod(path, 0o000);
    const e = await settingsError({
      ...oneOrg,
      PARCHMENT_CREDENTIALS_FILE: process.getuid?.() === 0 ? join(dir, 'nope.yaml') : path,
    });
    expect(e.variable).toBe('PARCHMENT_CREDENTIALS_FILE');
    expect(e.message).toMatch(/cannot read/);
  });

  it('a requested organization missing from the file is named', async () => {
    const path = await file('partial.yaml', `organizations:\n  ${ORG_A}: {secret: a}\n`);
    const e = await settingsError({ ...partner, PARCHMENT_CREDENTIALS_FILE: path }, [ORG_A, ORG_B]);
    expect(e.variable).toBe('PARCHMENT_CREDENTIALS_FILE');
    expect(e.message).toContain(ORG_B);
  });
});
