import type { Command } from 'commander';
import { configOption, maxChangesArg, maxDisablesArg, orgOption, reportOptions } from '../cli/common.js';
import type { OrgId } from '../core/domain.js';
import type { ReportFormat } from '../core/render/index.js';
import type { MaxChanges } from '../core/units.js';
import { runLive } from './live.js';

export function register(program: Command): void {
  const cmd = program
    .command('apply')
    .description('Plan against the live roles in Parchment, check the safety guards, write the changes and report.')
    .addHelpText(
      'after',
      '\nExit codes: 0 done, nothing left to do; 1 error (a user failed, bad file, settings or credentials);\n' +
        '2 changes pending (only --dry-run --detailed-exitcode); 3 refused by a safety guard, nothing written.\n' +
        'Users removed from the file are no longer managed: their access is NOT revoked.',
    );
  configOption(cmd);
  orgOption(cmd, 'apply');
  reportOptions(cmd)
    .option('--dry-run', 'plan and report only; the HTTP layer refuses every write')
    .option('--detailed-exitcode', 'with --dry-run: exit 2 when changes are pending')
    .option(
      '--max-changes <n|n%>',
      'refuse when an organization has more changes (default 25%, at least 10)',
      maxChangesArg,
    )
    .option(
      '--max-disables <n>',
      'refuse when an organization has more disables (offboarded, expired or unlisted users; default 3)',
      maxDisablesArg,
    )
    .option('--force', 'write even when a safety guard refuses the plan')
    .action(
      async (o: {
        config: string;
        format: ReportFormat;
        out?: string;
        dryRun?: boolean;
        detailedExitcode?: boolean;
        maxChanges?: MaxChanges;
        maxDisables?: number;
        force?: boolean;
        org?: OrgId[];
      }) => {
        process.exitCode = await runLive({
          config: o.config,
          mode: o.dryRun === true ? 'dry-run' : 'apply',
          format: o.format,
          out: o.out,
          detailedExitcode: o.detailedExitcode === true,
          maxChanges: o.maxChanges,
          maxDisables: o.maxDisables,
          force: o.force === true,
          ...(o.org !== undefined ? { orgs: o.org } : {}),
        });
      },
    );
}
