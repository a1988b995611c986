/**
 * The desired-state file, format version 1, as zod schemas.
 * Two consumers share these definitions: `desiredFileJsonSchema()` (what editors see) and the file model,
 * which walks the YAML tree itself for speed and positions but asks these schemas about every key and value,
 * so the JSON Schema and the validator cannot drift apart. The `error` functions are the product's messages.
 */
import * as z from 'zod';
import {
  ASSIGNABLE_ROLES,
  EMAIL_PATTERN,
  NON_ASSIGNABLE_ROLES,
  OPAQUE_ID_PATTERN,
  UUID_PATTERN,
  isNonAssignableRole,
} from './domain.js';

const FORMAT_VERSION = 1 as const;

const ROLE_LIST_TEXT = ASSIGNABLE_ROLES.join(', ');

/** How a value the file gave looks, in a message: `"admin"`, `the number 3`, `a list`. */
export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return 'an empty value';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean') return `the ${typeof value} ${String(value)}`;
  if (Array.isArray(value)) return 'a list';
  return 'a map';
}

/** Edit distance, for "did you mean". Inputs are short (roles and key names). */
function levenshtein(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

/** The closest candidate within edit distance 2 (case-insensitive), or undefined. */
export function closestMatch(input: string, candidates: readonly string[]): string | undefined {
  const needle = input.toLowerCase();
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const distance = levenshtein(needle, candidate.toLowerCase());
    if (distance <= 2 && (best === undefined || distance < best.distance)) best = { candidate, distance };
  }
  return best?.candidate;
}

function roleMessage(input: unknown): string {
  if (typeof input !== 'string') {
    return `a role must be a role name, not ${describeValue(input)} (valid roles: ${ROLE_LIST_TEXT})`;
  }
  if (isNonAssignableRole(input.toLowerCase())) {
    const refused = NON_ASSIGNABLE_ROLES.join(', ');
    return (
      `role "${input}" cannot be assigned: the Parchment API cannot assign ${refused} ` +
      `(assignable roles: ${ROLE_LIST_TEXT})`
    );
  }
  const suggestion = closestMatch(input, ASSIGNABLE_ROLES);
  const hint = suggestion === undefined ? '' : `; did you mean "${suggestion}"?`;
  return `unknown role "${input}"${hint} (valid roles: ${ROLE_LIST_TEXT})`;
}

const roleSchema = z
  .enum(ASSIGNABLE_ROLES, { error: (issue) => roleMessage(issue.input) })
  .meta({ description: `A role the Parchment API can assign: ${ROLE_LIST_TEXT}.` });

/** Parchment grants rx_reader only together with receptionist. */
const RX_READER_PAIR_MESSAGE = 'rx_reader needs receptionist in the same role list (Parchment grants them as a pair)';

export const roleListSchema = z
  .array(roleSchema)
  .min(1, { error: `the role list is empty; give at least one role (valid roles: ${ROLE_LIST_TEXT})` })
  .superRefine((roles, ctx) => {
    const rxReader = roles.indexOf('rx_reader');
    if (rxReader >= 0 && !roles.includes('receptionist')) {
      ctx.addIssue({ code: 'custom', message: RX_READER_PAIR_MESSAGE, path: [rxReader], input: roles });
    }
  })
  .meta({
    description:
      'The complete list of roles the user should hold (a set: order does not matter). ' +
      'rx_reader requires receptionist; rx_queue_manager is accepted with a warning ("coming soon" in Parchment).',
    examples: [['provider'], ['admin', 'provider'], ['receptionist', 'rx_reader']],
  });

/** Strips the anchors so a domain pattern can sit inside an alternation. */
function innerPattern(pattern: RegExp): string {
  return pattern.source.replace(/^\^/, '').replace(/\$$/, '');
}

export const orgKeySchema = z
  .string()
  .regex(UUID_PATTERN, {
    error: (issue) =>
      `organization key ${describeValue(issue.input)} is not a UUID ` +
      '(the Parchment organization_id, e.g. 7fa84d2b-26d7-4c71-9b5b-e591eff97e7d)',
  })
  .meta({ description: 'The Parchment organization_id (a UUID, compared case-insensitively).' });

/** A UUID is also an opaque id, so the alternation needs only the email and opaque-id forms. */
const USER_KEY_PATTERN = new RegExp(`^(?:${innerPattern(EMAIL_PATTERN)}|${innerPattern(OPAQUE_ID_PATTERN)})$`);

export const userKeySchema = z
  .string()
  .max(320, { error: (issue) => `user key ${describeValue(issue.input)} is too long (at most 320 characters)` })
  .regex(USER_KEY_PATTERN, {
    error: (issue) =>
      `user key ${describeValue(issue.input)} is neither a Parchment user id ` +
      '(a UUID or [A-Za-z0-9_-]{1,128}) nor an email address',
  })
  .meta({ description: "A Parchment user_id (UUID or opaque id), or the user's email (compared case-insensitively)." });

export const orgNameSchema = z
  .string({ error: (issue) => `"name" must be a string, not ${describeValue(issue.input)}` })
  .meta({ description: 'Optional label shown in reports.' });

const usersSchema = z.record(userKeySchema, roleListSchema).meta({
  description: 'Each managed user and the complete list of roles they should hold. Users not listed are left alone.',
});

export const orgSchema = z
  .strictObject({
    name: orgNameSchema.optional(),
    users: usersSchema,
  })
  .meta({ description: 'One Parchment organization.' });

const MIN_ORGANIZATIONS = 1;

export const organizationsSchema = z
  .record(orgKeySchema, orgSchema)
  .refine((orgs) => Object.keys(orgs).length >= MIN_ORGANIZATIONS, {
    error: '"organizations" lists no organization; give at least one',
  })
  .meta({
    description: 'The organizations role-sync manages, keyed by organization_id.',
    minProperties: MIN_ORGANIZATIONS,
  });

export const versionSchema = z
  .literal(FORMAT_VERSION, {
    error: (issue) => `"version" must be ${FORMAT_VERSION}, not ${describeValue(issue.input)}`,
  })
  .meta({ description: 'The file format version. Always 1.' });

export const desiredFileSchema = z.strictObject({
  version: versionSchema,
  organizations: organizationsSchema,
});

const SCHEMA_ID = 'urn:role-sync:desired-state:v1';

/** The JSON Schema of the format, for `role-sync schema` and the YAML language server. */
export function desiredFileJsonSchema(): Record<string, unknown> {
  const generated = z.toJSONSchema(desiredFileSchema, {
    target: 'draft-2020-12',
    io: 'input',
    override: (ctx) => {
      // The pair rule is a refinement, which zod cannot export; say it in JSON Schema so editors flag it too.
      if (ctx.zodSchema === roleListSchema) {
        ctx.jsonSchema['if'] = { contains: { const: 'rx_reader' } };
        ctx.jsonSchema['then'] = { contains: { const: 'receptionist' } };
      }
    },
  });
  const { $schema, ...rest } = generated;
  return {
    $schema,
    $id: SCHEMA_ID,
    title: 'role-sync desired state (format version 1)',
    description: 'Who holds which role in each Parchment Health organization. See `role-sync validate`.',
    ...rest,
  };
}
