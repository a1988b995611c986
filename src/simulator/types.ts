import type { Logger } from '../log.js';

export interface SimUser {
  id: string;
  email: string;
  fullName?: string;
  roles: string[];
  disabled?: boolean;
}

export interface SimOrg {
  id: string;
  name?: string;
  secret: string;
  /**
   * Hostile case: accounts from before Parchment lower-cased emails. Emails are served as written,
   * and one address may be on several accounts (in the same or another case).
   */
  legacyEmails?: boolean;
  users: SimUser[];
}

export interface SimSeed {
  partners: { partnerId: string; partnerSecret: string }[];
  organizations: SimOrg[];
}

/**
 * The three documented shapes of the list-users response (docs/parchment-api.md, "Listing users"):
 * `oas` — the vendor's example: `data.users[]` of `{user_id, external_user_id, full_name, access_roles}`
 * (no email) with `data.pagination {total, limit, lastKey}`;
 * `bare` — `data[]` of `{user_id, email}` only, every user at once, no pagination;
 * `rs` — `data[]` (with roles) and a top-level `pagination {count, hasNext, limit, offset, lastKey}`.
 */
export type ListShape = 'oas' | 'bare' | 'rs';
export const LIST_SHAPES = ['oas', 'bare', 'rs'] as const satisfies readonly ListShape[];

/**
 * `drop` closes the connection before the request is handled; `lost-reply` handles it (a write takes
 * effect) and then closes the connection, as a gateway timeout or a reset after the fact would.
 */
export type FaultKind = '500' | '503' | 'drop' | 'lost-reply';
export const FAULT_KINDS = ['500', '503', 'drop', 'lost-reply'] as const satisfies readonly FaultKind[];
/** What `faultRate` picks from unless `faults` says otherwise. */
export const DEFAULT_FAULTS = ['500', '503', 'drop'] as const satisfies readonly FaultKind[];

export interface RateLimitOptions {
  perSecond: number;
  burst?: number;
}

/**
 * What every 429 says in `Retry-After`: `seconds` — whole seconds until the rate limit has a token
 * again (at least 1; a forced 429 says 1); `none` — no header; `past-date` — an HTTP date a minute
 * ago; a number — that many seconds, as given (0, or 1000000000 for "come back in 30 years").
 */
export type RetryAfterMode = 'seconds' | 'none' | 'past-date' | number;

export interface SimOptions {
  host?: string;
  port?: number;
  seed?: SimSeed;
  listShape?: ListShape;
  /** The most users one list page holds, whatever `limit` asks for. */
  pageSize?: number;
  /** A token bucket over every API request; `undefined` means unlimited. */
  rateLimit?: RateLimitOptions;
  /** 0..1: the fraction of API requests answered by one of `faults`. */
  faultRate?: number;
  faults?: FaultKind[];
  latencyMs?: number;
  tokenTtlSeconds?: number;
  /** Hostile case: asked userId -> the userId that read-user and `PUT .../roles` answer for instead. */
  wrongUser?: Record<string, string>;
  /** Hostile case: every list page after the first repeats the previous page's last user. */
  overlapPages?: boolean;
  /** Hostile: every error answer quotes the request's credentials and the partner secret (see SimConfig). */
  echoSecrets?: boolean;
  /** Hostile: list-users answers with a body of this many bytes, or one that never ends (see SimConfig). */
  hugeListBody?: HugeBody;
  /** What every 429 says in Retry-After (see RetryAfterMode); default `seconds`. */
  retryAfter?: RetryAfterMode;
  random?: () => number;
  logger?: Logger;
}

/** The behaviour knobs that can change while the simulator runs. */
export interface SimConfig {
  listShape: ListShape;
  pageSize: number;
  rateLimit: RateLimitOptions | undefined;
  faultRate: number;
  faults: FaultKind[];
  latencyMs: number;
  tokenTtlSeconds: number;
  retryAfter: RetryAfterMode;
  /** userId -> HTTP status that `PUT .../roles` for that user answers; 502 is a gateway's HTML page. */
  failUser: Record<string, number>;
  /** Hostile case: asked userId -> the userId that read-user and `PUT .../roles` answer for instead. */
  wrongUser: Record<string, string>;
  /** Hostile case: every list page after the first repeats the previous page's last user. */
  overlapPages: boolean;
  /**
   * Every error answer quotes the credentials the request carried (bearer token, organization
   * secret, partner secret) and the partner secret, in `error.title` and `error.detail`, or in the
   * HTML page of a 502: what a debugging gateway or a careless error handler does.
   */
  echoSecrets: boolean;
  /**
   * List-users answers 200 with an empty user list padded with whitespace to this many bytes (sent
   * with its Content-Length), or padded for ever (`endless`, chunked); streamed, never held in memory.
   */
  hugeListBody: HugeBody | undefined;
}

/** Bytes, or a body that never ends. */
export type HugeBody = number | 'endless';

export type ConfigPatch = Partial<
  Pick<
    SimOptions,
    | 'listShape'
    | 'pageSize'
    | 'rateLimit'
    | 'faultRate'
    | 'faults'
    | 'latencyMs'
    | 'tokenTtlSeconds'
    | 'wrongUser'
    | 'overlapPages'
    | 'echoSecrets'
    | 'retryAfter'
  >
> & { failUser?: Record<string, number>; hugeListBody?: HugeBody | undefined };

export interface RecordedRequest {
  seq: number;
  time: string;
  method: string;
  /** The URL path as received, without the query string (see `query`). */
  path: string;
  /** The matched route template, e.g. `PUT /v1/organizations/{organization_id}/users/{user_id}/roles`. */
  route: string;
  query?: Record<string, string>;
  organizationId?: string;
  userId?: string;
  status: number | 'dropped';
  body?: unknown;
  headers: { userAgent?: string };
}

export interface RunningSimulator {
  origin: string;
  baseUrl: string;
  seed: SimSeed;
  requests(): RecordedRequest[];
  clearRequests(): void;
  setRoles(orgId: string, userId: string, roles: string[]): void;
  revokeTokens(): void;
  configure(patch: ConfigPatch): void;
  user(orgId: string, userId: string): SimUser | undefined;
  reset(): void;
  close(): Promise<void>;
}
