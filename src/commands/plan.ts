import { Option, type Command } from 'commander';
import { configOption, emitReport, orgOption, reportOptions } from '../cli/common.js';
import { printProblemsOf, sourceOf } from '../cli/desired.js';
import { ExitCode } from '../cli/exit-codes.js';
import type { OrgId } from '../core/domain.js';
import { buildOfflineReport } from '../core/offline-report.js';
import { hasPendingChanges } from '../core/report.js';
import type { ReportFormat } from '../core/render/index.js';
import { restrict, scopeDesired, unknownOrgsMessage, withLeftOut } from '../core/scope.js';
import { loadDesiredConfig } from '../config-source.js';
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
  /** `--org`: compare only these organizations. */
  readonly orgs?: readonly OrgId[];
}

interface PlanFlags {
  readonly config: string;
  readonly against?: string;
  readonly org?: OrgId[];
  readonly format: ReportFormat;
  readonly out?: string;
  readonly detailedExitcode?: boolean;
}

export function register(program: Command): void {
  const cmd = program
    .command('plan')
    .description(
      'Show the grants and revocations the file makes: against another revision of the file ' +
        'with --against (no network), or against the live roles in Parchment.',
    )
    .addHelpText(
      'after',
      '\nExit codes: 0 nothing to do, 1 error, 2 changes pending (only with --detailed-exitcode).\n' +
        'Users removed from the file are no longer managed: their access is NOT revoked.',
    );
  configOption(cmd);
  cmd.addOption(
    new Option(
      '--against <base>',
      'diff against BASE, another revision of the file or directory (the pull-request view)',
    ),
  );
  orgOption(cmd, 'plan');
  reportOptions(cmd);
  cmd.option('--detailed-exitcode', 'exit 2 when the plan has changes (Terraform convention)', false);
  cmd.action(async (flags: PlanFlags) => {
    if (flags.against === undefined) {
      process.exitCode = await runLive({
        config: flags.config,
        mode: 'plan',
        format: flags.format,
        out: flags.out,
        detailedExitcode: flags.detailedExitcode === true,
        force: false,
        ...(flags.org !== undefined ? { orgs: flags.org } : {}),
      });
      return;
    }
    process.exitCode = await runOfflinePlan({
      config: flags.config,
      against: flags.against,
      format: flags.format,
      out: flags.out,
      detailedExitcode: flags.detailedExitcode === true,
      ...(flags.org !== undefined ? { orgs: flags.org } : {}),
    });
  });
}

/**
 * `role-sync plan --against BASE`: reads two revisions (each a file or a directory), writes the report;
 * never touches the network. With `--org`, an organization counts as known when either revision has it
 * (one that the head revision removes is still a change to review).
 */
export async function runOfflinePlan(opts: OfflinePlanCommand): Promise<ExitCode> {
  const [head, base] = await Promise.all([loadDesiredConfig(opts.config), loadDesiredConfig(opts.against)]);
  printProblemsOf(head);
  printProblemsOf(base);
  if (head.kind === 'invalid' || base.kind === 'invalid') return ExitCode.error;

  const headScope = scopeDesired(head.state, opts.orgs, base.state);
  if (headScope.kind === 'unknown-orgs') {
    process.stderr.write(`role-sync: ${unknownOrgsMessage(head.file, headScope.unknown, head.state)}\n`);
    return ExitCode.error;
  }
  const baseState = opts.orgs === undefined ? base.state : restrict(base.state, new Set(opts.orgs));
  const plan = buildOfflineReport(headScope.state, baseState, {
    source: { ...sourceOf(head), base: sourceOf(base) },
    now: new Date(),
  });
  const report = withLeftOut(plan, headScope.leftOut);
  try {
    await emitReport(report, opts.format, opts.out);
  } catch (err) {
    process.stderr.write(`role-sync: cannot write the report to ${opts.out ?? 'stdout'}: ${messageOf(err)}\n`);
    return ExitCode.error;
  }
  return opts.detailedExitcode && hasPendingChanges(report) ? ExitCode.changesPending : ExitCode.ok;
}
