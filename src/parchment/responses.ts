/**
 * Lenient readers for Parchment's response bodies. The docs disagree on almost every shape
 * (docs/parchment-api.md), so each reader accepts every documented variant, ignores fields it
 * does not need, and reports a body it cannot use as a `problem` string for the caller to wrap
 * with request context. Pure: no I/O. Problem strings never quote body values.
 */
import * as z from 'zod';
import { asLiveRole, parseEmail, parseUserId, type LiveRole, type UserId } from '../core/domain.js';
import type { ObservedUser } from '../core/observed-state.js';
import { defined } from '../core/objects.js';
import type { ValidationItem } from './errors.js';

export type Parsed<T> =
  { readonly kind: 'parsed'; readonly value: T } | { readonly kind: 'invalid'; readonly problem: string };

const ok = <T>(value: T): Parsed<T> => ({ kind: 'parsed', value });
const fail = <T>(problem: string): Parsed<T> => ({ kind: 'invalid', problem });

/** A field of the wrong type is treated as absent rather than failing the whole body. */
const looseString = z.string().optional().catch(undefined);
const looseNumber = z.number().optional().catch(undefined);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function requestIdOf(body: unknown): string | undefined {
  return isRecord(body) && typeof body['requestId'] === 'string' && body['requestId'] !== ''
    ? body['requestId']
    : undefined;
}

function describeIssues(error: z.ZodError, prefix: string): string {
  return error.issues
    .slice(0, 3)
    .map((i) => `${[prefix, ...i.path.map(String)].filter((s) => s !== '').join('.')}: ${i.message}`)
    .join('; ');
}

// ---------------------------------------------------------------------------
// Users

const UserItemSchema = z.looseObject({
  user_id: z.string().min(1).optional(),
  parchment_user_id: z.string().min(1).optional(),
  email: z.string().nullish().catch(undefined),
  full_name: z.string().nullish().catch(undefined),
  // Roles drive writes, so a malformed list is an error, not something to guess around.
  access_roles: z.array(z.string()).nullish(),
});

/** UUIDs are lower-cased like the desired-state file's ids; any other id is kept opaque. */
function liveUserId(raw: string): UserId {
  return parseUserId(raw) ?? (raw as UserId);
}

function parseUserItem(item: unknown, where: string): Parsed<ObservedUser> {
  const parsed = UserItemSchema.safeParse(item);
  if (!parsed.success) return fail(describeIssues(parsed.error, where));
  const u = parsed.data;
  const rawId = u.user_id ?? u.parchment_user_id;
  if (rawId === undefined) return fail(`${where}: no user_id or parchment_user_id`);
  const email = typeof u.email === 'string' ? parseEmail(u.email.trim()) : undefined;
  return ok(
    defined({
      id: liveUserId(rawId),
      email,
      fullName: typeof u.full_name === 'string' && u.full_name !== '' ? u.full_name : undefined,
      roles: Array.isArray(u.access_roles) ? u.access_roles.map(asLiveRole) : undefined,
    }),
  );
}

/** `GET …/users/{user_id}`: `data` is the user object. */
export function parseUserBody(body: unknown): Parsed<ObservedUser> {
  if (!isRecord(body) || !isRecord(body['data'])) return fail('body has no data object');
  return parseUserItem(body['data'], 'data');
}

export interface UserListPage {
  readonly users: readonly ObservedUser[];
  /** The cursor for the next page; undefined when this is the last page. */
  readonly nextKey?: string;
}

const PaginationSchema = z.looseObject({
  lastKey: z.string().nullish(),
  hasNext: z.boolean().optional().catch(undefined),
});

/**
 * `GET …/users`, in any of the three documented shapes: `data.users` + `data.pagination` (OAS),
 * bare `data[]` with no pagination (LIST), bare `data[]` + top-level `pagination` (RS).
 */
export function parseUserListBody(body: unknown): Parsed<UserListPage> {
  if (!isRecord(body)) return fail('body is not a JSON object');
  const data = body['data'];
  let items: readonly unknown[];
  let itemsAt: string;
  const paginations: { readonly at: string; readonly value: unknown }[] = [
    { at: 'pagination', value: body['pagination'] },
  ];
  if (Array.isArray(data)) {
    items = data;
    itemsAt = 'data';
  } else if (isRecord(data) && Array.isArray(data['users'])) {
    items = data['users'];
    itemsAt = 'data.users';
    paginations.push({ at: 'data.pagination', value: data['pagination'] });
  } else {
    return fail('data is neither an array of users nor an object with a users array');
  }

  const users: ObservedUser[] = [];
  for (const [i, item] of items.entries()) {
    const user = parseUserItem(item, `${itemsAt}[${i}]`);
    if (user.kind === 'invalid') return user;
    users.push(user.value);
  }

  let nextKey: string | undefined;
  let hasNext: boolean | undefined;
  for (const p of paginations) {
    if (p.value === undefined || p.value === null) continue;
    const parsed = PaginationSchema.safeParse(p.value);
    if (!parsed.success) return fail(describeIssues(parsed.error, p.at));
    nextKey ??= parsed.data.lastKey ?? undefined;
    hasNext ??= parsed.data.hasNext;
  }
  const more = hasNext !== false && nextKey !== undefined && nextKey !== '';
  return ok(more && nextKey !== undefined ? { users, nextKey } : { users });
}

const RolesBodySchema = z.looseObject({
  data: z.looseObject({ user_id: z.string().min(1).optional(), access_roles: z.array(z.string()) }),
});

export interface RolesAnswer {
  /** What Parchment actually stored. */
  readonly roles: readonly LiveRole[];
  /** Whom the answer is about, when it says. */
  readonly userId?: UserId;
}

/** `PUT …/roles`: `data.access_roles` is what Parchment stored, `data.user_id` whose roles they are. */
export function parseRolesBody(body: unknown): Parsed<RolesAnswer> {
  const parsed = RolesBodySchema.safeParse(body);
  if (!parsed.success) return fail(describeIssues(parsed.error, ''));
  const { user_id: rawId, access_roles: roles } = parsed.data.data;
  return ok({ roles: roles.map(asLiveRole), ...(rawId === undefined ? {} : { userId: liveUserId(rawId) }) });
}

const UserIdBodySchema = z.looseObject({
  data: z.looseObject({ user_id: z.string().min(1) }),
});

/** `PUT …/disable` and `PUT …/enable`: `data.user_id` names the user the call acted on. */
export function parseUserIdBody(body: unknown): Parsed<UserId> {
  const parsed = UserIdBodySchema.safeParse(body);
  if (!parsed.success) return fail(describeIssues(parsed.error, ''));
  return ok(liveUserId(parsed.data.data.user_id));
}

// ---------------------------------------------------------------------------
// Token

export interface TokenGrant {
  readonly accessToken: string;
  /** Seconds; undefined when the response does not say. */
  readonly expiresIn?: number;
  /** Granted scopes; undefined when the response does not say. */
  readonly scope?: readonly string[];
}

/**
 * Documented form `data.accessToken`/`data.expiresIn`; Parchment's Postman scripts read top-level
 * `access_token`/`expires_in`. Every spelling is accepted.
 */
export function parseTokenBody(body: unknown): Parsed<TokenGrant> {
  if (!isRecord(body)) return fail('body is not a JSON object');
  const data = isRecord(body['data']) ? body['data'] : {};
  const accessToken = firstString(data['accessToken'], data['access_token'], body['access_token'], body['accessToken']);
  if (accessToken === undefined) return fail('no data.accessToken or access_token in the token response');
  const expiresIn = firstPositive(data['expiresIn'], data['expires_in'], body['expires_in'], body['expiresIn']);
  const scope = scopeList(data['scope'] ?? body['scope']);
  return ok(defined({ accessToken, expiresIn, scope }));
}

function firstString(...values: unknown[]): string | undefined {
  return values.find((v): v is string => typeof v === 'string' && v !== '');
}

function firstPositive(...values: unknown[]): number | undefined {
  for (const v of values) {
    const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
    if (typeof n === 'number' && Number.isFinite(n) && n > 0) return n;
  }
  return undefined;
}

/** An array of scopes, or an OAuth-style space-separated string. */
function scopeList(value: unknown): readonly string[] | undefined {
  if (Array.isArray(value)) return value.filter((s): s is string => typeof s === 'string');
  if (typeof value === 'string') return value.split(/\s+/).filter((s) => s !== '');
  return undefined;
}

// ---------------------------------------------------------------------------
// Errors

export interface ErrorBodyFields {
  readonly bodyStatusCode?: number;
  readonly code?: string;
  readonly type?: string;
  readonly title?: string;
  readonly detail?: string;
  readonly validation?: readonly ValidationItem[];
  readonly requestId?: string;
  /** Set when the body is not Parchment's error envelope. */
  readonly bodySummary?: string;
}

const ValidationItemSchema = z.looseObject({ field: looseString, message: looseString, code: looseString });
const ErrorEnvelopeSchema = z.looseObject({
  statusCode: looseNumber,
  code: looseString,
  requestId: looseString,
  message: looseString,
  error: z
    .looseObject({
      type: looseString,
      title: looseString,
      detail: looseString,
      validation: z.array(ValidationItemSchema).optional().catch(undefined),
    })
    .optional()
    .catch(undefined),
});

const SUMMARY_LIMIT = 200;

/**
 * Everything useful in an error response: the RFC 7807-in-envelope form, an API Gateway
 * `{"message": …}`, an HTML page or nothing at all. `body` is the parsed JSON (undefined if the text was not JSON).
 */
export function parseErrorBody(body: unknown, text: string): ErrorBodyFields {
  const parsed = ErrorEnvelopeSchema.safeParse(body);
  if (parsed.success) {
    const e = parsed.data;
    const fields = defined({
      bodyStatusCode: e.statusCode,
      code: e.code,
      requestId: e.requestId === '' ? undefined : e.requestId,
      type: e.error?.type,
      title: e.error?.title,
      detail: e.error?.detail,
      validation: e.error?.validation?.map((v) => defined({ field: v.field, message: v.message, code: v.code })),
    });
    if (e.error !== undefined) return fields;
    if (e.message !== undefined && e.message !== '') return { ...fields, bodySummary: truncate(e.message) };
  }
  return { bodySummary: summarizeText(text) };
}

function summarizeText(text: string): string {
  const plain = /^\s*</.test(text)
    ? text.replace(/<(script|style)[\s\S]*?<\/\1>/gi, ' ').replace(/<[^>]*>/g, ' ')
    : text;
  const collapsed = plain.replace(/\s+/g, ' ').trim();
  return collapsed === '' ? '(empty body)' : truncate(collapsed);
}

function truncate(text: string): string {
  return text.length > SUMMARY_LIMIT ? `${text.slice(0, SUMMARY_LIMIT)}…` : text;
}

/** `Retry-After` as delta-seconds or an HTTP date; anything else is undefined. */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  // Date.parse accepts many loose forms; an HTTP date always names the weekday and GMT.
  if (!/^[A-Za-z]{3,9}, .*GMT$/.test(v)) return undefined;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
