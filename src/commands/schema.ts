import type { Command } from 'commander';
import { ExitCode } from '../cli/exit-codes.js';
import { desiredFileJsonSchema } from '../core/file-schema.js';

/** The same text as the committed schema/roles.schema.json, which editors reference. */
export function schemaText(): string {
  return `${JSON.stringify(desiredFileJsonSchema(), null, 2)}\n`;
}

export function register(program: Command): void {
  program
    .command('schema')
    .description('Print the JSON Schema of the desired-state file (for the YAML language server).')
    .addHelpText('after', '\nUse it from YAML with: # yaml-language-server: $schema=./schema/roles.schema.json')
    .action(() => {
      process.stdout.write(schemaText());
      process.exitCode = ExitCode.ok;
    });
}
