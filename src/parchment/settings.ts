/**
 * Connection settings from the environment (README.md, "Settings and credentials"). Everything is
 * checked here, before any
 * request, and a problem is one SettingsError naming the variable. Secret values never appear in a
 * message: only variable names, file paths and keys.
 */
import { isIP } from 'node:net';
import { parse as parseYaml } from 'yaml';
import * as z from 'zod';
import { parseOrgId, parseUserId, type OrgId, type UserId } from '../core/domain.js';
import type { RateSetting } from '../queue/rate-controller.js';
import { readBoundedFile } from '../regular-file.js';

export interface OrgCredentials {
  readonly organizationId: OrgId;
  readonly secret: string;
  /**
   * The acting user (`x-user-id`) for this organization: `organizations.<id>.userId` in the
   * credentials file, else PARCHMENT_USER_ID. A user id belongs to one organization, so several
   * organizations need one each. Always set when tokens are minted.
   */
  readonly actingUser?: UserId;
}

export type AuthSettings =
  | { readonly kind: 'partner'; readonly partnerId: string; readonly partnerSecret: string; readonly userId?: UserId }
  | {
      readonly kind: 'token';
      readonly accessToken: string;
      readonly userId?: UserId;
      /** Set beside the token but unused: kept only so that an echo of it from Parchment is redacted. */
      readonly partnerSecret?: string;
    };

export interface ParchmentSettings {
  readonly baseUrl: URL;
  readonly auth: AuthSettings;
  readonly organizations: ReadonlyMap<OrgId, OrgCredentials>;
  /** ROLE_SYNC_RATE: learned (`auto`, at most ROLE_SYNC_RATE_MAX) or a fixed number of starts a second. */
  readonly rate: RateSetting;
  readonly concurrency: number;
  readonly stateDir: string;
}

export class SettingsError extends Error {
  override readonly name = 'SettingsError';
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
  }
}

export const DEFAULT_BASE_URL = 'https://api.sandbox.parchmenthealth.io/external';
const DEFAULT_RATE_MAX = 50;
const DEFAULT_CONCURRENCY = 4;
const DEFAULT_STATE_DIR = './.role-sync';

const V = {
  baseUrl: 'PARCHMENT_BASE_URL',
  partnerId: 'PARCHMENT_PARTNER_ID',
  partnerSecret: 'PARCHMENT_PARTNER_SECRET',
  userId: 'PARCHMENT_USER_ID',
  accessToken: 'PARCHMENT_ACCESS_TOKEN',
  orgSecret: 'PARCHMENT_ORGANIZATION_SECRET',
  credentialsFile: 'PARCHMENT_CREDENTIALS_FILE',
  rate: 'ROLE_SYNC_RATE',
  rateMax: 'ROLE_SYNC_RATE_MAX',
  concurrency: 'ROLE_SYNC_CONCURRENCY',
  stateDir: 'ROLE_SYNC_STATE_DIR',
} as const;

export async function loadSettings(
  env: NodeJS.ProcessEnv,
  organizations: readonly OrgId[],
): Promise<ParchmentSettings> {
  const baseUrl = parseBaseUrl(plain(env, V.baseUrl) ?? DEFAULT_BASE_URL);
  const rate = parseRate(plain(env, V.rate), plain(env, V.rateMax));
  const concurrency = parseConcurrency(plain(env, V.concurrency));
  const stateDir = plain(env, V.stateDir) ?? DEFAULT_STATE_DIR;

  const credentialsPath = plain(env, V.credentialsFile);
  const file = credentialsPath === undefined ? undefined : await readCredentialsFile(credentialsPath);

  const [partnerId, partnerSecret, userIdText, accessToken, orgSecret] = await Promise.all([
    credential(env, V.partnerId),
    credential(env, V.partnerSecret),
    credential(env, V.userId),
    credential(env, V.accessToken),
    credential(env, V.orgSecret),
  ]);

  const userId =
    userIdText === undefined ? fromFile(file?.userId, credentialsPath, 'userId') : fromEnv(userIdText, V.userId);
  const orgs = resolveOrganizations(organizations, orgSecret, file?.organizations, credentialsPath, userId);
  const everyOrgHasUser = [...orgs.values()].every((o) => o.actingUser !== undefined);
  const auth = resolveAuth({
    partnerId: partnerId ?? file?.partnerId,
    partnerSecret: partnerSecret ?? file?.partnerSecret,
    userId,
    everyOrgHasUser,
    accessToken: accessToken ?? file?.accessToken,
  });

  return {
    baseUrl,
    auth,
    organizations: orgs,
    rate,
    concurrency,
    stateDir,
  };
}

export const STATUS_TOKEN_VARIABLE = 'ROLE_SYNC_STATUS_TOKEN';
/** Long enough that guessing it over HTTP is hopeless; `openssl rand -hex 32` gives 64. */
const MIN_STATUS_TOKEN_LENGTH = 16;

/**
 * ROLE_SYNC_STATUS_TOKEN (or `_FILE`): the bearer token that unlocks the daemon's full `/status`.
 * Undefined when unset: then only the summary, which holds no personal data, is served.
 */
export async function loadStatusToken(env: NodeJS.ProcessEnv): Promise<string | undefined> {
  const token = await credential(env, STATUS_TOKEN_VARIABLE);
  if (token === undefined) return undefined;
  if (token.length < MIN_STATUS_TOKEN_LENGTH || /\s/.test(token)) {
    throw new SettingsError(
      STATUS_TOKEN_VARIABLE,
      `must be at least ${MIN_STATUS_TOKEN_LENGTH} characters with no spaces (e.g. from "openssl rand -hex 32")`,
    );
  }
  return token;
}

/** A set, non-empty variable; an empty value counts as unset, as container env files often leave them. */
function plain(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value === '' ? undefined : value;
}

/** Far above any real secret; a larger "secret" is the wrong file (or /dev/zero). */
const MAX_SECRET_FILE_BYTES = 64 * 1024;
/** About 5,000 organizations' entries: beyond any partner, and read in milliseconds. */
const MAX_CREDENTIALS_FILE_BYTES = 1024 * 1024;

/**
 * A file a setting names, read whole: only a regular file, and at most `maxBytes`, so that a FIFO
 * or a device named by mistake (or by an attacker who can set the environment) neither hangs
 * start-up nor fills memory.
 */
async function readSettingsFile(setting: string, path: string, maxBytes: number): Promise<string> {
  let read;
  try {
    read = await readBoundedFile(path, maxBytes);
  } catch (err) {
    throw new SettingsError(setting, `cannot read ${path} (${errorCode(err)})`);
  }
  switch (read.kind) {
    case 'read':
      return read.bytes.toString('utf8');
    case 'not-regular':
      throw new SettingsError(setting, `cannot read ${path}: it is ${read.what}, not a regular file`);
    case 'too-large':
      throw new SettingsError(setting, `${path} is larger than ${maxBytes} bytes, the most role-sync reads there`);
  }
}

/** `NAME` or `NAME_FILE` (a Kubernetes secret mount), never both. */
async function credential(env: NodeJS.ProcessEnv, name: string): Promise<string | undefined> {
  const direct = plain(env, name);
  const path = plain(env, `${name}_FILE`);
  if (direct !== undefined && path !== undefined) {
    throw new SettingsError(name, `set either ${name} or ${name}_FILE, not both`);
  }
  if (path === undefined) return direct;
  const text = await readSettingsFile(`${name}_FILE`, path, MAX_SECRET_FILE_BYTES);
  const value = text.replace(/\r?\n$/, '');
  if (value === '') throw new SettingsError(`${name}_FILE`, `${path} is empty`);
  return value;
}

function parseBaseUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new SettingsError(V.baseUrl, 'not a valid URL');
  }
  if (url.username !== '' || url.password !== '') {
    throw new SettingsError(V.baseUrl, 'must not carry credentials; use the PARCHMENT_* secret variables');
  }
  if (url.search !== '' || url.hash !== '') {
    throw new SettingsError(V.baseUrl, 'must not have a query or fragment');
  }
  if (url.protocol === 'http:') {
    if (!isLoopback(url.hostname)) {
      throw new SettingsError(
        V.baseUrl,
        'http:// is allowed only for a loopback host (127.0.0.0/8, ::1, localhost); use https://',
      );
    }
  } else if (url.protocol !== 'https:') {
    throw new SettingsError(V.baseUrl, 'must be an https:// URL');
  }
  return url;
}

function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1' || host === '0:0:0:0:0:0:0:1';
}

/**
 * ROLE_SYNC_RATE_MAX is checked even beside a fixed rate, where it is not used, so a typo never
 * waits for a later change of ROLE_SYNC_RATE to surface.
 */
function parseRate(text: string | undefined, maxText: string | undefined): RateSetting {
  const maxPerSecond = maxText === undefined ? DEFAULT_RATE_MAX : positiveNumber(maxText, V.rateMax);
  if (text === undefined || text.trim().toLowerCase() === 'auto') return { kind: 'auto', maxPerSecond };
  return { kind: 'fixed', perSecond: positiveNumber(text, V.rate, ' or auto') };
}

function positiveNumber(text: string, variable: string, alternative = ''): number {
  const n = Number(text.trim());
  if (text.trim() === '' || !Number.isFinite(n) || n <= 0) {
    throw new SettingsError(variable, `must be a number greater than 0${alternative}`);
  }
  return n;
}

function parseConcurrency(text: string | undefined): number {
  if (text === undefined) return DEFAULT_CONCURRENCY;
  const t = text.trim();
  if (!/^\d+$/.test(t) || Number(t) < 1 || !Number.isSafeInteger(Number(t))) {
    throw new SettingsError(V.concurrency, 'must be a whole number of at least 1');
  }
  return Number(t);
}

// ---------------------------------------------------------------------------
// Credentials file

const nonEmpty = z.string().min(1, 'must be a non-empty string');
const CredentialsFileSchema = z.strictObject({
  organizations: z.record(z.string(), z.strictObject({ secret: nonEmpty, userId: nonEmpty.optional() })).optional(),
  partnerId: nonEmpty.optional(),
  partnerSecret: nonEmpty.optional(),
  userId: nonEmpty.optional(),
  accessToken: nonEmpty.optional(),
});
type CredentialsFile = z.infer<typeof CredentialsFileSchema>;

async function readCredentialsFile(path: string): Promise<CredentialsFile> {
  const text = await readSettingsFile(V.credentialsFile, path, MAX_CREDENTIALS_FILE_BYTES);
  let raw: unknown;
  try {
    // YAML is a superset of JSON, so one parser reads both forms.
    raw = parseYaml(text, { logLevel: 'error' });
  } catch (err) {
    // The parser's message quotes the offending line, which may hold a secret: keep only the position.
    const pos = (err as { linePos?: readonly { line: number; col: number }[] }).linePos?.[0];
    throw new SettingsError(
      V.credentialsFile,
      `${path}${pos ? `:${pos.line}:${pos.col}` : ''}: not valid YAML or JSON`,
    );
  }
  const parsed = CredentialsFileSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const key = issue && issue.path.length > 0 ? issue.path.join('.') : '(top level)';
    throw new SettingsError(V.credentialsFile, `${path}: ${key}: ${describeIssue(issue)}`);
  }
  return parsed.data;
}

/** zod messages name types and keys, not received values; unrecognized keys are listed by name. */
function describeIssue(issue: z.core.$ZodIssue | undefined): string {
  if (issue === undefined) return 'invalid';
  if (issue.code === 'unrecognized_keys') return `unknown key(s) ${issue.keys.join(', ')}`;
  return issue.message;
}

function fromFile(value: string | undefined, path: string | undefined, key: string): UserId | undefined {
  if (value === undefined) return undefined;
  const id = parseUserId(value);
  if (id === undefined)
    throw new SettingsError(V.credentialsFile, `${path ?? ''}: ${key}: not a valid Parchment user id`);
  return id;
}

function fromEnv(value: string, variable: string): UserId {
  const id = parseUserId(value.trim());
  if (id === undefined) throw new SettingsError(variable, 'not a valid Parchment user id');
  return id;
}

// ---------------------------------------------------------------------------
// Resolution

interface AuthInputs {
  readonly partnerId: string | undefined;
  readonly partnerSecret: string | undefined;
  readonly userId: UserId | undefined;
  /** Every requested organization has an acting user (its own, or PARCHMENT_USER_ID). */
  readonly everyOrgHasUser: boolean;
  readonly accessToken: string | undefined;
}

function resolveAuth({ partnerId, partnerSecret, userId, everyOrgHasUser, accessToken }: AuthInputs): AuthSettings {
  if (accessToken !== undefined) {
    return {
      kind: 'token',
      accessToken,
      ...(userId === undefined ? {} : { userId }),
      ...(partnerSecret === undefined ? {} : { partnerSecret }),
    };
  }
  if (partnerId !== undefined && partnerSecret !== undefined && everyOrgHasUser) {
    return userId === undefined
      ? { kind: 'partner', partnerId, partnerSecret }
      : { kind: 'partner', partnerId, partnerSecret, userId };
  }
  const missing = [
    partnerId === undefined ? V.partnerId : undefined,
    partnerSecret === undefined ? V.partnerSecret : undefined,
    everyOrgHasUser ? undefined : V.userId,
  ].filter((v) => v !== undefined);
  throw new SettingsError(
    missing[0] ?? V.partnerId,
    `missing; minting tokens needs ${V.partnerId}, ${V.partnerSecret} and ${V.userId} ` +
      `(or set ${V.accessToken} instead). Missing: ${missing.join(', ')}`,
  );
}

function resolveOrganizations(
  requested: readonly OrgId[],
  envSecret: string | undefined,
  fileOrgs: CredentialsFile['organizations'],
  credentialsPath: string | undefined,
  defaultUser: UserId | undefined,
): ReadonlyMap<OrgId, OrgCredentials> {
  const unique = [...new Set(requested)];
  if (envSecret !== undefined && unique.length !== 1) {
    throw new SettingsError(
      V.orgSecret,
      `only usable when exactly one organization is requested (${unique.length} are); ` +
        `use ${V.credentialsFile} for several`,
    );
  }
  const fileEntries = new Map<OrgId, { secret: string; userId: UserId | undefined }>();
  for (const [key, value] of Object.entries(fileOrgs ?? {})) {
    const id = parseOrgId(key);
    if (id === undefined)
      throw new SettingsError(
        V.credentialsFile,
        `${credentialsPath ?? ''}: organizations.${key}: not a UUID organization id`,
      );
    fileEntries.set(id, {
      secret: value.secret,
      userId: fromFile(value.userId, credentialsPath, `organizations.${key}.userId`),
    });
  }
  const result = new Map<OrgId, OrgCredentials>();
  for (const org of unique) {
    const secret = envSecret ?? fileEntries.get(org)?.secret;
    if (secret === undefined) {
      throw new SettingsError(
        unique.length === 1 ? V.orgSecret : V.credentialsFile,
        `no secret for organization ${org}; set ${V.orgSecret} (one organization) ` +
          `or organizations.${org}.secret in ${V.credentialsFile}`,
      );
    }
    const actingUser = fileEntries.get(org)?.userId ?? defaultUser;
    result.set(
      org,
      actingUser === undefined ? { organizationId: org, secret } : { organizationId: org, secret, actingUser },
    );
  }
  return result;
}

function errorCode(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : 'error';
}

/**
 * The organizations PARCHMENT_CREDENTIALS_FILE holds secrets for: what `export` reads when no `--org`
 * is given. PARCHMENT_ORGANIZATION_SECRET alone names no organization, so it adds none.
 */
export async function credentialedOrganizations(env: NodeJS.ProcessEnv): Promise<OrgId[]> {
  const path = plain(env, V.credentialsFile);
  if (path === undefined) return [];
  const file = await readCredentialsFile(path);
  return Object.keys(file.organizations ?? {}).map((key) => {
    const id = parseOrgId(key);
    if (id === undefined)
      throw new SettingsError(V.credentialsFile, `${path}: organizations.${key}: not a UUID organization id`);
    return id;
  });
}
