import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runToEnd } from './helpers/child.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = join(ROOT, 'dist', 'cli.js');

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

async function run(args: readonly string[]): Promise<Run> {
  const env = { ...process.env };
  delete env['ROLE_SYNC_CONFIG'];
  const { code, stdout, stderr } = await runToEnd(process.execPath, [CLI, ...args], { cwd: ROOT, env });
  return { code, stdout, stderr };
}

let dir: string;
let head: string;
let same: string;
let base: string;
let invalid: string;
let warned: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'role-sync-plan-'));
  const example = await readFile(join(ROOT, 'roles.example.yaml'), 'utf8');
  head = join(dir, 'head.yaml');
  same = join(dir, 'same.yaml');
  base = join(dir, 'base.yaml');
  invalid = join(dir, 'invalid.yaml');
  warned = join(dir, 'warned.yaml');
  await writeFile(head, example);
  await writeFile(same, example);
  // The base revision: Dr Cameron still an admin, and a nurse the head revision no longer lists.
  const baseText = example
    .replace('dr.cameron@collins.example: [provider]', 'dr.cameron@collins.example: [admin, provider]')
    .replace(
      'nurse.patel@collins.example: [receptionist]',
      'nurse.patel@collins.example: [receptionist]\n      nurse.old@collins.example: [receptionist]',
    );
  expect(baseText).not.toBe(example);
  await writeFile(base, baseText);
  await writeFile(
    invalid,
    example.replace('dr.nguyen@collins.example: [provider]', 'dr.nguyen@collins.example: [provder]'),
  );
  await writeFile(
    warned,
    example.replace('dr.nguyen@collins.example: [provider]', 'dr.nguyen@collins.example: [provider, provider]'),
  );
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('role-sync plan --against', () => {
  it('exits 0 with an empty plan when nothing changed, even with --detailed-exitcode', async () => {
    for (const extra of [[], ['--detailed-exitcode']]) {
      const r = await run(['plan', '-c', head, '--against', same, ...extra]);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(
        'Plan: 0 to change (0 grants, 0 revocations), 0 starts being managed, 0 no longer managed; 0 failed.',
      );
      expect(r.stderr).toBe('');
    }
  });

  it('shows the diff and exits 0, or 2 with --detailed-exitcode', async () => {
    const plain = await run(['plan', '-c', head, '--against', base]);
    expect(plain.code).toBe(0);
    expect(plain.stdout).toContain('  ~ dr.cameron@collins.example: admin, provider -> provider  (- admin)\n');
    expect(plain.stdout).toContain(
      '  - nurse.old@collins.example: receptionist  (no longer managed; access NOT revoked)\n',
    );
    expect(plain.stdout).toContain(
      'Plan: 1 to change (0 grants, 1 revocation), 0 starts being managed, 1 no longer managed; 0 failed.',
    );
    expect(plain.stdout).not.toContain('\u001b');

    const detailed = await run(['plan', '-c', head, '--against', base, '--detailed-exitcode']);
    expect(detailed.code).toBe(2);
    expect(detailed.stdout).toBe(plain.stdout);
  });

  it('exits 1 with located problems and no report when the head file is invalid', async () => {
    const r = await run(['plan', '-c', invalid, '--against', base, '--detailed-exitcode']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(new RegExp(`^${escapeRegExp(invalid)}:\\d+:\\d+: error: .*provder`, 'm'));
  });

  it('exits 1 when the base file is invalid, naming the base file', async () => {
    const r = await run(['plan', '-c', head, '--against', invalid]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(new RegExp(`^${escapeRegExp(invalid)}:\\d+:\\d+: error: `, 'm'));
  });

  it('exits 1 when the base file is missing', async () => {
    const missing = join(dir, 'no-such-base.yaml');
    const r = await run(['plan', '-c', head, '--against', missing]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(missing);
  });

  it('prints JSON that parses, with problems and warnings on stderr only', async () => {
    const r = await run(['plan', '-c', warned, '--against', base, '--format', 'json']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`^${escapeRegExp(warned)}:\\d+:\\d+: warning: `, 'm'));
    const report = JSON.parse(r.stdout) as {
      reportVersion: number;
      kind: string;
      source: { file: string; base: { file: string } };
      summary: { changes: number };
    };
    expect(report.reportVersion).toBe(1);
    expect(report.kind).toBe('offline-plan');
    expect(report.source.file).toBe(warned);
    expect(report.source.base.file).toBe(base);
    expect(report.summary.changes).toBe(1);
  });

  it('prints markdown', async () => {
    const r = await run(['plan', '-c', head, '--against', base, '--format', 'markdown']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^## role-sync plan: /);
    expect(r.stdout).toContain('| dr.cameron@collins.example | admin, provider | provider |  | admin |');
    expect(r.stdout).toContain('**No longer managed**: their access is **NOT revoked**');
  });

  it('writes --out with exactly what went to stdout, in every format', async () => {
    for (const format of ['text', 'json', 'markdown']) {
      const out = join(dir, `plan.${format}`);
      const r = await run(['plan', '-c', head, '--against', base, '--format', format, '--out', out]);
      expect(r.code).toBe(0);
      expect(await readFile(out, 'utf8')).toBe(r.stdout);
    }
  });

  it('exits 1 when --out cannot be written', async () => {
    const r = await run(['plan', '-c', head, '--against', base, '--out', join(dir, 'no-such-dir', 'plan.txt')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('cannot write the report');
  });

  it('documents --against and --detailed-exitcode in --help', async () => {
    const r = await run(['plan', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('--against <base>');
    expect(r.stdout).toContain('--detailed-exitcode');
    expect(r.stdout).not.toContain('--max-changes');
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
