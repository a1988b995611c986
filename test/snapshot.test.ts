import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { asLiveRole, parseEmail, parseOrgId, parseUserId } from '../src/core/domain.js';
import type { Snapshot } from '../src/core/observed-state.js';
import { loadSnapshot, saveSnapshot, SNAPSHOT_FILE } from '../src/engine/snapshot.js';

const ORG = parseOrgId('7fa84d2b-26d7-4c71-9b5b-e591eff97e7d')!;
const USER = parseUserId('a7748dfd-ceb2-4b17-8380-425c304f5ae7')!;

const snapshot: Snapshot = {
  organizations: new Map([
    [
      ORG,
      {
        managed: new Map([[USER, { key: 'dr.a@x.example', email: parseEmail('dr.a@x.example')! }]]),
        observed: new Map([[USER, [asLiveRole('admin')]]]),
        applied: new Map([[USER, [asLiveRole('admin')]]]),
      },
    ],
  ]),
};

describe('snapshot', () => {
  it('round-trips through an atomic write and leaves no temp file behind', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rs-snap-'));
    await saveSnapshot(dir, snapshot, new Date(0));
    expect(await readdir(dir)).toEqual([SNAPSHOT_FILE]);
    const loaded = await loadSnapshot(dir);
    expect(loaded.kind).toBe('loaded');
    if (loaded.kind === 'loaded') expect(loaded.snapshot).toEqual(snapshot);
  });

  it('reports a missing snapshot as absent and a corrupt one as unreadable, never silently as empty', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rs-snap-'));
    expect((await loadSnapshot(dir)).kind).toBe('absent');
    await writeFile(join(dir, SNAPSHOT_FILE), '{"snapshotVersion": 1, "organiz');
    const bad = await loadSnapshot(dir);
    expect(bad.kind).toBe('unreadable');
  });

  it('writes the file with owner-only permissions', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rs-snap-'));
    await saveSnapshot(dir, snapshot, new Date(0));
    const text = await readFile(join(dir, SNAPSHOT_FILE), 'utf8');
    expect(JSON.parse(text).snapshotVersion).toBe(1);
    const { stat } = await import('node:fs/promises');
    expect((await stat(join(dir, SNAPSHOT_FILE))).mode & 0o777).toBe(0o600);
  });
});
