import { randomBytes } from 'node:crypto';
import { defined } from '../core/objects.js';

/** One field-level complaint in a 422 body (`error.validation[]`). */
export interface ValidationItem {
  field: string;
  message: string;
  code: 'VALIDATION_ERROR' | 'INVALID_FORMAT';
}

/** The RFC 7807 part of an error envelope plus the optional top-level `code`. */
export interface Problem {
  slug: string;
  title: string;
  detail: string;
  code?: string;
  validation?: ValidationItem[];
}

/** What a route decided; the server turns it into the documented envelope. */
export type Outcome =
  | {
      kind: 'success';
      status: number;
      message: string;
      data: unknown;
      /** The response-standards list shape puts pagination beside `data`. */
      pagination?: Record<string, unknown>;
    }
  | { kind: 'failure'; status: number; problem: Problem; headers?: Record<string, string> };

export function success(message: string, data: unknown, pagination?: Record<string, unknown>): Outcome {
  return defined({ kind: 'success', status: 200, message, data, pagination });
}

export function failure(status: number, problem: Problem, headers?: Record<string, string>): Outcome {
  return defined({ kind: 'failure', status, problem, headers });
}

/** The captured-looking form (AWS X-Ray trace id): `1-<8 hex epoch seconds>-<24 hex>`. */
export function newRequestId(now: Date): string {
  const seconds = Math.floor(now.getTime() / 1000)
    .toString(16)
    .padStart(8, '0');
  return `1-${seconds}-${randomBytes(12).toString('hex')}`;
}

export interface EnvelopeContext {
  requestId: string;
  now: Date;
  /** `/v1/token` answers carry `meta`; `responseTime` only on success. */
  meta?: { apiVersion: '1.0'; responseTime?: number };
}

export function renderEnvelope(outcome: Outcome, ctx: EnvelopeContext): Record<string, unknown> {
  const common = { timestamp: ctx.now.toISOString(), requestId: ctx.requestId };
  if (outcome.kind === 'success') {
    return defined({
      success: true,
      statusCode: outcome.status,
      message: outcome.message,
      data: outcome.data,
      ...common,
      pagination: outcome.pagination,
      meta: ctx.meta,
    });
  }
  const { slug, title, detail, code, validation } = outcome.problem;
  const meta = ctx.meta ? { apiVersion: ctx.meta.apiVersion } : undefined;
  return defined({
    success: false,
    statusCode: outcome.status,
    code,
    error: defined({ type: `https://parchment.health/errors/${slug}`, title, detail, validation }),
    ...common,
    meta,
  });
}

// Problems as the docs show them. Where pages disagree on a slug, the response-standards page's list wins.

export const problems = {
  unauthorized: (detail: string): Problem => ({
    slug: 'authentication-required',
    title: 'Unauthorized',
    detail,
    code: 'UNAUTHORIZED',
  }),
  accessDenied: (detail: string): Problem => ({ slug: 'access-denied', title: 'Forbidden', detail, code: 'FORBIDDEN' }),
  insufficientScope: (scope: string): Problem => ({
    slug: 'insufficient-scope',
    title: 'Insufficient permissions',
    detail: `This operation requires the '${scope}' scope`,
    code: 'FORBIDDEN',
  }),
  badRequest: (detail: string): Problem => ({ slug: 'bad-request', title: 'Bad Request', detail }),
  invalidRequest: (detail: string): Problem => ({ slug: 'invalid-request', title: 'Invalid request', detail }),
  validation: (validation: ValidationItem[]): Problem => ({
    slug: 'validation-error',
    title: 'Validation failed',
    detail: 'There were some problems with your input.',
    code: 'VALIDATION_ERROR',
    validation,
  }),
  userNotFound: (): Problem => ({
    slug: 'resource-not-found',
    title: 'Resource not found',
    detail: 'User not found',
    code: 'RESOURCE_NOT_FOUND',
  }),
  routeNotFound: (method: string, path: string): Problem => ({
    slug: 'resource-not-found',
    title: 'Resource not found',
    detail: `No route for ${method} ${path}`,
    code: 'RESOURCE_NOT_FOUND',
  }),
  conflict: (detail: string): Problem => ({ slug: 'resource-conflict', title: 'Resource conflict', detail }),
  rateLimited: (): Problem => ({
    slug: 'rate-limit-exceeded',
    title: 'Too many requests',
    detail: 'Rate limit exceeded. Please try again later.',
  }),
  internal: (): Problem => ({
    slug: 'internal-error',
    title: 'Internal server error',
    detail: 'An unexpected error occurred while processing your request',
  }),
  unavailable: (): Problem => ({
    slug: 'service-unavailable',
    title: 'Service unavailable',
    detail: 'External service temporarily unavailable',
  }),
  badGateway: (): Problem => ({
    slug: 'bad-gateway',
    title: 'Bad Gateway',
    detail: 'The upstream server returned an invalid response',
  }),
  payloadTooLarge: (): Problem => ({
    slug: 'invalid-request',
    title: 'Invalid request',
    detail: 'Request body is too large',
  }),
} as const;

/** The error a `failUser` status stands for: the documented body for that status on `PUT .../roles`. */
export function problemForStatus(status: number): Problem {
  switch (status) {
    case 400:
      return problems.invalidRequest('access_roles must be a non-empty array of valid roles');
    case 401:
      return problems.unauthorized('invalid token');
    case 403:
      return problems.insufficientScope('update:user');
    case 404:
      return problems.userNotFound();
    case 409:
      return problems.conflict('Role update conflict');
    case 422:
      return problems.validation([{ field: 'access_roles', message: 'Invalid roles', code: 'VALIDATION_ERROR' }]);
    case 429:
      return problems.rateLimited();
    case 502:
      return problems.badGateway();
    case 503:
      return problems.unavailable();
    default:
      return problems.internal();
  }
}

/** A load balancer's error page: what a 502 looks like in front of the real API. */
export function gatewayPage(status: number, problem: Problem): string {
  const title = `${status} ${problem.title}`;
  return [
    `<html><head><title>${title}</title><style>body{font-family:sans-serif}</style></head>`,
    `<body><h1>${title}</h1><p>${problem.detail}</p><hr><address>simulator gateway</address></body></html>`,
  ].join('\n');
}

/**
 * The hostile `echoSecrets` mode: the problem quotes every credential the request carried and the
 * partner secrets the simulator knows, the way a debugging handler dumps the request.
 */
export function echoCredentials(problem: Problem, credentials: readonly string[]): Problem {
  if (credentials.length === 0) return problem;
  const quoted = credentials.join('; ');
  return { ...problem, title: `${problem.title} [${quoted}]`, detail: `${problem.detail} (request was: ${quoted})` };
}
