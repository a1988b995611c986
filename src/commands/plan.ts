import { Option, type Command } from 'commander';
import { configOption, emitReport, reportOptions } from '../cli/common.js';
import { ExitCode } from '../cli/exit-codes.js';
import { buildOfflineReport } from '../core/offline-report.js';
import { hasPendingChanges } from '../core/report.js';
import type { ReportFormat } from '../core/render/index.js';
import { loadDesiredFile, printProblems } from '../desired-file.js';
import { runLive } from './live.js';
import { messageOf } from '../core/wording.js';

export interface OfflinePlanCommand {
  /** The head revision (`-c`). */
  readonly config: string;
  /** The base revision (`--against`). */
  readonly against: string;
  readonly format: ReportFormat;
  readonly out: string | undefined;
  readonly detailedExitcode: boolean;
}

interface PlanFlags {
  readonly config: string;
  readonly against?: string;
  readonly format: ReportFormat;
  readonly out?: string;
  readonly detailedExitcode?: boolean;
}

export function register(program: Command): void {
  const cmd = program
    .command('plan')
    .description(
      'Show the grants and revocations the file makes: against another revision of the file with --against (no network), ' +
        'or against the live roles in Parchment.',
    )
    .addHelpText(
      'after',
      '\nExit codes: 0 nothing to do, 1 error, 2 changes pending (only with --detailed-exitcode).\n' +
        'Users removed from the file are no longer managed: their access is NOT revoked.',
    );
  configOption(cmd);
  cmd.addOption(
    new Option('--against <base>', 'diff against BASE, another revision of the file (the pull-request view)'),
  );
  reportOptions(cmd);
  cmd.option('--detailed-exitcode', 'exit 2 when the plan has changes (Terraform convention)', false);
  cmd.action(async (flags: PlanFlags) => {
    if (flags.against === undefined) {
      process.exitCode = await runLive({
        config: flags.config,
        mode: 'plan',
        format: flags.format,
        ...(flags.out !== undefined ? { out: flags.out } : {}),
        detailedExitcode: flags.detailedExitcode === true,
        force: false,
      });
      return;
    }
    process.exitCode = await runOfflinePlan({
      config: flags.config,
      against: flags.against,
      format: flags.format,
      out: flags.out,
      detailedExitcode: flags.detailedExitcode === true,
    });
  });
}

/** `role-sync plan --against BASE.yaml`: reads two files, writes the report; never touches the network. */
export async function runOfflinePlan(opts: OfflinePlanCommand): Promise<ExitCode> {
  const [head, base] = await Promise.all([loadDesiredFile(opts.config), loadDesiredFile(opts.against)]);
  for (const loaded of [head, base])
    printProblems(loaded.file, loaded.ok ? loaded.warnings : loaded.problems, process.stderr);
  if (!head.ok || !base.ok) return ExitCode.error;

  const report = buildOfflineReport(head.state, base.state, {
    source: { file: head.file, sha256: head.sha256, base: { file: base.file, sha256: base.sha256 } },
    now: new Date(),
  });
  try {
    await emitReport(report, opts.format, opts.out);
  } catch (err) {
    process.stderr.write(`role-sync: cannot write the report to ${opts.out ?? 'stdout'}: ${messageOf(err)}\n`);
    return ExitCode.error;
  }
  return opts.detailedExitcode && hasPendingChanges(report) ? ExitCode.changesPending : ExitCode.ok;
}
