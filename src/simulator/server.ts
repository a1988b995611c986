import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { silentLogger, type Logger } from '../log.js';
import { defined } from '../core/objects.js';
import { applyPatch, initialConfig, parseConfigPatch } from './config.js';
import { handleControl, type SimControl } from './control.js';
import {
  echoCredentials,
  failure,
  gatewayPage,
  newRequestId,
  problems,
  renderEnvelope,
  success,
  type Outcome,
} from './envelopes.js';
import { pickFault } from './faults.js';
import { retryAfterHeaders, TokenBucket, type TakeResult } from './rate-limit.js';
import { RequestLog } from './request-log.js';
import { LIST_USERS_TEMPLATE, matchRoute, type ApiRequest, type RouteDeps, type RouteMatch } from './routes.js';
import { SimState } from './state.js';
import { TokenStore } from './tokens.js';
import type {
  ConfigPatch,
  HugeBody,
  RecordedRequest,
  RunningSimulator,
  SimConfig,
  SimOptions,
  SimSeed,
  SimUser,
} from './types.js';
import { messageOf } from '../core/wording.js';

const MAX_BODY_BYTES = 1024 * 1024;
const API_PREFIX = '/external';
/** One shared chunk of padding for `hugeListBody`: a body of any size costs this much memory. */
const PADDING = Buffer.alloc(64 * 1024, ' ');

type BodyRead = { kind: 'ok'; text: string } | { kind: 'too-large' };

function readBody(req: IncomingMessage): Promise<BodyRead> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('end', () =>
      resolve(tooLarge ? { kind: 'too-large' } : { kind: 'ok', text: Buffer.concat(chunks).toString('utf8') }),
    );
    req.on('error', reject);
  });
}

function parseJson(text: string): { body: unknown; invalid: boolean } {
  if (text.trim() === '') return { body: undefined, invalid: false };
  try {
    return { body: JSON.parse(text) as unknown, invalid: false };
  } catch {
    return { body: text.length > 2048 ? `${text.slice(0, 2048)}…` : text, invalid: true };
  }
}

/** Resolves once the response can take more, or is gone. */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

function firstHeader(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** An unspecified bind address is not somewhere to send requests; loopback reaches the same socket. */
function originOf(address: AddressInfo): string {
  const loopback = address.address === '0.0.0.0' ? '127.0.0.1' : address.address === '::' ? '::1' : address.address;
  const host = loopback.includes(':') ? `[${loopback}]` : loopback;
  return `http://${host}:${address.port}`;
}

class Simulator implements RunningSimulator, SimControl {
  origin = '';
  baseUrl = '';
  private readonly server: Server;
  private readonly state: SimState;
  private readonly tokens = new TokenStore();
  private readonly log = new RequestLog();
  private readonly logger: Logger;
  private readonly random: () => number;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly deps: RouteDeps;
  private config: SimConfig;
  private bucket: TokenBucket | undefined;
  private seq = 0;
  private closed = false;

  readonly seed: SimSeed;

  constructor(
    seed: SimSeed,
    private readonly options: SimOptions,
  ) {
    // The state keeps its own copy, so a caller editing `seed` cannot change what reset() restores.
    this.seed = structuredClone(seed);
    this.state = new SimState(structuredClone(seed));
    this.deps = {
      state: this.state,
      tokens: this.tokens,
      partners: seed.partners,
      config: () => this.config,
      nowMs: () => Date.now(),
    };
    this.config = initialConfig(options);
    this.bucket = this.newBucket();
    this.logger = options.logger ?? silentLogger();
    this.random = options.random ?? Math.random;
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.logger.error({ err: messageOf(err) }, 'simulator request failed');
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json; charset=utf-8' });
        res.end();
      });
    });
  }

  listen(host: string, port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        this.origin = originOf(this.server.address() as AddressInfo);
        this.baseUrl = `${this.origin}${API_PREFIX}`;
        resolve();
      });
    });
  }

  // --- RunningSimulator / SimControl ---------------------------------------

  requests(): RecordedRequest[] {
    return this.log.entries();
  }

  clearRequests(): void {
    this.log.clear();
  }

  setRoles(orgId: string, userId: string, roles: string[]): void {
    if (!this.state.setRoles(orgId, userId, roles))
      throw new Error(`simulator: no user ${userId} in organization ${orgId}`);
  }

  revokeTokens(): void {
    this.tokens.revokeAll();
  }

  configure(patch: ConfigPatch): void {
    const parsed = parseConfigPatch(patch);
    this.config = applyPatch(this.config, parsed);
    if ('rateLimit' in parsed) this.bucket = this.newBucket();
  }

  user(orgId: string, userId: string): SimUser | undefined {
    return this.state.user(orgId, userId);
  }

  /** Users, log, config and rate-limit bucket go back to the start; tokens already issued stay valid. */
  reset(): void {
    this.state.reset();
    this.log.clear();
    this.config = initialConfig(this.options);
    this.bucket = this.newBucket();
  }

  currentConfig(): SimConfig {
    return applyPatch(this.config, {});
  }

  currentState(): SimSeed {
    return this.state.snapshot();
  }

  close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  // --- HTTP -----------------------------------------------------------------

  private newBucket(): TokenBucket | undefined {
    return this.config.rateLimit ? new TokenBucket(this.config.rateLimit, Date.now()) : undefined;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        resolve();
      }, ms);
      this.timers.add(t);
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = Date.now();
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://simulator.invalid');
    const read = await readBody(req);
    const { body, invalid } = read.kind === 'ok' ? parseJson(read.text) : { body: undefined, invalid: true };
    if (url.pathname === '/_sim' || url.pathname.startsWith('/_sim/')) {
      const reply = handleControl(this, method, url.pathname, body, invalid);
      res.writeHead(
        reply.status,
        reply.body === undefined ? {} : { 'content-type': 'application/json; charset=utf-8' },
      );
      res.end(reply.body === undefined ? undefined : JSON.stringify(reply.body));
      return;
    }

    const seq = ++this.seq;
    const relative = url.pathname.startsWith(`${API_PREFIX}/`) ? url.pathname.slice(API_PREFIX.length) : undefined;
    const match = relative === undefined ? undefined : matchRoute(method, relative);
    // Rate limiting counts arrivals, so it is decided before the added latency.
    const limited = this.bucket?.take(Date.now());
    if (this.config.latencyMs > 0) await this.sleep(this.config.latencyMs);
    if (this.closed) return;

    const entry = recordOf(seq, started, method, url, match, req, body);
    const decided = this.decide(limited, read.kind === 'too-large', method, url, match, {
      headers: req.headers,
      body,
      invalid,
    });
    if (decided === 'drop') {
      req.socket.destroy();
      this.finish(entry, 'dropped', started);
      return;
    }
    const outcome =
      decided.kind === 'failure' && this.config.echoSecrets
        ? { ...decided, problem: echoCredentials(decided.problem, this.credentialsOf(req.headers)) }
        : decided;
    const now = new Date();
    const requestId = newRequestId(now);
    const meta = match?.route.withMeta
      ? defined({
          apiVersion: '1.0' as const,
          responseTime: outcome.kind === 'success' ? now.getTime() - started : undefined,
        })
      : undefined;
    const envelope = renderEnvelope(outcome, defined({ requestId, now, meta }));
    const huge = this.config.hugeListBody;
    if (outcome.kind === 'success' && huge !== undefined && match?.route.template === LIST_USERS_TEMPLATE) {
      const empty = success('Users retrieved successfully', {
        users: [],
        pagination: { total: 0, limit: this.config.pageSize, lastKey: null },
      });
      await this.flood(res, renderEnvelope(empty, { requestId, now }), huge);
    } else if (outcome.kind === 'failure' && outcome.status === 502) {
      res.writeHead(502, { 'content-type': 'text/html; charset=utf-8', ...(outcome.headers ?? {}) });
      res.end(gatewayPage(502, outcome.problem));
    } else {
      res.writeHead(outcome.status, {
        'content-type': 'application/json; charset=utf-8',
        ...(outcome.kind === 'success' ? {} : (outcome.headers ?? {})),
      });
      res.end(JSON.stringify(envelope));
    }
    this.finish(entry, outcome.status, started, requestId);
  }

  /** What `echoSecrets` quotes: the request's credential headers, then every partner secret the simulator knows. */
  private credentialsOf(headers: IncomingMessage['headers']): string[] {
    const quoted = ['authorization', 'x-organization-secret', 'x-partner-secret'].flatMap((name) => {
      const value = firstHeader(headers[name]);
      return value === undefined ? [] : [`${name}: ${value}`];
    });
    return [...quoted, ...this.seed.partners.map((p) => `partner ${p.partnerId} secret ${p.partnerSecret}`)];
  }

  /**
   * The `hugeListBody` answer: an empty list (valid JSON, so a client that buffers it all reads
   * "no users") padded with whitespace, written chunk by chunk as the socket drains.
   */
  private async flood(res: ServerResponse, envelope: Record<string, unknown>, size: HugeBody): Promise<void> {
    const text = JSON.stringify(envelope);
    const head = Buffer.from(text.slice(0, -1));
    const tail = Buffer.from('}');
    res.writeHead(200, {
      'content-type': 'application/json; charset=utf-8',
      ...(size === 'endless' ? {} : { 'content-length': String(Math.max(size, head.length + 1)) }),
    });
    res.write(head);
    let left = size === 'endless' ? Infinity : size - head.length - tail.length;
    while (left > 0) {
      if (res.destroyed || this.closed) return;
      const chunk = left >= PADDING.length ? PADDING : PADDING.subarray(0, left);
      left -= chunk.length;
      if (!res.write(chunk)) await drained(res);
    }
    res.end(tail);
  }

  /** Rate limit first, then an oversized body, then an injected fault, then the route itself. */
  private decide(
    limited: TakeResult | undefined,
    tooLarge: boolean,
    method: string,
    url: URL,
    match: RouteMatch | undefined,
    input: { headers: IncomingMessage['headers']; body: unknown; invalid: boolean },
  ): Outcome | 'drop' {
    if (limited?.kind === 'limited')
      return failure(
        429,
        problems.rateLimited(),
        retryAfterHeaders(this.config.retryAfter, limited.retryAfterSeconds, Date.now()),
      );
    if (tooLarge) return failure(413, problems.payloadTooLarge());
    const fault = pickFault(this.config.faultRate, this.config.faults, this.random);
    if (fault === 'drop') return 'drop';
    if (fault === 'lost-reply') {
      if (match)
        match.route.handler(
          {
            method,
            params: match.params,
            query: url.searchParams,
            headers: input.headers,
            body: input.body,
            bodyInvalid: input.invalid,
          },
          this.deps,
        );
      return 'drop';
    }
    if (fault === '500') return failure(500, problems.internal());
    if (fault === '503') return failure(503, problems.unavailable());
    if (!match) return failure(404, problems.routeNotFound(method, url.pathname));
    const apiReq: ApiRequest = {
      method,
      params: match.params,
      query: url.searchParams,
      headers: input.headers,
      body: input.body,
      bodyInvalid: input.invalid,
    };
    return match.route.handler(apiReq, this.deps);
  }

  private finish(
    entry: Omit<RecordedRequest, 'status'>,
    status: number | 'dropped',
    started: number,
    requestId?: string,
  ): void {
    this.log.add({ ...entry, status });
    const { method, route, organizationId, userId } = entry;
    this.logger.info(
      { requestId, method, route, organizationId, userId, status, durationMs: Date.now() - started },
      'simulator request',
    );
  }
}

/** What the request log keeps: never credentials, only the user agent among the headers. */
function recordOf(
  seq: number,
  started: number,
  method: string,
  url: URL,
  match: RouteMatch | undefined,
  req: IncomingMessage,
  body: unknown,
): Omit<RecordedRequest, 'status'> {
  const query = Object.fromEntries(url.searchParams);
  const organizationId = match
    ? (match.params['organization_id'] ?? firstHeader(req.headers['x-organization-id']))
    : undefined;
  const userId = match?.params['user_id'];
  const userAgent = firstHeader(req.headers['user-agent']);
  return defined({
    seq,
    time: new Date(started).toISOString(),
    method,
    path: url.pathname,
    route: match ? `${method} ${match.route.template}` : `${method} (no route)`,
    query: Object.keys(query).length > 0 ? query : undefined,
    organizationId,
    userId,
    body,
    headers: userAgent !== undefined ? { userAgent } : {},
  });
}

export async function startSimulator(seed: SimSeed, opts: SimOptions): Promise<RunningSimulator> {
  const sim = new Simulator(seed, opts);
  await sim.listen(opts.host ?? '127.0.0.1', opts.port ?? 0);
  return sim;
}
