/**
 * The npm package as a user gets it: a fresh clone of this repository's HEAD, set up the way the
 * GitHub Action sets itself up (its install step, `npm ci` + build, run for real in the clone),
 * then `npm pack` (prepack builds), and the tarball installed into an empty project. Its
 * `role-sync` command must work from yet another directory.
 *
 * Slow (about 30 to 60 s: two npm installs and a build), in the default suite all the same. npm
 * uses its cache first (--prefer-offline), so a machine that has run `npm ci` here needs no network.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runToEnd } from './helpers/child.js';
import { parseOutputFile } from './helpers/composite-action.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const exec = promisify(execFile);
const NPM_FLAGS = ['--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'];
const SLOW_MS = 240_000;

type Obj = Record<string, any>;

let tmp: string;
let clone: string;
let tarball: string;
let packed: string[];
let bin: string;
let elsewhere: string;
let installOutputs: Record<string, string>;
const version = (JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

/** npm's environment: this process's, so its cache and registry settings apply. */
const npmEnv = (): NodeJS.ProcessEnv => ({ ...process.env, npm_config_update_notifier: 'false' });

beforeAll(async () => {
  tmp = await realpath(await mkdtemp(join(tmpdir(), 'rs-package-')));
  clone = join(tmp, 'clone');
  await exec('git', ['clone', '--quiet', '--no-hardlinks', ROOT, clone]);

  // The action's install step, as the runner runs it in the action's directory.
  const action = parseYaml(await readFile(join(clone, 'action.yml'), 'utf8')) as Obj;
  const install = (action['runs']['steps'] as Obj[]).find((s) => s['id'] === 'install')!;
  const script = join(tmp, 'install.sh');
  const output = join(tmp, 'install-output');
  await writeFile(script, install['run'] as string);
  await writeFile(output, '');
  const run = await runToEnd('bash', ['--noprofile', '--norc', '-eo', 'pipefail', script], {
    cwd: clone,
    env: { ...npmEnv(), GITHUB_ACTION_PATH: clone, GITHUB_OUTPUT: output, npm_config_prefer_offline: 'true' },
  });
  if (run.code !== 0) throw new Error(`the action's install step failed:\n${run.stdout}\n${run.stderr}`);
  installOutputs = parseOutputFile(await readFile(output, 'utf8'));

  const pack = await exec('npm', ['pack', '--json', '--pack-destination', tmp, ...NPM_FLAGS], {
    cwd: clone,
    env: npmEnv(),
    maxBuffer: 16 * 1024 * 1024,
  });
  // prepack's own output (the build) comes before npm's JSON.
  const info = JSON.parse(pack.stdout.slice(pack.stdout.indexOf('['))) as {
    filename: string;
    files: { path: string }[];
  }[];
  tarball = join(tmp, info[0]!.filename);
  packed = info[0]!.files.map((f) => f.path).sort();

  const project = join(tmp, 'project');
  await mkdir(project);
  await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'uses-role-sync', private: true }));
  await exec('npm', ['install', tarball, ...NPM_FLAGS], { cwd: project, env: npmEnv() });
  bin = join(project, 'node_modules', '.bin', 'role-sync');
  elsewhere = join(tmp, 'elsewhere');
  await mkdir(elsewhere);
}, SLOW_MS);

afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('the GitHub Action on a fresh clone', () => {
  it('installs and builds role-sync in its own directory, and names the command that runs it', async () => {
    expect(installOutputs).toEqual({ bin: `node ${clone}/dist/cli.js` });
    const run = await runToEnd('node', [join(clone, 'dist', 'cli.js'), '--version'], { cwd: elsewhere, env: npmEnv() });
    expect(run.stdout.trim()).toBe(version);
  });
});

describe('npm pack from a fresh clone', () => {
  it('holds the built CLI, the schema, README and LICENSE, and no sources, tests or source maps', () => {
    expect(packed).toEqual(
      expect.arrayContaining(['LICENSE', 'README.md', 'dist/cli.js', 'package.json', 'schema/roles.schema.json']),
    );
    for (const f of packed) expect(f, f).toMatch(/^(dist\/.*\.js|schema\/.*\.json|LICENSE|README\.md|package\.json)$/);
  });

  it('installs a role-sync command that works from another directory', async () => {
    const env = { PATH: process.env['PATH'] ?? '', HOME: tmp };
    const v = await runToEnd(bin, ['--version'], { cwd: elsewhere, env });
    expect(v.code, v.stderr).toBe(0);
    expect(v.stdout.trim()).toBe(version);

    await writeFile(join(elsewhere, 'roles.yaml'), await readFile(join(ROOT, 'roles.example.yaml'), 'utf8'));
    const ok = await runToEnd(bin, ['validate', '-c', 'roles.yaml'], { cwd: elsewhere, env });
    expect(ok.code, ok.stderr).toBe(0);

    await writeFile(join(elsewhere, 'bad.yaml'), 'version: 1\norganizations:\n  not-a-uuid:\n    users: {}\n');
    const bad = await runToEnd(bin, ['validate', '-c', 'bad.yaml'], { cwd: elsewhere, env });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^bad\.yaml:\d+:\d+: error: /m);
  });

  it('carries the MIT license of package.json', async () => {
    const license = await readFile(join(clone, 'LICENSE'), 'utf8');
    expect(license).toMatch(/^MIT License\n\nCopyright \(c\) 2026 role-sync contributors\n/);
    expect((JSON.parse(await readFile(join(clone, 'package.json'), 'utf8')) as { license: string }).license).toBe(
      'MIT',
    );
  });
});
