/**
 * `role-sync export`: the live roles of organizations as a version-1 desired-state document, so an
 * organization can be brought under management without typing every user. Pure: the users arrive
 * observed (roles read where the list carried none), and the text is checked with the file model
 * before it is returned, so what export prints is always a file `validate` accepts.
 *
 * Byte-stable: organizations are sorted by id, users by key, roles in catalogue order, and nothing
 * depends on time or on the order Parchment listed users in.
 */
import {
  UUID_PATTERN,
  canonicalRoles,
  isAssignableRole,
  isNonAssignableRole,
  type AssignableRole,
  type OrgId,
  type UserId,
} from './domain.js';
import { parseDesiredState } from './file-model.js';
import type { ObservedUser } from './observed-state.js';
import { compareText, type Problem } from './problems.js';

export type ExportKey = 'email' | 'id';
export const EXPORT_KEYS = ['email', 'id'] as const satisfies readonly ExportKey[];

export interface ExportOrg {
  readonly id: OrgId;
  /** Every user Parchment listed, with roles (and, for `--key email`, emails) read where the list had none. */
  readonly users: readonly ObservedUser[];
}

export interface ExportOptions {
  readonly key: ExportKey;
}

export interface ExportCounts {
  /** Users exported with their roles. */
  readonly managed: number;
  /** Users exported as `disabled`. */
  readonly disabled: number;
  /** Users written as comments only: role-sync must not (or cannot) manage them. */
  readonly comments: number;
}

export interface ExportResult {
  readonly text: string;
  readonly counts: ExportCounts;
}

/** Why a user is a comment rather than an entry. */
type CommentReason =
  | { readonly kind: 'protected'; readonly roles: readonly string[] }
  | { readonly kind: 'unknown-role'; readonly roles: readonly string[] }
  | { readonly kind: 'no-role' }
  | { readonly kind: 'roles-unknown' }
  | { readonly kind: 'reader-without-receptionist' }
  | { readonly kind: 'listed-twice' }
  | { readonly kind: 'refused'; readonly message: string };

type Line =
  | {
      readonly kind: 'entry';
      readonly key: string;
      readonly id: UserId;
      readonly value: 'disabled' | readonly AssignableRole[];
      readonly note: string;
    }
  | {
      readonly kind: 'comment';
      readonly key: string;
      readonly live: readonly string[] | undefined;
      readonly reason: CommentReason;
      readonly note: string;
    };

interface OrgLines {
  readonly id: OrgId;
  readonly lines: Line[];
}

const HEADER = [
  '# Exported by `role-sync export` from the live roles in Parchment (desired-state format version 1).',
  '# A plan against this file shows no change. Names are comments; users role-sync must not manage',
  '# are comments at the end of each organization, with the reason.',
];

export function renderExport(orgs: readonly ExportOrg[], opts: ExportOptions): ExportResult {
  const model = [...orgs].sort((a, b) => compareText(a.id, b.id)).map((org) => orgLines(org, opts));
  let rendered = render(model);
  let errors = errorsIn(rendered.text);
  if (errors.length > 0 && demoteRefused(model, rendered, errors)) {
    rendered = render(model);
    errors = errorsIn(rendered.text);
  }
  if (errors.length > 0) {
    // Unreachable while the demotion above covers every rule the file model has: a bug, said loudly.
    const first = errors[0]!;
    throw new Error(`export produced an invalid document (line ${first.pos.line}: ${first.message})`);
  }
  return { text: rendered.text, counts: countsOf(model) };
}

function orgLines(org: ExportOrg, opts: ExportOptions): OrgLines {
  const idCount = new Map<UserId, number>();
  const emailCount = new Map<string, number>();
  for (const u of org.users) {
    idCount.set(u.id, (idCount.get(u.id) ?? 0) + 1);
    if (u.email !== undefined) emailCount.set(u.email, (emailCount.get(u.email) ?? 0) + 1);
  }
  const lines: Line[] = [];
  for (const u of org.users) {
    const sharedEmail = u.email !== undefined && (emailCount.get(u.email) ?? 0) > 1;
    const byEmail = opts.key === 'email' && u.email !== undefined && !sharedEmail;
    const key = byEmail ? u.email : u.id;
    const note = noteOf(u, opts.key, byEmail, sharedEmail);
    if ((idCount.get(u.id) ?? 0) > 1) {
      lines.push({ kind: 'comment', key, live: u.roles, reason: { kind: 'listed-twice' }, note });
      continue;
    }
    const verdict = classify(u.roles);
    lines.push(
      verdict.kind === 'entry'
        ? { kind: 'entry', key, id: u.id, value: verdict.value, note }
        : { kind: 'comment', key, live: u.roles, reason: verdict.reason, note },
    );
  }
  lines.sort((a, b) => Number(a.kind === 'comment') - Number(b.kind === 'comment') || compareText(a.key, b.key));
  return { id: org.id, lines };
}

type Verdict =
  | { readonly kind: 'entry'; readonly value: 'disabled' | readonly AssignableRole[] }
  | { readonly kind: 'comment'; readonly reason: CommentReason };

/** What the file must say for a plan to find nothing to do, or why it must say nothing. */
function classify(live: readonly string[] | undefined): Verdict {
  if (live === undefined) return { kind: 'comment', reason: { kind: 'roles-unknown' } };
  const roles = [...new Set(live)];
  if (roles.length === 0) return { kind: 'comment', reason: { kind: 'no-role' } };
  const held = roles.filter((r) => r !== 'member');
  // Disabling leaves exactly `member`: the account is disabled.
  if (held.length === 0) return { kind: 'entry', value: 'disabled' };
  // owner and support by name; a role nobody has heard of gets a comment of its own below.
  const protectedRoles = held.filter(isNonAssignableRole);
  if (protectedRoles.length > 0) return { kind: 'comment', reason: { kind: 'protected', roles: protectedRoles } };
  const unknown = held.filter((r) => !isAssignableRole(r));
  if (unknown.length > 0) return { kind: 'comment', reason: { kind: 'unknown-role', roles: unknown.sort() } };
  const assignable = canonicalRoles(held.filter(isAssignableRole));
  if (assignable.includes('rx_reader') && !assignable.includes('receptionist')) {
    return { kind: 'comment', reason: { kind: 'reader-without-receptionist' } };
  }
  return { kind: 'entry', value: assignable };
}

/** The name, and what the key does not show: the email under `--key id`, why an email key fell back to the id. */
function noteOf(u: ObservedUser, key: ExportKey, byEmail: boolean, sharedEmail: boolean): string {
  const parts: string[] = [];
  // Parchment may give the email as the name of a user who has none: a name only when it says more.
  const name = u.fullName?.trim();
  if (name !== undefined && name !== '' && name.toLowerCase() !== u.email) parts.push(name);
  if (byEmail) parts.push(`id ${u.id}`);
  else if (u.email !== undefined) parts.push(u.email);
  if (key === 'email' && !byEmail) {
    parts.push(
      sharedEmail ? 'keyed by id: another account has the same email' : 'keyed by id: Parchment gave no email',
    );
  }
  return safeComment(parts.join(', '));
}

/** Text from Parchment inside a comment: a line break in it must not be able to start a YAML line of its own. */
function safeComment(text: string): string {
  const flat = text
    // eslint-disable-next-line no-control-regex -- matching control characters is the point
    .replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return flat.length > 200 ? `${flat.slice(0, 199)}…` : flat;
}

function reasonText(reason: CommentReason): string {
  switch (reason.kind) {
    case 'protected':
      return (
        `holds ${reason.roles.join(' and ')}: role-sync never writes such a user ` +
        '(a replacing PUT could strip a role the API cannot give back)'
      );
    case 'unknown-role':
      return `holds ${reason.roles.join(', ')}, which role-sync cannot assign: never written`;
    case 'no-role':
      return 'holds no role at all';
    case 'roles-unknown':
      return 'roles could not be read';
    case 'reader-without-receptionist':
      return 'holds rx_reader without receptionist, which a role list cannot say (Parchment grants them as a pair)';
    case 'listed-twice':
      return 'Parchment listed this user id twice: identity is never guessed, so it is not exported';
    case 'refused':
      return `cannot be written in the file as it is in Parchment: ${reason.message}`;
  }
}

interface Rendered {
  readonly text: string;
  /** Line number (1-based) → the entry written there. */
  readonly entryAt: ReadonlyMap<number, { readonly org: OrgLines; readonly index: number }>;
}

function render(model: readonly OrgLines[]): Rendered {
  const out: string[] = [...HEADER, 'version: 1', 'organizations:'];
  const entryAt = new Map<number, { org: OrgLines; index: number }>();
  for (const org of model) {
    out.push(`  ${org.id}:`);
    const entries = org.lines.filter((l) => l.kind === 'entry');
    if (entries.length === 0) out.push('    users: {}');
    else out.push('    users:');
    org.lines.forEach((line, index) => {
      if (line.kind === 'comment') return;
      const value = line.value === 'disabled' ? 'disabled' : `[${line.value.join(', ')}]`;
      out.push(`      ${yamlKey(line.key)}: ${value}${line.note !== '' ? `  # ${line.note}` : ''}`);
      entryAt.set(out.length, { org, index });
    });
    const comments = org.lines.filter((l) => l.kind === 'comment');
    if (comments.length > 0) out.push('      # Not managed by role-sync:');
    for (const c of comments) {
      const live = c.live === undefined ? 'roles unknown' : c.live.length === 0 ? 'no roles' : c.live.join(', ');
      const note = c.note !== '' ? ` (${c.note})` : '';
      out.push(`      # ${safeComment(c.key)}: ${safeComment(live)}${note} — ${safeComment(reasonText(c.reason))}`);
    }
  }
  return { text: `${out.join('\n')}\n`, entryAt };
}

/**
 * Users whose entry the file model refuses (a key with an invisible character, an id the format cannot
 * hold, a form this version cannot read) become comments saying why, so the document stays valid.
 * Returns whether any was demoted.
 */
function demoteRefused(model: readonly OrgLines[], rendered: Rendered, errors: readonly Problem[]): boolean {
  let demoted = false;
  for (const p of errors) {
    const at = rendered.entryAt.get(p.pos.line);
    if (at === undefined) continue;
    const line = at.org.lines[at.index]!;
    if (line.kind !== 'entry') continue;
    at.org.lines[at.index] = {
      kind: 'comment',
      key: line.key,
      live: line.value === 'disabled' ? ['member'] : line.value,
      reason: { kind: 'refused', message: p.message },
      note: line.note,
    };
    demoted = true;
  }
  if (demoted) {
    for (const org of model) {
      org.lines.sort(
        (a, b) => Number(a.kind === 'comment') - Number(b.kind === 'comment') || compareText(a.key, b.key),
      );
    }
  }
  return demoted;
}

function errorsIn(text: string): Problem[] {
  return parseDesiredState(text).problems.filter((p) => p.severity === 'error');
}

/** YAML 1.2 core-schema scalars a plain key would be read as (a number, a boolean, null). */
const CORE_SPECIAL = new RegExp(
  String.raw`^(?:null|Null|NULL|true|True|TRUE|false|False|FALSE|` +
    String.raw`0o[0-7]+|0x[0-9a-fA-F]+|[0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?)$`,
);
const PLAIN_SAFE = /^[A-Za-z0-9_][A-Za-z0-9._%+@-]*$/;

/** A key written plain when YAML reads it back as the same string, else double-quoted (JSON is valid YAML). */
function yamlKey(key: string): string {
  if (UUID_PATTERN.test(key)) return key;
  return PLAIN_SAFE.test(key) && !CORE_SPECIAL.test(key) ? key : JSON.stringify(key);
}

function countsOf(model: readonly OrgLines[]): ExportCounts {
  let managed = 0;
  let disabled = 0;
  let comments = 0;
  for (const org of model) {
    for (const l of org.lines) {
      if (l.kind === 'comment') comments++;
      else if (l.value === 'disabled') disabled++;
      else managed++;
    }
  }
  return { managed, disabled, comments };
}
