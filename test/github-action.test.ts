/**
 * The GitHub Action (action.yml), run step by step as the runner runs a composite action
 * (test/helpers/composite-action.ts), in a real two-commit git repository, against the simulator
 * and a stand-in for GitHub's comments API on 127.0.0.1. The install step is the one thing not run
 * here (it would `npm ci` this checkout); test/package.test.ts runs it on a fresh clone.
 */
import { mkdir, mkdtemp, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  DEMO_ACTING_USER,
  DEMO_PARTNER,
  demoSeed,
  startSimulator,
  type RunningSimulator,
} from '../src/simulator/index.js';
import { runToEnd } from './helpers/child.js';
import { git, pullRequestRepo } from './helpers/ci-repo.js';
import { runCompositeAction, type ActionRun } from './helpers/composite-action.js';
import { startFakeGitHub, type FakeComment, type FakeGitHub } from './helpers/fake-github.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = join(ROOT, 'dist', 'cli.js');
const COMMENTER = join(ROOT, 'scripts', 'pr-comment.js');
const MARKER = '<!-- role-sync-plan -->';
const REPO = 'acme/roles';
const PR = 7;
const TOKEN = 'ghs_test_token';
const BOT: FakeComment['user'] = { login: 'github-actions[bot]', type: 'Bot' };

type Obj = Record<string, any>;

let tmp: string;
let action: Obj;
let example: string;
let changed: string;
let prEvent: string;
let pushEvent: string;
let credentials: string;

beforeAll(async () => {
  tmp = await realpath(await mkdtemp(join(tmpdir(), 'rs-action-test-')));
  action = parseYaml(await readFile(join(ROOT, 'action.yml'), 'utf8')) as Obj;
  example = await readFile(join(ROOT, 'roles.example.yaml'), 'utf8');
  changed = example.replace('dr.nguyen@collins.example: [provider]', 'dr.nguyen@collins.example: [admin, provider]');
  prEvent = join(tmp, 'pull_request.json');
  await writeFile(prEvent, JSON.stringify({ pull_request: { number: PR } }));
  pushEvent = join(tmp, 'push.json');
  await writeFile(pushEvent, JSON.stringify({ ref: 'refs/heads/main' }));
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
  await rm(tmp, { recursive: true, force: true });
});

let github: FakeGitHub;
beforeEach(async () => {
  github = await startFakeGitHub(REPO, { token: TOKEN, author: BOT });
  return () => github.close();
});

let runs = 0;
/** The action as a workflow step with `with: inputs` and `env: env` runs it, in `repo`. */
async function action_(repo: string, inputs: Record<string, string>, env: Record<string, string> = {}) {
  const summary = join(tmp, `summary-${++runs}.md`);
  const run = await runCompositeAction(action, {
    actionPath: ROOT,
    cwd: repo,
    inputs,
    env: {
      PATH: process.env['PATH'] ?? '',
      HOME: process.env['HOME'] ?? '',
      LOG_LEVEL: 'warn',
      GITHUB_ACTIONS: 'true',
      GITHUB_STEP_SUMMARY: summary,
      GITHUB_API_URL: github.url,
      GITHUB_SERVER_URL: 'https://github.example',
      GITHUB_REPOSITORY: REPO,
      GITHUB_RUN_ID: '4242',
      GITHUB_EVENT_PATH: prEvent,
      ...env,
    },
    github: { token: TOKEN },
    replace: {
      'actions/setup-node@v4': {},
      install: { bin: `${process.execPath} ${CLI}` },
    },
  });
  return { ...run, summary: await readFile(summary, 'utf8').catch(() => '') };
}

const stepOutcome = (run: ActionRun, id: string) => run.steps.find((s) => s.id === id || s.name === id)?.outcome;
const comments = (): FakeComment[] => github.comments.get(PR) ?? [];

describe('command: validate', () => {
  it('passes a valid file: result valid, exit-code 0, no comment unless asked', async () => {
    const repo = await pullRequestRepo(join(tmp, 'validate-ok'), example, changed);
    const run = await action_(repo, { command: 'validate' });
    expect(run.code, run.stderr).toBe(0);
    expect(run.outputs).toEqual({ result: 'valid', changes: 'false', 'exit-code': '0', report: 'validate.md' });
    expect(stepOutcome(run, 'Comment on the pull request')).toBe('skipped');
    expect(github.requests).toEqual([]);
  });

  it('takes a directory of files (config: roles.d) as well', async () => {
    const repo = await pullRequestRepo(join(tmp, 'validate-dir'), example, changed);
    await mkdir(join(repo, 'roles.d'));
    for (const part of ['collins-street.yaml', 'fitzroy-telehealth.yaml'])
      await writeFile(join(repo, 'roles.d', part), await readFile(join(ROOT, 'examples', 'roles.d', part), 'utf8'));
    const run = await action_(repo, { command: 'validate', config: 'roles.d' });
    expect(run.code, run.stderr).toBe(0);
    expect(run.outputs).toMatchObject({ result: 'valid', 'exit-code': '0' });
    expect(await readFile(join(repo, 'validate.md'), 'utf8')).toContain('## role-sync: roles.d is valid');
  });

  it('fails an invalid file with FILE:LINE:COL annotations, and comments the problems', async () => {
    const bad = changed.replace('dr.okafor@fitzroy.example: [admin, provider]', 'dr.okafor@fitzroy.example: [admn]');
    const repo = await pullRequestRepo(join(tmp, 'validate-bad'), example, bad);
    const run = await action_(repo, { command: 'validate', comment: 'true' });
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^::error file=roles\.yaml,line=\d+,col=\d+::unknown role "admn"/m);
    expect(run.outputs).toMatchObject({ result: 'invalid', 'exit-code': '1', report: 'validate.md' });
    // The comment step still runs after the failure (always()).
    expect(comments()).toHaveLength(1);
    expect(comments()[0]!.body).toMatch(new RegExp(`^${MARKER}\\n## role-sync: roles.yaml is not valid`));
    expect(comments()[0]!.body).toMatch(/roles\.yaml:\d+:\d+: error: unknown role "admn"/);
  });
});

describe('command: plan', () => {
  it('plans against base-ref without secrets: exit-code 2 as a success, ONE comment edited on each run', async () => {
    const repo = await pullRequestRepo(join(tmp, 'plan'), example, changed);
    const first = await action_(repo, { command: 'plan', 'base-ref': 'origin/main', comment: 'true' });
    expect(first.code, first.stderr).toBe(0);
    expect(first.outputs).toEqual({ result: 'planned', changes: 'true', 'exit-code': '2', report: 'plan.md' });
    expect(first.summary).toContain('| dr.nguyen@collins.example | provider | admin, provider | admin |  |');
    expect(comments()).toHaveLength(1);
    expect(comments()[0]!.body).toBe(await readFile(join(repo, 'plan.md'), 'utf8'));

    // The next push reverts the change: the same comment now says nothing changes.
    await writeFile(join(repo, 'roles.yaml'), example);
    await git(repo, 'commit', '-q', '-am', 'revert');
    const second = await action_(repo, { command: 'plan', 'base-ref': 'origin/main', comment: 'true' });
    expect(second.outputs).toMatchObject({ changes: 'false', 'exit-code': '0' });
    expect(comments()).toHaveLength(1);
    expect(comments()[0]!.body).toContain('**Plan: 0 to change');
    expect(github.requests.map((r) => r.method)).toEqual(['GET', 'GET', 'POST', 'GET', 'GET', 'PATCH']);
  });

  it('adds the live, read-only view when credentials are in the environment, and writes nothing', async () => {
    const sim = await startSimulator({ port: 0 });
    try {
      const repo = await pullRequestRepo(join(tmp, 'plan-live'), example, changed);
      const run = await action_(
        repo,
        { command: 'plan', 'base-ref': 'origin/main' },
        {
          PARCHMENT_BASE_URL: sim.baseUrl,
          PARCHMENT_PARTNER_ID: DEMO_PARTNER.partnerId,
          PARCHMENT_PARTNER_SECRET: DEMO_PARTNER.partnerSecret,
          ROLE_SYNC_CREDENTIALS_YAML: credentials,
          ROLE_SYNC_STATE_DIR: join(tmp, 'plan-live', 'state'),
        },
      );
      expect(run.code, run.stderr).toBe(0);
      expect(run.outputs).toMatchObject({ result: 'planned', changes: 'true', 'exit-code': '2' });
      const plan = await readFile(join(repo, 'plan.md'), 'utf8');
      expect(plan).toContain('## role-sync plan: roles.yaml against origin/main/roles.yaml');
      expect(plan).toContain('**Live view**');
      expect(sim.requests().filter((r) => r.method === 'PUT')).toEqual([]);
    } finally {
      await sim.close();
    }
  });

  it('without base-ref or credentials says what it needs', async () => {
    const repo = await pullRequestRepo(join(tmp, 'plan-nothing'), example, changed);
    const run = await action_(repo, { command: 'plan' });
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('::error::plan needs base-ref (the offline plan) or Parchment credentials');
    expect(run.outputs['exit-code']).toBe('1');
  });
});

describe('command: apply', () => {
  let sim: RunningSimulator;
  let repo: string;
  const env = (): Record<string, string> => ({
    PARCHMENT_BASE_URL: sim.baseUrl,
    PARCHMENT_PARTNER_ID: DEMO_PARTNER.partnerId,
    PARCHMENT_PARTNER_SECRET: DEMO_PARTNER.partnerSecret,
    ROLE_SYNC_CREDENTIALS_YAML: credentials,
    ROLE_SYNC_STATE_DIR: join(tmp, 'apply-state'),
    ROLE_SYNC_RATE: '100',
  });
  const puts = (): number => sim.requests().filter((r) => r.method === 'PUT').length;
  beforeAll(async () => {
    sim = await startSimulator({ port: 0 });
    repo = await pullRequestRepo(join(tmp, 'apply'), example, changed);
  });
  afterAll(async () => {
    await sim.close();
  });

  it('passes args on: a guard refusal is exit-code 3, result refused, nothing written', async () => {
    const run = await action_(repo, { command: 'apply', args: '--max-changes 0' }, env());
    expect(run.code).toBe(3);
    expect(run.outputs).toMatchObject({ result: 'refused', 'exit-code': '3', report: 'apply.md' });
    expect(run.stdout).toMatch(/^::error::role-sync apply was REFUSED by a safety guard/m);
    expect(puts()).toBe(0);
  });

  it('applies (changes true), and a second apply has nothing left to write (changes false)', async () => {
    const run = await action_(repo, { command: 'apply' }, env());
    expect(run.code, run.stderr).toBe(0);
    expect(run.outputs).toEqual({ result: 'applied', changes: 'true', 'exit-code': '0', report: 'apply.md' });
    expect(puts()).toBeGreaterThan(0);
    const before = puts();
    const again = await action_(repo, { command: 'apply' }, env());
    expect(again.outputs).toMatchObject({ result: 'applied', changes: 'false', 'exit-code': '0' });
    expect(puts()).toBe(before);
  });
});

describe('inputs', () => {
  it('refuses an unknown command', async () => {
    const repo = await pullRequestRepo(join(tmp, 'unknown'), example, changed);
    const run = await action_(repo, { command: 'deploy' });
    expect(run.code).toBe(64);
    expect(run.stdout).toContain("::error::command must be validate, plan or apply, not 'deploy'");
  });
});

// ---------------------------------------------------------------------------------------------
// scripts/pr-comment.js on its own.

async function comment(markdown: string, env: Record<string, string> = {}) {
  const file = join(tmp, `comment-${++runs}.md`);
  await writeFile(file, markdown);
  return runToEnd(process.execPath, [COMMENTER], {
    cwd: tmp,
    env: {
      PATH: process.env['PATH'] ?? '',
      ROLE_SYNC_COMMENT_FILE: file,
      GITHUB_TOKEN: TOKEN,
      GITHUB_API_URL: github.url,
      GITHUB_SERVER_URL: 'https://github.example',
      GITHUB_REPOSITORY: REPO,
      GITHUB_RUN_ID: '4242',
      GITHUB_EVENT_PATH: prEvent,
      ...env,
    },
  });
}

describe('the pull-request comment', () => {
  it('finds its own comment on a later page, leaving others’ comments with the marker alone', async () => {
    const human = { login: 'mallory', type: 'User' as const };
    github.comments.set(PR, [
      ...Array.from({ length: 100 }, (_, i) => ({ id: i + 1, body: `comment ${i}`, user: human })),
      { id: 500, body: `${MARKER}\nnot role-sync's`, user: human },
      { id: 501, body: `${MARKER}\nthe old plan`, user: BOT },
    ]);
    const run = await comment('## the new plan\n');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain(`role-sync: updated the comment on #${PR}`);
    const byId = new Map(comments().map((c) => [c.id, c.body]));
    expect(byId.get(501)).toBe(`${MARKER}\n## the new plan\n`);
    expect(byId.get(500)).toBe(`${MARKER}\nnot role-sync's`);
    expect(comments()).toHaveLength(102);
  });

  it('with a personal token, finds the comments of that user', async () => {
    await github.close();
    const me = { login: 'roles-bot-user', type: 'User' as const };
    github = await startFakeGitHub(REPO, { token: TOKEN, login: me.login, author: me });
    github.comments.set(PR, [{ id: 9, body: `${MARKER}\nold`, user: me }]);
    const run = await comment('new\n');
    expect(run.code, run.stderr).toBe(0);
    expect(comments()).toEqual([{ id: 9, body: `${MARKER}\nnew\n`, user: me }]);
  });

  it('cuts a report too long for a comment at a line end, saying where the whole one is', async () => {
    const row = `| user-${'x'.repeat(60)} | provider | admin |\n`;
    const run = await comment(`## plan\n${row.repeat(3000)}`);
    expect(run.code, run.stderr).toBe(0);
    const body = comments()[0]!.body;
    expect(body.length).toBeLessThanOrEqual(65_000);
    expect(body.startsWith(`${MARKER}\n## plan\n`)).toBe(true);
    expect(body).toMatch(
      new RegExp(
        String.raw`\|\n\n_Cut to fit a comment: the whole report is in the job summary of ` +
          String.raw`https://github\.example/acme/roles/actions/runs/4242\._\n$`,
      ),
    );
  });

  it('only warns where it may not comment (a fork’s read-only token), and outside pull requests', async () => {
    await github.close();
    github = await startFakeGitHub(REPO, { token: TOKEN, author: BOT, refuseWrites: 403 });
    const refused = await comment('plan\n');
    expect(refused.code).toBe(0);
    expect(refused.stdout).toMatch(/^::warning::role-sync: cannot comment on #7: HTTP 403 \(a fork pull request/m);

    const before = github.requests.length;
    const push = await comment('plan\n', { GITHUB_EVENT_PATH: pushEvent });
    expect(push.code).toBe(0);
    expect(push.stdout).toContain('::notice::role-sync: not a pull request event, so no comment');
    expect(github.requests.length).toBe(before);
  });

  it('never prints the token', async () => {
    const run = await comment('plan\n', { GITHUB_TOKEN: 'wrong-token-value' });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/::warning::role-sync: commenting failed: listing the comments: HTTP 401/);
    expect(run.stdout + run.stderr).not.toContain('wrong-token-value');
  });
});
