import { createHash } from 'node:crypto';
import { lstat, readlink, realpath } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { watch, type FSWatcher } from 'chokidar';
import { directorySha256, isDirectory, listParts } from '../config-source.js';
import { openRegularFile } from '../regular-file.js';
import type { Logger } from '../log.js';
import { messageOf } from '../core/wording.js';

/**
 * Tells when the desired-state file's bytes (or a directory's parts) may have changed.
 *
 * It watches directories, never the file: an editor's rename-save, a Kubernetes ConfigMap's
 * `..data` swap and git-sync's link swap all replace an inode the file watch would stay on.
 * Any event in a watched directory starts a debounce; then the file is read (through its
 * symlinks) and hashed, and only a different fingerprint is reported, so rewriting the same
 * bytes does nothing. A periodic re-read covers missed events (NFS, overlay mounts).
 * A directory of parts is watched itself (a part added, removed, renamed or edited) along with
 * whatever its parts link through, and fingerprinted as the names and digests of its parts.
 */

/**
 * What one read found: the content's sha256, or why there was none (ENOENT mid-swap, EISDIR, EACCES,
 * or NOT_REGULAR: a FIFO, socket or device, which is never read).
 */
export type FileFingerprint =
  { readonly kind: 'content'; readonly sha256: string } | { readonly kind: 'unreadable'; readonly code: string };

export type CheckReason = 'event' | 'timer' | 'signal';

export interface FileWatcherOptions {
  readonly path: string;
  readonly debounceMs: number;
  readonly rereadIntervalMs: number;
  /** The fingerprint of the content already loaded, so start-up does not report it again. */
  readonly initial: FileFingerprint;
  /** Called, one call at a time, when the fingerprint differs from the last one reported. */
  readonly onChange: (fingerprint: FileFingerprint, reason: CheckReason) => Promise<void>;
  readonly logger: Logger;
}

/** Links followed from the file (and from the directories on its path) before giving up: a loop guard. */
const MAX_LINK_HOPS = 8;

export class FileWatcher {
  readonly #opts: FileWatcherOptions;
  readonly #watcher: FSWatcher;
  #dirs: readonly string[];
  #last: FileFingerprint;
  #debounce: NodeJS.Timeout | undefined;
  readonly #reread: NodeJS.Timeout;
  #running: Promise<void> | undefined;
  #again: CheckReason | undefined;
  #closed = false;

  private constructor(opts: FileWatcherOptions, watcher: FSWatcher, dirs: readonly string[]) {
    this.#opts = opts;
    this.#watcher = watcher;
    this.#dirs = dirs;
    this.#last = opts.initial;
    this.#reread = setInterval(() => void this.check('timer'), opts.rereadIntervalMs);
  }

  static async start(opts: FileWatcherOptions): Promise<FileWatcher> {
    // depth 0: only entries of the watched directories. No `ignored`: a dotfile filter would drop `..data`.
    // followSymlinks off: a swapped link is an event on the link, and linked directories are not descended into.
    const dirs = await watchConfigDirectories(opts.path);
    const watcher = watch(dirs, { depth: 0, ignoreInitial: true, followSymlinks: false, persistent: true });
    await new Promise<void>((resolve) => watcher.once('ready', resolve));
    const fw = new FileWatcher(opts, watcher, dirs);
    watcher.on('all', () => fw.#onEvent());
    watcher.on('error', (err) =>
      opts.logger.warn({ err: messageOf(err) }, 'file watcher error; the periodic re-read still runs'),
    );
    opts.logger.debug({ directories: dirs }, 'watching directories');
    return fw;
  }

  /** The directories being watched (resolved), for logs and tests. */
  get directories(): readonly string[] {
    return this.#dirs;
  }

  /**
   * Read and hash the file now; report a changed fingerprint. Checks never overlap: one asked for
   * while another runs is done once after it, so a change landing mid-check is not lost.
   */
  check(reason: CheckReason): Promise<void> {
    if (this.#closed) return Promise.resolve();
    if (this.#running) {
      this.#again = reason;
      return this.#running;
    }
    this.#running = this.#checkLoop(reason).finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#debounce);
    clearInterval(this.#reread);
    await this.#watcher.close();
    await this.#running;
  }

  #onEvent(): void {
    if (this.#closed) return;
    clearTimeout(this.#debounce);
    this.#debounce = setTimeout(() => {
      this.#debounce = undefined;
      void this.check('event');
    }, this.#opts.debounceMs);
  }

  async #checkLoop(first: CheckReason): Promise<void> {
    let reason: CheckReason | undefined = first;
    while (reason !== undefined && !this.#closed) {
      this.#again = undefined;
      await this.#checkOnce(reason);
      reason = this.#again;
    }
  }

  async #checkOnce(reason: CheckReason): Promise<void> {
    try {
      await this.#rewatch();
    } catch (err) {
      this.#opts.logger.warn(
        { err: messageOf(err) },
        'cannot update the watched directories; the periodic re-read still runs',
      );
    }
    const fingerprint = await fingerprintConfig(this.#opts.path);
    if (sameFingerprint(fingerprint, this.#last)) {
      this.#opts.logger.debug({ reason }, 'desired-state file checked: unchanged');
      return;
    }
    this.#last = fingerprint;
    try {
      await this.#opts.onChange(fingerprint, reason);
    } catch (err) {
      this.#opts.logger.error({ err: messageOf(err) }, 'handling a change of the desired-state file failed');
    }
  }

  /** A link swap can move the file to another directory (git-sync): follow it. */
  async #rewatch(): Promise<void> {
    const next = await watchConfigDirectories(this.#opts.path);
    const removed = this.#dirs.filter((d) => !next.includes(d));
    const added = next.filter((d) => !this.#dirs.includes(d));
    if (removed.length === 0 && added.length === 0) return;
    if (removed.length > 0) this.#watcher.unwatch(removed);
    if (added.length > 0) this.#watcher.add(added);
    this.#dirs = next;
    this.#opts.logger.debug({ directories: next }, 'watching directories');
  }
}

/**
 * The directories whose entries can change what `path` reads: the directory holding each link
 * on the way (resolved), starting with the file's own. For a ConfigMap that is the mount
 * directory (it holds `..data`); for git-sync it adds the directory holding the swapped link.
 */
export async function watchDirectories(path: string): Promise<string[]> {
  const dirs = new Set<string>();
  await addFileDirectories(dirs, path);
  return [...dirs].sort();
}

/** For a file, `watchDirectories`; for a directory of parts, the directory itself and each part's directories. */
export async function watchConfigDirectories(path: string): Promise<string[]> {
  if (!(await isDirectory(path))) return watchDirectories(path);
  const dirs = new Set<string>();
  await addDirectoryAndLinks(dirs, resolve(path));
  const listing = await listParts(path);
  if (listing.kind === 'parts') for (const part of listing.parts) await addFileDirectories(dirs, part.file);
  return [...dirs].sort();
}

async function addFileDirectories(dirs: Set<string>, path: string): Promise<void> {
  let current = resolve(path);
  for (let hop = 0; hop < MAX_LINK_HOPS; hop++) {
    const dir = dirname(current);
    await addDirectoryAndLinks(dirs, dir);
    if (!(await isSymlink(current))) break;
    current = resolve(dir, await readlink(current));
  }
}

/** `dir` and, for each link among it and its ancestors, the directory holding the link (where a swap shows). */
async function addDirectoryAndLinks(dirs: Set<string>, dir: string): Promise<void> {
  await addIfExists(dirs, dir);
  for (let ancestor = dir; ancestor !== dirname(ancestor); ancestor = dirname(ancestor)) {
    if (await isSymlink(ancestor)) await addIfExists(dirs, dirname(ancestor));
  }
}

async function addIfExists(dirs: Set<string>, dir: string): Promise<void> {
  try {
    dirs.add(await realpath(dir));
  } catch {
    // Gone mid-swap (the old ConfigMap or worktree directory): the next check looks again.
  }
}

async function isSymlink(path: string): Promise<boolean> {
  try {
    return (await lstat(path)).isSymbolicLink();
  } catch {
    return false;
  }
}

export async function fingerprintFile(path: string): Promise<FileFingerprint> {
  try {
    const opened = await openRegularFile(path);
    if (opened.kind === 'not-regular') return { kind: 'unreadable', code: 'NOT_REGULAR' };
    // Streamed: an oversized file (refused by validation) must not be loaded whole on every re-read.
    const hash = createHash('sha256');
    await pipeline(opened.handle.createReadStream(), hash);
    return { kind: 'content', sha256: hash.digest('hex') };
  } catch (err) {
    return { kind: 'unreadable', code: (err as NodeJS.ErrnoException).code ?? 'EIO' };
  }
}

/** A file's fingerprint, or a directory's: one changed part (or one added, removed or renamed) changes it. */
export async function fingerprintConfig(path: string): Promise<FileFingerprint> {
  if (!(await isDirectory(path))) return fingerprintFile(path);
  const listing = await listParts(path);
  if (listing.kind === 'error') return { kind: 'unreadable', code: 'EDIRECTORY' };
  const digests: { name: string; sha256: string }[] = [];
  for (const part of listing.parts) {
    // Never opened when it is not a regular file: reading a FIFO would block the check.
    if (part.problem !== undefined) return { kind: 'unreadable', code: `unusable part ${part.name}` };
    const fingerprint = await fingerprintFile(part.file);
    if (fingerprint.kind === 'unreadable') return { kind: 'unreadable', code: `${fingerprint.code} ${part.name}` };
    digests.push({ name: part.name, sha256: fingerprint.sha256 });
  }
  return { kind: 'content', sha256: directorySha256(digests) };
}

function sameFingerprint(a: FileFingerprint, b: FileFingerprint): boolean {
  if (a.kind === 'content' && b.kind === 'content') return a.sha256 === b.sha256;
  if (a.kind === 'unreadable' && b.kind === 'unreadable') return a.code === b.code;
  return false;
}
