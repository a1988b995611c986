import { lstat, mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import * as z from 'zod';
import { asLiveRole, parseEmail, parseOrgId, parseUserId, type OrgId, type UserId } from '../core/domain.js';
import { EMPTY_SNAPSHOT, type Snapshot, type OrgSnapshot, type RememberedUser } from '../core/observed-state.js';
import { defined } from '../core/objects.js';
import { messageOf } from '../core/wording.js';

/**
 * The observed-state snapshot in ROLE_SYNC_STATE_DIR. Written atomically (temp file, fsync, rename,
 * fsync of the directory) so a crash at any moment leaves the old or the new snapshot, never a torn one.
 */
export const SNAPSHOT_FILE = 'snapshot.json';
const SNAPSHOT_VERSION = 1;

const rolesSchema = z.array(z.string());
const snapshotSchema = z.object({
  snapshotVersion: z.literal(SNAPSHOT_VERSION),
  writtenAt: z.string(),
  organizations: z.record(
    z.string(),
    z.object({
      managed: z.record(z.string(), z.object({ key: z.string(), email: z.string().optional() })),
      observed: z.record(z.string(), rolesSchema),
      applied: z.record(z.string(), rolesSchema),
    }),
  ),
});

export type SnapshotLoad =
  | { readonly kind: 'loaded'; readonly snapshot: Snapshot }
  | { readonly kind: 'absent' }
  | { readonly kind: 'unreadable'; readonly message: string };

export async function loadSnapshot(stateDir: string): Promise<SnapshotLoad> {
  const path = join(stateDir, SNAPSHOT_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'absent' };
    return { kind: 'unreadable', message: `cannot read ${path}: ${(err as Error).message}` };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { kind: 'unreadable', message: `${path} is not valid JSON` };
  }
  const parsed = snapshotSchema.safeParse(json);
  if (!parsed.success)
    return { kind: 'unreadable', message: `${path} is not a role-sync snapshot (version ${SNAPSHOT_VERSION})` };
  const organizations = new Map<OrgId, OrgSnapshot>();
  for (const [orgKey, org] of Object.entries(parsed.data.organizations)) {
    const orgId = parseOrgId(orgKey);
    if (!orgId) continue;
    organizations.set(orgId, {
      managed: idMap(org.managed, (r): RememberedUser => {
        return defined({ key: r.key, email: r.email !== undefined ? parseEmail(r.email) : undefined });
      }),
      observed: idMap(org.observed, (roles) => roles.map(asLiveRole)),
      applied: idMap(org.applied, (roles) => roles.map(asLiveRole)),
    });
  }
  return { kind: 'loaded', snapshot: { organizations } };
}

function idMap<A, B>(record: Record<string, A>, f: (a: A) => B): Map<UserId, B> {
  const out = new Map<UserId, B>();
  for (const [key, value] of Object.entries(record)) {
    const id = parseUserId(key);
    if (id) out.set(id, f(value));
  }
  return out;
}

export function serializeSnapshot(snapshot: Snapshot, now: Date): string {
  const organizations: Record<string, unknown> = {};
  for (const [orgId, org] of snapshot.organizations) {
    organizations[orgId] = {
      managed: Object.fromEntries(org.managed),
      observed: Object.fromEntries(org.observed),
      applied: Object.fromEntries(org.applied),
    };
  }
  return `${JSON.stringify({ snapshotVersion: SNAPSHOT_VERSION, writtenAt: now.toISOString(), organizations })}\n`;
}

export async function saveSnapshot(stateDir: string, snapshot: Snapshot, now: Date): Promise<void> {
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const path = join(stateDir, SNAPSHOT_FILE);
  const tmp = join(stateDir, `.${SNAPSHOT_FILE}.${process.pid}.${Date.now()}.tmp`);
  const handle = await open(tmp, 'w', 0o600);
  try {
    await handle.writeFile(serializeSnapshot(snapshot, now));
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  // The rename is durable only once the directory entry is on disk.
  const dir = await open(stateDir, 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

const PROBLEMS: Readonly<Record<string, string>> = {
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EEXIST: 'it exists and is not a directory',
  ENOTDIR: 'a part of the path is not a directory',
};

function problemOf(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code !== undefined && PROBLEMS[code] !== undefined) return `${PROBLEMS[code]} (${code})`;
  return messageOf(err);
}

/**
 * Whether the snapshot could be written: the state directory exists or can be created, is a
 * directory, and takes a new file (created and removed again). Undefined when it can; else why
 * not. Checked before the first write, so a run never makes changes it then cannot remember.
 */
export async function checkStateDir(stateDir: string): Promise<string | undefined> {
  try {
    await mkdir(stateDir, { recursive: true, mode: 0o700 });
    if (!(await stat(stateDir)).isDirectory()) return 'it exists and is not a directory';
    const existing = await lstat(join(stateDir, SNAPSHOT_FILE)).catch(() => undefined);
    if (existing !== undefined && !existing.isFile()) return `${SNAPSHOT_FILE} in it is not a regular file`;
    const probe = join(stateDir, `.write-probe.${process.pid}.${Date.now()}.tmp`);
    const handle = await open(probe, 'wx', 0o600);
    try {
      await handle.writeFile('probe\n');
    } finally {
      await handle.close();
      await rm(probe, { force: true });
    }
    return undefined;
  } catch (err) {
    return problemOf(err);
  }
}

export function snapshotOrEmpty(load: SnapshotLoad): Snapshot {
  return load.kind === 'loaded' ? load.snapshot : EMPTY_SNAPSHOT;
}
