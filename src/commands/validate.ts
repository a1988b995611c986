import type { Command } from 'commander';
import { configOption } from '../cli/common.js';
import { printProblemsOf } from '../cli/desired.js';
import { ExitCode } from '../cli/exit-codes.js';
import type { DesiredState } from '../core/desired-state.js';
import { plural } from '../core/wording.js';
import { loadDesiredConfig } from '../config-source.js';

function describeState(state: DesiredState, parts: number | undefined): string {
  const users = state.organizations.reduce((sum, org) => sum + org.users.length, 0);
  const counts = `${plural(state.organizations.length, 'organization')}, ${plural(users, 'user')}`;
  return parts === undefined ? counts : `${plural(parts, 'part')}, ${counts}`;
}

/** `role-sync validate`: problems to stderr (FILE:LINE:COL), a one-line verdict to stdout when the file is valid. */
export async function runValidate(file: string): Promise<ExitCode> {
  const result = await loadDesiredConfig(file);
  printProblemsOf(result);
  if (result.kind === 'invalid') {
    const errors = result.problems.filter((p) => p.severity === 'error').length;
    const warnings = result.problems.length - errors;
    const tally = warnings > 0 ? `${plural(errors, 'error')}, ${plural(warnings, 'warning')}` : plural(errors, 'error');
    process.stderr.write(`${file}: invalid — ${tally}\n`);
    return ExitCode.error;
  }
  const note = result.warnings.length > 0 ? ` (${plural(result.warnings.length, 'warning')})` : '';
  process.stdout.write(`${file}: valid — ${describeState(result.state, result.parts?.length)}${note}\n`);
  return ExitCode.ok;
}

export function register(program: Command): void {
  const cmd = program
    .command('validate')
    .description(
      'Check the desired-state file (or every part of a directory) and print every problem ' +
        'as FILE:LINE:COL (no network).',
    )
    .addHelpText('after', '\nExit codes: 0 valid (warnings allowed), 1 any error.');
  configOption(cmd);
  cmd.action(async (flags: { config: string }) => {
    process.exitCode = await runValidate(flags.config);
  });
}
