import type { Command } from 'commander';
import { configOption } from '../cli/common.js';
import { ExitCode } from '../cli/exit-codes.js';
import type { DesiredState } from '../core/desired-state.js';
import { plural } from '../core/wording.js';
import { loadDesiredFile, printProblems } from '../desired-file.js';

function describeState(state: DesiredState): string {
  const users = state.organizations.reduce((sum, org) => sum + org.users.length, 0);
  return `${plural(state.organizations.length, 'organization')}, ${plural(users, 'user')}`;
}

/** `role-sync validate`: problems to stderr (FILE:LINE:COL), a one-line verdict to stdout when the file is valid. */
export async function runValidate(file: string): Promise<ExitCode> {
  const result = await loadDesiredFile(file);
  if (!result.ok) {
    printProblems(file, result.problems, process.stderr);
    const errors = result.problems.filter((p) => p.severity === 'error').length;
    const warnings = result.problems.length - errors;
    const tally = warnings > 0 ? `${plural(errors, 'error')}, ${plural(warnings, 'warning')}` : plural(errors, 'error');
    process.stderr.write(`${file}: invalid — ${tally}\n`);
    return ExitCode.error;
  }
  printProblems(file, result.warnings, process.stderr);
  const note = result.warnings.length > 0 ? ` (${plural(result.warnings.length, 'warning')})` : '';
  process.stdout.write(`${file}: valid — ${describeState(result.state)}${note}\n`);
  return ExitCode.ok;
}

export function register(program: Command): void {
  const cmd = program
    .command('validate')
    .description('Check the desired-state file and print every problem as FILE:LINE:COL (no network).')
    .addHelpText('after', '\nExit codes: 0 valid (warnings allowed), 1 any error.');
  configOption(cmd);
  cmd.action(async (flags: { config: string }) => {
    process.exitCode = await runValidate(flags.config);
  });
}
