import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runToEnd } from './helpers/child.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = join(ROOT, 'dist', 'cli.js');
const ORG = '7fa84d2b-26d7-4c71-9b5b-e591eff97e7d';

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

async function run(args: readonly string[], extraEnv: Record<string, string> = {}, cwd = ROOT): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extraEnv };
  if (extraEnv['ROLE_SYNC_CONFIG'] === undefined) delete env['ROLE_SYNC_CONFIG'];
  const { code, stdout, stderr } = await runToEnd(process.execPath, [CLI, ...args], { cwd, env });
  return { code, stdout, stderr };
}

/** Runs the CLI, killing it (and failing) if it has not ended within `ms`: a blocked read must not hang the suite. */
async function runWithin(args: readonly string[], ms: number): Promise<Run> {
  let timer: NodeJS.Timeout | undefined;
  let killed = false;
  const result = await runToEnd(process.execPath, [CLI, ...args], {
    cwd: ROOT,
    env: { ...process.env, ROLE_SYNC_CONFIG: '' },
    onSpawn: (child) => {
      timer = setTimeout(() => {
        killed = true;
        child.kill('SIGKILL');
      }, ms);
    },
  });
  clearTimeout(timer);
  expect(killed, `role-sync ${args.join(' ')} still running after ${ms} ms`).toBe(false);
  return result;
}

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'role-sync-validate-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

let counter = 0;
async function file(text: string): Promise<string> {
  const path = join(dir, `case-${++counter}.yaml`);
  await writeFile(path, text);
  return path;
}

function withUsers(...lines: string[]): string {
  return `version: 1\norganizations:\n  ${ORG}:\n    users:\n${lines.map((l) => `      ${l}\n`).join('')}`;
}

/** Runs `validate -c` on the text and checks the failure: exit 1, nothing on stdout, no stack trace. */
async function invalid(text: string): Promise<{ stderr: string; path: string }> {
  const path = await file(text);
  const result = await run(['validate', '-c', path]);
  expect(result.code).toBe(1);
  expect(result.stdout).toBe('');
  expect(result.stderr).not.toContain('    at ');
  return { stderr: result.stderr, path };
}

function bomb(): string {
  const levels = ['a0: &a0 [admin, admin, admin, admin, admin, admin, admin, admin, admin, admin]'];
  for (let i = 1; i < 12; i++)
    levels.push(
      `a${i}: &a${i} [${Array(10)
        .fill(`*a${i - 1}`)
        .join(', ')}]`,
    );
  return `${levels.join('\n')}\n${withUsers('a@b.example: *a11')}`;
}

describe('role-sync validate: a file with thousands of problems', () => {
  it('shows the first 1,000 in file order, then how many more there are, and counts them all', async () => {
    const lines = Array.from({ length: 2500 }, (_, i) => `u${i}: [${i % 5 === 0 ? 'admin, admin' : 'zz'}]`);
    const { stderr, path } = await invalid(withUsers(...lines));
    const shown = stderr.trimEnd().split('\n');
    // 1,000 problems, the line saying how many more, and the verdict.
    expect(shown).toHaveLength(1002);
    expect(shown[0]).toMatch(new RegExp(`^${path}:5:\\d+: warning: role "admin" is listed twice`));
    expect(shown[1]).toMatch(new RegExp(`^${path}:6:\\d+: error: unknown role "zz"`));
    expect(shown[999]).toMatch(new RegExp(`^${path}:1004:\\d+: error: unknown role "zz"`));
    const more = 2500 - 1000;
    const moreErrors = (more * 4) / 5;
    expect(shown[1000]).toMatch(
      new RegExp(
        `^${path}:1005:\\d+: error: ${moreErrors.toLocaleString('en-US')} more errors and ` +
          `${(more - moreErrors).toLocaleString('en-US')} more warnings from here on not shown`,
      ),
    );
    expect(shown[1001]).toBe(`${path}: invalid — 2,000 errors, 500 warnings`);
  });
});

describe('role-sync validate: each bad input exits 1 with FILE:LINE:COL', () => {
  it('YAML syntax error', async () => {
    const { stderr, path } = await invalid('version: 1\norganizations: [a\n');
    expect(stderr).toContain(`${path}:3:1: error: YAML syntax:`);
  });

  it('tab indentation', async () => {
    const { stderr, path } = await invalid(`version: 1\norganizations:\n\t${ORG}: {users: {}}\n`);
    expect(stderr).toContain(`${path}:3:1: error: YAML syntax: Tabs are not allowed as indentation`);
  });

  it('unknown role, with a suggestion', async () => {
    const { stderr, path } = await invalid(withUsers('a@b.example: [provder]'));
    expect(stderr).toContain(`${path}:5:21: error: unknown role "provder"; did you mean "provider"?`);
  });

  it('owner', async () => {
    const { stderr, path } = await invalid(withUsers('a@b.example: [admin, owner]'));
    expect(stderr).toContain(`${path}:5:28: error: role "owner" cannot be assigned: the Parchment API cannot assign`);
  });

  it('empty role list', async () => {
    const { stderr, path } = await invalid(withUsers('a@b.example: []'));
    expect(stderr).toContain(`${path}:5:20: error: the role list is empty`);
  });

  it('rx_reader without receptionist', async () => {
    const { stderr, path } = await invalid(withUsers('a@b.example: [rx_reader]'));
    expect(stderr).toContain(`${path}:5:21: error: rx_reader needs receptionist`);
  });

  it('organization key that is not a UUID', async () => {
    const { stderr, path } = await invalid('version: 1\norganizations:\n  collins:\n    users: {}\n');
    expect(stderr).toContain(`${path}:3:3: error: organization key "collins" is not a UUID`);
  });

  it('user key that is neither an id nor an email', async () => {
    const { stderr, path } = await invalid(withUsers('"Dr Cameron": [provider]'));
    expect(stderr).toContain(`${path}:5:7: error: user key "Dr Cameron" is neither a Parchment user id`);
  });

  it('unknown key', async () => {
    const { stderr, path } = await invalid(`version: 1\norganizations:\n  ${ORG}:\n    usres: {}\n`);
    expect(stderr).toContain(`${path}:4:5: error: unknown key "usres" in organization "${ORG}"; did you mean "users"?`);
  });

  it('the same email twice in another case names both lines', async () => {
    const { stderr, path } = await invalid(
      withUsers('a@b.example: [admin]', 'c@b.example: [admin]', 'A@B.EXAMPLE: [provider]'),
    );
    expect(stderr).toContain(`${path}:7:7: error: user "A@B.EXAMPLE" is listed twice (first at line 5)`);
  });

  it('duplicate YAML key', async () => {
    const { stderr, path } = await invalid(`version: 1\norganizations:\n  ${ORG}:\n    users: {}\n    users: {}\n`);
    expect(stderr).toContain(`${path}:5:5: error: key "users" is repeated (first at line 4)`);
  });

  it('missing version, at line 1 column 1', async () => {
    const { stderr, path } = await invalid(`organizations:\n  ${ORG}: {users: {}}\n`);
    expect(stderr).toContain(`${path}:1:1: error: the file is missing the required key "version"`);
  });

  it('wrong version', async () => {
    const { stderr, path } = await invalid(`version: 2\norganizations:\n  ${ORG}: {users: {}}\n`);
    expect(stderr).toContain(`${path}:1:10: error: "version" must be 1, not the number 2`);
  });

  it('empty file', async () => {
    const { stderr, path } = await invalid('');
    expect(stderr).toContain(`${path}:1:1: error: the file is empty`);
  });

  it('top level is a list', async () => {
    const { stderr, path } = await invalid('- version: 1\n');
    expect(stderr).toContain(
      `${path}:1:1: error: the top level must be a map with "version" and "organizations", not a list`,
    );
  });

  it('file over 3 MiB', async () => {
    const path = join(dir, 'huge.yaml');
    await writeFile(path, 'version: 1\n');
    await truncate(path, 3 * 1024 * 1024 + 1);
    const result = await run(['validate', '-c', path]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      `${path}:1:1: error: ${path} is too large (3145729 bytes); the limit is 3 MiB (3145728 bytes)`,
    );
    expect(result.stderr).not.toContain('    at ');
  });

  it('a file under the size limit whose syntax tree does not fit the parse heap: refused, not a crash', async () => {
    // 1.4 million one-character list items: about 2 bytes a node, far more nodes a byte than any roles file.
    const path = await file(withUsers(`a@b.example: [${Array(1_400_000).fill('1').join(',')}]`));
    // The parser's heap is its own: a larger heap given to role-sync does not lift it.
    for (const nodeOptions of ['', '--max-old-space-size=2048']) {
      const result = await run(['validate', '-c', path], { NODE_OPTIONS: nodeOptions });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`${path}:1:1: error: ${path} is too large to parse within 192 MB of memory`);
      expect(result.stderr).not.toContain('    at ');
    }
  }, 120_000);

  it('alias bomb', async () => {
    const started = Date.now();
    const { stderr } = await invalid(bomb());
    expect(stderr).toMatch(/:\d+:20: error: aliases expand to more than 1000000 nodes/);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('nonexistent file', async () => {
    const result = await run(['validate', '-c', 'no-such-roles.yaml']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('no-such-roles.yaml:1:1: error: cannot read no-such-roles.yaml: no such file');
    expect(result.stderr).not.toContain('    at ');
  });

  it('a directory that holds no part', async () => {
    const sub = join(dir, 'a-directory.yaml');
    await mkdir(sub);
    const result = await run(['validate', '-c', sub]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      `${sub}:1:1: error: ${sub} holds no *.yaml or *.yml file (directly in it, not hidden): nothing to manage`,
    );
    expect(result.stderr).not.toContain('    at ');
  });

  it('a FIFO given as the file is refused at once, never read (validate, plan, plan --against)', async () => {
    const fifo = join(dir, 'roles.fifo');
    execFileSync('mkfifo', [fifo]);
    const good = await file(withUsers('a@b.example: [admin]'));
    const message = `${fifo}:1:1: error: cannot read ${fifo}: it is a named pipe (FIFO), not a regular file`;
    for (const args of [
      ['validate', '-c', fifo],
      ['plan', '-c', fifo, '--against', good],
      ['plan', '-c', good, '--against', fifo],
      ['plan', '-c', fifo],
      ['apply', '-c', fifo],
    ]) {
      const result = await runWithin(args, 10_000);
      expect(result.code, args.join(' ')).toBe(1);
      expect(result.stderr).toContain(message);
      expect(result.stderr).not.toContain('    at ');
    }
  });

  it('a character device given as the file is refused', async () => {
    const result = await runWithin(['validate', '-c', '/dev/zero'], 10_000);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('cannot read /dev/zero: it is a character device, not a regular file');
  });

  it('a key with a Cyrillic letter is valid with a warning at the letter; a zero-width space is an error', async () => {
    const path = await file(withUsers('dr.c\u0430meron@collins.example: [provider]'));
    const warned = await run(['validate', '-c', path]);
    expect(warned.code).toBe(0);
    expect(warned.stderr).toContain(
      `${path}:5:11: warning: user key "dr.c\u0430meron@collins.example" contains U+0430 CYRILLIC SMALL LETTER A`,
    );
    const { stderr } = await invalid(withUsers('dr.\u200bcameron@collins.example: [provider]'));
    expect(stderr).toMatch(
      /:5:10: error: user key "dr\.<U\+200B>cameron@collins\.example" contains U\+200B ZERO WIDTH/,
    );
  });

  it('bytes that are not UTF-8', async () => {
    const path = join(dir, 'latin1.yaml');
    await writeFile(path, Buffer.concat([Buffer.from(withUsers('a@b.example: [admin]')), Buffer.from([0xff, 0x0a])]));
    const result = await run(['validate', '-c', path]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${path}:1:1: error: ${path} is not valid UTF-8 text`);
  });

  it('reports every problem, sorted, then a tally', async () => {
    const { stderr, path } = await invalid(
      withUsers('a@b.example: [owner]', 'b@b.example: []', 'c@b.example: [admin, admin]'),
    );
    const lines = stderr.trimEnd().split('\n');
    expect(lines).toEqual([
      expect.stringMatching(new RegExp(`^${path}:5:21: error: `)),
      expect.stringMatching(new RegExp(`^${path}:6:20: error: `)),
      expect.stringMatching(new RegExp(`^${path}:7:28: warning: role "admin" is listed twice`)),
      `${path}: invalid — 2 errors, 1 warning`,
    ]);
  });
});

describe('role-sync validate: success', () => {
  it('the example file is valid', async () => {
    const result = await run(['validate', '-c', 'roles.example.yaml']);
    expect(result).toEqual({ code: 0, stdout: 'roles.example.yaml: valid — 2 organizations, 14 users\n', stderr: '' });
  });

  it('a UTF-8 byte-order mark is fine', async () => {
    const path = await file(`\uFEFF${withUsers('a@b.example: [admin]')}`);
    const result = await run(['validate', '-c', path]);
    expect(result).toEqual({ code: 0, stdout: `${path}: valid — 1 organization, 1 user\n`, stderr: '' });
  });

  it('warnings alone do not fail', async () => {
    const path = await file(withUsers('a@b.example: [rx_queue_manager]', 'b@b.example: [admin, admin]'));
    const result = await run(['validate', '-c', path]);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`${path}: valid — 1 organization, 2 users (2 warnings)\n`);
    expect(result.stderr.trimEnd().split('\n')).toEqual([
      expect.stringMatching(new RegExp(`^${path}:5:21: warning: rx_queue_manager`)),
      expect.stringMatching(new RegExp(`^${path}:6:28: warning: role "admin" is listed twice`)),
    ]);
  });

  it('reads ROLE_SYNC_CONFIG when -c is absent', async () => {
    const path = await file(await readFile(join(ROOT, 'roles.example.yaml'), 'utf8'));
    const result = await run(['validate'], { ROLE_SYNC_CONFIG: path });
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`${path}: valid — 2 organizations, 14 users\n`);
  });

  it('defaults to ./roles.yaml', async () => {
    const result = await run(['validate'], {}, dir);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('roles.yaml:1:1: error: cannot read roles.yaml: no such file');
  });

  it('--help exits 0 and describes the command', async () => {
    const result = await run(['validate', '--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('-c, --config <path>');
    expect(result.stdout).toContain('ROLE_SYNC_CONFIG');
  });
});
