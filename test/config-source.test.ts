/**
 * A directory of desired-state files (one part per clinic): which entries are parts, the order they
 * are read in, problems located in the part that has them, and the digest the daemon compares.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, realpath, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formatProblem } from '../src/core/problems.js';
import { loadDesiredConfig } from '../src/config-source.js';
import { fingerprintConfig, watchConfigDirectories } from '../src/daemon/file-watcher.js';

const A = '7fa84d2b-26d7-4c71-9b5b-e591eff97e7d';
const B = '3b1f9c2e-8d4a-4e6b-9f1a-2c5d7e8f9a0b';
const C = '0d6c1f0e-5a55-4f57-9a43-1c2b3d4e5f60';

function part(org: string, users: Record<string, string> = { 'a@example.test': '[admin]' }, name?: string): string {
  return [
    'version: 1',
    'organizations:',
    `  ${org}:`,
    ...(name !== undefined ? [`    name: ${name}`] : []),
    '    users:',
    ...Object.entries(users).map(([k, v]) => `      ${k}: ${v}`),
    '',
  ].join('\n');
}

let root: string;
let dir: string;

beforeEach(async () => {
  root = await realpath(await mkdtemp(join(tmpdir(), 'rs-parts-')));
  dir = join(root, 'roles.d');
  await mkdir(dir);
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function problemsOf(path: string): Promise<string[]> {
  const result = await loadDesiredConfig(path);
  const problems = result.kind === 'loaded' ? result.warnings : result.problems;
  return problems.map((p) => formatProblem(result.file, p));
}

describe('a directory of files', () => {
  it('reads every *.yaml and *.yml directly in it, in name order, and nothing else', async () => {
    await writeFile(join(dir, 'b-fitzroy.yml'), part(B, undefined, 'Fitzroy'));
    await writeFile(join(dir, 'a-collins.yaml'), part(A, undefined, 'Collins'));
    await writeFile(join(dir, '.hidden.yaml'), 'not: [valid');
    await writeFile(join(dir, 'notes.txt'), 'not yaml at all: [');
    await writeFile(join(dir, 'backup.yaml~'), 'not: [valid');
    await mkdir(join(dir, 'archive.yaml'));
    await mkdir(join(dir, 'old'));
    await writeFile(join(dir, 'old', 'c.yaml'), part(C));

    const result = await loadDesiredConfig(dir);
    expect(result.kind).toBe('loaded');
    if (result.kind === 'invalid') return;
    expect(result.state.organizations.map((o) => [o.id, o.name, o.file])).toEqual([
      [A, 'Collins', join(dir, 'a-collins.yaml')],
      [B, 'Fitzroy', join(dir, 'b-fitzroy.yml')],
    ]);
    expect(result.parts?.map((p) => p.file)).toEqual([join(dir, 'a-collins.yaml'), join(dir, 'b-fitzroy.yml')]);
  });

  it('reports an organization in two parts at both places', async () => {
    await writeFile(join(dir, 'a.yaml'), part(A));
    await writeFile(join(dir, 'b.yaml'), `# clinic B\n${part(A)}`);
    expect(await problemsOf(dir)).toEqual([
      `${dir}/a.yaml:3:3: error: organization ${A} is also defined in ${dir}/b.yaml:4:3; define it in one part only`,
      `${dir}/b.yaml:4:3: error: organization ${A} is already defined in ${dir}/a.yaml:3:3`,
    ]);
  });

  it('refuses parts that disagree on timezone, at the timezone, naming the first part', async () => {
    await writeFile(join(dir, 'a.yaml'), `timezone: Australia/Melbourne\n${part(A)}`);
    await writeFile(join(dir, 'b.yaml'), `timezone: Australia/Melbourne\n${part(B)}`);
    await writeFile(join(dir, 'c.yaml'), part(C));
    await writeFile(
      join(dir, 'd.yaml'),
      `# Perth\ntimezone: Australia/Perth\n${part('c0ffee00-1111-4222-8333-444455556666')}`,
    );
    expect(await problemsOf(dir)).toEqual([
      `${dir}/c.yaml:1:1: error: timezone UTC (the default: no timezone given) differs from Australia/Melbourne ` +
        `in ${dir}/a.yaml; every part must use the same timezone (date-only "until" values are read in it)`,
      `${dir}/d.yaml:2:11: error: timezone Australia/Perth differs from Australia/Melbourne in ${dir}/a.yaml; ` +
        'every part must use the same timezone (date-only "until" values are read in it)',
    ]);
    await rm(join(dir, 'c.yaml'));
    await rm(join(dir, 'd.yaml'));
    const result = await loadDesiredConfig(dir);
    expect(result.kind === 'loaded' && result.state.timezone).toBe('Australia/Melbourne');
  });

  it('names the part for every problem, and still checks the valid parts against each other', async () => {
    await writeFile(join(dir, 'a.yaml'), part(A));
    await writeFile(join(dir, 'b.yaml'), part(B, { 'x@example.test': '[admn]' }));
    await writeFile(join(dir, 'c.yaml'), part(A, { 'y@example.test': '[rx_queue_manager]' }));
    const problems = await problemsOf(dir);
    expect(problems).toHaveLength(4);
    expect(problems[0]).toBe(
      `${dir}/a.yaml:3:3: error: organization ${A} is also defined in ${dir}/c.yaml:3:3; define it in one part only`,
    );
    expect(problems[1]).toMatch(new RegExp(`^${dir}/b\\.yaml:5:24: error: unknown role "admn"`));
    expect(problems[2]).toBe(`${dir}/c.yaml:3:3: error: organization ${A} is already defined in ${dir}/a.yaml:3:3`);
    expect(problems[3]).toMatch(new RegExp(`^${dir}/c\\.yaml:5:24: warning: rx_queue_manager`));
  });

  it('refuses a directory with no part: there is nothing to manage', async () => {
    await writeFile(join(dir, 'README.md'), '# roles\n');
    expect(await problemsOf(dir)).toEqual([
      `${dir}:1:1: error: ${dir} holds no *.yaml or *.yml file (directly in it, not hidden): nothing to manage`,
    ]);
  });

  it('reads parts through links (a ConfigMap mount); refuses a dangling link or a FIFO without blocking', async () => {
    const data = join(dir, '..2026_01_01_00_00_00.000000001');
    await mkdir(data);
    await writeFile(join(data, 'a.yaml'), part(A));
    await symlink('..2026_01_01_00_00_00.000000001', join(dir, '..data'));
    await symlink('..data/a.yaml', join(dir, 'a.yaml'));
    const ok = await loadDesiredConfig(dir);
    expect(ok.kind === 'loaded' && ok.state.organizations.map((o) => o.id)).toEqual([A]);

    await symlink('..data/gone.yaml', join(dir, 'b.yaml'));
    execFileSync('mkfifo', [join(dir, 'c.yaml')]);
    expect(await problemsOf(dir)).toEqual([
      `${dir}/b.yaml:1:1: error: cannot read ${dir}/b.yaml: no such file (a dangling link?)`,
      `${dir}/c.yaml:1:1: error: ${dir}/c.yaml is not a regular file`,
    ]);
    expect((await fingerprintConfig(dir)).kind).toBe('unreadable');
  });

  it('has one digest that the watcher computes too, changed by an edit, an addition or a rename', async () => {
    await writeFile(join(dir, 'a.yaml'), part(A));
    const digest = async (): Promise<string> => {
      const loaded = await loadDesiredConfig(dir);
      const fingerprint = await fingerprintConfig(dir);
      if (loaded.kind === 'invalid' || fingerprint.kind !== 'content') throw new Error('expected a valid directory');
      expect(fingerprint.sha256).toBe(loaded.sha256);
      return loaded.sha256;
    };
    const first = await digest();
    await writeFile(join(dir, 'b.yaml'), part(B));
    const added = await digest();
    await rename(join(dir, 'b.yaml'), join(dir, 'c.yaml'));
    const renamed = await digest();
    await writeFile(join(dir, 'c.yaml'), part(B, { 'b@example.test': '[provider]' }));
    const edited = await digest();
    expect(new Set([first, added, renamed, edited]).size).toBe(4);
  });

  it('watches the directory itself, and the directories its parts link through', async () => {
    const data = join(dir, '..2026_01_01');
    await mkdir(data);
    await writeFile(join(data, 'a.yaml'), part(A));
    await symlink('..2026_01_01', join(dir, '..data'));
    await symlink('..data/a.yaml', join(dir, 'a.yaml'));
    expect(await watchConfigDirectories(dir)).toEqual([dir, data]);
    const linked = join(root, 'current');
    await symlink(dir, linked);
    expect(await watchConfigDirectories(linked)).toEqual([root, dir, data]);
  });

  it('reads a single file as before', async () => {
    const file = join(root, 'roles.yaml');
    await writeFile(file, part(A));
    const result = await loadDesiredConfig(file);
    expect(result.kind === 'loaded' && result.parts).toBeUndefined();
    expect(result.kind === 'loaded' && result.state.organizations[0]?.file).toBeUndefined();
  });
});
