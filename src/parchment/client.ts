/**
 * The Parchment API as role-sync needs it: list users, read a user, replace a user's roles,
 * disable and enable a user (the engine's `ParchmentApi`).
 * Wires settings, tokens, retries, the request scheduler and the HTTP layer together, and turns
 * response bodies into domain values.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from 'pino';
import { canonicalRoles, type AssignableRole, type LiveRole, type OrgId, type UserId } from '../core/domain.js';
import type { ObservedUser } from '../core/observed-state.js';
import { unscheduled, type RequestScheduler } from '../queue/contract.js';
import { createTokenSource, type TokenLease, type TokenSource } from './auth.js';
import { AuthFailedError, ParchmentApiError, ParchmentResponseError, WrongUserAnswerError } from './errors.js';
import { HttpTransport, type AttemptRecord, type HttpRequest, type HttpResponse } from './http.js';
import { SecretRedactor } from './redact.js';
import { parseRolesBody, parseUserBody, parseUserIdBody, parseUserListBody } from './responses.js';
import { retryingSender, type Send } from './retry.js';
import { ROUTES, paths } from './routes.js';
import type { OrgCredentials, ParchmentSettings } from './settings.js';

export interface ClientOptions {
  readonly settings: ParchmentSettings;
  readonly logger: Logger;
  /** Default: `unscheduled` (no budget; a 429 reaches the caller). */
  readonly scheduler?: RequestScheduler;
  /** Dry-run: the HTTP layer refuses everything but GET and the token call. */
  readonly readOnly: boolean;
  /** Per attempt. Default 10 s. */
  readonly timeoutMs?: number;
  readonly retry?: { readonly attempts?: number; readonly baseMs?: number; readonly capMs?: number };
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Wall clock for token expiry and HTTP-date Retry-After. */
  readonly now?: () => number;
  /** Called once per attempt that reached the network, e.g. for metrics. */
  readonly onRequest?: (record: AttemptRecord) => void;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_RETRY = { attempts: 4, baseMs: 500, capMs: 10_000 } as const;
/** The documented maximum page size. */
const PAGE_SIZE = 100;
/**
 * Renewals one request may need because its token ran out while it waited: each is a full trip
 * through the queue, so needing more means tokens live shorter than the queue takes to drain.
 */
const MAX_RENEWALS = 5;
/** 100,000 users: far beyond any clinic, so hitting it means the cursor is broken. */
const MAX_PAGES = 1_000;

export interface WriteOptions {
  /** Aborts the write wherever it is; aborted in flight, whether Parchment acted on it is unknown. */
  readonly signal?: AbortSignal;
  /**
   * Takes the write back while it still waits for its turn; it then fails with
   * RequestWithdrawnError (from the request queue's contract) and was never sent.
   */
  readonly withdraw?: AbortSignal;
}

export class ParchmentClient {
  readonly #opts: ClientOptions;
  readonly #settings: ParchmentSettings;
  readonly #transport: HttpTransport;
  readonly #send: Send;
  readonly #tokens: TokenSource;
  readonly #now: () => number;
  readonly #redactor: SecretRedactor;
  /** Per organization, the newest token generation a request succeeded with. */
  readonly #accepted = new Map<OrgId, number>();

  /**
   * `shared` is given only by `sibling`, so siblings share one token per organization and redact
   * every token either of them minted.
   */
  constructor(opts: ClientOptions, shared?: { readonly tokens: TokenSource; readonly redactor: SecretRedactor }) {
    const now = opts.now ?? Date.now;
    this.#opts = opts;
    this.#now = now;
    this.#settings = opts.settings;
    const redactor = shared?.redactor ?? new SecretRedactor(configuredSecrets(opts.settings));
    this.#transport = new HttpTransport({
      baseUrl: opts.settings.baseUrl,
      logger: opts.logger,
      readOnly: opts.readOnly,
      timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      maxSockets: Math.max(1, opts.settings.concurrency),
      now,
      onAttempt: opts.onRequest,
      redactor,
    });
    this.#send = retryingSender(this.#transport, opts.scheduler ?? unscheduled, {
      attempts: Math.max(1, opts.retry?.attempts ?? DEFAULT_RETRY.attempts),
      baseMs: opts.retry?.baseMs ?? DEFAULT_RETRY.baseMs,
      capMs: opts.retry?.capMs ?? DEFAULT_RETRY.capMs,
      random: Math.random,
      sleep: opts.sleep ?? ((ms, signal) => delay(ms, undefined, signal === undefined ? {} : { signal })),
    });
    this.#redactor = redactor;
    this.#tokens =
      shared?.tokens ??
      createTokenSource(opts.settings.auth, {
        send: this.#send,
        logger: opts.logger,
        now,
        onMinted: (token) => redactor.addMinted(token),
      });
  }

  /**
   * A client over the same settings, request budget and tokens (no second mint), with an HTTP layer
   * of its own that refuses writes or not. Its tokens are minted through this client, whose HTTP
   * layer always lets the token call through; close both when done.
   */
  sibling(opts: { readonly readOnly: boolean }): ParchmentClient {
    return new ParchmentClient(
      { ...this.#opts, readOnly: opts.readOnly },
      { tokens: this.#tokens, redactor: this.#redactor },
    );
  }

  /** Every user of the organization, following `lastKey` across pages. */
  async listUsers(org: OrgId, signal?: AbortSignal): Promise<ObservedUser[]> {
    const users: ObservedUser[] = [];
    const sent = new Set<string>();
    let lastKey: string | undefined;
    for (let page = 1; page <= MAX_PAGES; page++) {
      const req = {
        method: 'GET',
        route: ROUTES.users,
        path: paths.users(org),
        organizationId: org,
        searchParams: { limit: String(PAGE_SIZE), ...(lastKey === undefined ? {} : { lastKey }) },
      } as const;
      const res = await this.#authorized(req, signal);
      const parsed = parseUserListBody(res.body);
      if (parsed.kind === 'invalid') throw responseError(req, res, parsed.problem);
      users.push(...parsed.value.users);
      const next = parsed.value.nextKey;
      if (next === undefined) return users;
      if (sent.has(next)) {
        throw responseError(
          req,
          res,
          `page ${page} returned a lastKey already used; stopping rather than looping forever`,
        );
      }
      sent.add(next);
      lastKey = next;
    }
    throw new ParchmentResponseError(
      { method: 'GET', route: ROUTES.users, organizationId: org, status: 200 },
      `more than ${MAX_PAGES} pages of ${PAGE_SIZE} users; stopping rather than looping forever`,
    );
  }

  /** Fails with WrongUserAnswerError when the answer is about another user than `user`. */
  async getUser(org: OrgId, user: UserId, signal?: AbortSignal): Promise<ObservedUser> {
    const req = {
      method: 'GET',
      route: ROUTES.user,
      path: paths.user(org, user),
      organizationId: org,
      userId: user,
    } as const;
    const res = await this.#authorized(req, signal);
    const parsed = parseUserBody(res.body);
    if (parsed.kind === 'invalid') throw responseError(req, res, parsed.problem);
    if (parsed.value.id !== user) throw wrongUser(req, res, parsed.value.id);
    return parsed.value;
  }

  /**
   * Replaces the user's whole role list. The result is what Parchment stored, which may differ from
   * what was sent. An answer that names another user fails with WrongUserAnswerError.
   */
  async replaceRoles(
    org: OrgId,
    user: UserId,
    roles: readonly AssignableRole[],
    opts: WriteOptions = {},
  ): Promise<{ roles: readonly LiveRole[]; requestId?: string }> {
    const accessRoles = canonicalRoles(roles);
    if (accessRoles.length === 0) {
      // Parchment refuses an empty list; stripping every role is not something to send.
      throw new RangeError(`refusing to send an empty role list for user ${user} in organization ${org}`);
    }
    const req = {
      method: 'PUT',
      route: ROUTES.roles,
      path: paths.roles(org, user),
      organizationId: org,
      userId: user,
      json: { access_roles: accessRoles },
    } as const;
    const res = await this.#authorized(req, opts.signal, opts.withdraw);
    const parsed = parseRolesBody(res.body);
    if (parsed.kind === 'invalid') throw responseError(req, res, parsed.problem);
    const { roles: stored, userId: answeredFor } = parsed.value;
    if (answeredFor !== undefined && answeredFor !== user) throw wrongUser(req, res, answeredFor);
    return res.requestId === undefined ? { roles: stored } : { roles: stored, requestId: res.requestId };
  }

  /** Idempotent: a user already disabled is answered 200 as well. An answer for another user fails. */
  disableUser(org: OrgId, user: UserId, opts: WriteOptions = {}): Promise<{ userId: UserId; requestId?: string }> {
    return this.#toggle('disable', org, user, opts);
  }

  /** Idempotent: a user already enabled is answered 200 as well. An answer for another user fails. */
  enableUser(org: OrgId, user: UserId, opts: WriteOptions = {}): Promise<{ userId: UserId; requestId?: string }> {
    return this.#toggle('enable', org, user, opts);
  }

  async #toggle(
    kind: 'disable' | 'enable',
    org: OrgId,
    user: UserId,
    opts: WriteOptions,
  ): Promise<{ userId: UserId; requestId?: string }> {
    const req = {
      method: 'PUT',
      route: ROUTES[kind],
      path: paths[kind](org, user),
      organizationId: org,
      userId: user,
    } as const;
    const res = await this.#authorized(req, opts.signal, opts.withdraw);
    const parsed = parseUserIdBody(res.body);
    if (parsed.kind === 'invalid') throw responseError(req, res, parsed.problem);
    if (parsed.value !== user) throw wrongUser(req, res, parsed.value);
    return res.requestId === undefined ? { userId: parsed.value } : { userId: parsed.value, requestId: res.requestId };
  }

  /** Ends pooled keep-alive sockets; the client is unusable afterwards. */
  close(): void {
    this.#transport.close();
  }

  /**
   * Sends with the organization's newest token, renewing it on a 401. The token is chosen when the
   * attempt starts, not when it was queued, so requests waiting behind a renewal use the new token
   * instead of each collecting a 401 of their own. A 401 on a token that was already due for
   * renewal when the attempt went out (it outlived its lifetime while the request waited) is
   * renewed again; a token minted after a 401, refused while still fresh, means the credentials
   * are refused. `withdraw` applies to the first send only: a request that already met a 401 (or
   * a transient failure) is seen through rather than reported as never sent.
   */
  async #authorized(
    req: Omit<HttpRequest, 'headers'>,
    signal: AbortSignal | undefined,
    withdraw?: AbortSignal,
  ): Promise<HttpResponse> {
    const org = this.#credentials(req.organizationId);
    let used = await this.#tokens.current(org, signal);
    let sentAt = 0;
    const prepare = (): HttpRequest => {
      const newest = this.#tokens.peek(org);
      if (newest !== undefined && newest.generation > used.generation) used = newest;
      sentAt = this.#now();
      return { ...req, headers: authHeaders(used, org) };
    };
    /** The first generation minted after this request was answered 401. */
    let mintedForThis: number | undefined;
    for (let renewals = 0; ; renewals++) {
      try {
        const res = await this.#send(prepare(), { signal, prepare, ...(renewals === 0 ? { withdraw } : {}) });
        const accepted = this.#accepted.get(org.organizationId) ?? 0;
        if (used.generation > accepted) this.#accepted.set(org.organizationId, used.generation);
        return res;
      } catch (err) {
        if (!isUnauthorized(err)) throw err;
        const outlived = sentAt >= used.renewAt;
        // A token minted after a 401 (this request's or another's) and refused before Parchment ever
        // accepted it: the credentials are refused, and each queued request minting a token of its own
        // would only repeat that. A token that has worked before may have been revoked: renew it.
        const unproven = used.replacesRefused && (this.#accepted.get(org.organizationId) ?? 0) < used.generation;
        const refusedAfterRenewal = unproven || (mintedForThis !== undefined && used.generation >= mintedForThis);
        if (!outlived && refusedAfterRenewal) {
          throw new AuthFailedError(err, 'token-rejected-after-renewal');
        }
        if (renewals >= MAX_RENEWALS) throw new AuthFailedError(err, 'tokens-outlived');
        const fresh = await this.#tokens.renew(org, used, signal);
        if (fresh === undefined) throw new AuthFailedError(err, 'static-token-rejected');
        used = fresh;
        mintedForThis ??= fresh.generation;
      }
    }
  }

  #credentials(org: OrgId | undefined): OrgCredentials {
    const creds = org === undefined ? undefined : this.#settings.organizations.get(org);
    if (creds === undefined)
      throw new Error(`organization ${org ?? '(none)'} has no credentials in the loaded settings`);
    return creds;
  }
}

function configuredSecrets(settings: ParchmentSettings): string[] {
  const auth = settings.auth;
  return [
    ...(auth.kind === 'token' ? [auth.accessToken] : []),
    ...(auth.partnerSecret === undefined ? [] : [auth.partnerSecret]),
    ...[...settings.organizations.values()].map((o) => o.secret),
  ];
}

function authHeaders(lease: TokenLease, org: OrgCredentials): Record<string, string> {
  return { authorization: `Bearer ${lease.token}`, 'x-organization-secret': org.secret };
}

function isUnauthorized(err: unknown): err is ParchmentApiError {
  return err instanceof ParchmentApiError && err.status === 401;
}

function wrongUser(req: Omit<HttpRequest, 'headers'>, res: HttpResponse, answeredFor: UserId): WrongUserAnswerError {
  return new WrongUserAnswerError({ ...req, status: res.status, requestId: res.requestId }, answeredFor);
}

function responseError(req: Omit<HttpRequest, 'headers'>, res: HttpResponse, problem: string): ParchmentResponseError {
  return new ParchmentResponseError({ ...req, status: res.status, requestId: res.requestId }, problem);
}
