/**
 * Where the desired state comes from: `-c` names one file, or a directory whose `*.yaml`/`*.yml`
 * files (directly in it, not hidden) are the parts of one desired state, read in name order.
 * A part is read exactly as a single file is (src/desired-file.ts), and its problems name the part.
 */
import { createHash } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { START_OF_FILE } from './core/domain.js';
import { mergeParts, type DesiredPart } from './core/config-parts.js';
import { compareText, sortProblems, type Problem } from './core/problems.js';
import { messageOf } from './core/wording.js';
import { loadDesiredFile, MAX_FILE_BYTES, type LoadResult } from './desired-file.js';

/** More parts than any partner has clinics; a bound on what one directory can make role-sync read. */
export const MAX_PARTS = 10_000;
/**
 * All parts together, as for one file: the daemon holds the merged desired state in its own heap,
 * so the parts' total is bounded by what one file may hold (each part is also parsed within the
 * single file's limits).
 */
export const MAX_DIRECTORY_BYTES = MAX_FILE_BYTES;
/** Parts read at once: enough to overlap I/O, few enough never to run out of file descriptors. */
const READ_CONCURRENCY = 16;

export interface PartDigest {
  /** The part's path (the directory joined with its name). */
  readonly file: string;
  readonly sha256: string;
}

/**
 * What loading a file gives (LoadResult), plus, when the path is a directory, its parts in name order;
 * a directory's `sha256` is then of its parts' names and digests (`directorySha256`).
 */
export type ConfigLoadResult =
  | (Extract<LoadResult, { kind: 'loaded' }> & { readonly parts?: readonly PartDigest[] })
  | Extract<LoadResult, { kind: 'invalid' }>;

/**
 * A directory entry that is a part: a regular file, or a link to one (a ConfigMap mount's
 * `a.yaml -> ..data/a.yaml`).
 */
export interface PartEntry {
  readonly name: string;
  readonly file: string;
  /** Set when the entry cannot be a part although its name says it is one (a FIFO, a dangling link). */
  readonly problem?: string;
}

export type PartListing =
  | { readonly kind: 'parts'; readonly parts: readonly PartEntry[] }
  | { readonly kind: 'error'; readonly message: string };

const PART_NAME = /\.ya?ml$/;

/** Whether `path` names a directory (following links); false for anything else, including nothing. */
export async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

export async function loadDesiredConfig(path: string): Promise<ConfigLoadResult> {
  return (await isDirectory(path)) ? loadDirectory(path) : loadDesiredFile(path);
}

/** The parts of `dir`, in name order. Sub-directories (and links to them) and hidden entries are not parts. */
export async function listParts(dir: string): Promise<PartListing> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    return { kind: 'error', message: `cannot read the directory ${dir}: ${errorText(err)}` };
  }
  const candidates = entries
    .filter((e) => !e.name.startsWith('.') && PART_NAME.test(e.name))
    .sort((a, b) => compareText(a.name, b.name));
  if (candidates.length > MAX_PARTS) {
    return {
      kind: 'error',
      message: `${dir} holds ${candidates.length} *.yaml/*.yml files; the limit is ${MAX_PARTS} parts`,
    };
  }
  const parts: PartEntry[] = [];
  for (const entry of candidates) {
    const file = join(dir, entry.name);
    if (entry.isFile()) {
      parts.push({ name: entry.name, file });
      continue;
    }
    if (entry.isDirectory()) continue;
    if (!entry.isSymbolicLink()) {
      parts.push({ name: entry.name, file, problem: notRegular(file) });
      continue;
    }
    try {
      const target = await stat(file);
      if (target.isDirectory()) continue;
      parts.push(target.isFile() ? { name: entry.name, file } : { name: entry.name, file, problem: notRegular(file) });
    } catch (err) {
      // A link left dangling for a moment while a ConfigMap's `..data` is swapped: an error, so the
      // last good state stays.
      parts.push({ name: entry.name, file, problem: `cannot read ${file}: ${errorText(err)}` });
    }
  }
  return { kind: 'parts', parts };
}

/** One digest for a directory: renaming, adding, removing or editing a part changes it. */
export function directorySha256(parts: readonly { readonly name: string; readonly sha256: string }[]): string {
  const hash = createHash('sha256');
  for (const p of parts) hash.update(`${p.name}\u0000${p.sha256}\n`);
  return hash.digest('hex');
}

async function loadDirectory(dir: string): Promise<ConfigLoadResult> {
  const listing = await listParts(dir);
  if (listing.kind === 'error') return { kind: 'invalid', file: dir, problems: [atStart(listing.message)] };
  const total = await totalSize(listing.parts);
  if (total > MAX_DIRECTORY_BYTES) {
    const limit = `${MAX_DIRECTORY_BYTES / (1024 * 1024)} MiB`;
    return {
      kind: 'invalid',
      file: dir,
      problems: [atStart(`the parts of ${dir} hold ${total} bytes; the limit is ${limit}`)],
    };
  }

  const loaded = await mapLimited(listing.parts, READ_CONCURRENCY, async (entry) =>
    entry.problem === undefined
      ? { entry, result: await loadDesiredFile(entry.file) }
      : { entry, result: { kind: 'invalid' as const, file: entry.file, problems: [atStart(entry.problem)] } },
  );

  const problems: Problem[] = [];
  const parts: DesiredPart[] = [];
  const digests: (PartDigest & { readonly name: string })[] = [];
  for (const { entry, result } of loaded) {
    const own = result.kind === 'loaded' ? result.warnings : result.problems;
    for (const p of own) problems.push({ ...p, file: entry.file });
    if (result.kind === 'invalid') continue;
    parts.push({ file: entry.file, state: result.state });
    digests.push({ name: entry.name, file: entry.file, sha256: result.sha256 });
  }
  // The valid parts are still checked against each other, so every problem is reported at once.
  const merged = parts.length > 0 || loaded.length === 0 ? mergeParts(dir, parts) : { problems: [] };
  problems.push(...merged.problems);
  if (parts.length < loaded.length || merged.state === undefined) {
    return { kind: 'invalid', file: dir, problems: sortProblems(problems) };
  }
  return {
    kind: 'loaded',
    file: dir,
    state: merged.state,
    warnings: sortProblems(problems),
    sha256: directorySha256(digests),
    parts: digests.map(({ file, sha256 }) => ({ file, sha256 })),
  };
}

async function totalSize(parts: readonly PartEntry[]): Promise<number> {
  let total = 0;
  for (const p of parts) {
    if (p.problem !== undefined) continue;
    try {
      total += (await stat(p.file)).size;
    } catch {
      // Reported when the part is read.
    }
  }
  return total;
}

/** `fn` over `items` with at most `limit` running at once; results in the order of `items`. */
export async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

function atStart(message: string): Problem {
  return { severity: 'error', pos: START_OF_FILE, message };
}

function notRegular(file: string): string {
  return `${file} is not a regular file`;
}

function errorText(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') return 'no such file (a dangling link?)';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  return messageOf(err);
}
