/**
 * `node dist/cli.js plan|apply` as a child process against an in-process simulator, with a fresh
 * state directory per test and the simulator's answered requests delivered as events.
 */
import type { ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdtemp, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pino } from 'pino';
import {
  DEMO_PARTNER,
  startSimulator,
  type RecordedRequest,
  type RunningSimulator,
  type SimOptions,
} from '../../src/simulator/index.js';
import { runToEnd } from './child.js';
import { ACTING_USER, ORG_SECRET } from './live-seed.js';

export const REPO = resolve(import.meta.dirname, '..', '..');
export const CLI = join(REPO, 'dist', 'cli.js');

/** What the simulator logs once it has answered an API request (its `finish`). */
export interface SimAnswer {
  readonly method: string;
  readonly route: string;
  readonly userId?: string;
  readonly status: number | 'dropped';
  readonly requestId?: string;
}

export interface WatchedSimulator {
  readonly sim: RunningSimulator;
  /** Every answered API request, in the order answered. */
  readonly answers: SimAnswer[];
  /** Emits `answer` (SimAnswer) for every answered API request. */
  readonly events: EventEmitter<{ answer: [SimAnswer] }>;
}

/** Revokes every token as soon as the first PUT is answered: a 401 in the middle of an apply. */
export function revokeTokensAtFirstPut(watched: WatchedSimulator): void {
  watched.events.on('answer', (a) => {
    if (a.method === 'PUT') {
      watched.events.removeAllListeners('answer');
      watched.sim.revokeTokens();
    }
  });
}

/** A simulator whose own request log lines are parsed into events, so tests wait on events, not timers. */
export async function watchedSimulator(opts: Omit<SimOptions, 'logger'> = {}): Promise<WatchedSimulator> {
  const events = new EventEmitter<{ answer: [SimAnswer] }>();
  const answers: SimAnswer[] = [];
  // A synchronous sink: the event fires before the simulator's handler returns.
  const sink = {
    write(line: string): void {
      const entry = JSON.parse(line) as Partial<SimAnswer> & { msg?: string };
      if (entry.msg !== 'simulator request') return;
      const answer: SimAnswer = {
        method: entry.method ?? '',
        route: entry.route ?? '',
        status: entry.status ?? 'dropped',
        ...(entry.userId !== undefined ? { userId: entry.userId } : {}),
        ...(entry.requestId !== undefined ? { requestId: entry.requestId } : {}),
      };
      answers.push(answer);
      events.emit('answer', answer);
    },
  };
  const logger = pino({ level: 'info' }, sink);
  const sim = await startSimulator({ ...opts, logger });
  return { sim, answers, events };
}

export interface Workspace {
  readonly dir: string;
  readonly stateDir: string;
  /** Writes `text` to `name` in the workspace and returns the path. */
  file(name: string, text: string): Promise<string>;
  remove(): Promise<void>;
}

export async function workspace(prefix = 'rs-live-'): Promise<Workspace> {
  const dir = await realpath(await mkdtemp(join(tmpdir(), prefix)));
  return {
    dir,
    stateDir: join(dir, 'state'),
    async file(name, text) {
      const path = join(dir, name);
      await writeFile(path, text);
      return path;
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

export interface LiveEnvOptions {
  readonly sim: RunningSimulator;
  readonly stateDir: string;
  readonly rate?: number;
  readonly concurrency?: number;
  /** Default `warn`: the request lines are only needed where a test reads them. */
  readonly logLevel?: string;
  readonly extra?: Record<string, string>;
}

/** A clean environment (nothing inherited but PATH and HOME) for the single-organization world. */
export function liveEnv(o: LiveEnvOptions): Record<string, string> {
  return {
    PATH: process.env['PATH'] ?? '',
    HOME: process.env['HOME'] ?? '',
    PARCHMENT_BASE_URL: o.sim.baseUrl,
    PARCHMENT_PARTNER_ID: DEMO_PARTNER.partnerId,
    PARCHMENT_PARTNER_SECRET: DEMO_PARTNER.partnerSecret,
    PARCHMENT_USER_ID: ACTING_USER,
    PARCHMENT_ORGANIZATION_SECRET: ORG_SECRET,
    ROLE_SYNC_STATE_DIR: o.stateDir,
    ROLE_SYNC_RATE: String(o.rate ?? 200),
    ROLE_SYNC_CONCURRENCY: String(o.concurrency ?? 4),
    LOG_LEVEL: o.logLevel ?? 'warn',
    ...o.extra,
  };
}

export interface CliRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI to its end; `onSpawn` gets the child (e.g. to kill it). */
export function runCli(
  args: readonly string[],
  env: Record<string, string>,
  onSpawn?: (child: ChildProcess) => void,
): Promise<CliRun> {
  return runToEnd(process.execPath, [CLI, ...args], { cwd: REPO, env, ...(onSpawn ? { onSpawn } : {}) });
}

/** The JSON report of a run with `--format json`; fails with the run's stderr when stdout is not JSON. */
export function jsonReport(run: CliRun): LiveReportJson {
  try {
    return JSON.parse(run.stdout) as LiveReportJson;
  } catch {
    throw new Error(
      `stdout is not a JSON report (exit ${String(run.code)}):\n${run.stdout}\n--- stderr ---\n${run.stderr}`,
    );
  }
}

/** The parts of the JSON report (reportVersion 1) the live tests read. */
export interface LiveReportJson {
  reportVersion: number;
  kind: string;
  dryRun: boolean;
  organizations: {
    id: string;
    changes: {
      user: { key: string; id?: string };
      from: string[];
      to: string[];
      removed: string[];
      result: { state: string; reason?: string; failure?: FailureJson };
    }[];
    skipped: { user: { key: string; id?: string }; reason: string; liveRoles: string[] }[];
    failures: (FailureJson & { user?: { key: string; id?: string } })[];
    unmanaged: { user: { id?: string } }[];
    unchanged: number;
  }[];
  summary: {
    changes: number;
    applied: number;
    pending: number;
    failed: number;
    skipped: number;
    unchanged: number;
    unmanaged: number;
  };
  warnings: { message: string }[];
}

export interface FailureJson {
  reason: string;
  message: string;
  status?: number;
  code?: string;
  detail?: string;
  requestId?: string;
}

export function puts(requests: readonly RecordedRequest[]): RecordedRequest[] {
  return requests.filter((r) => r.method === 'PUT');
}

export function tokenCalls(requests: readonly RecordedRequest[]): RecordedRequest[] {
  return requests.filter((r) => r.method === 'POST' && r.route.endsWith('/v1/token'));
}

/** Arguments common to every apply of a big world: the guard is tested on its own. */
export const NO_GUARD = ['--max-changes', '100%'] as const;
