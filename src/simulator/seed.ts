import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import * as z from 'zod';
import { EMAIL_PATTERN, UUID_PATTERN } from '../core/domain.js';
import { defined } from '../core/objects.js';
import type { SimOrg, SimSeed, SimUser } from './types.js';
import { messageOf } from '../core/wording.js';

/** Thrown for a seed that cannot be used; `problems` has one line per issue. */
export class SeedError extends Error {
  constructor(
    readonly source: string,
    readonly problems: readonly string[],
  ) {
    super(`invalid simulator seed ${source}:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'SeedError';
  }
}

const nonEmpty = z.string().min(1, 'must be a non-empty string');

const userSchema = z.strictObject({
  id: nonEmpty,
  email: z.string().regex(EMAIL_PATTERN, 'must be an email address'),
  fullName: nonEmpty.optional(),
  roles: z.array(nonEmpty),
  disabled: z.boolean().optional(),
});

const orgSchema = z.strictObject({
  id: nonEmpty,
  name: nonEmpty.optional(),
  secret: nonEmpty,
  legacyEmails: z.boolean().optional(),
  users: z.array(userSchema),
});

const seedSchema = z.strictObject({
  partners: z
    .array(z.strictObject({ partnerId: nonEmpty, partnerSecret: nonEmpty }))
    .min(1, 'needs at least one partner'),
  organizations: z.array(orgSchema),
});

/** Organization ids are UUIDs compared case-insensitively; Parchment issues them lower-case. */
export function normalizeOrgId(id: string): string {
  return id.toLowerCase();
}

/** UUID user ids compare case-insensitively; opaque ids are kept as written (as src/core/domain.ts does). */
export function normalizeUserId(id: string): string {
  return UUID_PATTERN.test(id) ? id.toLowerCase() : id;
}

function pathText(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) out += typeof seg === 'number' ? `[${seg}]` : `${out === '' ? '' : '.'}${String(seg)}`;
  return out === '' ? '(top level)' : out;
}

/** Parchment stores emails lower-case; accounts of a `legacyEmails` organization keep the case they were given. */
function normalizeUser(u: SimUser, legacyEmails: boolean): SimUser {
  return defined({
    id: normalizeUserId(u.id),
    email: legacyEmails ? u.email : u.email.toLowerCase(),
    fullName: u.fullName,
    roles: [...u.roles],
    disabled: u.disabled === true ? true : undefined,
  });
}

function crossCheck(seed: SimSeed): string[] {
  const problems: string[] = [];
  const partnerIds = new Set<string>();
  seed.partners.forEach((p, i) => {
    if (partnerIds.has(p.partnerId)) problems.push(`partners[${i}].partnerId: "${p.partnerId}" is listed twice`);
    partnerIds.add(p.partnerId);
  });
  const orgIds = new Set<string>();
  seed.organizations.forEach((org: SimOrg, oi) => {
    if (orgIds.has(org.id)) problems.push(`organizations[${oi}].id: organization "${org.id}" is listed twice`);
    orgIds.add(org.id);
    const ids = new Set<string>();
    const emails = new Set<string>();
    org.users.forEach((u, ui) => {
      const at = `organizations[${oi}].users[${ui}]`;
      if (ids.has(u.id)) problems.push(`${at}.id: user "${u.id}" is listed twice in organization ${org.id}`);
      if (emails.has(u.email) && org.legacyEmails !== true) {
        problems.push(
          `${at}.email: "${u.email}" is listed twice in organization ${org.id} (set legacyEmails: true to seed that)`,
        );
      }
      ids.add(u.id);
      emails.add(u.email);
      // Disabling downgrades every role to member; a seed must not describe another state.
      if (u.disabled === true && !(u.roles.length === 1 && u.roles[0] === 'member')) {
        problems.push(`${at}.roles: a disabled user holds exactly [member], not [${u.roles.join(', ')}]`);
      }
    });
  });
  return problems;
}

/**
 * Checks a seed and returns a normalized deep copy (ids and emails in the case Parchment uses),
 * so the caller's object is never shared with the running simulator.
 */
export function validateSeed(input: unknown, source = 'seed'): SimSeed {
  const parsed = seedSchema.safeParse(input);
  if (!parsed.success) {
    throw new SeedError(
      source,
      parsed.error.issues.map((i) => `${pathText(i.path)}: ${i.message}`),
    );
  }
  const seed: SimSeed = {
    partners: parsed.data.partners.map((p) => ({ ...p })),
    organizations: parsed.data.organizations.map((o) =>
      defined({
        id: normalizeOrgId(o.id),
        name: o.name,
        secret: o.secret,
        legacyEmails: o.legacyEmails === true ? true : undefined,
        users: o.users.map((u) => normalizeUser(u, o.legacyEmails === true)),
      }),
    ),
  };
  const problems = crossCheck(seed);
  if (problems.length > 0) throw new SeedError(source, problems);
  return seed;
}

/** A seed file in YAML or JSON (JSON is YAML), shaped like `SimSeed`. */
export async function loadSeedFile(path: string): Promise<SimSeed> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new SeedError(path, [`cannot read the file: ${(err as NodeJS.ErrnoException).code ?? String(err)}`]);
  }
  let data: unknown;
  try {
    data = parseYaml(text, { uniqueKeys: true, maxAliasCount: 100 });
  } catch (err) {
    throw new SeedError(path, [`not valid YAML or JSON: ${messageOf(err)}`]);
  }
  return validateSeed(data, path);
}
