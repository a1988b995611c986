/**
 * Reading files named by the operator (the desired state, secrets, the credentials file) without
 * letting the file decide how long the read takes or how much memory it needs: only regular files
 * are read, and never more than a limit.
 */
import { constants, type Stats } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';

const MIB = 1024 * 1024;

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

export type OpenedFile =
  | { readonly kind: 'opened'; readonly handle: FileHandle; readonly size: number }
  | { readonly kind: 'not-regular'; readonly what: string };

/**
 * Opens `path` for reading only if it is a regular file. O_NONBLOCK makes opening a FIFO return at
 * once instead of waiting for a writer (which would hold a libuv thread, and with it the process's
 * exit, for ever); the type is then checked on the open descriptor, so a file swapped for a FIFO
 * between a stat and the open is still refused. Regular files ignore O_NONBLOCK.
 */
export async function openRegularFile(path: string): Promise<OpenedFile> {
  const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const info = await handle.stat();
    const what = notRegular(info);
    if (what === undefined) return { kind: 'opened', handle, size: info.size };
    await handle.close();
    return { kind: 'not-regular', what };
  } catch (err) {
    await handle.close();
    throw err;
  }
}

/**
 * Reads at most `maxBytes + 1` bytes: the size from stat can be stale (the file is being replaced),
 * so the read itself is capped too.
 */
async function readCapped(handle: FileHandle, maxBytes: number): Promise<Buffer | 'too-large'> {
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    const chunk = Buffer.allocUnsafe(Math.min(MIB, maxBytes + 1 - total));
    const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
    if (bytesRead === 0) break;
    chunks.push(chunk.subarray(0, bytesRead));
    total += bytesRead;
    if (total > maxBytes) return 'too-large';
  }
  return Buffer.concat(chunks, total);
}

export type BoundedRead =
  | { readonly kind: 'read'; readonly bytes: Buffer }
  | { readonly kind: 'not-regular'; readonly what: string }
  /** `size` is the file's size when stat already told it; undefined when only the read found out. */
  | { readonly kind: 'too-large'; readonly size: number | undefined };

/** A regular file, whole, of at most `maxBytes`. Errors from the file system are thrown. */
export async function readBoundedFile(path: string, maxBytes: number): Promise<BoundedRead> {
  const opened = await openRegularFile(path);
  if (opened.kind === 'not-regular') return opened;
  try {
    if (opened.size > maxBytes) return { kind: 'too-large', size: opened.size };
    const bytes = await readCapped(opened.handle, maxBytes);
    if (bytes === 'too-large') return { kind: 'too-large', size: undefined };
    return { kind: 'read', bytes };
  } finally {
    await opened.handle.close();
  }
}
