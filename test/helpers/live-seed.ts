/**
 * Worlds for the live plan/apply tests and benchmarks: a simulator seed with many users and the
 * roles file that changes a chosen number of them, plus what every managed user must end up with.
 */
import type { RunningSimulator, SimSeed, SimUser } from '../../src/simulator/index.js';
import { DEMO_ACTING_USER, DEMO_PARTNER } from '../../src/simulator/index.js';

export const ORG = '7fa84d2b-26d7-4c71-9b5b-e591eff97e7d';
export const ORG_SECRET = 'sim-org-secret-collins';
export const ACTING_USER = DEMO_ACTING_USER[ORG] as string;

/** Live role sets the world cycles through; a changed user gets the next one. */
const ROLE_SETS: readonly (readonly string[])[] = [
  ['receptionist'],
  ['provider'],
  ['admin'],
  ['receptionist', 'rx_reader'],
  ['admin', 'provider'],
];

export interface LiveWorldOptions {
  /** Managed users besides the acting user. */
  readonly users: number;
  /** How many of them the file gives other roles than they hold. */
  readonly changes: number;
  /** Users in the organization but not in the file. Default 3. */
  readonly unmanaged?: number;
  /** Users holding `owner` (and admin) whom the file lists with [admin]: protected, never written. */
  readonly owners?: number;
  /** Users holding `support` whom the file lists with [provider]: protected. */
  readonly support?: number;
  /** Every n-th managed user is keyed by email in the file (the rest by id). Default 5; 0 = ids only. */
  readonly emailEvery?: number;
  /** The acting user's roles in the file. Default: what it holds, [admin, provider]. */
  readonly actingRoles?: readonly string[];
}

export interface LiveWorld {
  readonly seed: SimSeed;
  /** The roles file (format version 1) for the one organization. */
  readonly yaml: string;
  /** Writable managed users (acting user included) → the roles the file gives them. */
  readonly desired: ReadonlyMap<string, readonly string[]>;
  /** Managed users the file changes, in seed order. */
  readonly changing: readonly string[];
  /** Managed users holding owner or support. */
  readonly protectedUsers: readonly string[];
  readonly unmanaged: readonly string[];
  /** The live roles at the start, by user id. */
  readonly initial: ReadonlyMap<string, readonly string[]>;
}

export function userId(i: number): string {
  return `u${String(i).padStart(5, '0')}`;
}

export function emailOf(i: number): string {
  return `user${i}@collins.example`;
}

export function buildWorld(opts: LiveWorldOptions): LiveWorld {
  const emailEvery = opts.emailEvery ?? 5;
  const actingRoles = opts.actingRoles ?? ['admin', 'provider'];
  const users: SimUser[] = [
    { id: ACTING_USER, email: 'dr.ahmed@collins.example', fullName: 'Dr Sara Ahmed', roles: ['admin', 'provider'] },
  ];
  const fileLines: string[] = [`      ${ACTING_USER}: [${actingRoles.join(', ')}]`];
  const desired = new Map<string, readonly string[]>([[ACTING_USER, actingRoles]]);
  const initial = new Map<string, readonly string[]>([[ACTING_USER, ['admin', 'provider']]]);
  const changing: string[] = [];
  if (actingRoles.join() !== 'admin,provider') changing.push(ACTING_USER);

  for (let i = 0; i < opts.users; i++) {
    const id = userId(i);
    const live = ROLE_SETS[i % ROLE_SETS.length]!;
    const changed = i < opts.changes;
    const want = changed ? ROLE_SETS[(i + 1) % ROLE_SETS.length]! : live;
    users.push({ id, email: emailOf(i), fullName: `User ${i}`, roles: [...live] });
    initial.set(id, live);
    desired.set(id, want);
    if (changed) changing.push(id);
    const key = emailEvery > 0 && i % emailEvery === emailEvery - 1 ? emailOf(i) : id;
    fileLines.push(`      ${key}: [${want.join(', ')}]`);
  }

  const protectedUsers: string[] = [];
  for (let i = 0; i < (opts.owners ?? 0); i++) {
    const id = `owner${i}`;
    users.push({ id, email: `owner${i}@collins.example`, fullName: `Owner ${i}`, roles: ['owner', 'admin'] });
    initial.set(id, ['owner', 'admin']);
    protectedUsers.push(id);
    fileLines.push(`      ${id}: [admin]`);
  }
  for (let i = 0; i < (opts.support ?? 0); i++) {
    const id = `support${i}`;
    users.push({ id, email: `support${i}@collins.example`, fullName: `Support ${i}`, roles: ['support'] });
    initial.set(id, ['support']);
    protectedUsers.push(id);
    fileLines.push(`      ${id}: [provider]`);
  }

  const unmanaged: string[] = [];
  for (let i = 0; i < (opts.unmanaged ?? 3); i++) {
    const id = `other${i}`;
    users.push({ id, email: `other${i}@collins.example`, roles: ['provider'] });
    initial.set(id, ['provider']);
    unmanaged.push(id);
  }

  return {
    seed: {
      partners: [{ ...DEMO_PARTNER }],
      organizations: [{ id: ORG, name: 'Collins Street Clinic', secret: ORG_SECRET, users }],
    },
    yaml: [
      'version: 1',
      'organizations:',
      `  ${ORG}:`,
      '    name: Collins Street Clinic',
      '    users:',
      ...fileLines,
      '',
    ].join('\n'),
    desired,
    changing,
    protectedUsers,
    unmanaged,
    initial,
  };
}

function sorted(roles: readonly string[]): string[] {
  return [...roles].sort();
}

/** Users whose live roles in the simulator differ from `want` (empty when converged). */
export function divergent(sim: RunningSimulator, want: ReadonlyMap<string, readonly string[]>): string[] {
  const out: string[] = [];
  for (const [id, roles] of want) {
    const live = sim.user(ORG, id)?.roles ?? [];
    if (sorted(live).join() !== sorted(roles).join()) out.push(id);
  }
  return out;
}

/** A deterministic PRNG (mulberry32) for the simulator's fault decisions. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
