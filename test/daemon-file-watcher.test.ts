import { createHash } from 'node:crypto';
import { mkdtemp, realpath, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  fingerprintFile,
  FileWatcher,
  watchDirectories,
  type CheckReason,
  type FileFingerprint,
} from '../src/daemon/file-watcher.js';
import { silentLogger } from '../src/log.js';
import {
  ConfigMapVolume,
  deleteAndRecreate,
  GitSyncVolume,
  writeByRename,
  writeInPlace,
} from './helpers/daemon-writers.js';

const sha = (text: string): string => createHash('sha256').update(text).digest('hex');

interface Seen {
  readonly fingerprint: FileFingerprint;
  readonly reason: CheckReason;
}

/** A watcher on `path` recording every reported change; `next()` resolves on the next report. */
async function watching(path: string, opts: { debounceMs?: number; rereadIntervalMs?: number } = {}) {
  const seen: Seen[] = [];
  let wake: (() => void) | undefined;
  const watcher = await FileWatcher.start({
    path,
    debounceMs: opts.debounceMs ?? 50,
    rereadIntervalMs: opts.rereadIntervalMs ?? 60_000,
    initial: await fingerprintFile(path),
    logger: silentLogger(),
    onChange: async (fingerprint, reason) => {
      seen.push({ fingerprint, reason });
      wake?.();
    },
  });
  open.push(watcher);
  const next = (timeoutMs = 3000): Promise<Seen> => {
    const before = seen.length;
    return new Promise<Seen>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no change reported within ${timeoutMs} ms`)), timeoutMs);
      wake = () => {
        if (seen.length > before) {
          clearTimeout(timer);
          resolve(seen[seen.length - 1]!);
        }
      };
    });
  };
  return { watcher, seen, next };
}

const open: FileWatcher[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((w) => w.close()));
});

async function tempDir(): Promise<string> {
  return realpath(await mkdtemp(join(tmpdir(), 'rs-watch-')));
}

describe('FileWatcher', () => {
  it.each([
    ['an in-place rewrite', writeInPlace],
    ['a temp file renamed over the file', writeByRename],
    ['delete then re-create', deleteAndRecreate],
  ])('reports %s with the new content hash', async (_name, write) => {
    const dir = await tempDir();
    const path = join(dir, 'roles.yaml');
    await writeFile(path, 'one\n');
    const w = await watching(path);
    const change = w.next();
    await write(path, 'two\n');
    const seen = await change;
    expect(seen).toEqual({ fingerprint: { kind: 'content', sha256: sha('two\n') }, reason: 'event' });
  });

  it('sees a Kubernetes ConfigMap update (..data swap, old directory deleted)', async () => {
    const volume = new ConfigMapVolume(await tempDir());
    await volume.create('one\n');
    const w = await watching(volume.path);
    expect(w.watcher.directories).toContain(volume.dir);
    for (const text of ['two\n', 'three\n']) {
      const change = w.next();
      await volume.update(text);
      expect((await change).fingerprint).toEqual({ kind: 'content', sha256: sha(text) });
    }
  });

  it('sees a git-sync link swap and follows the link to the new worktree', async () => {
    const volume = new GitSyncVolume(await tempDir());
    await volume.create('one\n');
    const w = await watching(volume.path);
    expect(w.watcher.directories).toContain(volume.root);
    for (const text of ['two\n', 'three\n', 'four\n']) {
      const change = w.next();
      await volume.update(text);
      expect((await change).fingerprint).toEqual({ kind: 'content', sha256: sha(text) });
    }
    expect(w.watcher.directories).toContain(await realpath(join(volume.root, 'current', 'config')));
  });

  it('sees a git-sync link swap by the link alone, with the old worktree left in place', async () => {
    const volume = new GitSyncVolume(await tempDir());
    await volume.create('one\n');
    const w = await watching(volume.path);
    const change = w.next();
    await volume.update('two\n', { keepOld: true });
    expect((await change).fingerprint).toEqual({ kind: 'content', sha256: sha('two\n') });
  });

  it('reports nothing when the same bytes are written again', async () => {
    const dir = await tempDir();
    const path = join(dir, 'roles.yaml');
    await writeFile(path, 'same\n');
    const w = await watching(path);
    // A different file in the same directory proves events are flowing; the rewrite must not be reported.
    await writeInPlace(path, 'same\n');
    await writeByRename(path, 'same\n');
    const other = w.next();
    await writeInPlace(path, 'changed\n');
    await other;
    expect(w.seen.map((s) => s.fingerprint)).toEqual([{ kind: 'content', sha256: sha('changed\n') }]);
  });

  it('reports a missing file and its return, without reporting the same absence twice', async () => {
    const dir = await tempDir();
    const path = join(dir, 'roles.yaml');
    await writeFile(path, 'one\n');
    const w = await watching(path);
    const gone = w.next();
    const { unlink } = await import('node:fs/promises');
    await unlink(path);
    expect((await gone).fingerprint).toEqual({ kind: 'unreadable', code: 'ENOENT' });
    await w.watcher.check('signal');
    expect(w.seen).toHaveLength(1);
    const back = w.next();
    await writeFile(path, 'one\n');
    expect((await back).fingerprint).toEqual({ kind: 'content', sha256: sha('one\n') });
  });

  it('debounces a burst of writes into one report of the final content', async () => {
    const dir = await tempDir();
    const path = join(dir, 'roles.yaml');
    await writeFile(path, 'v0\n');
    const w = await watching(path, { debounceMs: 150 });
    const change = w.next();
    for (let i = 1; i <= 10; i++) await writeInPlace(path, `v${i}\n`);
    expect((await change).fingerprint).toEqual({ kind: 'content', sha256: sha('v10\n') });
    expect(w.seen).toHaveLength(1);
  });

  it('catches a change by the periodic re-read when no event can arrive', async () => {
    const dir = await tempDir();
    const path = join(dir, 'roles.yaml');
    await writeFile(path, 'one\n');
    // A debounce longer than the test: only the timer can report the change.
    const w = await watching(path, { debounceMs: 60_000, rereadIntervalMs: 100 });
    const change = w.next();
    await writeFile(path, 'two\n');
    expect(await change).toEqual({ fingerprint: { kind: 'content', sha256: sha('two\n') }, reason: 'timer' });
  });
});

describe('watchDirectories', () => {
  it('is the file directory for a plain file', async () => {
    const dir = await tempDir();
    expect(await watchDirectories(join(dir, 'roles.yaml'))).toEqual([dir]);
  });

  it('adds the directory holding a linked directory on the path (git-sync)', async () => {
    const volume = new GitSyncVolume(await tempDir());
    await volume.create('x\n');
    const dirs = await watchDirectories(volume.path);
    expect(dirs).toEqual([volume.root, await realpath(join(volume.root, 'current', 'config'))].sort());
  });
});
