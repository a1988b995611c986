import type { Report } from '../core/report.js';
import { hasPendingChanges } from '../core/report.js';
import { DEFAULT_MAX_CHANGES, DEFAULT_MAX_DISABLES } from '../core/guards.js';
import type { MaxChanges } from '../core/units.js';
import type { OrgId } from '../core/domain.js';
import { withLeftOut } from '../core/scope.js';
import { ExitCode } from '../cli/exit-codes.js';
import { emitReport } from '../cli/common.js';
import { loadScoped, sourceOf } from '../cli/desired.js';
import type { ReportFormat } from '../core/render/index.js';
import { createLogger, type Logger } from '../log.js';
import { loadSettings, SettingsError } from '../parchment/settings.js';
import { WriteCoordinator } from '../queue/write-coordinator.js';
import { connect, requestQueue } from '../engine/connection.js';
import { checkStateDir, loadSnapshot, snapshotOrEmpty, saveSnapshot } from '../engine/snapshot.js';
import { writes, type RunMode } from '../core/run-mode.js';
import { messageOf } from '../core/wording.js';

export interface LiveRunOptions {
  readonly config: string;
  readonly mode: RunMode;
  readonly format: ReportFormat;
  readonly out?: string;
  readonly detailedExitcode: boolean;
  readonly maxChanges?: MaxChanges;
  readonly maxDisables?: number | undefined;
  readonly force: boolean;
  /** `--org`: observe, plan and write only these organizations. */
  readonly orgs?: readonly OrgId[];
}

/** `role-sync plan` (live) and `role-sync apply [--dry-run]`: one cycle, a report, an exit code. */
export async function runLive(opts: LiveRunOptions): Promise<ExitCode> {
  const logger = createLogger({ stream: 'stderr' });
  const scoped = await loadScoped(opts.config, opts.orgs);
  if (scoped.kind === 'refused') return ExitCode.error;
  const { loaded, state, leftOut } = scoped;

  let settings;
  try {
    // Only the organizations in scope: one left out by --org needs no credentials and gets no request.
    settings = await loadSettings(
      process.env,
      state.organizations.map((o) => o.id),
    );
  } catch (err) {
    if (err instanceof SettingsError) {
      process.stderr.write(`role-sync: ${err.message}\n`);
      return ExitCode.error;
    }
    throw err;
  }

  // Before anything is sent: changes made by a run that cannot then record them would be lost to later reports.
  const stateProblem = writes(opts.mode) ? await checkStateDir(settings.stateDir) : undefined;
  if (stateProblem !== undefined) {
    process.stderr.write(
      `role-sync: cannot write the observed-state snapshot in ${settings.stateDir} (ROLE_SYNC_STATE_DIR): ` +
        `${stateProblem}; nothing was sent\n`,
    );
    return ExitCode.error;
  }

  const connection = connect(settings, {
    logger,
    scheduler: requestQueue(settings, logger),
    coordinator: new WriteCoordinator(),
  });
  const snapshot = await loadSnapshot(settings.stateDir);
  if (snapshot.kind === 'unreadable')
    logger.warn({ stateDir: settings.stateDir }, `${snapshot.message}; starting without a snapshot`);

  const progress = progressReporter(logger, writes(opts.mode));
  try {
    const result = await connection.reconciler(opts.mode).cycle(state, snapshotOrEmpty(snapshot), {
      maxChanges: opts.maxChanges ?? DEFAULT_MAX_CHANGES,
      maxDisables: opts.maxDisables ?? DEFAULT_MAX_DISABLES,
      force: opts.force,
      source: sourceOf(loaded),
      onProgress: progress.update,
    });
    progress.finish();
    let snapshotProblem: string | undefined;
    if (writes(opts.mode) && result.refusals.length === 0) {
      try {
        await saveSnapshot(settings.stateDir, result.snapshot, new Date());
      } catch (err) {
        snapshotProblem = messageOf(err);
      }
    }
    // The report comes first whatever happened after the writes: it is the record of what was changed.
    await emitReport(withLeftOut(result.report, leftOut), opts.format, opts.out);
    for (const r of result.refusals) process.stderr.write(`role-sync: refused: ${r.message}\n`);
    if (snapshotProblem !== undefined) {
      process.stderr.write(
        `role-sync: the changes in the report were made, but the observed-state snapshot could not be written ` +
          `in ${settings.stateDir} (ROLE_SYNC_STATE_DIR): ${snapshotProblem}\n`,
      );
      return ExitCode.error;
    }
    return exitCodeOf(result.report, result.refusals.length > 0, opts);
  } finally {
    connection.close();
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
