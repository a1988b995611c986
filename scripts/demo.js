#!/usr/bin/env node
// The demo: role-sync against its built-in simulator, end to end, in under 30 seconds.
// Run with `npm run demo` (which builds first). Each step explains itself in one line.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'dist', 'cli.js');
const example = join(root, 'roles.example.yaml');
const bold = (s) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);

function step(text) {
  process.stdout.write(`\n${bold(`==> ${text}`)}\n`);
}

function run(args, env) {
  return new Promise((resolve, reject) => {
    process.stdout.write(`$ role-sync ${args.join(' ')}\n`);
    const child = spawn(process.execPath, [cli, ...args], { env, stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', reject);
    child.on('exit', (code) => resolve(code ?? 1));
  });
}

async function startSimulator() {
  const child = spawn(process.execPath, [cli, 'simulate', '--port', '0'], {
    stdio: ['ignore', 'pipe', 'ignore'],
    env: { ...process.env, LOG_LEVEL: 'info' },
  });
  const lines = createInterface({ input: child.stdout });
  for await (const line of lines) {
    let entry;
    try {
      entry = JSON.parse(line);
    } catch {
      continue;
    }
    if (entry.msg === 'simulator listening') return { child, info: entry };
  }
  throw new Error('the simulator exited before it was listening');
}

function expect(code, wanted, what) {
  if (code !== wanted) throw new Error(`${what}: exit code ${code}, expected ${wanted}`);
}

const started = Date.now();
const work = await mkdtemp(join(tmpdir(), 'role-sync-demo-'));
step('Starting the Parchment simulator: a local stand-in for the API, seeded with the users of roles.example.yaml');
const sim = await startSimulator();
try {
  const { baseUrl, env: partnerEnv, organizations } = sim.info;
  const origin = new URL(baseUrl).origin;
  // Several organizations: their secrets and acting users go in one credentials file (see README, Settings and credentials).
  const credentialsFile = join(work, 'credentials.json');
  const orgs = Object.fromEntries(
    organizations.map((o) => [o.id, { secret: o.env.PARCHMENT_ORGANIZATION_SECRET, userId: o.env.PARCHMENT_USER_ID }]),
  );
  await writeFile(
    credentialsFile,
    JSON.stringify(
      {
        partnerId: partnerEnv.PARCHMENT_PARTNER_ID,
        partnerSecret: partnerEnv.PARCHMENT_PARTNER_SECRET,
        organizations: orgs,
      },
      null,
      2,
    ),
  );
  const env = {
    ...process.env,
    PARCHMENT_BASE_URL: baseUrl,
    PARCHMENT_CREDENTIALS_FILE: credentialsFile,
    ROLE_SYNC_STATE_DIR: join(work, 'state'),
    ROLE_SYNC_RATE: '20',
    LOG_LEVEL: 'warn',
  };
  process.stdout.write(`simulator at ${baseUrl}\n`);

  step('validate: the file is checked offline; every problem would be reported as FILE:LINE:COL');
  expect(await run(['validate', '-c', example], env), 0, 'validate');

  step('plan: compare the file with the live roles (read-only; the HTTP layer refuses writes)');
  expect(await run(['plan', '-c', example, '--detailed-exitcode'], env), 2, 'plan');

  step(
    'apply: write the changes through the rate-limited queue; left.in.march is offboarded (disabled); ' +
      'the owner and the user disabled in Parchment are never written',
  );
  expect(await run(['apply', '-c', example], env), 0, 'apply');

  const collins = organizations.find((o) => o.name === 'Collins Street Clinic');
  const nguyen = '64c290b3-09df-46c2-833b-b3ad3054109b';
  step("drift: someone makes dr.nguyen@collins.example an admin in Parchment, behind role-sync's back");
  const res = await fetch(`${origin}/_sim/organizations/${collins.id}/users/${nguyen}/roles`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ access_roles: ['admin', 'provider'] }),
  });
  if (!res.ok) throw new Error(`simulator refused the out-of-band change: ${res.status}`);

  step('plan: the drift shows up as a change back to what the file says (exit 2: changes pending)');
  expect(await run(['plan', '-c', example, '--detailed-exitcode'], env), 2, 'plan after drift');

  step('apply: heal the drift');
  expect(await run(['apply', '-c', example], env), 0, 'apply after drift');

  step('plan: nothing left to do (exit 0)');
  expect(await run(['plan', '-c', example, '--detailed-exitcode'], env), 0, 'final plan');

  // The lifecycle: bring someone back through the file, then let a locum's grant run out.
  const text = await readFile(example, 'utf8');
  const back = text.replace(
    'weekend.desk@collins.example: *desk',
    'weekend.desk@collins.example: {roles: *desk, enabled: true}',
  );
  const ends = new Date(Date.now() + 3_000).toISOString().replace(/\.\d+Z$/, 'Z');
  const lifecycle = join(work, 'lifecycle.yaml');
  await writeFile(lifecycle, back.replace('until: 2030-06-30', `until: ${ends}`));
  step('bring someone back: weekend.desk gets enabled: true, and the locum a grant ending in 3 seconds');
  expect(await run(['apply', '-c', lifecycle], env), 0, 'apply enabled: true');
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, Date.parse(ends) - Date.now()) + 200));
  step("expiry: the locum's until has passed, so the entry now means its `then` (disabled); apply ends the access");
  expect(await run(['apply', '-c', lifecycle], env), 0, 'apply after the expiry');

  step('export: the live roles of Collins Street Clinic as a desired-state file (reads only), to start from');
  const exported = join(work, 'collins.yaml');
  expect(await run(['export', '--org', collins.id, '--out', exported], env), 0, 'export');
  process.stdout.write(await readFile(exported, 'utf8'));

  // A fresh state directory, as a clinic adopting role-sync has: the one above remembers the example's users.
  step('plan against the export: it describes Parchment as it is, so there is no change (exit 0)');
  const adopter = { ...env, ROLE_SYNC_STATE_DIR: join(work, 'state-adopter') };
  expect(await run(['plan', '-c', exported, '--detailed-exitcode'], adopter), 0, 'plan against the export');

  step(
    `Done in ${((Date.now() - started) / 1000).toFixed(1)} s. Next: README.md, "Settings and credentials", to point role-sync at the Parchment sandbox.`,
  );
} finally {
  sim.child.kill('SIGTERM');
  await rm(work, { recursive: true, force: true });
}
