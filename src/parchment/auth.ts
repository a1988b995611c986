/**
 * Bearer tokens per organization (docs/parchment-api.md, "Tokens"). Partner credentials mint one token per
 * organization with `POST /v1/token`, cached and renewed before expiry. Minting is single-flight:
 * concurrent callers share one mint, and every request that saw a 401 on the same token generation
 * shares one re-mint. A static PARCHMENT_ACCESS_TOKEN is used as given and never renewed.
 */
import type { Logger } from 'pino';
import type { OrgId } from '../core/domain.js';
import { AuthFailedError, ParchmentApiError, ParchmentResponseError } from './errors.js';
import type { HttpRequest } from './http.js';
import { parseTokenBody } from './responses.js';
import type { Send } from './retry.js';
import { ROUTES } from './routes.js';
import type { AuthSettings, OrgCredentials } from './settings.js';

export interface TokenLease {
  readonly token: string;
  /** Increases with every mint for the organization; tells a stale token from a renewed one. */
  readonly generation: number;
  /**
   * Epoch ms from which the token is due for renewal (Infinity for a static token). A request
   * sent after this point that is answered 401 says nothing about the credentials: its token
   * simply outlived its lifetime while the request waited.
   */
  readonly renewAt: number;
  /**
   * Minted because Parchment answered 401 to the token before it. A 401 on this one while it is
   * still fresh means the credentials themselves are refused: minting again would only repeat it.
   */
  readonly replacesRefused: boolean;
}

export interface TokenSource {
  current(org: OrgCredentials, signal?: AbortSignal): Promise<TokenLease>;
  /** The newest token held for the organization, without minting. */
  peek(org: OrgCredentials): TokenLease | undefined;
  /**
   * After `stale` was answered 401: a newer token not yet due for renewal, or undefined when
   * tokens cannot be renewed.
   */
  renew(org: OrgCredentials, stale: TokenLease, signal?: AbortSignal): Promise<TokenLease | undefined>;
}

export const REQUESTED_SCOPES = ['read:users', 'read:user', 'update:user'] as const;

/** Docs say 1 h in some places and 6 h in others; assuming the shorter costs one extra mint an hour. */
export const DEFAULT_TOKEN_LIFETIME_S = 3600;
/** Renew this long before expiry (as Parchment's own Postman scripts do), or at half-life for shorter tokens. */
const RENEW_LEAD_S = 300;
/** Token calls jump the queue: every other request of the organization is waiting on them. */
const TOKEN_PRIORITY = 10;

export interface TokenSourceDeps {
  readonly send: Send;
  readonly logger: Logger;
  readonly now: () => number;
  /** Every token as soon as it is minted, before any request carries it. */
  readonly onMinted?: (token: string) => void;
}

export function createTokenSource(auth: AuthSettings, deps: TokenSourceDeps): TokenSource {
  if (auth.kind === 'token') {
    const lease: TokenLease = { token: auth.accessToken, generation: 1, renewAt: Infinity, replacesRefused: false };
    return { current: async () => lease, peek: () => lease, renew: async () => undefined };
  }
  return new MintedTokens(auth, deps);
}

interface OrgTokens {
  held?: TokenLease | undefined;
  minting?: Promise<TokenLease> | undefined;
}

class MintedTokens implements TokenSource {
  readonly #auth: Extract<AuthSettings, { kind: 'partner' }>;
  readonly #deps: TokenSourceDeps;
  readonly #orgs = new Map<OrgId, OrgTokens>();
  #generation = 0;

  constructor(auth: Extract<AuthSettings, { kind: 'partner' }>, deps: TokenSourceDeps) {
    this.#auth = auth;
    this.#deps = deps;
  }

  async current(org: OrgCredentials, signal?: AbortSignal): Promise<TokenLease> {
    const state = this.#state(org.organizationId);
    if (state.held !== undefined && this.#deps.now() < state.held.renewAt) return state.held;
    return abortable(state.minting ?? this.#mint(org, state, false), signal);
  }

  peek(org: OrgCredentials): TokenLease | undefined {
    return this.#orgs.get(org.organizationId)?.held;
  }

  async renew(org: OrgCredentials, stale: TokenLease, signal?: AbortSignal): Promise<TokenLease> {
    const state = this.#state(org.organizationId);
    const held = state.held;
    // A newer token another request had minted is shared, unless it too is already due for renewal.
    if (held !== undefined && held.generation > stale.generation && this.#deps.now() < held.renewAt) return held;
    if (state.minting === undefined) state.held = undefined;
    return abortable(state.minting ?? this.#mint(org, state, true), signal);
  }

  #state(org: OrgId): OrgTokens {
    let state = this.#orgs.get(org);
    if (state === undefined) {
      state = {};
      this.#orgs.set(org, state);
    }
    return state;
  }

  /** Shared by every waiter, so it takes no caller's signal; the request timeout bounds it. */
  #mint(org: OrgCredentials, state: OrgTokens, replacesRefused: boolean): Promise<TokenLease> {
    const minting = this.#requestToken(org, replacesRefused).then((held) => {
      state.held = held;
      return held;
    });
    state.minting = minting;
    const clear = (): void => {
      if (state.minting === minting) state.minting = undefined;
    };
    minting.then(clear, clear);
    return minting;
  }

  async #requestToken(org: OrgCredentials, replacesRefused: boolean): Promise<TokenLease> {
    const req: HttpRequest = {
      method: 'POST',
      route: ROUTES.token,
      path: ROUTES.token,
      organizationId: org.organizationId,
      headers: {
        'x-partner-id': this.#auth.partnerId,
        'x-partner-secret': this.#auth.partnerSecret,
        'x-organization-id': org.organizationId,
        'x-organization-secret': org.secret,
        // Settings guarantee an acting user for every organization when minting.
        'x-user-id': org.actingUser ?? this.#auth.userId ?? '',
      },
      json: { grantType: 'client_credentials', scope: [...REQUESTED_SCOPES] },
      credentialResponse: true,
    };
    let res;
    try {
      res = await this.#deps.send(req, { priority: TOKEN_PRIORITY });
    } catch (err) {
      if (err instanceof ParchmentApiError && err.status === 401)
        throw new AuthFailedError(err, 'credentials-rejected');
      throw err;
    }
    const grant = parseTokenBody(res.body);
    if (grant.kind === 'invalid') {
      throw new ParchmentResponseError({ ...req, status: res.status, requestId: res.requestId }, grant.problem);
    }
    const { accessToken, expiresIn = DEFAULT_TOKEN_LIFETIME_S, scope } = grant.value;
    this.#deps.onMinted?.(accessToken);
    const missing = scope === undefined ? [] : REQUESTED_SCOPES.filter((s) => !scope.includes(s));
    if (missing.length > 0) {
      this.#deps.logger.warn(
        { organizationId: org.organizationId, missingScopes: missing, requestId: res.requestId },
        'token lacks requested scopes; calls needing them will be refused',
      );
    }
    const lead = Math.min(RENEW_LEAD_S, expiresIn / 2);
    this.#generation += 1;
    const renewAt = this.#deps.now() + (expiresIn - lead) * 1000;
    return { token: accessToken, generation: this.#generation, renewAt, replacesRefused };
  }
}

/** Lets one caller stop waiting for a shared promise without cancelling it for the others. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
