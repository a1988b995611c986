/**
 * One HTTP attempt against Parchment: the got instance, the read-only guard, the per-attempt log
 * line, and the mapping of every outcome to a response or one of our error values.
 *
 * got never retries here (`retry.limit: 0`): retries, token renewal and rate limiting are decided
 * above this layer, so every attempt is visible to the request queue and to the logs. got's own
 * errors are dropped at this boundary because they carry the request options, headers included:
 * got's `options` is enumerable, so logging or serializing one of its errors prints the bearer token.
 */
import http from 'node:http';
import https from 'node:https';
import { performance } from 'node:perf_hooks';
import got, { type BeforeRequestHook, type Got } from 'got';
import type { Logger } from 'pino';
import { USER_AGENT } from '../version.js';
import {
  ParchmentApiError,
  ParchmentNetworkError,
  ParchmentResponseError,
  ReadOnlyViolation,
  type ApiErrorFields,
  type HttpMethod,
  type RequestContext,
} from './errors.js';
import type { SecretRedactor } from './redact.js';
import { parseErrorBody, parseRetryAfter, requestIdOf } from './responses.js';
import { ROUTES, type Route } from './routes.js';

/**
 * Far above any page of 100 users, far below what would strain the heap. Counted on the
 * decompressed bytes while they stream in, so neither a huge nor a gzip-bombed body is ever held.
 */
export const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;
/** Deeper than any answer Parchment documents (five or six levels), far below what a walk can take. */
export const MAX_JSON_DEPTH = 64;

export interface HttpRequest extends RequestContext {
  readonly route: Route;
  /** The filled-in path, ids already encoded, starting at `/v1/`. */
  readonly path: string;
  readonly searchParams?: Readonly<Record<string, string>>;
  /** Per-request headers (credentials). User-Agent and Accept are added here for every request. */
  readonly headers: Readonly<Record<string, string>>;
  readonly json?: unknown;
  /**
   * The body of a successful answer is itself a credential (the token grant): it is handed over
   * unredacted, since redacting a token the server hands out again would break the next request.
   */
  readonly credentialResponse?: boolean;
}

export interface HttpResponse {
  readonly status: number;
  /** Parsed JSON; undefined when the body was empty or not JSON. */
  readonly body: unknown;
  readonly requestId?: string;
}

/** One attempt as metrics see it: the route template keeps label cardinality bounded. */
export interface AttemptRecord {
  readonly method: HttpMethod;
  readonly route: string;
  /** The HTTP status, or `error` when no response came (reset, timeout, abort). */
  readonly status: number | 'error';
  readonly durationSeconds: number;
}

export interface HttpTransportOptions {
  readonly baseUrl: URL;
  readonly logger: Logger;
  /** Dry-run: refuse every request except GET and the token call. */
  readonly readOnly: boolean;
  readonly timeoutMs: number;
  /** Upper bound on pooled sockets per host; the queue's concurrency. */
  readonly maxSockets: number;
  /** Wall clock, for HTTP-date `Retry-After` values. */
  readonly now: () => number;
  /** Called once per attempt that reached the network. */
  readonly onAttempt?: ((record: AttemptRecord) => void) | undefined;
  /** Applied to every response before anything in it is parsed, logged or kept. */
  readonly redactor: SecretRedactor;
}

interface AttemptContext {
  readonly route: string;
}

export class HttpTransport {
  readonly #got: Got;
  readonly #agents: { readonly http: http.Agent; readonly https: https.Agent };
  readonly #basePath: string;
  readonly #baseUrl: URL;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #onAttempt: ((record: AttemptRecord) => void) | undefined;
  readonly #redactor: SecretRedactor;

  constructor(opts: HttpTransportOptions) {
    this.#baseUrl = opts.baseUrl;
    this.#basePath = opts.baseUrl.pathname.replace(/\/+$/, '');
    this.#logger = opts.logger;
    this.#now = opts.now;
    this.#onAttempt = opts.onAttempt;
    this.#redactor = opts.redactor;
    // Mirrors Node's global agent (keep-alive, 5 s idle), but ours, so close() can end the sockets.
    const agentOptions = { keepAlive: true, timeout: 5_000, maxSockets: opts.maxSockets };
    this.#agents = { http: new http.Agent(agentOptions), https: new https.Agent(agentOptions) };
    const tokenPath = `${this.#basePath}${ROUTES.token}`;
    const guard: BeforeRequestHook = (options) => {
      const method = options.method.toUpperCase();
      if (method === 'GET') return;
      const url = options.url;
      const pathname = url instanceof URL ? url.pathname : new URL(String(url)).pathname;
      if (method === 'POST' && pathname === tokenPath) return;
      throw new ReadOnlyViolation(method, (options.context as Partial<AttemptContext>).route ?? pathname);
    };
    this.#got = got.extend({
      retry: { limit: 0 },
      throwHttpErrors: false,
      followRedirect: false,
      responseType: 'text',
      timeout: { request: opts.timeoutMs },
      agent: this.#agents,
      headers: { 'user-agent': USER_AGENT, accept: 'application/json' },
      hooks: { beforeRequest: opts.readOnly ? [guard] : [] },
    });
  }

  /** One attempt. Resolves only for a 2xx; throws ParchmentApiError, ParchmentNetworkError or ReadOnlyViolation. */
  async attempt(req: HttpRequest, attempt: number, signal: AbortSignal): Promise<HttpResponse> {
    const url = new URL(this.#baseUrl.href);
    url.pathname = `${this.#basePath}${req.path}`;
    const started = performance.now();
    // One controller for both reasons to stop: AbortSignal.any would tie every attempt to a
    // long-lived caller signal, which Node releases late.
    const stop = new AbortController();
    let tooLarge = false;
    const forward = (): void => stop.abort(signal.reason);
    if (signal.aborted) forward();
    else signal.addEventListener('abort', forward, { once: true });
    let response;
    try {
      const pending = this.#got(url, {
        method: req.method,
        headers: { ...req.headers },
        signal: stop.signal,
        context: { route: req.route } satisfies AttemptContext,
        ...(req.searchParams === undefined ? {} : { searchParams: { ...req.searchParams } }),
        ...(req.json === undefined ? {} : { json: req.json }),
      });
      // The promise's own `response` event comes only once the whole body is read: too late here.
      let status = 0;
      let headers: http.IncomingHttpHeaders = {};
      void pending.on('request', (request: http.ClientRequest) => {
        request.once('response', (res) => {
          status = res.statusCode ?? 0;
          headers = res.headers;
        });
      });
      // The first progress event comes with the headers (`total` is the Content-Length), then one per chunk.
      void pending.on('downloadProgress', (progress: { transferred: number; total?: number | undefined }) => {
        if (progress.transferred <= MAX_RESPONSE_BYTES && (progress.total ?? 0) <= MAX_RESPONSE_BYTES) return;
        tooLarge = true;
        stop.abort();
      });
      response = await pending.catch((err: unknown) => {
        if (!tooLarge || signal.aborted) throw err;
        const durationMs = Math.round(performance.now() - started);
        this.#logger.warn(
          logFields(req, { status, attempt, durationMs, maxBytes: MAX_RESPONSE_BYTES }),
          'parchment response body too large; stopped reading it',
        );
        this.#onAttempt?.({ method: req.method, route: req.route, status, durationSeconds: durationMs / 1000 });
        const cut = `response body exceeds ${MAX_RESPONSE_BYTES / 1024 / 1024} MiB; stopped reading it`;
        if (status >= 200 && status < 300) throw new ParchmentResponseError({ ...req, status }, cut);
        // The status still decides: a 5xx is retried, a 429 pauses, a 401 renews the token.
        const header = headerRequestId(headers);
        throw this.#apiError(req, status, headers, {
          bodySummary: cut,
          requestId: header === undefined ? undefined : this.#redactor.text(header),
        });
      });
    } catch (err) {
      if (err instanceof ParchmentResponseError || err instanceof ParchmentApiError) throw err;
      const durationMs = Math.round(performance.now() - started);
      const cause = (err as { cause?: unknown }).cause;
      if (cause instanceof ReadOnlyViolation) {
        this.#logger.warn(
          logFields(req, { attempt, durationMs, refused: 'read-only' }),
          'parchment request refused in read-only mode',
        );
        throw cause;
      }
      const code = signal.aborted ? 'ERR_ABORTED' : networkCode(err);
      this.#logger.warn(
        logFields(req, { attempt, durationMs, errorCode: code }),
        'parchment request failed without a response',
      );
      this.#onAttempt?.({ method: req.method, route: req.route, status: 'error', durationSeconds: durationMs / 1000 });
      if (signal.aborted) throw abortReason(signal);
      throw new ParchmentNetworkError(req, code, attempt);
    } finally {
      signal.removeEventListener('abort', forward);
    }

    const durationMs = Math.round(performance.now() - started);
    const status = response.statusCode;
    const ok = status >= 200 && status < 300;
    const trusted = ok && req.credentialResponse === true;
    const text = trusted ? response.body : this.#redactor.text(response.body);
    const tooDeep = nestsDeeperThan(response.body, MAX_JSON_DEPTH);
    const parsed = tooDeep ? undefined : parseJson(response.body);
    const body = trusted ? parsed : this.#redactor.json(parsed, response.body);
    const header = headerRequestId(response.headers);
    const requestId = requestIdOf(body) ?? (header === undefined ? undefined : this.#redactor.text(header));
    this.#logger[ok ? 'info' : 'warn'](logFields(req, { status, attempt, durationMs, requestId }), 'parchment request');
    this.#onAttempt?.({ method: req.method, route: req.route, status, durationSeconds: durationMs / 1000 });
    if (ok && tooDeep) {
      throw new ParchmentResponseError(
        { ...req, status, requestId },
        `response body nests deeper than ${MAX_JSON_DEPTH} levels; not read`,
      );
    }
    if (ok) return requestId === undefined ? { status, body } : { status, body, requestId };

    const fields = parseErrorBody(body, text);
    const summary = fields.bodySummary === undefined ? undefined : this.#redactor.text(fields.bodySummary);
    throw this.#apiError(req, status, response.headers, {
      ...fields,
      ...(summary === undefined ? {} : { bodySummary: summary }),
      requestId: fields.requestId ?? requestId,
    });
  }

  /** An error answer: where the request went, its status, Retry-After and the 404 hint, beside what its body said. */
  #apiError(
    req: HttpRequest,
    status: number,
    headers: http.IncomingHttpHeaders,
    said: Omit<ApiErrorFields, keyof RequestContext | 'status' | 'hint' | 'retryAfterMs'>,
  ): ParchmentApiError {
    return new ParchmentApiError({
      method: req.method,
      route: req.route,
      organizationId: req.organizationId,
      userId: req.userId,
      status,
      ...said,
      hint: status === 404 ? this.#notFoundHint(req) : undefined,
      retryAfterMs: parseRetryAfter(headerValue(headers['retry-after']), this.#now()),
    });
  }

  /**
   * A 404 on a route that names no user means the route itself was not found: almost always a
   * PARCHMENT_BASE_URL without its `/external` suffix (or another service altogether).
   */
  #notFoundHint(req: HttpRequest): string | undefined {
    if (req.userId !== undefined) return undefined;
    const where = `PARCHMENT_BASE_URL ${this.#baseUrl.href}`;
    const hint = this.#basePath.endsWith('/external')
      ? `no such route under ${where}: check that it is the Parchment API (it ends in /external)`
      : `${where} does not end in /external: check it`;
    return req.route === ROUTES.token ? hint : `${hint}, and the organization id`;
  }

  close(): void {
    this.#agents.http.destroy();
    this.#agents.https.destroy();
  }
}

/** Only chosen scalar fields: never headers, options or got errors, which can hold credentials. */
function logFields(req: HttpRequest, extra: Record<string, unknown>): Record<string, unknown> {
  return { method: req.method, route: req.route, organizationId: req.organizationId, userId: req.userId, ...extra };
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;

/**
 * Whether JSON text opens more than `max` arrays or objects inside each other. Parchment's answers
 * nest five or six levels; a hostile body of millions of `[` would parse, but every walk over it
 * afterwards (redaction, validation) would run out of stack. Counted on the text, in one pass.
 */
export function nestsDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) inString = true;
    else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      if (++depth > max) return true;
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) depth--;
  }
  return false;
}

function parseJson(text: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** API Gateway and load balancers put their id in a header when the body has none. */
function headerRequestId(headers: http.IncomingHttpHeaders): string | undefined {
  return headerValue(headers['x-amzn-requestid']) ?? headerValue(headers['x-request-id']);
}

function networkCode(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && code !== 'ERR_GOT_REQUEST_ERROR' ? code : 'ERR_NETWORK';
}

/** Like fetch: an aborted call rejects with the signal's reason. */
function abortReason(signal: AbortSignal): unknown {
  return signal.reason instanceof Error ? signal.reason : new DOMException('The operation was aborted', 'AbortError');
}
