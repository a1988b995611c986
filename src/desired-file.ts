/**
 * Reading the desired-state file from disk: size limit, UTF-8 decoding, hashing.
 * Every failure is a Problem at 1:1 so callers print one format for everything.
 */
import { createHash } from 'node:crypto';
import { open, stat } from 'node:fs/promises';
import { START_OF_FILE } from './core/domain.js';
import type { DesiredState } from './core/desired-state.js';
import { parseDesiredState } from './core/file-model.js';
import { formatProblem, sortProblems, type Problem } from './core/problems.js';
import { messageOf } from './core/wording.js';

/** A larger file is refused before it is parsed: parsing cost must stay bounded. */
export const MAX_FILE_BYTES = 32 * 1024 * 1024;

export type LoadResult =
  | {
      readonly ok: true;
      /** The path as given, for messages. */
      readonly file: string;
      readonly state: DesiredState;
      readonly warnings: Problem[];
      /** sha256 (hex) of the file's bytes. */
      readonly sha256: string;
      readonly text: string;
    }
  | { readonly ok: false; readonly file: string; readonly problems: Problem[] };

const REASONS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file',
  ENOTDIR: 'no such file (a parent is not a directory)',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EISDIR: 'it is a directory',
  ELOOP: 'too many symbolic links',
  ENAMETOOLONG: 'the name is too long',
};

function failure(file: string, message: string): LoadResult {
  return { ok: false, file, problems: [{ severity: 'error', pos: START_OF_FILE, message }] };
}

function reason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code !== undefined && REASONS[code] !== undefined) return REASONS[code];
  return messageOf(err);
}

const MIB = 1024 * 1024;

function tooLarge(file: string, size: string): LoadResult {
  return failure(
    file,
    `${file} is too large (${size}); the limit is ${MAX_FILE_BYTES / MIB} MiB (${MAX_FILE_BYTES} bytes)`,
  );
}

/**
 * Reads at most MAX_FILE_BYTES + 1 bytes: the size from stat can be stale (the file is being replaced)
 * or meaningless (a pipe such as /dev/stdin), so the read itself is capped too.
 */
async function readCapped(path: string): Promise<Buffer | 'too-large'> {
  const handle = await open(path, 'r');
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(1024 * 1024, MAX_FILE_BYTES + 1 - total));
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
      if (bytesRead === 0) break;
      chunks.push(chunk.subarray(0, bytesRead));
      total += bytesRead;
      if (total > MAX_FILE_BYTES) return 'too-large';
    }
    return Buffer.concat(chunks, total);
  } finally {
    await handle.close();
  }
}

/** `now` is the clock the expired-grant warning is judged by (the time of the call unless given). */
export async function loadDesiredFile(file: string, opts: { readonly now?: number } = {}): Promise<LoadResult> {
  try {
    const info = await stat(file);
    if (info.isDirectory()) return failure(file, `cannot read ${file}: it is a directory`);
    if (info.size > MAX_FILE_BYTES) return tooLarge(file, `${info.size} bytes`);
  } catch (err) {
    return failure(file, `cannot read ${file}: ${reason(err)}`);
  }

  let bytes: Buffer;
  try {
    const read = await readCapped(file);
    if (read === 'too-large') return tooLarge(file, `more than ${MAX_FILE_BYTES} bytes`);
    bytes = read;
  } catch (err) {
    return failure(file, `cannot read ${file}: ${reason(err)}`);
  }

  let text: string;
  try {
    // fatal: a mis-encoded file is refused rather than silently turned into U+FFFD user keys. A BOM is dropped.
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return failure(file, `${file} is not valid UTF-8 text`);
  }

  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const { state, problems } = parseDesiredState(text, { now: opts.now ?? Date.now() });
  if (state === undefined) return { ok: false, file, problems };
  return { ok: true, file, state, warnings: problems, sha256, text };
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
