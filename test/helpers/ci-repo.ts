/**
 * Git repositories shaped like the ones CI jobs see, for the tests of examples/ci-commands.sh and of
 * the GitHub Action: a base branch on an "origin" and a pull-request branch.
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);

export async function git(cwd: string, ...args: string[]): Promise<string> {
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
export async function pullRequestRepo(dir: string, base: string | undefined, head: string): Promise<string> {
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
export async function outputs(file: string): Promise<Record<string, string>> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return Object.fromEntries(
    text
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}
