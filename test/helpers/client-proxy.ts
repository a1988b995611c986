/**
 * A recording reverse proxy for client tests: sits between the client and the simulator over real
 * loopback HTTP and keeps every request (method, path, query, headers, body) and response body, so
 * tests can see exactly what went on the wire, including the tokens the simulator minted.
 */
import { once } from 'node:events';
import { createServer, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Exchange {
  readonly method: string;
  /** Path without the query, as received. */
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  readonly headers: IncomingHttpHeaders;
  /** Parsed JSON request body, when there was one. */
  readonly body: unknown;
  /** undefined when the upstream dropped the connection. */
  readonly status: number | undefined;
  readonly responseText: string;
}

export interface RecordingProxy {
  /** Use as PARCHMENT_BASE_URL (same path prefix as the upstream base URL). */
  readonly baseUrl: string;
  readonly exchanges: Exchange[];
  /** Every access token seen in a token response. */
  mintedTokens(): string[];
  close(): Promise<void>;
}

export async function recordingProxy(upstreamBaseUrl: string): Promise<RecordingProxy> {
  const upstream = new URL(upstreamBaseUrl);
  const exchanges: Exchange[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const url = new URL(req.url ?? '/', upstream.origin);
      const base = {
        method: req.method ?? '',
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        headers: req.headers,
        body: raw.length > 0 ? (JSON.parse(raw.toString()) as unknown) : undefined,
      };
      const out = httpRequest(
        { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
        (up) => {
          const body: Buffer[] = [];
          up.on('data', (c: Buffer) => body.push(c));
          up.on('end', () => {
            const text = Buffer.concat(body).toString();
            exchanges.push({ ...base, status: up.statusCode, responseText: text });
            res.writeHead(up.statusCode ?? 502, up.headers);
            res.end(text);
          });
        },
      );
      out.on('error', () => {
        exchanges.push({ ...base, status: undefined, responseText: '' });
        req.socket.destroy();
      });
      out.end(raw);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}${upstream.pathname}`,
    exchanges,
    mintedTokens: () =>
      exchanges
        .filter((e) => e.path.endsWith('/v1/token') && e.status === 200)
        .map((e) => (JSON.parse(e.responseText) as { data: { accessToken: string } }).data.accessToken),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
