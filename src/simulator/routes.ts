import type { IncomingHttpHeaders } from 'node:http';
import { isAssignableRole } from '../core/domain.js';
import { failure, problemForStatus, problems, success, type Outcome, type ValidationItem } from './envelopes.js';
import { overlapPage, readAnswerUser, rolesAnswerUserId } from './hostile.js';
import { retryAfterHeaders } from './rate-limit.js';
import { normalizeOrgId, normalizeUserId } from './seed.js';
import type { SimState } from './state.js';
import type { TokenGrant, TokenStore } from './tokens.js';
import type { SimConfig, SimSeed, SimUser } from './types.js';

/** The `TokenRequest.scope` enum of the OpenAPI document. */
export const TOKEN_SCOPES = [
  'create:patient',
  'read:patient',
  'update:patient',
  'read:patient_prescription',
  'create:user',
  'read:user',
  'read:users',
  'read:custom_drug',
  'create:custom_drug',
  'update:custom_drug',
  'delete:custom_drug',
  'update:user',
  'delete:user',
] as const;

export interface ApiRequest {
  method: string;
  params: Record<string, string>;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  /** The parsed JSON body; `undefined` when there was none. */
  body: unknown;
  bodyInvalid: boolean;
}

export interface RouteDeps {
  state: SimState;
  tokens: TokenStore;
  partners: SimSeed['partners'];
  config: () => SimConfig;
  nowMs: () => number;
}

type Handler = (req: ApiRequest, deps: RouteDeps) => Outcome;

export interface Route {
  method: string;
  /** The documented path template, relative to `/external`. */
  template: string;
  handler: Handler;
  /** Token answers carry `meta` (`apiVersion`, `responseTime`), as the token page shows. */
  withMeta?: boolean;
}

function header(req: ApiRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

// ---------------------------------------------------------------------------
// POST /v1/token

function enumMessage(allowed: readonly string[], received: unknown): string {
  return `Invalid enum value. Expected ${allowed.map((s) => `'${s}'`).join(' | ')}, received '${String(received)}'`;
}

function typeName(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}

function validateTokenBody(body: unknown): { scopes: string[] } | ValidationItem[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return [{ field: 'body', message: `Expected object, received ${typeName(body)}`, code: 'VALIDATION_ERROR' }];
  }
  const { grantType, scope } = body as { grantType?: unknown; scope?: unknown };
  const issues: ValidationItem[] = [];
  if (grantType === undefined) issues.push({ field: 'grantType', message: 'Required', code: 'VALIDATION_ERROR' });
  else if (grantType !== 'client_credentials') {
    issues.push({
      field: 'grantType',
      message: enumMessage(['client_credentials'], grantType),
      code: 'VALIDATION_ERROR',
    });
  }
  if (scope === undefined) issues.push({ field: 'scope', message: 'Required', code: 'VALIDATION_ERROR' });
  else if (!Array.isArray(scope))
    issues.push({ field: 'scope', message: `Expected array, received ${typeName(scope)}`, code: 'VALIDATION_ERROR' });
  else {
    for (const s of scope) {
      if (!(TOKEN_SCOPES as readonly unknown[]).includes(s)) {
        issues.push({ field: 'scope', message: enumMessage(TOKEN_SCOPES, s), code: 'VALIDATION_ERROR' });
      }
    }
  }
  return issues.length > 0 ? issues : { scopes: [...new Set(scope as string[])] };
}

const mintToken: Handler = (req, deps) => {
  const partnerId = header(req, 'x-partner-id');
  const partnerSecret = header(req, 'x-partner-secret');
  if (!deps.partners.some((p) => p.partnerId === partnerId && p.partnerSecret === partnerSecret)) {
    return failure(401, problems.unauthorized('Invalid partner credentials provided.'));
  }
  if (req.bodyInvalid) return failure(400, problems.invalidRequest('Request body must be valid JSON'));
  const body = validateTokenBody(req.body);
  if (Array.isArray(body)) return failure(422, problems.validation(body));
  const orgId = header(req, 'x-organization-id') ?? '';
  const orgSecret = header(req, 'x-organization-secret');
  if (!deps.state.hasOrg(orgId) || orgSecret === undefined || deps.state.orgSecret(orgId) !== orgSecret) {
    return failure(401, problems.unauthorized('Invalid organization credentials provided.'));
  }
  const userId = header(req, 'x-user-id') ?? '';
  const user = deps.state.user(orgId, userId);
  // A disabled user cannot sign in, so it cannot act through a token either.
  if (!user || user.disabled === true)
    return failure(401, problems.unauthorized('Invalid user for this organization.'));
  const ttl = deps.config().tokenTtlSeconds;
  const now = deps.nowMs();
  const accessToken = deps.tokens.mint(
    { orgId: normalizeOrgId(orgId), userId: user.id, scopes: body.scopes, expiresAt: now + ttl * 1000 },
    now,
  );
  return success('Token generated successfully', {
    accessToken,
    expiresIn: ttl,
    tokenType: 'Bearer',
    scope: body.scopes,
  });
};

// ---------------------------------------------------------------------------
// Checks shared by every call that needs a bearer token and the organization secret

function authorize(req: ApiRequest, deps: RouteDeps, scope: string): TokenGrant | Outcome {
  const auth = header(req, 'authorization');
  const m = auth === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(auth);
  if (!m) return failure(401, problems.unauthorized('Valid authentication token is required'));
  const check = deps.tokens.check(m[1] as string, deps.nowMs());
  if (check.kind === 'invalid')
    return failure(401, problems.unauthorized(check.reason === 'expired' ? 'token expired' : 'invalid token'));
  const orgId = normalizeOrgId(req.params['organization_id'] ?? '');
  if (check.grant.orgId !== orgId)
    return failure(403, problems.accessDenied('Token is not valid for this organization'));
  const secret = header(req, 'x-organization-secret');
  if (secret === undefined || secret === '')
    return failure(401, problems.unauthorized('Missing x-organization-secret'));
  if (deps.state.orgSecret(orgId) !== secret)
    return failure(401, problems.unauthorized('Invalid x-organization-secret'));
  if (!check.grant.scopes.includes(scope)) return failure(403, problems.insufficientScope(scope));
  return check.grant;
}

function isOutcome(v: TokenGrant | Outcome): v is Outcome {
  return 'kind' in v;
}

// ---------------------------------------------------------------------------
// Users

function fullName(u: SimUser): string {
  return u.fullName ?? u.email;
}

/** The RS shape documents no item fields; it carries email and roles, so one shape has both. */
function rsItem(u: SimUser): Record<string, unknown> {
  return { user_id: u.id, email: u.email, full_name: fullName(u), access_roles: u.roles };
}

/** Exactly the vendor's OpenAPI example: no email (and no name derived from it), so emails come only from read-user. */
function oasItem(u: SimUser): Record<string, unknown> {
  return { user_id: u.id, external_user_id: `SIM#${u.id}`, full_name: u.fullName ?? '', access_roles: u.roles };
}

const LIMIT = /^\d{1,3}$/;

const listUsers: Handler = (req, deps) => {
  const grant = authorize(req, deps, 'read:users');
  if (isOutcome(grant)) return grant;
  const orgId = req.params['organization_id'] as string;
  const config = deps.config();
  if (config.listShape === 'bare') {
    // The LIST page: every user at once, ids and emails only, limit and lastKey ignored.
    const users = deps.state.allUsers(orgId);
    return success(
      `Retrieved ${users.length} users successfully`,
      users.map((u) => ({ user_id: u.id, email: u.email })),
    );
  }
  const limitText = req.query.get('limit');
  const limit = limitText === null ? 20 : LIMIT.test(limitText) ? Number(limitText) : NaN;
  if (!(limit >= 1 && limit <= 100))
    return failure(400, problems.badRequest('limit must be an integer between 1 and 100'));
  const lastKey = req.query.get('lastKey') || undefined;
  const size = Math.min(limit, config.pageSize);
  const found = deps.state.page(orgId, size, lastKey);
  if (found === 'invalid-key') return failure(400, problems.badRequest('Invalid lastKey'));
  const page = overlapPage(config, deps.state, orgId, found);
  if (config.listShape === 'rs') {
    const items = page.users.map(rsItem);
    return success('Users retrieved successfully', items, {
      count: items.length,
      hasNext: page.nextKey !== undefined,
      limit: size,
      offset: page.offset,
      lastKey: page.nextKey ?? null,
    });
  }
  return success('Users retrieved successfully', {
    users: page.users.map(oasItem),
    pagination: { total: page.total, limit: size, lastKey: page.nextKey ?? null },
  });
};

function nameParts(u: SimUser): { title: string | null; given: string; family: string } {
  const words = fullName(u).split(/\s+/);
  const title = words[0] === 'Dr' && words.length > 2 ? 'Dr' : null;
  const rest = title ? words.slice(1) : words;
  return { title, given: rest[0] ?? '', family: rest.slice(1).join(' ') };
}

/** Digits derived from the user id, so placeholder numbers are stable across runs. */
function digits(seed: string, count: number): string {
  let h = 2166136261;
  let out = '';
  for (let i = 0; out.length < count; i++) {
    h = Math.imul(h ^ seed.charCodeAt(i % seed.length), 16777619) >>> 0;
    out += String(h % 10);
  }
  return out;
}

/** The read-user page's current shape (with `details`); provider-only fields are stable placeholders. */
function userDetails(u: SimUser): Record<string, unknown> {
  const { title, given, family } = nameParts(u);
  const isProvider = u.roles.includes('provider') || u.roles.includes('rx_queue_manager');
  const dob = isProvider ? '1970-01-01T00:00:00.000Z' : null;
  const sex = isProvider ? 'O' : null;
  const providerDetails = {
    title,
    given_name: given,
    family_name: family,
    prescriber_type: 'M',
    prescriber_number: digits(u.id, 7),
    ahpra_number: `MED${digits(`${u.id}#ahpra`, 10)}`,
    date_of_birth: dob,
    sex,
  };
  return {
    user_id: u.id,
    email: u.email,
    full_name: fullName(u),
    access_roles: u.roles,
    details: { given_name: given, family_name: family, title, date_of_birth: dob, sex },
    ...(isProvider ? { provider_details: providerDetails } : {}),
  };
}

const readUser: Handler = (req, deps) => {
  const grant = authorize(req, deps, 'read:user');
  if (isOutcome(grant)) return grant;
  const orgId = req.params['organization_id'] as string;
  const user = deps.state.user(orgId, req.params['user_id'] as string);
  if (!user) return failure(404, problems.userNotFound());
  return success(
    'User details retrieved successfully',
    userDetails(readAnswerUser(deps.config(), deps.state, orgId, user)),
  );
};

const INVALID_ROLES = 'access_roles must be a non-empty array of valid roles';

const updateRoles: Handler = (req, deps) => {
  const grant = authorize(req, deps, 'update:user');
  if (isOutcome(grant)) return grant;
  const orgId = req.params['organization_id'] as string;
  const userId = req.params['user_id'] as string;
  const config = deps.config();
  const forced = config.failUser[normalizeUserId(userId)];
  if (forced !== undefined) {
    return failure(
      forced,
      problemForStatus(forced),
      forced === 429 ? retryAfterHeaders(config.retryAfter, 1, Date.now()) : undefined,
    );
  }
  if (req.bodyInvalid) return failure(400, problems.invalidRequest(INVALID_ROLES));
  const roles = (req.body as { access_roles?: unknown } | undefined)?.access_roles;
  if (
    !Array.isArray(roles) ||
    roles.length === 0 ||
    !roles.every((r) => typeof r === 'string' && isAssignableRole(r))
  ) {
    return failure(400, problems.invalidRequest(INVALID_ROLES));
  }
  // ROLES and HELP: rx_reader must be combined with receptionist.
  if (roles.includes('rx_reader') && !roles.includes('receptionist')) {
    return failure(400, problems.invalidRequest('rx_reader must be combined with receptionist'));
  }
  const user = deps.state.user(orgId, userId);
  if (!user) return failure(404, problems.userNotFound());
  // Undocumented: a disabled user's roles cannot change until it is enabled (its roles are member only).
  if (user.disabled === true)
    return failure(409, problems.conflict('User is disabled; enable the user before changing roles'));
  const next = [...new Set(roles as string[])];
  deps.state.setRoles(orgId, user.id, next);
  return success('User roles updated successfully', {
    user_id: rolesAnswerUserId(deps.config(), user),
    access_roles: next,
  });
};

function toggle(kind: 'disable' | 'enable'): Handler {
  return (req, deps) => {
    const grant = authorize(req, deps, 'update:user');
    if (isOutcome(grant)) return grant;
    const orgId = req.params['organization_id'] as string;
    const userId = req.params['user_id'] as string;
    const user = deps.state.user(orgId, userId);
    if (!user) return failure(404, problems.userNotFound());
    const result = kind === 'disable' ? deps.state.disable(orgId, user.id) : deps.state.enable(orgId, user.id);
    const message =
      kind === 'disable'
        ? result === 'changed'
          ? 'User disabled successfully'
          : 'User is already disabled'
        : result === 'changed'
          ? 'User enabled successfully'
          : 'User is already enabled';
    return success(message, { user_id: user.id });
  };
}

export const LIST_USERS_TEMPLATE = '/v1/organizations/{organization_id}/users';

export const ROUTES: readonly Route[] = [
  { method: 'POST', template: '/v1/token', handler: mintToken, withMeta: true },
  { method: 'GET', template: LIST_USERS_TEMPLATE, handler: listUsers },
  { method: 'GET', template: '/v1/organizations/{organization_id}/users/{user_id}', handler: readUser },
  { method: 'PUT', template: '/v1/organizations/{organization_id}/users/{user_id}/roles', handler: updateRoles },
  {
    method: 'PUT',
    template: '/v1/organizations/{organization_id}/users/{user_id}/disable',
    handler: toggle('disable'),
  },
  { method: 'PUT', template: '/v1/organizations/{organization_id}/users/{user_id}/enable', handler: toggle('enable') },
];

export interface RouteMatch {
  route: Route;
  params: Record<string, string>;
}

/** Matches a path relative to `/external`; parameters are percent-decoded. */
export function matchRoute(method: string, path: string): RouteMatch | undefined {
  const segments = path.split('/');
  for (const route of ROUTES) {
    if (route.method !== method) continue;
    const parts = route.template.split('/');
    if (parts.length !== segments.length) continue;
    const params: Record<string, string> = {};
    let ok = true;
    for (let i = 0; i < parts.length && ok; i++) {
      const part = parts[i] as string;
      const seg = segments[i] as string;
      if (part.startsWith('{')) {
        let value: string;
        try {
          value = decodeURIComponent(seg);
        } catch {
          value = '';
        }
        ok = value !== '';
        params[part.slice(1, -1)] = value;
      } else ok = part === seg;
    }
    if (ok) return { route, params };
  }
  return undefined;
}
