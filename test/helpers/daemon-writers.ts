import { mkdir, rename, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/**
 * The ways the desired-state file gets replaced in practice (an in-place write, an editor's
 * rename-over-file, a Kubernetes ConfigMap's `..data` symlink swap, git-sync's link flip), done with real
 * file-system calls in the same order as the real writers.
 */

/** Truncate and write the same inode (an editor without backup-by-rename, `>` in a shell). */
export async function writeInPlace(path: string, text: string): Promise<void> {
  await writeFile(path, text);
}

/** Write a temp file next to it and rename it over the file (vim's default, most editors, `mv`). */
export async function writeByRename(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${Date.now()}`;
  await writeFile(tmp, text);
  await rename(tmp, path);
}

/** Delete, then create anew (some editors and sync tools). */
export async function deleteAndRecreate(path: string, text: string): Promise<void> {
  await unlink(path);
  await writeFile(path, text);
}

let stamp = 0;
function timestampDir(): string {
  stamp++;
  return `..2026_11_27_01_02_${String(stamp).padStart(2, '0')}.${process.pid}${stamp}`;
}

/**
 * A Kubernetes ConfigMap volume as the kubelet's AtomicWriter lays it out:
 * `roles.yaml -> ..data/roles.yaml`, `..data -> ..<timestamp>/`. The file's own path never changes.
 */
export class ConfigMapVolume {
  #current: string | undefined;

  constructor(
    readonly dir: string,
    readonly key = 'roles.yaml',
  ) {}

  get path(): string {
    return join(this.dir, this.key);
  }

  async create(text: string): Promise<void> {
    const ts = await this.#writeVersion(text);
    await symlink(ts, join(this.dir, '..data'));
    await symlink(join('..data', this.key), this.path);
    this.#current = ts;
  }

  /** New timestamped directory, `..data_tmp` link, rename over `..data`, delete the old directory. */
  async update(text: string): Promise<void> {
    const ts = await this.#writeVersion(text);
    await symlink(ts, join(this.dir, '..data_tmp'));
    await rename(join(this.dir, '..data_tmp'), join(this.dir, '..data'));
    if (this.#current) await rm(join(this.dir, this.#current), { recursive: true, force: true });
    this.#current = ts;
  }

  async #writeVersion(text: string): Promise<string> {
    const ts = timestampDir();
    await mkdir(join(this.dir, ts));
    await writeFile(join(this.dir, ts, this.key), text);
    return ts;
  }
}

/**
 * A git-sync volume: a worktree per revision under `.worktrees/`, and the `--link` symlink
 * swapped atomically to the new one. The config path goes through the link.
 */
export class GitSyncVolume {
  #revision = 0;
  #current: string | undefined;

  constructor(
    readonly root: string,
    readonly link = 'current',
    readonly file = 'config/roles.yaml',
  ) {}

  get path(): string {
    return join(this.root, this.link, this.file);
  }

  async create(text: string): Promise<void> {
    const worktree = await this.#checkout(text);
    await symlink(worktree, join(this.root, this.link));
    this.#current = worktree;
  }

  /** `keepOld`: leave the previous worktree in place (git-sync removes it later), so only the link swap signals. */
  async update(text: string, opts: { keepOld?: boolean } = {}): Promise<void> {
    const worktree = await this.#checkout(text);
    const tmp = join(this.root, `${this.link}.tmp`);
    await symlink(worktree, tmp);
    await rename(tmp, join(this.root, this.link));
    if (this.#current && opts.keepOld !== true)
      await rm(join(this.root, this.#current), { recursive: true, force: true });
    this.#current = worktree;
  }

  async #checkout(text: string): Promise<string> {
    this.#revision++;
    const worktree = join('.worktrees', `rev${String(this.#revision).padStart(4, '0')}`);
    await mkdir(dirname(join(this.root, worktree, this.file)), { recursive: true });
    await writeFile(join(this.root, worktree, this.file), text);
    return worktree;
  }
}

/**
 * A ConfigMap mounted as a directory of parts, updated as the kubelet's AtomicWriter does: the new
 * version's directory, the `..data` swap (every part changes at once), then links for keys that are
 * new and removal of links for keys that are gone, then the old version's directory deleted.
 */
export class ConfigMapDirectoryVolume {
  #current: string | undefined;
  #keys = new Set<string>();

  constructor(readonly dir: string) {}

  async create(files: Readonly<Record<string, string>>): Promise<void> {
    const ts = await this.#writeVersion(files);
    await symlink(ts, join(this.dir, '..data'));
    await this.#linkKeys(files);
    this.#current = ts;
  }

  async update(files: Readonly<Record<string, string>>): Promise<void> {
    const ts = await this.#writeVersion(files);
    await symlink(ts, join(this.dir, '..data_tmp'));
    await rename(join(this.dir, '..data_tmp'), join(this.dir, '..data'));
    await this.#linkKeys(files);
    if (this.#current) await rm(join(this.dir, this.#current), { recursive: true, force: true });
    this.#current = ts;
  }

  async #linkKeys(files: Readonly<Record<string, string>>): Promise<void> {
    const next = new Set(Object.keys(files));
    for (const key of next) if (!this.#keys.has(key)) await symlink(join('..data', key), join(this.dir, key));
    for (const key of this.#keys) if (!next.has(key)) await unlink(join(this.dir, key));
    this.#keys = next;
  }

  async #writeVersion(files: Readonly<Record<string, string>>): Promise<string> {
    const ts = timestampDir();
    await mkdir(join(this.dir, ts));
    for (const [key, text] of Object.entries(files)) await writeFile(join(this.dir, ts, key), text);
    return ts;
  }
}
