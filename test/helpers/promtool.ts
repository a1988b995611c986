/**
 * promtool (Debian's `prometheus` package, installed by scripts/install-test-tools.sh). Locally a test
 * that needs it is skipped, saying why, when it is missing; .ci/run sets ROLE_SYNC_PROMTOOL_REQUIRED=1,
 * which turns a missing promtool into a failure so CI never passes by skipping.
 */
import { spawn, spawnSync } from 'node:child_process';

export const PROMTOOL_MISSING =
  'promtool is not installed: run scripts/install-test-tools.sh (needs root), ' +
  'or set ROLE_SYNC_PROMTOOL_REQUIRED=1 to fail instead';

/** `promtool` when it runs here, undefined otherwise; throws when it is required and missing. */
export function findPromtool(): string | undefined {
  const probe = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
  if (probe.status === 0) return 'promtool';
  if (process.env['ROLE_SYNC_PROMTOOL_REQUIRED'] === '1')
    throw new Error(`ROLE_SYNC_PROMTOOL_REQUIRED=1 but ${PROMTOOL_MISSING.split(':')[0]}`);
  return undefined;
}

export interface PromtoolRun {
  readonly code: number | null;
  readonly output: string;
}

/** Runs promtool with `stdin` piped in; stdout and stderr together, as promtool splits them loosely. */
export function promtool(args: readonly string[], opts: { cwd?: string; stdin?: string } = {}): Promise<PromtoolRun> {
  return new Promise((done, fail) => {
    const child = spawn('promtool', args, { cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.on('error', fail);
    child.on('close', (code) => done({ code, output }));
    child.stdin.end(opts.stdin ?? '');
  });
}
