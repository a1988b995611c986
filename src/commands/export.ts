import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Option, type Command } from 'commander';
import { orgOption } from '../cli/common.js';
import { ExitCode } from '../cli/exit-codes.js';
import type { OrgId, UserId } from '../core/domain.js';
import { EXPORT_KEYS, renderExport, type ExportKey, type ExportOrg } from '../core/export.js';
import type { ObservedUser } from '../core/observed-state.js';
import { failureText } from '../core/render/words.js';
import { messageOf } from '../core/wording.js';
import { MAX_DIRECTORY_BYTES, mapLimited } from '../config-source.js';
import { MAX_FILE_BYTES } from '../desired-file.js';
import { failureOf } from '../engine/failures.js';
import { createLogger } from '../log.js';
import { connect, requestQueue } from '../engine/connection.js';
import type { ParchmentApi } from '../engine/parchment-api.js';
import {
  credentialedOrganizations,
  loadSettings,
  SettingsError,
  type ParchmentSettings,
} from '../parchment/settings.js';
import { WriteCoordinator } from '../queue/write-coordinator.js';

/**
 * `role-sync export` (peribolos' `--dump`, `terraform import`): the live roles of organizations as a
 * desired-state document to start managing them from. Read-only by construction: the connection's HTTP
 * layer refuses everything but GET and the token call, as for `plan`.
 */

export interface ExportCommand {
  readonly orgs: readonly OrgId[] | undefined;
  readonly key: ExportKey;
  readonly out: string | undefined;
}

/** Below this many users to read, an organization is exported without a progress line. */
const PROGRESS_FROM = 500;
const PROGRESS_EVERY_MS = 5_000;

export function register(program: Command): void {
  const cmd = program
    .command('export')
    .description(
      'Write the live roles of organizations as a valid desired-state file, to start managing them (reads only).',
    )
    .addHelpText(
      'after',
      '\nWithout --org, every organization in PARCHMENT_CREDENTIALS_FILE is exported. --out DIR (an existing\n' +
        'directory, or a path ending in /) writes one file per organization, <organization id>.yaml: a\n' +
        'directory of files that -c can name. A plan against the export shows no change.\n' +
        '\nExit codes: 0 exported, 1 error (settings, credentials, a request that failed; nothing is written).',
    );
  orgOption(cmd, 'export');
  cmd
    .addOption(
      new Option('--key <key>', 'key users by email (the id when Parchment gives none) or by id')
        .choices(EXPORT_KEYS)
        .default('email'),
    )
    .option('--out <file|dir>', 'write to FILE, or one file per organization into DIR (default: stdout)')
    .action(async (o: { org?: OrgId[]; key: ExportKey; out?: string }) => {
      process.exitCode = await runExport({ orgs: o.org, key: o.key, out: o.out });
    });
}

export async function runExport(opts: ExportCommand): Promise<ExitCode> {
  const logger = createLogger({ stream: 'stderr' });
  let settings: ParchmentSettings;
  try {
    const orgs = opts.orgs ?? (await credentialedOrganizations(process.env));
    if (orgs.length === 0) {
      process.stderr.write(
        'role-sync: export: no organization to export; ' +
          'give --org ID, or list organizations in PARCHMENT_CREDENTIALS_FILE\n',
      );
      return ExitCode.error;
    }
    settings = await loadSettings(process.env, orgs);
  } catch (err) {
    if (err instanceof SettingsError) {
      process.stderr.write(`role-sync: ${err.message}\n`);
      return ExitCode.error;
    }
    throw err;
  }

  // The plan's connection: the HTTP layer under it refuses everything but GET and the token call.
  const connection = connect(settings, {
    logger,
    scheduler: requestQueue(settings, logger),
    coordinator: new WriteCoordinator(),
  });
  const api = connection.api('plan');
  const observed: ExportOrg[] = [];
  try {
    for (const org of settings.organizations.keys()) {
      const result = await observeForExport(api, org, opts.key, settings.concurrency);
      if (result.kind === 'unobserved') {
        process.stderr.write(`role-sync: export: ${result.message}; nothing was written\n`);
        return ExitCode.error;
      }
      observed.push(result.org);
    }
  } finally {
    connection.close();
  }

  try {
    await writeExport(observed, opts);
  } catch (err) {
    process.stderr.write(`role-sync: export: cannot write ${opts.out ?? 'stdout'}: ${messageOf(err)}\n`);
    return ExitCode.error;
  }
  return ExitCode.ok;
}

type Observed =
  { readonly kind: 'observed'; readonly org: ExportOrg } | { readonly kind: 'unobserved'; readonly message: string };

/**
 * Lists the organization, then reads each user the list says too little about: roles always (the
 * bare list shape has none), emails under `--key email` (the vendor's own shape has none). Reads are
 * bounded: a few more in hand than the queue runs at once, however large the organization.
 */
async function observeForExport(api: ParchmentApi, org: OrgId, key: ExportKey, concurrency: number): Promise<Observed> {
  let listed: readonly ObservedUser[];
  try {
    listed = await api.listUsers(org);
  } catch (err) {
    return {
      kind: 'unobserved',
      message: failureText(failureOf(err, 'observe', `cannot list the users of organization ${org}`)),
    };
  }
  const toRead = listed.filter((u) => u.roles === undefined || (key === 'email' && u.email === undefined));
  const progress = progressLine(org, toRead.length);
  const read = new Map<UserId, ObservedUser>();
  let failure: string | undefined;
  let done = 0;
  await mapLimited(toRead, Math.max(8, concurrency * 2), async (u) => {
    if (failure !== undefined) return;
    try {
      const full = await api.getUser(org, u.id);
      if (full.id !== u.id) {
        failure = `reading user ${u.id} of organization ${org} answered for user ${full.id}: identity is never guessed`;
        return;
      }
      read.set(u.id, { ...u, ...full, email: full.email ?? u.email });
    } catch (err) {
      failure = failureText(failureOf(err, 'observe', `cannot read user ${u.id} of organization ${org}`));
    }
    progress.update(++done);
  });
  progress.finish();
  if (failure !== undefined) return { kind: 'unobserved', message: failure };
  return { kind: 'observed', org: { id: org, users: listed.map((u) => read.get(u.id) ?? u) } };
}

/** On a terminal, one line rewritten in place; otherwise a line every few seconds, so CI logs stay short. */
function progressLine(org: OrgId, total: number): { update: (done: number) => void; finish: () => void } {
  if (total < PROGRESS_FROM) return { update: () => undefined, finish: () => undefined };
  const tty = process.stderr.isTTY === true;
  const text = (done: number): string => `role-sync export: organization ${org}: read ${done}/${total} users`;
  let last = Date.now();
  process.stderr.write(tty ? `\r${text(0)}` : `${text(0)}\n`);
  return {
    update(done) {
      const now = Date.now();
      if (tty) process.stderr.write(`\r${text(done)}`);
      else if (now - last >= PROGRESS_EVERY_MS || done === total) {
        last = now;
        process.stderr.write(`${text(done)}\n`);
      }
    },
    finish() {
      if (tty) process.stderr.write('\n');
    },
  };
}

/** `--out DIR` is an existing directory or a path ending in a separator; any other `--out` is one file. */
async function writeExport(orgs: readonly ExportOrg[], opts: ExportCommand): Promise<void> {
  if (opts.out === undefined) {
    const { text, counts } = renderExport(orgs, { key: opts.key });
    process.stdout.write(text);
    warnIfTooLarge('the export', text);
    summary(orgs.length, counts, 'stdout');
    return;
  }
  if (!(await isDirectoryTarget(opts.out))) {
    const { text, counts } = renderExport(orgs, { key: opts.key });
    await writeAtomically(opts.out, text);
    warnIfTooLarge(opts.out, text);
    summary(orgs.length, counts, opts.out);
    return;
  }
  await mkdir(opts.out, { recursive: true });
  // Every part is rendered before the first is written: a failure leaves the directory as it was.
  const parts = orgs.map((org) => ({
    file: join(opts.out!, `${org.id}.yaml`),
    ...renderExport([org], { key: opts.key }),
  }));
  for (const part of parts) await writeAtomically(part.file, part.text);
  let total = 0;
  for (const part of parts) {
    warnIfTooLarge(part.file, part.text, 'this organization is too large to be managed from one part');
    total += Buffer.byteLength(part.text);
  }
  if (total > MAX_DIRECTORY_BYTES) {
    process.stderr.write(
      `role-sync export: warning: the parts hold ${total} bytes in all; role-sync reads at most ` +
        `${MAX_DIRECTORY_BYTES} bytes from a directory: manage these organizations from more than one directory\n`,
    );
  }
  const counts = parts.reduce(
    (sum, p) => ({
      managed: sum.managed + p.counts.managed,
      disabled: sum.disabled + p.counts.disabled,
      comments: sum.comments + p.counts.comments,
    }),
    { managed: 0, disabled: 0, comments: 0 },
  );
  summary(orgs.length, counts, `${opts.out} (one file per organization)`);
}

/**
 * An export is written whatever its size, but one role-sync would refuse to read is no start: said
 * at once rather than at the first `validate`.
 */
function warnIfTooLarge(
  what: string,
  text: string,
  hint = 'export to a directory (--out DIR/), one part per organization',
): void {
  const bytes = Buffer.byteLength(text);
  if (bytes <= MAX_FILE_BYTES) return;
  process.stderr.write(
    `role-sync export: warning: ${what} is ${bytes} bytes; role-sync reads at most ${MAX_FILE_BYTES} bytes ` +
      `from one file: ${hint}\n`,
  );
}

async function isDirectoryTarget(path: string): Promise<boolean> {
  if (path.endsWith('/')) return true;
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Temp file and rename: a daemon watching the directory never reads half a part. The temp name is
 * hidden, so it is never taken for a part.
 */
async function writeAtomically(path: string, text: string): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    await writeFile(temp, text);
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}

function summary(orgs: number, c: { managed: number; disabled: number; comments: number }, where: string): void {
  process.stderr.write(
    `role-sync export: ${orgs} organization(s) to ${where}: ${c.managed} user(s) with roles, ${c.disabled} disabled, ` +
      `${c.comments} not managed (comments)\n`,
  );
}
