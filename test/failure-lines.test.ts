/**
 * A failure names each of status, detail, code and requestId once in every rendering (text,
 * markdown, JSON), and a 404 before anything was listed, the mark of a PARCHMENT_BASE_URL without
 * its `/external`, says so.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { esc } from '../src/core/render/markdown.js';
import type { RunningSimulator } from '../src/simulator/index.js';
import {
  jsonReport,
  liveEnv,
  NO_GUARD,
  runCli,
  watchedSimulator,
  workspace,
  type FailureJson,
  type Workspace,
} from './helpers/live-cli.js';
import { buildWorld } from './helpers/live-seed.js';

const world = buildWorld({ users: 6, changes: 2, emailEvery: 0 });
const REFUSED = world.changing[0]!;

let sim: RunningSimulator;
let ws: Workspace;
let config: string;

beforeAll(async () => {
  sim = (await watchedSimulator({ seed: world.seed })).sim;
  sim.configure({ failUser: { [REFUSED]: 422 } });
  ws = await workspace('rs-lines-');
  config = await ws.file('roles.yaml', world.yaml);
});

afterAll(async () => {
  await sim.close();
  await ws.remove();
});

function count(text: string, part: string): number {
  return text.split(part).length - 1;
}

/**
 * The failure's line names each field once, in the form the format prints it; detail and requestId
 * appear nowhere else in the report (a change's result column repeats only the reason and status).
 */
function expectEachOnce(report: string, f: FailureJson, format: string): void {
  const form = format === 'markdown' ? esc : (s: string): string => s;
  const lines = report.split('\n').filter((l) => f.requestId !== undefined && l.includes(f.requestId));
  expect(lines, `the ${format} failure line`).toHaveLength(1);
  const line = lines[0]!;
  for (const part of [f.detail, f.code, f.requestId, `HTTP ${String(f.status)}`]) {
    if (part !== undefined) expect(count(line, form(part)), `${part} in the ${format} failure line`).toBe(1);
  }
  for (const part of [f.detail, f.requestId]) {
    if (part !== undefined) expect(count(report, form(part)), `${part} in the ${format} report`).toBe(1);
  }
}

async function failureIn(env: Record<string, string>, args: readonly string[]): Promise<FailureJson> {
  const json = await runCli([...args, '--format', 'json'], env);
  const failures = jsonReport(json).organizations.flatMap((o) => o.failures);
  expect(failures).toHaveLength(1);
  const f = failures[0]!;
  // The prose of the JSON failure leaves the fields to themselves.
  for (const part of [f.detail, f.code, f.requestId]) if (part !== undefined) expect(f.message).not.toContain(part);
  expect(f.message).not.toContain(String(f.status));
  return f;
}

describe('failure lines', () => {
  it('a refused write names status, detail, code and requestId once in text, markdown and JSON', async () => {
    const env = liveEnv({ sim, stateDir: ws.stateDir });
    const args = ['apply', '-c', config, ...NO_GUARD];
    const failure = await failureIn(env, args);
    expect(failure).toMatchObject({ reason: 'rejected', status: 422, code: 'VALIDATION_ERROR' });
    for (const format of ['text', 'markdown']) {
      const run = await runCli([...args, '--format', format], env);
      expect(run.code, run.stderr).toBe(1);
      // Each run has its own requestId; the rest is the same.
      const id = /requestId (1-[0-9a-f-]+)/.exec(run.stdout)?.[1];
      expectEachOnce(run.stdout, { ...failure, requestId: id }, format);
    }
  }, 30_000);

  for (const [auth, extra] of [
    ['minted tokens (the token call is the first request)', {}],
    ['a static token (the list is the first request)', { PARCHMENT_ACCESS_TOKEN: 'static-token-never-checked' }],
  ] as const) {
    it(`a 404 at a base URL without /external says to check PARCHMENT_BASE_URL, with ${auth}`, async () => {
      const env = liveEnv({ sim, stateDir: ws.stateDir, extra: { PARCHMENT_BASE_URL: sim.origin, ...extra } });
      const args = ['plan', '-c', config];
      const failure = await failureIn(env, args);
      expect(failure).toMatchObject({ reason: 'observe', status: 404 });
      expect(failure.message).toContain(`PARCHMENT_BASE_URL ${sim.origin}/ does not end in /external: check it`);
      for (const format of ['text', 'markdown']) {
        const run = await runCli([...args, '--format', format], env);
        expect(run.code, run.stderr).toBe(1);
        expect(run.stdout).toContain('does not end in /external');
        const id = /requestId (1-[0-9a-f-]+)/.exec(run.stdout)?.[1];
        expectEachOnce(run.stdout, { ...failure, requestId: id }, format);
        // The simulator's body ("No route for …") is the detail: printed once, never again in stderr.
        expect(count(run.stdout + run.stderr, 'No route for')).toBe(1);
      }
    }, 30_000);
  }
});
