/**
 * What a Parchment call can fail with. Each error is a plain value carrying its context (method,
 * route template, organization, user, status, requestId) and nothing else: no got options, no
 * request or response objects, no cause chain, so util.inspect, JSON.stringify and pino's error
 * serializer can never reach a header holding a token or secret.
 *
 * Decisions branch on `status` and `code`, never on `type`: the docs name one error with several
 * `type` slugs (docs/parchment-api.md, "Errors").
 */
import type { OrgId, UserId } from '../core/domain.js';
import { shortId } from '../core/wording.js';

export type HttpMethod = 'GET' | 'PUT' | 'POST';

/** Where a request went, as logs and messages name it: the route template, not the filled-in path. */
export interface RequestContext {
  readonly method: HttpMethod;
  readonly route: string;
  readonly organizationId?: OrgId | undefined;
  readonly userId?: UserId | undefined;
}

export interface ValidationItem {
  readonly field?: string;
  readonly message?: string;
  readonly code?: string;
}

export interface ApiErrorFields extends RequestContext {
  readonly status: number;
  readonly bodyStatusCode?: number | undefined;
  readonly code?: string | undefined;
  readonly type?: string | undefined;
  readonly title?: string | undefined;
  readonly detail?: string | undefined;
  readonly validation?: readonly ValidationItem[] | undefined;
  readonly requestId?: string | undefined;
  readonly retryAfterMs?: number | undefined;
  /** A short, safe description of a body that is not Parchment's error envelope (gateway, HTML, empty). */
  readonly bodySummary?: string | undefined;
  /** What the operator should check, when the status alone points at a likely cause. */
  readonly hint?: string | undefined;
}

/** `GET /v1/…/users`: the request alone, for text that is read under its organization and user. */
export function requestLine(ctx: RequestContext): string {
  return `${ctx.method} ${ctx.route}`;
}

/** `GET /v1/…/users (org 7fa84d2b…, user a7748dfd…)` */
export function describeRequest(ctx: RequestContext): string {
  const who = [
    ctx.organizationId === undefined ? undefined : `org ${shortId(ctx.organizationId)}`,
    ctx.userId === undefined ? undefined : `user ${shortId(ctx.userId)}`,
  ].filter((s) => s !== undefined);
  return `${requestLine(ctx)}${who.length > 0 ? ` (${who.join(', ')})` : ''}`;
}

function apiErrorMessage(f: ApiErrorFields): string {
  const headline = [String(f.status), f.title].filter((s) => s !== undefined && s !== '').join(' ');
  const explanation = [f.detail ?? f.bodySummary, ...validationTexts(f.validation)]
    .filter((s) => s !== undefined && s !== '')
    .join('; ');
  const requestId = f.requestId === undefined ? '' : `; requestId ${f.requestId}`;
  const hint = f.hint === undefined ? '' : ` (${f.hint})`;
  return `${describeRequest(f)} failed: ${headline}${explanation === '' ? '' : ` — ${explanation}`}${requestId}${hint}`;
}

function validationTexts(items: readonly ValidationItem[] | undefined): string[] {
  return (items ?? [])
    .map((v) => [v.field, v.message].filter((s) => s !== undefined && s !== '').join(': '))
    .filter((s) => s !== '');
}

export class ParchmentApiError extends Error {
  override readonly name: string = 'ParchmentApiError';
  readonly status: number;
  declare readonly bodyStatusCode?: number;
  declare readonly code?: string;
  declare readonly type?: string;
  declare readonly title?: string;
  declare readonly detail?: string;
  declare readonly validation?: readonly ValidationItem[];
  declare readonly requestId?: string;
  declare readonly retryAfterMs?: number;
  declare readonly hint?: string;
  readonly method: HttpMethod;
  readonly route: string;
  declare readonly organizationId?: OrgId;
  declare readonly userId?: UserId;
  /** True iff the status is 429: the request queue's contract (src/queue/contract.ts). */
  readonly rateLimited: boolean;

  constructor(fields: ApiErrorFields, message: string = apiErrorMessage(fields)) {
    super(message);
    this.status = fields.status;
    this.method = fields.method;
    this.route = fields.route;
    this.rateLimited = fields.status === 429;
    assignDefined(this, {
      bodyStatusCode: fields.bodyStatusCode,
      code: fields.code,
      type: fields.type,
      title: fields.title,
      detail: fields.detail ?? fields.bodySummary,
      validation: fields.validation,
      requestId: fields.requestId,
      retryAfterMs: fields.retryAfterMs,
      hint: fields.hint,
      organizationId: fields.organizationId,
      userId: fields.userId,
    });
  }
}

export type AuthFailureReason =
  /** The partner or organization credentials were refused by `POST /v1/token`. */
  | 'credentials-rejected'
  /** A freshly minted token was refused again: more minting will not help. */
  | 'token-rejected-after-renewal'
  /** PARCHMENT_ACCESS_TOKEN was refused; it cannot be renewed. */
  | 'static-token-rejected'
  /** Renewed token after renewed token ran out before its request reached Parchment. */
  | 'tokens-outlived';

/** A 401 that renewing the token cannot fix. The caller stops writing to the organization. */
export class AuthFailedError extends ParchmentApiError {
  override readonly name = 'AuthFailedError';
  readonly reason: AuthFailureReason;

  constructor(from: ParchmentApiError, reason: AuthFailureReason) {
    super(from, `${from.message} (${AUTH_REASON_TEXT[reason]})`);
    this.reason = reason;
  }
}

const AUTH_REASON_TEXT: Record<AuthFailureReason, string> = {
  'credentials-rejected': 'the token endpoint refused the partner/organization credentials',
  'token-rejected-after-renewal': 'a freshly minted token was refused too',
  'static-token-rejected': 'PARCHMENT_ACCESS_TOKEN was refused and cannot be renewed',
  'tokens-outlived':
    'every renewed token ran out before the request reached Parchment: ' +
    'tokens live shorter than the request queue takes',
};

/**
 * The error as a failure line's prose: which request failed, the title, validation items, the
 * hint and (for a 401 that stops writes) why. Status, detail, code and requestId are left out:
 * the failure carries each as a field, and every rendering shows each once. So are the
 * organization and the user: a failure is always shown under both.
 */
export function apiFailureSummary(err: ParchmentApiError): string {
  const explanation = [err.title, ...validationTexts(err.validation), err.hint]
    .filter((s) => s !== undefined && s !== '')
    .join('; ');
  const reason = err instanceof AuthFailedError ? ` (${AUTH_REASON_TEXT[err.reason]})` : '';
  return `${requestLine(err)} failed${explanation === '' ? '' : `: ${explanation}`}${reason}`;
}

/** No HTTP response: reset, refused, timed out, dropped. */
export class ParchmentNetworkError extends Error {
  override readonly name = 'ParchmentNetworkError';
  readonly code: string;
  readonly method: HttpMethod;
  readonly route: string;
  declare readonly organizationId?: OrgId;
  declare readonly userId?: UserId;
  /** The message without the organization and user, for a failure shown under both. */
  readonly summary: string;

  constructor(ctx: RequestContext, code: string, attempts: number) {
    const failed = `failed: ${code}${attempts > 1 ? ` after ${attempts} attempts` : ''}`;
    super(`${describeRequest(ctx)} ${failed}`);
    this.summary = `${requestLine(ctx)} ${failed}`;
    this.code = code;
    this.method = ctx.method;
    this.route = ctx.route;
    assignDefined(this, { organizationId: ctx.organizationId, userId: ctx.userId });
  }
}

/** A 2xx whose body is not what any documented shape allows, or a list that would never end. */
export class ParchmentResponseError extends Error {
  override readonly name = 'ParchmentResponseError';
  readonly status: number;
  readonly method: HttpMethod;
  readonly route: string;
  declare readonly organizationId?: OrgId;
  declare readonly userId?: UserId;
  declare readonly requestId?: string;
  /**
   * The message without the requestId, the organization and the user: the failure it becomes
   * carries the requestId as a field of its own, and is shown under the organization and user.
   */
  readonly summary: string;

  constructor(
    ctx: RequestContext & { readonly status: number; readonly requestId?: string | undefined },
    problem: string,
  ) {
    super(`${describeRequest(ctx)}: ${problem}${ctx.requestId === undefined ? '' : `; requestId ${ctx.requestId}`}`);
    this.summary = `${requestLine(ctx)}: ${problem}`;
    this.status = ctx.status;
    this.method = ctx.method;
    this.route = ctx.route;
    assignDefined(this, { organizationId: ctx.organizationId, userId: ctx.userId, requestId: ctx.requestId });
  }
}

/**
 * A read-user or role-write answer named another user than the one asked for. Nothing in it is
 * believed: the asked user fails this cycle, and a read's answer never redirects a write.
 */
export class WrongUserAnswerError extends Error {
  override readonly name = 'WrongUserAnswerError';
  readonly status: number;
  readonly method: HttpMethod;
  readonly route: string;
  readonly answeredFor: UserId;
  declare readonly organizationId?: OrgId;
  declare readonly userId?: UserId;
  declare readonly requestId?: string;
  /** The message without the organization and the user asked for, for a failure shown under both. */
  readonly summary: string;

  constructor(
    ctx: RequestContext & { readonly status: number; readonly requestId?: string | undefined },
    answeredFor: UserId,
  ) {
    super(`${describeRequest(ctx)}: Parchment answered for user ${answeredFor} instead of ${ctx.userId ?? '(none)'}`);
    this.summary = `${requestLine(ctx)}: Parchment answered for another user (${answeredFor})`;
    this.status = ctx.status;
    this.method = ctx.method;
    this.route = ctx.route;
    this.answeredFor = answeredFor;
    assignDefined(this, { organizationId: ctx.organizationId, userId: ctx.userId, requestId: ctx.requestId });
  }
}

/** Read-only (dry-run) mode refused a request that could write. Nothing was sent. */
export class ReadOnlyViolation extends Error {
  override readonly name = 'ReadOnlyViolation';
  constructor(
    readonly method: string,
    readonly route: string,
  ) {
    super(`read-only mode refused ${method} ${route}: only GET and the token call are allowed`);
  }
}

/** Only defined values become own properties, so JSON output and inspect stay free of `undefined` noise. */
function assignDefined(target: object, values: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(values)) {
    if (value !== undefined)
      Object.defineProperty(target, key, { value, enumerable: true, writable: false, configurable: false });
  }
}
