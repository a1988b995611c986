import type { Report } from '../core/report.js';
import { hasPendingChanges } from '../core/report.js';
import { DEFAULT_MAX_CHANGES } from '../core/guards.js';
import type { MaxChanges } from '../core/units.js';
import { formatProblem } from '../core/problems.js';
import { ExitCode } from '../cli/exit-codes.js';
import { emitReport } from '../cli/common.js';
import type { ReportFormat } from '../core/render/index.js';
import { loadDesiredFile } from '../desired-file.js';
import { createLogger, type Logger } from '../log.js';
import { loadSettings, SettingsError } from '../parchment/settings.js';
import { RequestQueue } from '../queue/request-queue.js';
import { connect } from '../engine/connection.js';
import { loadSnapshot, memoryOrEmpty, saveSnapshot } from '../engine/snapshot.js';

export interface LiveRunOptions {
  readonly config: string;
  readonly mode: 'plan' | 'apply';
  readonly dryRun: boolean;
  readonly format: ReportFormat;
  readonly out?: string;
  readonly detailedExitcode: boolean;
  readonly maxChanges?: MaxChanges;
  readonly force: boolean;
}

/** `role-sync plan` (live) and `role-sync apply [--dry-run]`: one cycle, a report, an exit code. */
export async function runLive(opts: LiveRunOptions): Promise<ExitCode> {
  const logger = createLogger({ stream: 'stderr' });
  const loaded = await loadDesiredFile(opts.config);
  if (!loaded.ok) {
    for (const p of loaded.problems) process.stderr.write(`${formatProblem(loaded.file, p)}\n`);
    return ExitCode.error;
  }
  for (const p of loaded.warnings) process.stderr.write(`${formatProblem(loaded.file, p)}\n`);

  let settings;
  try {
    settings = await loadSettings(
      process.env,
      loaded.state.organizations.map((o) => o.id),
    );
  } catch (err) {
    if (err instanceof SettingsError) {
      process.stderr.write(`role-sync: ${err.message}\n`);
      return ExitCode.error;
    }
    throw err;
  }

  const queue = new RequestQueue({
    ratePerSecond: settings.ratePerSecond,
    concurrency: settings.concurrency,
    onRateLimited: (delayMs) => logger.warn({ delayMs }, 'rate limited by Parchment: pausing all requests'),
  });
  const { reconciler, close } = connect(settings, {
    logger,
    scheduler: queue,
    readOnly: opts.mode === 'plan' || opts.dryRun,
  });
  const snapshot = await loadSnapshot(settings.stateDir);
  if (snapshot.kind === 'unreadable')
    logger.warn({ stateDir: settings.stateDir }, `${snapshot.message}; starting without memory`);

  const progress = progressReporter(logger, opts.mode === 'apply' && !opts.dryRun);
  try {
    const result = await reconciler.cycle(loaded.state, memoryOrEmpty(snapshot), {
      mode: opts.mode,
      dryRun: opts.dryRun,
      maxChanges: opts.maxChanges ?? DEFAULT_MAX_CHANGES,
      force: opts.force,
      source: { file: loaded.file, sha256: loaded.sha256 },
      onProgress: progress.update,
    });
    progress.finish();
    if (opts.mode === 'apply' && !opts.dryRun && result.refusals.length === 0) {
      await saveSnapshot(settings.stateDir, result.memory, new Date());
    }
    await emitReport(result.report, opts.format, opts.out);
    for (const r of result.refusals) process.stderr.write(`role-sync: refused: ${r.message}\n`);
    return exitCodeOf(result.report, result.refusals.length > 0, opts);
  } finally {
    close();
  }
}

export function exitCodeOf(report: Report, refused: boolean, opts: Pick<LiveRunOptions, 'detailedExitcode'>): ExitCode {
  if (refused) return ExitCode.refusedByGuard;
  if (report.summary.failed > 0) return ExitCode.error;
  if (opts.detailedExitcode && hasPendingChanges(report)) return ExitCode.changesPending;
  return ExitCode.ok;
}

/** A progress line on a TTY; a log line every few seconds otherwise (CI logs stay readable). */
function progressReporter(
  logger: Logger,
  enabled: boolean,
): { update: (done: number, total: number) => void; finish: () => void } {
  const tty = process.stderr.isTTY === true;
  let last = 0;
  let shown = false;
  return {
    update(done, total) {
      if (!enabled) return;
      const now = Date.now();
      if (tty) {
        process.stderr.write(`\rapplying ${done}/${total}`);
        shown = true;
      } else if (now - last >= 5000 || done === total) {
        last = now;
        logger.info({ done, total }, 'apply progress');
      }
    },
    finish() {
      if (shown) process.stderr.write('\n');
    },
  };
}
