import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../log.js';
import { messageOf } from '../core/wording.js';

/**
 * The daemon's operations endpoints (README.md, "The daemon") on plain node:http:
 * `/healthz` says the process answers and never looks at Parchment (a liveness probe tied to a
 * dependency restarts every pod during its outage); `/readyz`, `/metrics` and `/status` report
 * what the daemon knows. `/status` is the summary without personal data, or the full page for a
 * request bearing the status token.
 */

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/** `/status` without personal data (`summary`), or with it for a request bearing the status token. */
export type StatusDetail = 'summary' | 'full';

export type Readiness = { readonly kind: 'ready' } | { readonly kind: 'not-ready'; readonly reason: string };

export interface OpsHandlers {
  readonly readiness: () => Readiness;
  readonly metrics: () => Promise<{ readonly contentType: string; readonly body: string }>;
  /** The page as JSON text. */
  readonly status: (detail: StatusDetail) => string;
  /** ROLE_SYNC_STATUS_TOKEN; without one, no request gets the full page. */
  readonly statusToken?: string;
}

export interface OpsServer {
  readonly address: ListenAddress;
  close(): Promise<void>;
}

export const DEFAULT_LISTEN = '0.0.0.0:9464';

const UNAUTHORIZED =
  'unauthorized: without an Authorization header /status is the summary; ' +
  'the full page needs "Authorization: Bearer" and the status token';

/** `HOST:PORT`, `[IPv6]:PORT` or `:PORT` (all interfaces). Undefined when malformed. */
export function parseListenAddress(text: string): ListenAddress | undefined {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text.trim());
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65_535) return undefined;
  const host = m[1] ?? (m[2] === '' ? '0.0.0.0' : m[2]!);
  return { host, port };
}

export async function startOpsServer(listen: ListenAddress, handlers: OpsHandlers, logger: Logger): Promise<OpsServer> {
  const tokenDigest = handlers.statusToken === undefined ? undefined : digest(handlers.statusToken);
  const server = createServer((req, res) => {
    handle(req, res, handlers, tokenDigest).catch((err: unknown) => {
      logger.error({ err: messageOf(err), path: req.url }, 'ops endpoint failed');
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', 'internal error\n');
      else res.destroy();
    });
  });
  // Probes and scrapes are short; a stuck client must not hold a socket forever.
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const info = server.address() as AddressInfo;
  return { address: { host: info.address, port: info.port }, close: () => closeServer(server) };
}

/** Hashed, so the comparison is constant-time whatever the length presented. */
function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/**
 * No Authorization header: the summary. A bearer token equal to the status token: the full page.
 * Anything else is refused, so a wrong or mistyped token is noticed rather than silently given less.
 */
function statusAccess(req: IncomingMessage, tokenDigest: Buffer | undefined): StatusDetail | 'unauthorized' {
  const header = req.headers.authorization;
  if (header === undefined) return 'summary';
  const bearer = /^Bearer +(\S+) *$/i.exec(header)?.[1];
  if (bearer === undefined || tokenDigest === undefined) return 'unauthorized';
  return timingSafeEqual(digest(bearer), tokenDigest) ? 'full' : 'unauthorized';
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  handlers: OpsHandlers,
  tokenDigest: Buffer | undefined,
): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
    return;
  }
  const path = new URL(req.url ?? '/', 'http://ops').pathname;
  switch (path) {
    case '/healthz':
      send(res, 200, 'text/plain; charset=utf-8', 'ok\n');
      return;
    case '/readyz': {
      const r = handlers.readiness();
      if (r.kind === 'ready') send(res, 200, 'text/plain; charset=utf-8', 'ready\n');
      else send(res, 503, 'text/plain; charset=utf-8', `not ready: ${r.reason}\n`);
      return;
    }
    case '/metrics': {
      const m = await handlers.metrics();
      send(res, 200, m.contentType, m.body);
      return;
    }
    case '/status': {
      const detail = statusAccess(req, tokenDigest);
      if (detail === 'unauthorized') {
        res.setHeader('www-authenticate', 'Bearer realm="role-sync status"');
        send(res, 401, 'application/json; charset=utf-8', `${JSON.stringify({ error: UNAUTHORIZED })}\n`);
        return;
      }
      send(res, 200, 'application/json; charset=utf-8', `${handlers.status(detail)}\n`);
      return;
    }
    default:
      send(res, 404, 'text/plain; charset=utf-8', 'not found; try /healthz, /readyz, /metrics or /status\n');
  }
}

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, {
    'content-type': contentType,
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(body),
  });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    // Called last in shutdown: readiness already said 503 while work drained, so open probes can go.
    server.closeAllConnections();
  });
}
