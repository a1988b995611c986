/**
 * The CI examples under examples/: the workflow files are checked for structure, and the script they
 * all call (examples/ci-commands.sh) is run for real, as the workflows run it, against a two-commit
 * git repository (a base branch on an "origin" and a pull-request branch) and the simulator.
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
import { loadDesiredConfig } from '../src/config-source.js';
import {
  DEMO_ACTING_USER,
  DEMO_PARTNER,
  demoSeed,
  startSimulator,
  type RunningSimulator,
} from '../src/simulator/index.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = join(ROOT, 'dist', 'cli.js');
const SCRIPT = join(ROOT, 'examples', 'ci-commands.sh');
const MARKER = '<!-- role-sync-plan -->';
const COLLINS = '7fa84d2b-26d7-4c71-9b5b-e591eff97e7d';
const NGUYEN = '64c290b3-09df-46c2-833b-b3ad3054109b';
const exec = promisify(execFile);

type Obj = Record<string, any>;

// ---------------------------------------------------------------------------------------------
// Running things.

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** The script as a workflow step runs it: executed directly, from the repository root. */
function ciCommands(args: readonly string[], cwd: string, env: Record<string, string>): Promise<Run> {
  return runToEnd(SCRIPT, args, {
    cwd,
    env: {
      PATH: process.env['PATH'] ?? '',
      HOME: process.env['HOME'] ?? '',
      ROLE_SYNC_BIN: `${process.execPath} ${CLI}`,
      LOG_LEVEL: 'warn',
      ...env,
    },
  });
}

async function git(cwd: string, ...args: string[]): Promise<string> {
  const { stdout } = await exec(
    'git',
    ['-c', 'user.name=CI test', '-c', 'user.email=ci@example.test', '-c', 'init.defaultBranch=main', ...args],
    { cwd },
  );
  return stdout;
}

/**
 * An "origin" whose main holds `base` as roles.yaml (or no roles.yaml when undefined), cloned, with a
 * `feature` branch committing `head`: what actions/checkout with fetch-depth 0 gives a pull request.
 */
async function pullRequestRepo(dir: string, base: string | undefined, head: string): Promise<string> {
  const origin = join(dir, 'origin');
  await mkdir(origin, { recursive: true });
  await git(origin, 'init', '-q');
  await writeFile(join(origin, base === undefined ? 'README.md' : 'roles.yaml'), base ?? '# roles\n');
  await git(origin, 'add', '.');
  await git(origin, 'commit', '-q', '-m', 'base');
  const work = join(dir, 'work');
  await git(dir, 'clone', '-q', origin, work);
  await git(work, 'checkout', '-q', '-b', 'feature');
  await writeFile(join(work, 'roles.yaml'), head);
  await git(work, 'add', 'roles.yaml');
  await git(work, 'commit', '-q', '-m', 'change roles');
  return work;
}

/** `key=value` lines of a $GITHUB_OUTPUT file. */
async function outputs(file: string): Promise<Record<string, string>> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return Object.fromEntries(
    text
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

let tmp: string;
let example: string;
/** Commit 2: dr.nguyen gains admin; nurse.patel trades receptionist for provider. */
let changed: string;

beforeAll(async () => {
  tmp = await realpath(await mkdtemp(join(tmpdir(), 'rs-ci-examples-')));
  example = await readFile(join(ROOT, 'roles.example.yaml'), 'utf8');
  changed = example
    .replace('dr.nguyen@collins.example: [provider]', 'dr.nguyen@collins.example: [admin, provider]')
    .replace('nurse.patel@collins.example: [receptionist]', 'nurse.patel@collins.example: [provider]');
  expect(changed).not.toBe(example);
});

afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// The workflow files.

async function loadYaml(path: string): Promise<Obj> {
  return parseYaml(await readFile(join(ROOT, path), 'utf8')) as Obj;
}

/** `bash -n` over a shell snippet, with the CI system's `${{ ... }}` expressions replaced. */
async function bashSyntax(snippet: string): Promise<void> {
  const file = join(tmp, `snippet-${Math.random().toString(36).slice(2)}.sh`);
  await writeFile(file, snippet.replace(/\$\{\{[^}]*\}\}/g, 'EXPR'));
  await exec('bash', ['-n', file]);
}

const SCRIPT_CALL = /(\S*)examples\/ci-commands\.sh (pr|live-plan|apply)\b/;

describe('the GitHub pull-request workflow', () => {
  let wf: Obj;
  let steps: Obj[];
  beforeAll(async () => {
    wf = await loadYaml('examples/github/role-sync-pr.yml');
    steps = wf['jobs']['plan']['steps'] as Obj[];
  });

  it('runs on pull requests with the permission to comment', () => {
    expect(wf['on']['pull_request']['paths']).toContain('roles.yaml');
    expect(wf['permissions']).toEqual({ contents: 'read', 'pull-requests': 'write' });
  });

  it('checks out the whole history and sets up Node 24', () => {
    expect(steps[0]).toMatchObject({
      uses: expect.stringMatching(/^actions\/checkout@v\d+$/),
      with: { 'fetch-depth': 0 },
    });
    expect(steps.find((s) => /^actions\/setup-node@/.test(s['uses'] as string))?.['with']).toEqual({
      'node-version': '24',
    });
    for (const s of steps.filter((x) => x['uses'] !== undefined))
      expect(s['uses'], 'actions are pinned to a version').toMatch(/@v\d+$/);
  });

  it('calls examples/ci-commands.sh pr with the base branch, and live-plan only when credentials exist', () => {
    const tool = steps.find((s) => s['with']?.['repository'] !== undefined)?.['with']?.['path'] as string;
    const calls = steps.filter((s) => SCRIPT_CALL.test((s['run'] as string | undefined) ?? ''));
    expect(calls.map((s) => SCRIPT_CALL.exec(s['run'] as string)![2])).toEqual(['pr', 'live-plan']);
    for (const s of calls) expect(SCRIPT_CALL.exec(s['run'] as string)![1]).toBe(`${tool}/`);
    expect(calls[0]!['env']['ROLE_SYNC_BASE_REF']).toBe('origin/${{ github.base_ref }}');
    expect(calls[0]!['if']).toBeUndefined();
    const live = calls[1]!;
    const flag = /env\.(\w+) == 'true'/.exec(live['if'] as string)?.[1];
    expect(flag).toBeDefined();
    expect(wf['jobs']['plan']['env'][flag!]).toMatch(/^\$\{\{ secrets\.\w+ != ''( \|\| secrets\.\w+ != '')* \}\}$/);
    for (const [name, value] of Object.entries(live['env'] as Obj)) {
      if (/SECRET|CREDENTIALS/.test(name)) expect(value, name).toMatch(/^\$\{\{ secrets\.\w+ \}\}$/);
    }
  });

  it('keeps one comment, found by the hidden marker and updated in place', () => {
    const comment = steps.find((s) => /^actions\/github-script@v\d+$/.test((s['uses'] as string | undefined) ?? ''))!;
    const script = comment['with']['script'] as string;
    expect(script).toContain(`'${MARKER}'`);
    expect(script).toMatch(/updateComment/);
    expect(script).toMatch(/createComment/);
    expect(comment['if']).toMatch(/always\(\)/);
    // It compiles as the body github-script wraps it in.
    const AsyncFunction = Object.getPrototypeOf(async () => undefined).constructor as new (
      ...args: string[]
    ) => unknown;
    expect(() => new AsyncFunction('require', 'github', 'context', script)).not.toThrow();
  });

  it('has shell steps bash can parse', async () => {
    for (const s of steps.filter((x) => typeof x['run'] === 'string')) await bashSyntax(s['run'] as string);
  });
});

describe('the GitHub apply workflow', () => {
  let wf: Obj;
  let steps: Obj[];
  beforeAll(async () => {
    wf = await loadYaml('examples/github/role-sync-apply.yml');
    steps = wf['jobs']['apply']['steps'] as Obj[];
  });

  it('runs on pushes to main, never two at once and never cancelled halfway', () => {
    expect(wf['on']['push']['branches']).toEqual(['main']);
    expect(wf['concurrency']).toEqual({ group: expect.any(String), 'cancel-in-progress': false });
  });

  it('calls examples/ci-commands.sh apply with credentials from secrets', async () => {
    const tool = steps.find((s) => s['with']?.['repository'] !== undefined)?.['with']?.['path'] as string;
    const calls = steps.filter((s) => SCRIPT_CALL.test((s['run'] as string | undefined) ?? ''));
    expect(calls).toHaveLength(1);
    expect(SCRIPT_CALL.exec(calls[0]!['run'] as string)!.slice(1)).toEqual([`${tool}/`, 'apply']);
    const env = calls[0]!['env'] as Obj;
    for (const name of ['PARCHMENT_PARTNER_ID', 'PARCHMENT_PARTNER_SECRET', 'ROLE_SYNC_CREDENTIALS_YAML']) {
      expect(env[name], name).toMatch(/^\$\{\{ secrets\.\w+ \}\}$/);
    }
    for (const s of steps.filter((x) => typeof x['run'] === 'string')) await bashSyntax(s['run'] as string);
  });
});

describe('the GitLab pipeline', () => {
  let ci: Obj;
  beforeAll(async () => {
    ci = await loadYaml('examples/gitlab/.gitlab-ci.yml');
  });

  it('plans merge requests: ci-commands.sh pr against the target branch, the plan as artifact and note', async () => {
    const job = ci['role-sync plan'] as Obj;
    expect(ci['stages']).toEqual(['plan', 'apply']);
    expect(job['rules'][0]['if']).toContain('merge_request_event');
    const script = (job['script'] as string[]).join('\n');
    expect(script).toMatch(
      /ROLE_SYNC_BASE_REF="origin\/\$CI_MERGE_REQUEST_TARGET_BRANCH_NAME" \S*examples\/ci-commands\.sh pr\b/,
    );
    expect(script).toMatch(/examples\/ci-commands\.sh live-plan\b/);
    expect(job['artifacts']['paths']).toEqual(['plan.md']);
    const note = (job['after_script'] as string[]).join('\n');
    expect(note).toContain(MARKER);
    // The note poster compiles as the ES module node runs.
    const js = /node --input-type=module -e '([^']*)'/.exec(note)?.[1];
    expect(js).toBeDefined();
    const file = join(tmp, 'gitlab-note.mjs');
    await writeFile(file, js!);
    await exec(process.execPath, ['--check', file]);
    await bashSyntax(`${(ci['.role-sync']['before_script'] as string[]).join('\n')}\n${script}\n${note}`);
  });

  it('applies on the default branch, one pipeline at a time', async () => {
    const job = ci['role-sync apply'] as Obj;
    expect(job['rules'][0]['if']).toContain('$CI_DEFAULT_BRANCH');
    expect(job['resource_group']).toEqual(expect.any(String));
    expect(job['script']).toEqual([expect.stringMatching(/examples\/ci-commands\.sh apply$/)]);
    expect(job['artifacts']['paths']).toEqual(['apply.md']);
    await bashSyntax((job['script'] as string[]).join('\n'));
  });
});

// ---------------------------------------------------------------------------------------------
// The script, for real.

describe('ci-commands.sh pr (no network, no secrets)', () => {
  it('plans the pull request against origin/main: markdown grants and revocations, exit 2 as success', async () => {
    const repo = await pullRequestRepo(join(tmp, 'pr-change'), example, changed);
    const summary = join(tmp, 'pr-change', 'summary.md');
    const output = join(tmp, 'pr-change', 'output');
    const run = await ciCommands(['pr'], repo, {
      ROLE_SYNC_BASE_REF: 'origin/main',
      GITHUB_STEP_SUMMARY: summary,
      GITHUB_OUTPUT: output,
    });
    expect(run.code, run.stderr).toBe(0);
    const plan = await readFile(join(repo, 'plan.md'), 'utf8');
    expect(plan.startsWith(`${MARKER}\n`)).toBe(true);
    expect(plan).toContain('## role-sync plan: roles.yaml against origin/main/roles.yaml');
    expect(plan).toContain('| dr.nguyen@collins.example | provider | admin, provider | admin |  |');
    expect(plan).toContain('| nurse.patel@collins.example | receptionist | provider | provider | receptionist |');
    expect(plan).toMatch(/\| Revocations \| 1 \|/);
    expect(await readFile(summary, 'utf8')).toBe(plan);
    expect(await outputs(output)).toEqual({ changes: 'true' });
    expect(run.stdout).toContain('roles.yaml changes roles');
  });

  it('says so when the pull request changes nothing', async () => {
    const repo = await pullRequestRepo(join(tmp, 'pr-same'), example, `${example}# a comment only\n`);
    const output = join(tmp, 'pr-same', 'output');
    const run = await ciCommands(['pr'], repo, { ROLE_SYNC_BASE_REF: 'origin/main', GITHUB_OUTPUT: output });
    expect(run.code, run.stderr).toBe(0);
    expect(await readFile(join(repo, 'plan.md'), 'utf8')).toContain(
      '**Plan: 0 to change (0 grants, 0 revocations), 0 starts being managed',
    );
    expect(await outputs(output)).toEqual({ changes: 'false' });
  });

  it('plans a roles file the base branch does not have yet as every user starting to be managed', async () => {
    const repo = await pullRequestRepo(join(tmp, 'pr-new'), undefined, example);
    const output = join(tmp, 'pr-new', 'output');
    const run = await ciCommands(['pr'], repo, { ROLE_SYNC_BASE_REF: 'origin/main', GITHUB_OUTPUT: output });
    expect(run.code, run.stderr).toBe(0);
    const plan = await readFile(join(repo, 'plan.md'), 'utf8');
    expect(plan).toContain('> roles.yaml is new: origin/main has no such file');
    expect(plan).toContain('12 starts being managed');
    expect(plan).toContain('- dr.nguyen@collins.example: provider');
    expect(plan).not.toMatch(/organizations? (added|removed)/);
    expect(await outputs(output)).toEqual({ changes: 'true' });
  });

  it('fails an invalid file with FILE:LINE:COL problems, as annotations on GitHub and in the comment', async () => {
    const repo = await pullRequestRepo(
      join(tmp, 'pr-invalid'),
      example,
      changed.replace('dr.okafor@fitzroy.example: [admin, provider]', 'dr.okafor@fitzroy.example: [admin, provder]'),
    );
    const run = await ciCommands(['pr'], repo, { ROLE_SYNC_BASE_REF: 'origin/main', GITHUB_ACTIONS: 'true' });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^roles\.yaml:\d+:\d+: error: unknown role "provder"/m);
    expect(run.stdout).toMatch(/^::error file=roles\.yaml,line=\d+,col=\d+::unknown role "provder"/m);
    const plan = await readFile(join(repo, 'plan.md'), 'utf8');
    expect(plan).toContain(MARKER);
    expect(plan).toContain('## role-sync: roles.yaml is not valid');
    expect(plan).toMatch(/roles\.yaml:\d+:\d+: error: unknown role "provder"/);
  });

  it('refuses to run without a base revision', async () => {
    const repo = await pullRequestRepo(join(tmp, 'pr-nobase'), example, changed);
    const run = await ciCommands(['pr'], repo, {});
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain('ROLE_SYNC_BASE_REF');
  });
});

/** Like pullRequestRepo, with a directory of parts (`roles.d/NAME`) in place of roles.yaml. */
async function directoryRepo(
  dir: string,
  base: Readonly<Record<string, string>>,
  head: Readonly<Record<string, string | undefined>>,
): Promise<string> {
  const origin = join(dir, 'origin');
  await mkdir(join(origin, 'roles.d'), { recursive: true });
  await git(origin, 'init', '-q');
  for (const [name, text] of Object.entries(base)) await writeFile(join(origin, 'roles.d', name), text);
  await git(origin, 'add', '.');
  await git(origin, 'commit', '-q', '-m', 'base');
  const work = join(dir, 'work');
  await git(dir, 'clone', '-q', origin, work);
  await git(work, 'checkout', '-q', '-b', 'feature');
  for (const [name, text] of Object.entries(head)) {
    if (text === undefined) await git(work, 'rm', '-q', join('roles.d', name));
    else await writeFile(join(work, 'roles.d', name), text);
  }
  await git(work, 'add', '-A');
  await git(work, 'commit', '-q', '-m', 'change roles');
  return work;
}

describe('a directory of files, one part per clinic', () => {
  const PARTS = join(ROOT, 'examples', 'roles.d');
  let parts: Record<string, string>;
  beforeAll(async () => {
    parts = Object.fromEntries(
      await Promise.all(
        ['collins-street.yaml', 'fitzroy-telehealth.yaml'].map(
          async (name) => [name, await readFile(join(PARTS, name), 'utf8')] as const,
        ),
      ),
    );
  });

  it('examples/roles.d is roles.example.yaml split per clinic', async () => {
    const [dir, file] = await Promise.all([
      loadDesiredConfig(PARTS),
      loadDesiredConfig(join(ROOT, 'roles.example.yaml')),
    ]);
    if (!dir.ok || !file.ok) throw new Error('both examples must be valid');
    const strip = (orgs: typeof dir.state.organizations): unknown =>
      orgs.map((o) => ({ id: o.id, name: o.name, users: o.users.map((u) => [u.key, u.roles]) }));
    expect(strip(dir.state.organizations)).toEqual(strip(file.state.organizations));
  });

  it('examples/CODEOWNERS gives each part its own reviewers', async () => {
    const owners = (await readFile(join(ROOT, 'examples', 'CODEOWNERS'), 'utf8'))
      .split('\n')
      .filter((l) => l.trim() !== '' && !l.startsWith('#'))
      .map((l) => l.split(/\s+/));
    for (const name of Object.keys(parts)) {
      const line = owners.find(([path]) => path === `/roles.d/${name}`);
      expect(line, name).toBeDefined();
      expect(line!.slice(1).every((o) => /^@[\w.-]+\/[\w.-]+$/.test(o))).toBe(true);
    }
    expect(owners[0]?.[0]).toBe('/roles.d/');
  });

  it("ci-commands.sh pr plans the directory against the base branch's directory", async () => {
    const repo = await directoryRepo(join(tmp, 'pr-dir'), parts, {
      'fitzroy-telehealth.yaml': parts['fitzroy-telehealth.yaml']!.replace(
        'dr.lindqvist@fitzroy.example: [provider]',
        'dr.lindqvist@fitzroy.example: [admin, provider]',
      ),
    });
    const output = join(tmp, 'pr-dir', 'output');
    const run = await ciCommands(['pr'], repo, {
      ROLE_SYNC_CONFIG: 'roles.d',
      ROLE_SYNC_BASE_REF: 'origin/main',
      GITHUB_OUTPUT: output,
    });
    expect(run.code, run.stderr).toBe(0);
    const plan = await readFile(join(repo, 'plan.md'), 'utf8');
    expect(plan).toContain('## role-sync plan: roles.d against origin/main/roles.d');
    expect(plan).toContain('| dr.lindqvist@fitzroy.example | provider | admin, provider | admin |  |');
    expect(plan).toMatch(/\| Role changes \| 1 \|/);
    expect(await outputs(output)).toEqual({ changes: 'true' });
  });

  it('ci-commands.sh pr shows a part removed as its clinic no longer managed, and locates a broken part', async () => {
    const removed = await directoryRepo(join(tmp, 'pr-dir-rm'), parts, { 'collins-street.yaml': undefined });
    const run = await ciCommands(['pr'], removed, { ROLE_SYNC_CONFIG: 'roles.d/', ROLE_SYNC_BASE_REF: 'origin/main' });
    expect(run.code, run.stderr).toBe(0);
    const plan = await readFile(join(removed, 'plan.md'), 'utf8');
    expect(plan).toContain('Collins Street Clinic (7fa84d2b-26d7-4c71-9b5b-e591eff97e7d) — removed from the file');

    const broken = await directoryRepo(join(tmp, 'pr-dir-bad'), parts, {
      'fitzroy-telehealth.yaml': parts['fitzroy-telehealth.yaml']!.replace('[receptionist]', '[receptionst]'),
    });
    const bad = await ciCommands(['pr'], broken, {
      ROLE_SYNC_CONFIG: 'roles.d',
      ROLE_SYNC_BASE_REF: 'origin/main',
      GITHUB_ACTIONS: 'true',
    });
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/^::error file=roles\.d\/fitzroy-telehealth\.yaml,line=\d+,col=\d+::unknown role/m);
  });
});

describe('ci-commands.sh against the simulator', () => {
  let sim: RunningSimulator;
  let repo: string;
  let credentials: string;
  const env = (extra: Record<string, string> = {}): Record<string, string> => ({
    PARCHMENT_BASE_URL: sim.baseUrl,
    PARCHMENT_PARTNER_ID: DEMO_PARTNER.partnerId,
    PARCHMENT_PARTNER_SECRET: DEMO_PARTNER.partnerSecret,
    ROLE_SYNC_CREDENTIALS_YAML: credentials,
    ROLE_SYNC_STATE_DIR: join(tmp, 'sim-state'),
    ROLE_SYNC_RATE: '100',
    ...extra,
  });
  const puts = (): number => sim.requests().filter((r) => r.method === 'PUT').length;

  beforeAll(async () => {
    sim = await startSimulator({ port: 0 });
    repo = await pullRequestRepo(join(tmp, 'sim'), example, changed);
    // What a CI secret holds: the credentials file's content (README "Settings and credentials").
    credentials = [
      'organizations:',
      ...demoSeed().organizations.flatMap((o) => [
        `  ${o.id}:`,
        `    secret: ${o.secret}`,
        `    userId: ${DEMO_ACTING_USER[o.id]}`,
      ]),
    ].join('\n');
  });

  afterAll(async () => {
    await sim.close();
  });

  it('live-plan adds the read-only live view to the plan and writes nothing', async () => {
    const output = join(tmp, 'sim', 'live-output');
    const pr = await ciCommands(['pr'], repo, { ROLE_SYNC_BASE_REF: 'origin/main' });
    expect(pr.code, pr.stderr).toBe(0);
    const offline = await readFile(join(repo, 'plan.md'), 'utf8');
    sim.clearRequests();
    const run = await ciCommands(['live-plan'], repo, env({ GITHUB_OUTPUT: output }));
    expect(run.code, run.stderr).toBe(0);
    const plan = await readFile(join(repo, 'plan.md'), 'utf8');
    expect(plan.startsWith(offline)).toBe(true);
    expect(plan.split(MARKER)).toHaveLength(2);
    const live = plan.slice(offline.length);
    expect(live).toContain('**Live view**');
    expect(live).toMatch(/dr\.nguyen@collins\.example/);
    expect(await outputs(output)).toEqual({ live_changes: 'true' });
    expect(sim.requests().length).toBeGreaterThan(0);
    expect(puts()).toBe(0);
  });

  it('apply maps a guard refusal to exit 3 with a clear message, writing nothing', async () => {
    const output = join(tmp, 'sim', 'refused-output');
    sim.clearRequests();
    const run = await ciCommands(
      ['apply', '--max-changes', '0'],
      repo,
      env({ GITHUB_OUTPUT: output, GITHUB_ACTIONS: 'true' }),
    );
    expect(run.code).toBe(3);
    expect(run.stdout).toMatch(
      /^::error::role-sync apply was REFUSED by a safety guard \(exit 3\): nothing was written/m,
    );
    expect(run.stderr).toMatch(/refused: .*--max-changes/);
    expect(await outputs(output)).toEqual({ result: 'refused' });
    expect(puts()).toBe(0);
  });

  it('apply applies the merged file (exit 0) and reports it', async () => {
    const output = join(tmp, 'sim', 'apply-output');
    const summary = join(tmp, 'sim', 'apply-summary.md');
    sim.clearRequests();
    const run = await ciCommands(['apply'], repo, env({ GITHUB_OUTPUT: output, GITHUB_STEP_SUMMARY: summary }));
    expect(run.code, run.stderr).toBe(0);
    expect(await outputs(output)).toEqual({ result: 'applied' });
    expect(puts()).toBeGreaterThan(0);
    expect([...sim.user(COLLINS, NGUYEN)!.roles].sort()).toEqual(['admin', 'provider']);
    const report = await readFile(join(repo, 'apply.md'), 'utf8');
    expect(report).toContain('dr.nguyen@collins.example');
    expect(await readFile(summary, 'utf8')).toBe(report);
  });

  it('apply maps a failure (rejected credentials) to exit 1', async () => {
    const output = join(tmp, 'sim', 'failed-output');
    sim.clearRequests();
    const run = await ciCommands(
      ['apply'],
      repo,
      env({ PARCHMENT_PARTNER_SECRET: 'not-the-secret', GITHUB_OUTPUT: output }),
    );
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('error: role-sync apply FAILED (exit 1)');
    expect(run.stderr + run.stdout).not.toContain('not-the-secret');
    expect(await outputs(output)).toEqual({ result: 'failed' });
    expect(puts()).toBe(0);
  });

  it('rejects an unknown mode', async () => {
    const run = await ciCommands(['deploy'], repo, {});
    expect(run.code).toBe(64);
    expect(run.stderr).toMatch(/usage: .* pr \| live-plan \| apply/);
  });
});
