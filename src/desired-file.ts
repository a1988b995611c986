/**
 * Reading the desired-state file from disk: file type, size limit, hashing, and parsing (a large
 * file in a child process with a heap of its own). Every failure is a Problem at 1:1 so callers
 * print one format for everything.
 */
import { createHash } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { START_OF_FILE } from './core/domain.js';
import type { DesiredState } from './core/desired-state.js';
import { formatProblem, sortProblems, type Problem } from './core/problems.js';
import { messageOf } from './core/wording.js';
import { parseBytes } from './parse-bytes.js';
import { PARSER_HEAP_MB, parseInParserProcess } from './parser-process.js';

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

/** What a path is when it is not a regular file, for the message; undefined for a regular file. */
export function notRegular(info: Stats): string | undefined {
  if (info.isFile()) return undefined;
  if (info.isDirectory()) return 'a directory';
  if (info.isFIFO()) return 'a named pipe (FIFO)';
  if (info.isSocket()) return 'a socket';
  if (info.isCharacterDevice()) return 'a character device';
  if (info.isBlockDevice()) return 'a block device';
  return 'not a regular file';
}

/**
 * Opens `path` for reading only if it is a regular file. O_NONBLOCK makes opening a FIFO return at
 * once instead of waiting for a writer (which would hold a libuv thread, and with it the process's
 * exit, for ever); the type is then checked on the open descriptor, so a file swapped for a FIFO
 * between a stat and the open is still refused. Regular files ignore O_NONBLOCK.
 */
export async function openRegularFile(path: string): Promise<{ handle: FileHandle; size: number } | { kind: string }> {
  const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const info = await handle.stat();
    const kind = notRegular(info);
    if (kind === undefined) return { handle, size: info.size };
    await handle.close();
    return { kind };
  } catch (err) {
    await handle.close();
    throw err;
  }
}

/**
 * Reads at most MAX_FILE_BYTES + 1 bytes: the size from stat can be stale (the file is being replaced),
 * so the read itself is capped too.
 */
async function readCapped(handle: FileHandle): Promise<Buffer | 'too-large'> {
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    const chunk = Buffer.allocUnsafe(Math.min(MIB, MAX_FILE_BYTES + 1 - total));
    const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
    if (bytesRead === 0) break;
    chunks.push(chunk.subarray(0, bytesRead));
    total += bytesRead;
    if (total > MAX_FILE_BYTES) return 'too-large';
  }
  return Buffer.concat(chunks, total);
}

/** `now` is the clock the expired-grant warning is judged by (the time of the call unless given). */
export async function loadDesiredFile(file: string, opts: { readonly now?: number } = {}): Promise<LoadResult> {
  let bytes: Buffer;
  try {
    // stat first only for the clearer message about a directory; the open below decides.
    if ((await stat(file)).isDirectory()) return failure(file, `cannot read ${file}: it is a directory`);
    const opened = await openRegularFile(file);
    if ('kind' in opened) return failure(file, `cannot read ${file}: it is ${opened.kind}, not a regular file`);
    try {
      if (opened.size > MAX_FILE_BYTES) return tooLarge(file, `${opened.size} bytes`);
      const read = await readCapped(opened.handle);
      if (read === 'too-large') return tooLarge(file, `more than ${MAX_FILE_BYTES} bytes`);
      bytes = read;
    } finally {
      await opened.handle.close();
    }
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
    sortProblems(problems)
      .map((p) => `${formatProblem(file, p)}\n`)
      .join(''),
  );
}
