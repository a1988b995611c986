/**
 * Runs `node dist/cli.js run` as a child process against an in-process simulator, and watches
 * it through its JSON log lines, its ops endpoints and the simulator's request log.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, realpath } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  DEMO_ACTING_USER,
  DEMO_PARTNER,
  startSimulator,
  type RecordedRequest,
  type RunningSimulator,
  type SimOptions,
} from '../../src/simulator/index.js';
import { parsePrometheusText, sampleValue, type Family } from './daemon-prom.js';

export const REPO = resolve(import.meta.dirname, '..', '..');
const CLI = join(REPO, 'dist', 'cli.js');

export const COLLINS = '7fa84d2b-26d7-4c71-9b5b-e591eff97e7d';
export const COLLINS_SECRET = 'sim-org-secret-collins';
export const COLLINS_ACTING_USER = DEMO_ACTING_USER[COLLINS]!;
export const USERS = {
  ahmed: COLLINS_ACTING_USER,
  cameron: '3266a9fd-c21d-4600-93b4-d760dce49b05',
  nguyen: '64c290b3-09df-46c2-833b-b3ad3054109b',
  patel: 'dd2e0ec1-994c-41da-ba44-de403fc4e041',
  smith: 'f109c4cd-8ff7-4adf-89bf-8f7d206e15c2',
} as const;

/** The demo's live roles for the users above: a file equal to this makes the first cycle write nothing. */
export const LIVE_ROLES: Readonly<Record<keyof typeof USERS, readonly string[]>> = {
  ahmed: ['admin', 'provider'],
  cameron: ['admin', 'provider'],
  nguyen: ['provider'],
  patel: ['receptionist'],
  smith: ['provider'],
};

/** A one-organization (Collins) roles file; keys are user ids. */
export function collinsFile(roles: Partial<Record<keyof typeof USERS, readonly string[]>> = {}): string {
  const users = { ...LIVE_ROLES, ...roles };
  const lines = Object.entries(users).map(
    ([name, r]) => `      ${USERS[name as keyof typeof USERS]}: [${r.join(', ')}]`,
  );
  return [
    'version: 1',
    'organizations:',
    `  ${COLLINS}:`,
    '    name: Collins Street Clinic',
    '    users:',
    ...lines,
    '',
  ].join('\n');
}

export async function tempDir(prefix = 'rs-daemon-'): Promise<string> {
  return realpath(await mkdtemp(join(tmpdir(), prefix)));
}

export type LogLine = Record<string, unknown> & { readonly msg?: string; readonly level?: number };

export interface DaemonProcess {
  readonly child: ChildProcess;
  readonly logs: LogLine[];
  /** Everything on stdout and stderr, for failure messages. */
  output(): string;
  /** The ops server's base URL, once it listens. */
  readonly base: Promise<string>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  waitForLog(match: (line: LogLine) => boolean, timeoutMs?: number, after?: number): Promise<LogLine>;
  /** Log lines of finished cycles, in order. */
  cycles(): LogLine[];
  metrics(): Promise<Map<string, Family>>;
  metric(name: string, labels?: Record<string, string>): Promise<number | undefined>;
  status(): Promise<Record<string, unknown>>;
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface DaemonEnv {
  readonly sim: RunningSimulator;
  readonly stateDir: string;
  readonly extra?: Record<string, string>;
}

export function daemonEnv({ sim, stateDir, extra }: DaemonEnv): Record<string, string> {
  return {
    PATH: process.env['PATH'] ?? '',
    HOME: process.env['HOME'] ?? '',
    PARCHMENT_BASE_URL: sim.baseUrl,
    PARCHMENT_PARTNER_ID: DEMO_PARTNER.partnerId,
    PARCHMENT_PARTNER_SECRET: DEMO_PARTNER.partnerSecret,
    PARCHMENT_USER_ID: COLLINS_ACTING_USER,
    PARCHMENT_ORGANIZATION_SECRET: COLLINS_SECRET,
    ROLE_SYNC_STATE_DIR: stateDir,
    ROLE_SYNC_RATE: '200',
    ROLE_SYNC_CONCURRENCY: '8',
    LOG_LEVEL: 'debug',
    ...extra,
  };
}

const running = new Set<DaemonProcess>();

/** Start the daemon; options after `run` (e.g. `--debounce 200ms`). Listens on a free loopback port. */
export function spawnDaemon(config: string, args: readonly string[], env: Record<string, string>): DaemonProcess {
  const child = spawn(process.execPath, [CLI, 'run', '-c', config, '--listen', '127.0.0.1:0', ...args], {
    cwd: REPO,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: LogLine[] = [];
  const raw: string[] = [];
  const waiters = new Set<() => void>();
  let pending = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    raw.push(chunk);
    pending += chunk;
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      try {
        logs.push(JSON.parse(line) as LogLine);
      } catch {
        logs.push({ msg: line, unparsed: true });
      }
    }
    for (const wake of waiters) wake();
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => raw.push(chunk));
  let hasExited = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolveExit) => {
    // 'close', not 'exit': stdout is fully read by then, so every log line is in `logs`.
    child.on('close', (code, signal) => {
      hasExited = true;
      for (const wake of waiters) wake();
      resolveExit({ code, signal });
    });
  });

  const output = (): string => raw.join('');
  const waitForLog = (match: (line: LogLine) => boolean, timeoutMs = 5000, after = 0): Promise<LogLine> =>
    new Promise((resolveLine, reject) => {
      const check = (): boolean => {
        const found = logs.slice(after).find(match);
        if (found) {
          done();
          resolveLine(found);
          return true;
        }
        if (hasExited) {
          done();
          reject(new Error(`the daemon exited before the expected log line\n${output()}`));
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no matching log line within ${timeoutMs} ms\n${output()}`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        waiters.delete(wake);
      };
      const wake = (): void => void check();
      waiters.add(wake);
      check();
    });

  const base = waitForLog((l) => l.msg?.startsWith('ops server listening') === true, 10_000).then(
    (l) => `http://127.0.0.1:${String(l['port'])}`,
  );
  // A daemon that never listens (exit 1 at start) is a legitimate outcome; only awaiting `base` is an error then.
  base.catch(() => undefined);
  const metrics = async (): Promise<Map<string, Family>> =>
    parsePrometheusText(await (await fetch(`${await base}/metrics`)).text());
  const daemon: DaemonProcess = {
    child,
    logs,
    output,
    base,
    exited,
    waitForLog,
    cycles: () => logs.filter((l) => l.msg?.startsWith('reconcile cycle finished') === true),
    metrics,
    metric: async (name, labels) => sampleValue(await metrics(), name, labels),
    status: async () => (await (await fetch(`${await base}/status`)).json()) as Record<string, unknown>,
    stop: async (signal = 'SIGTERM') => {
      if (!hasExited) child.kill(signal);
      return exited;
    },
  };
  running.add(daemon);
  void exited.then(() => running.delete(daemon));
  return daemon;
}

/** For afterEach: no daemon outlives its test. */
export async function stopAllDaemons(): Promise<void> {
  await Promise.all([...running].map((d) => d.stop('SIGKILL')));
}

/** Poll `probe` every `intervalMs` until it returns a value other than undefined. */
export async function waitFor<T>(
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs: number,
  what: string,
  intervalMs = 20,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export function puts(sim: RunningSimulator): RecordedRequest[] {
  return sim.requests().filter((r) => r.method === 'PUT');
}

/** What a PUT asked for: user id and the role list sent. */
export function putSummary(r: RecordedRequest): { user: string | undefined; roles: unknown } {
  return { user: r.userId, roles: (r.body as { access_roles?: unknown } | undefined)?.access_roles };
}

export async function startWorld(
  opts: SimOptions = {},
): Promise<{ sim: RunningSimulator; dir: string; stateDir: string }> {
  const sim = await startSimulator(opts);
  // The state directory is not under the watched one: snapshot writes are not file events.
  return { sim, dir: await tempDir(), stateDir: join(await tempDir('rs-state-'), 'state') };
}
