import { InvalidArgumentError, Option, type Command } from 'commander';
import { durationArg } from '../cli/common.js';
import { ExitCode } from '../cli/exit-codes.js';
import { createLogger } from '../log.js';
import {
  ConfigError,
  DEFAULT_FAULTS,
  DEMO_ACTING_USER,
  FAULT_KINDS,
  demoSeed,
  loadSeedFile,
  SeedError,
  startSimulator,
  type FaultKind,
  type HugeBody,
  type ListShape,
  type RetryAfterMode,
  type RunningSimulator,
  type SimOrg,
  type SimSeed,
} from '../simulator/index.js';
import { defined } from '../core/objects.js';
import { messageOf } from '../core/wording.js';

interface SimulateOptions {
  port: number;
  host: string;
  seed?: string;
  listShape: ListShape;
  pageSize?: number;
  rateLimit?: number;
  retryAfter?: RetryAfterMode;
  faultRate?: number;
  faults?: FaultKind[];
  latency?: number;
  tokenTtl?: number;
  wrongUser?: Record<string, string>;
  overlapPages?: boolean;
  echoSecrets?: boolean;
  hugeListBody?: HugeBody;
}

function portArg(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65535) throw new InvalidArgumentError(`"${value}" is not a port (0-65535)`);
  return n;
}

function positiveIntArg(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1) throw new InvalidArgumentError(`"${value}" is not a whole number of at least 1`);
  return n;
}

/** `10` or `10/s` requests a second. */
function rateArg(value: string): number {
  const m = /^(\d+(?:\.\d+)?)(?:\/s)?$/.exec(value.trim());
  const n = m ? Number(m[1]) : NaN;
  if (!(n > 0)) throw new InvalidArgumentError(`"${value}" is not a rate; use requests a second, e.g. 10 or 10/s`);
  return n;
}

function retryAfterArg(value: string): RetryAfterMode {
  const v = value.trim();
  if (v === 'seconds' || v === 'none' || v === 'past-date') return v;
  if (/^\d+$/.test(v) && Number.isSafeInteger(Number(v))) return Number(v);
  throw new InvalidArgumentError(`"${value}" is not seconds, none, past-date or a whole number of seconds`);
}

function fractionArg(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !(n >= 0 && n <= 1))
    throw new InvalidArgumentError(`"${value}" is not a fraction between 0 and 1`);
  return n;
}

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 };

/** `endless`, or a size: `200000000`, `64MiB`, `1GiB`. */
function hugeBodyArg(value: string): HugeBody {
  if (value.trim() === 'endless') return 'endless';
  const m = /^(\d+)\s*([a-z]*)$/i.exec(value.trim());
  const unit = SIZE_UNITS[m?.[2]?.toLowerCase() ?? ''];
  const n = m && unit !== undefined ? Number(m[1]) * unit : NaN;
  if (!(n >= 1)) throw new InvalidArgumentError(`"${value}" is not a size (e.g. 64MiB, 200000000) or "endless"`);
  return n;
}

function faultsArg(value: string): FaultKind[] {
  const kinds = value.split(',').map((k) => k.trim());
  const unknown = kinds.filter((k) => !(FAULT_KINDS as readonly string[]).includes(k));
  if (kinds.length === 0 || unknown.length > 0)
    throw new InvalidArgumentError(`"${value}" is not a list of ${FAULT_KINDS.join(', ')}`);
  return kinds as FaultKind[];
}

/** `ASKED=OTHER[,ASKED=OTHER...]`: user ids whose read and role-write answers name another user. */
function wrongUserArg(value: string): Record<string, string> {
  const pairs = value.split(',').map((p) => p.trim().split('='));
  if (pairs.some((p) => p.length !== 2 || p[0] === '' || p[1] === '')) {
    throw new InvalidArgumentError(`"${value}" is not a list of ASKED=OTHER user id pairs`);
  }
  return Object.fromEntries(pairs.map(([asked, other]) => [asked as string, other as string]));
}

const HOSTILE_HELP = `
Hostile cases, to watch role-sync refuse them:
  one email on two accounts  seed an organization with "legacyEmails: true":
                             emails are served as written, and one address may
                             be on several accounts (Dr.A@x and dr.a@x)
  a read for another user    --wrong-user ASKED=OTHER: read-user for ASKED
                             answers with OTHER's record, PUT .../roles for
                             ASKED answers with user_id OTHER
  an unknown live role       seed any role string (roles: [super_admin] or
                             [PROVIDER]), or set one with
                             PUT /_sim/organizations/{org}/users/{user}/roles
  one id on two pages        --overlap-pages (with a small --page-size): each
                             page repeats the last user of the page before
  secrets echoed back        --echo-secrets: error answers quote the request's
                             bearer token, organization and partner secrets;
                             failUser 502 answers a gateway's HTML page
  a body too large to hold   --huge-list-body 64MiB|endless: list-users streams
                             an empty list padded with blanks
PATCH /_sim/config {"wrongUser": {...}, "overlapPages": true, "echoSecrets":
true, "hugeListBody": "endless"} switches them at run time. The oas list shape is the vendor's example: user_id,
external_user_id, full_name, access_roles, and no email.
`;

/**
 * The user whose id goes in `x-user-id`: the demo's fixed one, else the first enabled admin, else
 * the first enabled user.
 */
function actingUser(org: SimOrg): string | undefined {
  const demo = DEMO_ACTING_USER[org.id];
  if (demo !== undefined && org.users.some((u) => u.id === demo)) return demo;
  const enabled = org.users.filter((u) => u.disabled !== true);
  return (enabled.find((u) => u.roles.includes('admin')) ?? enabled[0])?.id;
}

/** Shell lines ready to paste (the settings' variable names): the shared ones, then one pair per organization. */
function humanBlock(sim: RunningSimulator, seed: SimSeed): string {
  const partner = seed.partners[0];
  const lines = [
    `Parchment simulator listening at ${sim.baseUrl} (the credentials below are simulator fakes)`,
    '',
    `export PARCHMENT_BASE_URL=${sim.baseUrl}`,
    `export PARCHMENT_PARTNER_ID=${partner?.partnerId ?? ''}`,
    `export PARCHMENT_PARTNER_SECRET=${partner?.partnerSecret ?? ''}`,
  ];
  for (const org of seed.organizations) {
    const user = actingUser(org);
    lines.push(
      `# ${org.name ?? 'organization'} ${org.id}:`,
      `export PARCHMENT_ORGANIZATION_SECRET=${org.secret}${user !== undefined ? ` PARCHMENT_USER_ID=${user}` : ''}`,
    );
  }
  lines.push('', `Request log: curl ${sim.origin}/_sim/requests`, '');
  return lines.join('\n');
}

async function simulate(opts: SimulateOptions): Promise<void> {
  const logger = createLogger({ stream: 'stdout' });
  let seed: SimSeed;
  try {
    seed = opts.seed !== undefined ? await loadSeedFile(opts.seed) : demoSeed();
  } catch (err) {
    if (!(err instanceof SeedError)) throw err;
    process.stderr.write(`role-sync simulate: ${err.message}\n`);
    process.exitCode = ExitCode.error;
    return;
  }

  let sim: RunningSimulator;
  try {
    sim = await startSimulator(
      defined({
        host: opts.host,
        port: opts.port,
        seed,
        listShape: opts.listShape,
        logger,
        pageSize: opts.pageSize,
        rateLimit: opts.rateLimit !== undefined ? { perSecond: opts.rateLimit } : undefined,
        retryAfter: opts.retryAfter,
        faultRate: opts.faultRate,
        faults: opts.faults,
        latencyMs: opts.latency,
        tokenTtlSeconds: opts.tokenTtl !== undefined ? Math.round(opts.tokenTtl / 1000) : undefined,
        wrongUser: opts.wrongUser,
        overlapPages: opts.overlapPages === true ? true : undefined,
        echoSecrets: opts.echoSecrets === true ? true : undefined,
        hugeListBody: opts.hugeListBody,
      }),
    );
  } catch (err) {
    if (!(err instanceof ConfigError || err instanceof SeedError || (err as NodeJS.ErrnoException).code !== undefined))
      throw err;
    process.stderr.write(`role-sync simulate: cannot start: ${messageOf(err)}\n`);
    process.exitCode = ExitCode.error;
    return;
  }

  // Handlers go in before the listening line: whoever reads it may signal at once.
  const stopped = new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      logger.info({ signal }, 'simulator stopping');
      resolve();
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });

  // Field names avoid the logger's redaction paths on purpose: these fakes are what the user needs to see.
  const partner = seed.partners[0];
  logger.info(
    {
      baseUrl: sim.baseUrl,
      env: {
        PARCHMENT_BASE_URL: sim.baseUrl,
        PARCHMENT_PARTNER_ID: partner?.partnerId,
        PARCHMENT_PARTNER_SECRET: partner?.partnerSecret,
      },
      organizations: sim.seed.organizations.map((o) => ({
        id: o.id,
        name: o.name,
        env: { PARCHMENT_ORGANIZATION_SECRET: o.secret, PARCHMENT_USER_ID: actingUser(o) },
      })),
    },
    'simulator listening',
  );
  process.stderr.write(humanBlock(sim, sim.seed));

  await stopped;
  await sim.close();
  logger.info('simulator stopped');
  process.exitCode = ExitCode.ok;
}

export function register(program: Command): void {
  program
    .command('simulate')
    .description(
      'Run a local stand-in for the Parchment API (for the demo, tests and trying role-sync without credentials).',
    )
    .addOption(new Option('--port <n>', 'port to listen on (0 picks a free one)').argParser(portArg).default(4010))
    .addOption(new Option('--host <host>', 'address to listen on').default('127.0.0.1'))
    .addOption(
      new Option(
        '--seed <file>',
        'YAML or JSON file of partners, organizations and users (default: the demo organizations)',
      ),
    )
    .addOption(
      new Option('--list-shape <shape>', 'list-users response shape (oas: the vendor example, without email)')
        .choices(['oas', 'bare', 'rs'])
        .default('oas'),
    )
    .addOption(new Option('--page-size <n>', 'most users per list page').argParser(positiveIntArg))
    .addOption(
      new Option(
        '--rate-limit <n>',
        'requests a second before answering 429 (a token bucket holding one second of requests; e.g. 10 or 10/s)',
      ).argParser(rateArg),
    )
    .addOption(
      new Option(
        '--retry-after <mode>',
        'what a 429 says in Retry-After: seconds (until a request would pass), none, past-date, or a number of seconds',
      ).argParser(retryAfterArg),
    )
    .addOption(
      new Option('--fault-rate <fraction>', 'fraction of requests answered 500, 503 or dropped (0-1)').argParser(
        fractionArg,
      ),
    )
    .addOption(
      new Option(
        '--faults <kinds>',
        `which faults --fault-rate picks from: ${FAULT_KINDS.join(', ')} ` +
          '(lost-reply: handled, then the connection is closed)',
      )
        .default([...DEFAULT_FAULTS], DEFAULT_FAULTS.join(','))
        .argParser(faultsArg),
    )
    .addOption(new Option('--latency <duration>', 'delay before each answer, e.g. 20ms').argParser(durationArg))
    .addOption(new Option('--token-ttl <duration>', 'lifetime of minted tokens, e.g. 1h').argParser(durationArg))
    .addOption(
      new Option(
        '--wrong-user <pairs>',
        'hostile: ASKED=OTHER[,...]: reads and role writes of user ASKED answer for user OTHER',
      ).argParser(wrongUserArg),
    )
    .addOption(new Option('--overlap-pages', 'hostile: each list page repeats the last user of the page before'))
    .addOption(
      new Option(
        '--echo-secrets',
        'hostile: error answers quote the request credentials and the partner secret (a 502 as an HTML page)',
      ),
    )
    .addOption(
      new Option(
        '--huge-list-body <size>',
        'hostile: list-users answers an empty list padded to <size> (e.g. 64MiB), or "endless"; streamed',
      ).argParser(hugeBodyArg),
    )
    .addHelpText('after', HOSTILE_HELP)
    .action(async (opts: SimulateOptions) => {
      await simulate(opts);
    });
}
