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

import { DATE_PATTERN, DEFAULT_TIME_ZONE, RFC3339_PATTERN, canonicalTimeZone, parseUntil } from './time.js';

const FORMAT_VERSION = 1 as const;

const UNTIL_JSON_PATTERN = `^(?:${innerPattern(DATE_PATTERN)}|${innerPattern(RFC3339_PATTERN)})$`;

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

/** The bare word that offboards a user. */
export const DISABLED_WORD = 'disabled' as const;

export const disabledSchema = z
  .literal(DISABLED_WORD, {
    error: (issue) =>
      `a user's value must be a role list (e.g. [provider]), the word "disabled", or a map with "roles", ` +
      `not ${describeValue(issue.input)}`,
  })
  .meta({
    description:
      'The account must be disabled: role-sync calls PUT .../users/{id}/disable and sends nothing else for this user.',
  });

export const enabledSchema = z
  .literal(true, {
    error: (issue) =>
      `"enabled" can only be true (to disable a user, write the user's value as "disabled"), ` +
      `not ${describeValue(issue.input)}`,
  })
  .meta({
    description:
      'Manage the account state too: a user who is disabled in Parchment is enabled, then given the roles. ' +
      'Without it, role-sync never enables an account.',
  });

export const untilSchema = z
  .string({ error: (issue) => `"until" must be a date or a time, not ${describeValue(issue.input)}` })
  .superRefine((text, ctx) => {
    // The zone moves the instant, never validity, so any zone will do here.
    const parsed = parseUntil(text, DEFAULT_TIME_ZONE);
    if (parsed.kind === 'invalid') ctx.addIssue({ code: 'custom', message: parsed.message, input: text });
  })
  .meta({
    description:
      "When the grant ends: a date (YYYY-MM-DD, the end of that day in the file's timezone) " +
      'or an RFC 3339 time with an offset (2027-01-31T17:00:00+11:00). From then on the entry means `then`.',
    examples: ['2027-01-31', '2027-01-31T17:00:00+11:00'],
  });

export const THEN_NEEDS_UNTIL = '"then" says what the entry means after "until", so it needs an "until"';

export const thenSchema = z.union([disabledSchema, roleListSchema]).meta({
  description: 'What the entry means from `until` on: "disabled" (the default) or a role list.',
});

export const userLongFormSchema = z
  .strictObject({
    roles: roleListSchema,
    enabled: enabledSchema.optional(),
    until: untilSchema.optional(),
    then: thenSchema.optional(),
  })
  .superRefine((entry, ctx) => {
    if (entry.then !== undefined && entry.until === undefined) {
      ctx.addIssue({ code: 'custom', message: THEN_NEEDS_UNTIL, path: ['then'], input: entry });
    }
  })
  .meta({ description: 'A user with account state or an expiring grant.' });

export const userValueSchema = z.union([roleListSchema, disabledSchema, userLongFormSchema]).meta({
  description:
    'A role list (roles only; a disabled account stays disabled), "disabled" (offboarded), ' +
    'or {roles, enabled?, until?, then?}.',
});

const usersSchema = z.record(userKeySchema, userValueSchema).meta({
  description:
    'Each managed user and what they should have. Users not listed are left alone, unless `unlisted: disable`.',
});

export const UNLISTED_POLICIES = ['keep', 'disable'] as const;

export const unlistedSchema = z
  .enum(UNLISTED_POLICIES, {
    error: (issue) => `"unlisted" must be keep or disable, not ${describeValue(issue.input)}`,
  })
  .meta({
    description:
      'Users in Parchment but not in `users`: keep (the default) lists them and never touches them; ' +
      'disable disables them, except the acting user, owners, support and users holding roles role-sync cannot ' +
      'assign, users already disabled, and users in `keep`.',
  });

export const keepSchema = z.array(userKeySchema).meta({
  description: 'Users (ids or emails) that `unlisted: disable` never disables: break-glass accounts.',
});

export const orgSchema = z
  .strictObject({
    name: orgNameSchema.optional(),
    unlisted: unlistedSchema.optional(),
    keep: keepSchema.optional(),
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

export const timezoneSchema = z
  .string({ error: (issue) => `"timezone" must be an IANA time zone name, not ${describeValue(issue.input)}` })
  .superRefine((zone, ctx) => {
    if (canonicalTimeZone(zone) === undefined) {
      const hint = /^[+-]?\d/.test(zone) ? '; give a zone name, not an offset' : '';
      ctx.addIssue({
        code: 'custom',
        message:
          `"timezone" ${describeValue(zone)} is not an IANA time zone name ` +
          `(e.g. Australia/Melbourne, Europe/London, UTC)${hint}`,
        input: zone,
      });
    }
  })
  .meta({
    description: 'The IANA time zone (e.g. Australia/Melbourne) in which a date-only `until` ends. Default: UTC.',
    examples: ['Australia/Melbourne', 'UTC'],
  });

export const desiredFileSchema = z.strictObject({
  version: versionSchema,
  timezone: timezoneSchema.optional(),
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
      // Which calendar dates exist, and which zone names the runtime knows, stay the validator's to judge.
      if (ctx.zodSchema === untilSchema) ctx.jsonSchema['pattern'] = UNTIL_JSON_PATTERN;
      if (ctx.zodSchema === userLongFormSchema) ctx.jsonSchema['dependentRequired'] = { then: ['until'] };
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
