import { InvalidArgumentError, Option, type Command } from 'commander';
import { configOption, durationArg, maxChangesArg, maxDisablesArg, orgOption } from '../cli/common.js';
import { ExitCode } from '../cli/exit-codes.js';
import type { OrgId } from '../core/domain.js';
import { DEFAULT_MAX_CHANGES, DEFAULT_MAX_DISABLES } from '../core/guards.js';
import type { MaxChanges } from '../core/units.js';
import { Daemon } from '../daemon/daemon.js';
import { DesiredSource } from '../daemon/desired-source.js';
import { DaemonMetrics } from '../daemon/metrics.js';
import { DEFAULT_LISTEN, parseListenAddress, type ListenAddress } from '../daemon/ops-server.js';
import { loadDesiredConfig } from '../config-source.js';
import { connect, requestQueue, type Connection } from '../engine/connection.js';
import type { UserWrite } from '../engine/reconciler.js';
import { createLogger } from '../log.js';
import { checkStateDir } from '../engine/snapshot.js';
import { loadSettings, loadStatusToken, SettingsError, type ParchmentSettings } from '../parchment/settings.js';
import { WriteCoordinator } from '../queue/write-coordinator.js';
import { messageOf } from '../core/wording.js';

/**
 * `role-sync run`: the daemon. Logs JSON lines to stdout.
 *
 * An invalid file at start is exit 1: there is no last good state to fall back on, and a
 * Deployment should fail its rollout rather than start doing nothing. An invalid file later
 * keeps the daemon running on the last good state, with `/readyz` answering 503 until fixed.
 */

export interface RunOptions {
  readonly config: string;
  readonly dryRun: boolean;
  readonly force: boolean;
  readonly maxChanges: MaxChanges;
  readonly maxDisables: number;
  readonly listen: ListenAddress;
  readonly debounceMs: number;
  readonly rereadIntervalMs: number;
  readonly resyncIntervalMs: number;
  /** `--org`: watch the whole file but reconcile only these organizations. */
  readonly orgs?: readonly OrgId[];
}

/** Well under Kubernetes' default 30 s grace period, which ends in SIGKILL. */
const SHUTDOWN_DEADLINE_MS = 10_000;
/** After the deadline, the snapshot write and closing get this long before a forced exit. */
const SHUTDOWN_MARGIN_MS = 5_000;

function listenArg(value: string): ListenAddress {
  const parsed = parseListenAddress(value);
  if (!parsed)
    throw new InvalidArgumentError(`"${value}" is not HOST:PORT (e.g. 0.0.0.0:9464, [::]:9464, 127.0.0.1:0)`);
  return parsed;
}

export function register(program: Command): void {
  const cmd = program
    .command('run')
    .description(
      'The daemon: watch the file, apply changes, re-check the live roles on a timer, heal or report drift, ' +
        'serve health and metrics.',
    );
  orgOption(configOption(cmd), 'reconcile')
    .option('--dry-run', 'observe and report (drift, pending changes) but never write; the HTTP layer refuses writes')
    .addOption(
      new Option('--listen <host:port>', 'address of /healthz, /readyz, /metrics and /status')
        .default(listenArg(DEFAULT_LISTEN), DEFAULT_LISTEN)
        .argParser(listenArg),
    )
    .addOption(
      new Option('--debounce <duration>', 'wait this long after the last file event before reading')
        .default(1000, '1s')
        .argParser(durationArg),
    )
    .addOption(
      new Option('--reread-interval <duration>', 're-read the file this often in case an event is missed')
        .default(30_000, '30s')
        .argParser(durationArg),
    )
    .addOption(
      new Option('--resync-interval <duration>', 're-observe the live roles this often (drift)')
        .default(300_000, '5m')
        .argParser(durationArg),
    )
    .option(
      '--max-changes <n|n%>',
      'refuse a cycle with more changes per organization (default 25%, at least 10)',
      maxChangesArg,
    )
    .option(
      '--max-disables <n>',
      'refuse a cycle with more disables per organization (offboarded, expired or unlisted users; default 3)',
      maxDisablesArg,
    )
    .option('--force', 'write even when a safety guard refuses the plan')
    .action(
      async (o: {
        config: string;
        dryRun?: boolean;
        listen: ListenAddress;
        debounce: number;
        rereadInterval: number;
        resyncInterval: number;
        maxChanges?: MaxChanges;
        maxDisables?: number;
        force?: boolean;
        org?: OrgId[];
      }) => {
        for (const [flag, ms] of [
          ['--reread-interval', o.rereadInterval],
          ['--resync-interval', o.resyncInterval],
        ] as const) {
          if (ms <= 0) cmd.error(`error: option '${flag}' must be longer than 0`, { exitCode: ExitCode.error });
        }
        process.exitCode = await runDaemon({
          config: o.config,
          dryRun: o.dryRun === true,
          force: o.force === true,
          maxChanges: o.maxChanges ?? DEFAULT_MAX_CHANGES,
          maxDisables: o.maxDisables ?? DEFAULT_MAX_DISABLES,
          listen: o.listen,
          debounceMs: o.debounce,
          rereadIntervalMs: o.rereadInterval,
          resyncIntervalMs: o.resyncInterval,
          ...(o.org !== undefined ? { orgs: o.org } : {}),
        });
      },
    );
}

export async function runDaemon(opts: RunOptions): Promise<ExitCode> {
  const logger = createLogger({ stream: 'stdout' });
  const source = new DesiredSource(opts.config, loadDesiredConfig, logger, opts.orgs);
  const first = await source.reload();
  if (first.kind === 'invalid') {
    logger.error({ file: opts.config }, 'the desired-state file is not valid at start; fix it and start again');
    return ExitCode.error;
  }
  const organizations = first.desired.state.organizations.map((o) => o.id);
  if (first.desired.leftOut.length > 0) {
    logger.info(
      { organizations, leftOut: first.desired.leftOut.map((o) => o.id) },
      `--org: reconciling ${organizations.length} organization(s); the others in the file are left alone`,
    );
  }

  let settings: ParchmentSettings;
  let statusToken: string | undefined;
  try {
    settings = await loadSettings(process.env, organizations);
    statusToken = await loadStatusToken(process.env);
  } catch (err) {
    if (err instanceof SettingsError) {
      logger.error({ variable: err.variable }, err.message);
      return ExitCode.error;
    }
    throw err;
  }

  // A daemon that cannot remember what it wrote should fail its rollout, as an invalid file does.
  // Dry-run writes no snapshot.
  const stateProblem = opts.dryRun ? undefined : await checkStateDir(settings.stateDir);
  if (stateProblem !== undefined) {
    logger.error(
      { stateDir: settings.stateDir, variable: 'ROLE_SYNC_STATE_DIR' },
      `cannot write the observed-state snapshot in ${settings.stateDir} (ROLE_SYNC_STATE_DIR): ${stateProblem}`,
    );
    return ExitCode.error;
  }

  const metrics = new DaemonMetrics({ queueDepth: () => queue.depth, requestRate: () => queue.rate });
  const queue = requestQueue(settings, logger, metrics.recordRateLimited);
  const coordinator = new WriteCoordinator<UserWrite>();
  let initial: ParchmentSettings | undefined = settings;
  const reconnect = async (orgs: readonly OrgId[]): Promise<Connection> => {
    // Credentials are read again for a new set of organizations, or after Parchment rejected them:
    // a mounted secret may have changed.
    const s = initial ?? (await loadSettings(process.env, orgs));
    initial = undefined;
    return connect(s, { logger, scheduler: queue, coordinator, onRequest: metrics.recordApiRequest });
  };

  const daemon = new Daemon(
    {
      mode: opts.dryRun ? 'dry-run' : 'apply',
      force: opts.force,
      maxChanges: opts.maxChanges,
      maxDisables: opts.maxDisables,
      listen: opts.listen,
      debounceMs: opts.debounceMs,
      rereadIntervalMs: opts.rereadIntervalMs,
      resyncIntervalMs: opts.resyncIntervalMs,
      shutdownDeadlineMs: SHUTDOWN_DEADLINE_MS,
    },
    {
      configPath: opts.config,
      logger,
      metrics,
      source,
      queue,
      coordinator,
      connect: reconnect,
      stateDir: settings.stateDir,
      ...(statusToken !== undefined ? { statusToken } : {}),
      now: () => new Date(),
    },
  );

  const stopped = new Promise<ExitCode>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) {
        logger.error({ signal }, 'second signal during shutdown: exiting now');
        process.exit(ExitCode.error);
      }
      stopping = true;
      // PID 1 in a container gets no default signal handling, and a wedged shutdown must still end.
      setTimeout(() => {
        logger.error('shutdown did not finish in time: exiting now');
        process.exit(ExitCode.error);
      }, SHUTDOWN_DEADLINE_MS + SHUTDOWN_MARGIN_MS).unref();
      daemon.shutdown(signal).then(
        () => resolve(ExitCode.ok),
        (err: unknown) => {
          logger.error({ err: messageOf(err) }, 'shutdown failed');
          resolve(ExitCode.error);
        },
      );
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
  const hup = (): void => void daemon.reread();
  process.on('SIGHUP', hup);

  try {
    await daemon.start();
  } catch (err) {
    logger.error({ err: messageOf(err) }, 'cannot start the daemon');
    await daemon.shutdown('start-failure');
    return ExitCode.error;
  }
  const code = await stopped;
  process.off('SIGHUP', hup);
  return code;
}
