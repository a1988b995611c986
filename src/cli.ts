#!/usr/bin/env node
import { Command } from 'commander';
import { ExitCode } from './cli/exit-codes.js';
import { VERSION } from './version.js';
import * as validate from './commands/validate.js';
import * as schema from './commands/schema.js';
import * as plan from './commands/plan.js';
import * as apply from './commands/apply.js';
import * as run from './commands/run.js';
import * as simulate from './commands/simulate.js';
import * as exportCommand from './commands/export.js';
import { messageOf } from './core/wording.js';

const program = new Command()
  .name('role-sync')
  .description('Keep the user roles of Parchment Health organizations equal to a YAML file kept in git.')
  .version(VERSION)
  .showHelpAfterError()
  // Commander's own usage errors (unknown flag, bad choice) are exit 1, like every other error.
  .exitOverride((err) => {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') {
      process.exit(ExitCode.ok);
    }
    process.exit(ExitCode.error);
  });

for (const command of [validate, schema, plan, apply, run, exportCommand, simulate]) command.register(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  // Commands turn expected failures into messages; this is the last line for the unexpected.
  process.stderr.write(`role-sync: internal error: ${messageOf(err)}\n`);
  process.exitCode = ExitCode.error;
}
