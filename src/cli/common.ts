import { writeFile } from 'node:fs/promises';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { parseOrgId, type OrgId } from '../core/domain.js';
import type { Report } from '../core/report.js';
import { renderReport, type ReportFormat } from '../core/render/index.js';
import { parseDuration, parseMaxChanges, type MaxChanges } from '../core/units.js';

/** `-c/--config FILE`, else `$ROLE_SYNC_CONFIG`, else `./roles.yaml`. */
export function configOption(cmd: Command): Command {
  return cmd.addOption(
    new Option('-c, --config <path>', 'the desired-state file, or a directory of them (its *.yaml and *.yml files)')
      .env('ROLE_SYNC_CONFIG')
      .default('roles.yaml'),
  );
}

export function reportOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--format <format>', 'report format').choices(['text', 'json', 'markdown']).default('text'))
    .option('--out <file>', 'also write the report to FILE');
}

export function durationArg(value: string): number {
  const ms = parseDuration(value);
  if (ms === undefined)
    throw new InvalidArgumentError(`"${value}" is not a duration; use a unit, e.g. 500ms, 30s, 5m, 1h`);
  return ms;
}

export function maxChangesArg(value: string): MaxChanges {
  const parsed = parseMaxChanges(value);
  if (!parsed) throw new InvalidArgumentError(`"${value}" is not a count (40) or a percentage (25%)`);
  return parsed;
}

/** `--max-disables N`: a count of accounts, 0 or more. */
export function maxDisablesArg(value: string): number {
  if (!/^\d{1,6}$/.test(value)) throw new InvalidArgumentError(`"${value}" is not a count of disables (e.g. 3)`);
  return Number(value);
}

/** The report goes to stdout (and `--out`), so `role-sync plan --format json > plan.json` works. */
export async function emitReport(report: Report, format: ReportFormat, out: string | undefined): Promise<void> {
  const colour = format === 'text' && process.stdout.isTTY === true && !process.env['NO_COLOR'];
  const text = renderReport(report, format, { colour });
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  if (out !== undefined) {
    const plain = colour ? renderReport(report, format, { colour: false }) : text;
    await writeFile(out, plain.endsWith('\n') ? plain : `${plain}\n`);
  }
}

/** `--org ID`, repeatable: the organizations a run is limited to (README.md, "Commands and exit codes"). */
export function orgOption(cmd: Command, what: string): Command {
  return cmd.option(
    '--org <id>',
    `${what} only this organization (repeat for several); the others are left alone`,
    collectOrgId,
  );
}

function collectOrgId(value: string, previous: OrgId[] | undefined): OrgId[] {
  const id = parseOrgId(value.trim());
  if (id === undefined) throw new InvalidArgumentError(`"${value}" is not an organization id (a UUID)`);
  return previous?.includes(id) === true ? previous : [...(previous ?? []), id];
}
