import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger } from 'pino';

/**
 * Paths pino must censor wherever they appear. A second line of defence: the client never
 * hands headers or got errors to the logger in the first place (see src/parchment/http.ts).
 */
const REDACT_PATHS = [
  'headers.authorization',
  'headers["x-organization-secret"]',
  'headers["x-partner-secret"]',
  '*.headers.authorization',
  '*.headers["x-organization-secret"]',
  '*.headers["x-partner-secret"]',
  'accessToken',
  '*.accessToken',
  'secret',
  '*.secret',
  'partnerSecret',
  '*.partnerSecret',
  'organizationSecret',
  '*.organizationSecret',
];

export interface LoggerOptions {
  /** `stderr` for report-producing commands (stdout carries the report), `stdout` for `run` and `simulate`. */
  readonly stream: 'stdout' | 'stderr';
  readonly level?: string;
  /** Tests and benchmarks pass their own sink. */
  readonly destination?: DestinationStream;
}

export function createLogger(opts: LoggerOptions): Logger {
  const level = opts.level ?? process.env['LOG_LEVEL'] ?? 'info';
  const destination = opts.destination ?? pino.destination({ dest: opts.stream === 'stdout' ? 1 : 2, sync: true });
  return pino(
    {
      level,
      base: { name: 'role-sync' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}

/** For library code used in tests without a logger. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
