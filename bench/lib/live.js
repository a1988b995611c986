/**
 * Shared by bench/throughput.js and bench/scale.js: a one-organization world of many users, the
 * CLI as a child process with its peak RSS sampled from /proc, and figures from the simulator's log.
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { DEMO_ACTING_USER, DEMO_PARTNER } from '../../dist/simulator/index.js';

export const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
export const ORG = '7fa84d2b-26d7-4c71-9b5b-e591eff97e7d';
export const ORG_SECRET = 'sim-org-secret-collins';
export const ACTING_USER = DEMO_ACTING_USER[ORG];

const ROLE_SETS = [['receptionist'], ['provider'], ['admin'], ['receptionist', 'rx_reader'], ['admin', 'provider']];

/**
 * `users` managed users (the acting user among them) in one organization; the first `changes` of
 * the others get the next role set in the file, the rest keep theirs. Keys are ids.
 */
export function world(users, changes) {
  const seedUsers = [{ id: ACTING_USER, email: 'acting@bench.example', roles: ['admin', 'provider'] }];
  const lines = [
    'version: 1',
    'organizations:',
    `  ${ORG}:`,
    '    name: Benchmark Clinic',
    '    users:',
    `      ${ACTING_USER}: [admin, provider]`,
  ];
  for (let i = 0; i < users - 1; i++) {
    const id = `u${String(i).padStart(6, '0')}`;
    const live = ROLE_SETS[i % ROLE_SETS.length];
    const want = i < changes ? ROLE_SETS[(i + 1) % ROLE_SETS.length] : live;
    seedUsers.push({ id, email: `user${i}@bench.example`, roles: live });
    lines.push(`      ${id}: [${want.join(', ')}]`);
  }
  return {
    seed: {
      partners: [{ ...DEMO_PARTNER }],
      organizations: [{ id: ORG, name: 'Benchmark Clinic', secret: ORG_SECRET, users: seedUsers }],
    },
    yaml: `${lines.join('\n')}\n`,
  };
}

export function cliEnv(sim, stateDir, extra) {
  return {
    PATH: process.env.PATH ?? '',
    PARCHMENT_BASE_URL: sim.baseUrl,
    PARCHMENT_PARTNER_ID: DEMO_PARTNER.partnerId,
    PARCHMENT_PARTNER_SECRET: DEMO_PARTNER.partnerSecret,
    PARCHMENT_USER_ID: ACTING_USER,
    PARCHMENT_ORGANIZATION_SECRET: ORG_SECRET,
    ROLE_SYNC_STATE_DIR: stateDir,
    LOG_LEVEL: 'warn',
    ...extra,
  };
}

/**
 * Resident bytes of a process and all its descendants now (0 once it is gone, or off Linux). The
 * parser of a large file runs in a child process, and a container's limit counts both.
 */
export async function treeRss(pid) {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const own = Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1] ?? 0) * 1024;
    const children = (await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8')).trim().split(/\s+/).filter(Boolean);
    const theirs = await Promise.all(children.map((c) => treeRss(Number(c))));
    return own + theirs.reduce((a, b) => a + b, 0);
  } catch {
    return 0;
  }
}

/** Samples treeRss every 10 ms; `take()` returns the peak since the last take (undefined if never seen). */
export function peakSampler(pid) {
  let peak;
  const timer = setInterval(async () => {
    const rss = await treeRss(pid);
    if (rss > 0) peak = Math.max(peak ?? 0, rss);
  }, 10);
  return {
    take() {
      const p = peak;
      peak = undefined;
      return p;
    },
    stop: () => clearInterval(timer),
  };
}

/** Runs the CLI to its end, with the peak RSS of it and its parser process together. */
export function runCli(args, env) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    const sampler = peakSampler(child.pid);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      sampler.stop();
      resolve({ code, signal, stdout, stderr, wallMs: performance.now() - started, peakRssBytes: sampler.take() });
    });
  });
}

/** Counts by kind from the simulator's request log. */
export function tally(requests) {
  const by = (p) => requests.filter(p).length;
  return {
    total: requests.length,
    token: by((r) => r.route === 'POST /v1/token'),
    listPages: by((r) => r.route === 'GET /v1/organizations/{organization_id}/users'),
    userReads: by((r) => r.route === 'GET /v1/organizations/{organization_id}/users/{user_id}'),
    puts: by((r) => r.method === 'PUT'),
    rateLimited: by((r) => r.status === 429),
    other: by((r) => r.status !== 200 && r.status !== 429),
  };
}

export function table(rows) {
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`).join('\n');
}

export const mb = (bytes) => (bytes === undefined ? 'n/a' : `${(bytes / 1024 / 1024).toFixed(0)} MB`);
