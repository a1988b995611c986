/** Shared fixtures for the Parchment client tests: captured logs, settings for a simulator, scripted servers. */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import type { Logger } from 'pino';
import type { OrgId, UserId } from '../../src/core/domain.js';
import { createLogger } from '../../src/log.js';
import { ParchmentClient, type ClientOptions } from '../../src/parchment/client.js';
import { loadSettings, type ParchmentSettings } from '../../src/parchment/settings.js';
import { DEMO_ACTING_USER, DEMO_PARTNER, type RunningSimulator } from '../../src/simulator/index.js';

export const COLLINS = '7fa84d2b-26d7-4c71-9b5b-e591eff97e7d' as OrgId;
export const COLLINS_SECRET = 'sim-org-secret-collins';
export const ACTING_USER = (DEMO_ACTING_USER[COLLINS] ?? '') as UserId;
export const CAMERON = '3266a9fd-c21d-4600-93b4-d760dce49b05' as UserId;

/** Keeps tests fast: four attempts finish within ~50 ms of back-off. */
export const FAST_RETRY = { attempts: 4, baseMs: 5, capMs: 20 } as const;

export interface CapturedLog {
  readonly logger: Logger;
  /** Every line written so far, parsed. */
  lines(): Record<string, unknown>[];
  /** Every byte written so far. */
  text(): string;
}

/** The project's real logger (with its redaction), writing everything down to trace into memory. */
export function captureLog(): CapturedLog {
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer | string, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  const logger = createLogger({ stream: 'stdout', level: 'trace', destination: sink });
  const text = (): string => chunks.join('');
  return {
    logger,
    text,
    lines: () =>
      text()
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

/** Request lines the client logged, one per attempt. */
export function requestLines(log: CapturedLog): Record<string, unknown>[] {
  return log.lines().filter((l) => typeof l['route'] === 'string' && typeof l['attempt'] === 'number');
}

export function partnerEnv(baseUrl: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    PARCHMENT_BASE_URL: baseUrl,
    PARCHMENT_PARTNER_ID: DEMO_PARTNER.partnerId,
    PARCHMENT_PARTNER_SECRET: DEMO_PARTNER.partnerSecret,
    PARCHMENT_USER_ID: ACTING_USER,
    PARCHMENT_ORGANIZATION_SECRET: COLLINS_SECRET,
    ...extra,
  };
}

export function collinsSettings(baseUrl: string, extra: NodeJS.ProcessEnv = {}): Promise<ParchmentSettings> {
  return loadSettings(partnerEnv(baseUrl, extra), [COLLINS]);
}

export type TestClientOptions = Partial<Omit<ClientOptions, 'settings'>> & { readonly settings: ParchmentSettings };

/** A client with fast retries and a captured log; callers close it. */
export function testClient(opts: TestClientOptions): { client: ParchmentClient; log: CapturedLog } {
  const log = captureLog();
  const client = new ParchmentClient({
    logger: log.logger,
    readOnly: false,
    retry: FAST_RETRY,
    timeoutMs: 2_000,
    ...opts,
  });
  return { client, log };
}

export async function simClient(
  sim: RunningSimulator,
  opts: Partial<Omit<ClientOptions, 'settings'>> = {},
): Promise<{ client: ParchmentClient; log: CapturedLog }> {
  return testClient({ settings: await collinsSettings(sim.baseUrl), ...opts });
}

export interface ScriptedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

export interface ScriptedServer {
  /** Use as PARCHMENT_BASE_URL. */
  readonly baseUrl: string;
  readonly requests: ScriptedRequest[];
  close(): Promise<void>;
}

/**
 * A tiny real server for shapes the simulator never produces. The handler sees each request (with
 * its body read) and its 0-based index; it may also destroy the socket.
 */
export async function scriptedServer(
  handler: (req: ScriptedRequest, res: ServerResponse, index: number) => void,
): Promise<ScriptedServer> {
  const requests: ScriptedRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const recorded = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      };
      requests.push(recorded);
      handler(recorded, res, requests.length - 1);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/external`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

/** A token response in the documented envelope. */
export function tokenBody(accessToken: string, expiresIn = 3600): unknown {
  return {
    success: true,
    statusCode: 200,
    message: 'Token generated successfully',
    data: { accessToken, expiresIn, tokenType: 'Bearer', scope: ['read:users', 'read:user', 'update:user'] },
    requestId: 'req-token',
  };
}

export function isTokenRequest(req: ScriptedRequest): boolean {
  return req.method === 'POST' && req.url.endsWith('/v1/token');
}
