/**
 * Reading the desired-state file from disk: file type, size limit, hashing, and parsing (a large
 * file in a child process with a heap of its own). Every failure is a Problem at 1:1 so callers
 * print one format for everything.
 */
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { START_OF_FILE } from './core/domain.js';
import type { DesiredState } from './core/desired-state.js';
import { formatProblem, problemsShown, type Problem } from './core/problems.js';
import { messageOf } from './core/wording.js';
import { parseBytes } from './parse-bytes.js';
import { PARSER_HEAP_MB, parseInParserProcess } from './parser-process.js';
import { readBoundedFile } from './regular-file.js';

const MIB = 1024 * 1024;

/**
 * A larger file is refused before it is parsed: a first cut, before the limit that decides,
 * PARSER_HEAP_MB. In the usual shape (one `key: [roles]` line a user) this many bytes hold
 * 60,000 to 100,000 users, about what the parse heap holds.
 */
export const MAX_FILE_BYTES = 3 * MIB;

/**
 * Files up to this size are parsed in the calling process: even a hostile one (one node every two
 * bytes) needs only tens of MB there, and the common small file skips starting a process.
 */
export const IN_PROCESS_MAX_BYTES = 64 * 1024;

export type LoadResult =
  | {
      readonly kind: 'loaded';
      /** The path as given, for messages. */
      readonly file: string;
      readonly state: DesiredState;
      readonly warnings: Problem[];
      /** sha256 (hex) of the file's bytes. */
      readonly sha256: string;
    }
  | {
      readonly kind: 'invalid';
      readonly file: string;
      readonly problems: Problem[];
      /** sha256 of the bytes, when they could be read (an invalid file has a content; a missing one has none). */
      readonly sha256?: string;
    };

const REASONS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file',
  ENOTDIR: 'no such file (a parent is not a directory)',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EISDIR: 'it is a directory',
  ELOOP: 'too many symbolic links',
  ENAMETOOLONG: 'the name is too long',
  ENXIO: 'it is a socket or a device, not a regular file',
};

function failure(file: string, message: string, sha256?: string): LoadResult {
  return {
    kind: 'invalid',
    file,
    problems: [{ severity: 'error', pos: START_OF_FILE, message }],
    ...(sha256 !== undefined ? { sha256 } : {}),
  };
}

function reason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code !== undefined && REASONS[code] !== undefined) return REASONS[code];
  return messageOf(err);
}

function tooLarge(file: string, size: string): LoadResult {
  return failure(
    file,
    `${file} is too large (${size}); the limit is ${MAX_FILE_BYTES / MIB} MiB (${MAX_FILE_BYTES} bytes)`,
  );
}

/** `now` is the clock the expired-grant warning is judged by (the time of the call unless given). */
export async function loadDesiredFile(file: string, opts: { readonly now?: number } = {}): Promise<LoadResult> {
  let bytes: Buffer;
  try {
    // stat first only for the clearer message about a directory; the open below decides.
    if ((await stat(file)).isDirectory()) return failure(file, `cannot read ${file}: it is a directory`);
    const read = await readBoundedFile(file, MAX_FILE_BYTES);
    if (read.kind === 'not-regular')
      return failure(file, `cannot read ${file}: it is ${read.what}, not a regular file`);
    if (read.kind === 'too-large')
      return tooLarge(file, read.size === undefined ? `more than ${MAX_FILE_BYTES} bytes` : `${read.size} bytes`);
    bytes = read.bytes;
  } catch (err) {
    return failure(file, `cannot read ${file}: ${reason(err)}`);
  }

  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const now = opts.now ?? Date.now();
  const parsed = bytes.length <= IN_PROCESS_MAX_BYTES ? parseBytes(bytes, now) : await parseInParserProcess(bytes, now);
  switch (parsed.kind) {
    case 'not-utf8':
      return failure(file, `${file} is not valid UTF-8 text`, sha256);
    case 'out-of-memory':
      return failure(
        file,
        `${file} is too large to parse within ${PARSER_HEAP_MB} MB of memory (${bytes.length} bytes); ` +
          'make it smaller',
        sha256,
      );
    case 'crashed':
      return failure(file, `${file} could not be parsed: ${parsed.message}`, sha256);
    case 'parsed': {
      const { state, problems } = parsed.result;
      if (state === undefined) return { kind: 'invalid', file, problems, sha256 };
      return { kind: 'loaded', file, state, warnings: problems, sha256 };
    }
  }
}

/** One problem per line, in file order: `FILE:LINE:COL: severity: message`. */
export function printProblems(file: string, problems: readonly Problem[], stream: NodeJS.WritableStream): void {
  if (problems.length === 0) return;
  stream.write(
    problemsShown(problems)
      .map((p) => `${formatProblem(file, p)}\n`)
      .join(''),
  );
}
