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

/** VmHWM (peak resident set) of a live process in bytes, or undefined once it is gone or off Linux. */
async function peakRss(pid) {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(status);
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Runs the CLI to its end. VmHWM only grows, so the last sample before exit is the peak up to
 * then; sampling every 20 ms misses at most the process's last moments.
 */
export function runCli(args, env) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let peak;
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    const sample = async () => {
      const rss = await peakRss(child.pid);
      if (rss !== undefined) peak = Math.max(peak ?? 0, rss);
    };
    const timer = setInterval(() => void sample(), 20);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearInterval(timer);
      resolve({ code, signal, stdout, stderr, wallMs: performance.now() - started, peakRssBytes: peak });
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
