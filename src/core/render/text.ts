import type {
  AccountChange,
  ChangeResult,
  Failure,
  ManagedUser,
  OrgReport,
  Report,
  RoleChange,
  SkippedUser,
  UserLabel,
} from '../report.js';
import {
  NOT_REVOKED,
  UNMANAGED_LIST_LIMIT,
  accountAction,
  accountReason,
  exemptText,
  expiringText,
  expiryChangeText,
  failureBrief,
  failureText,
  leftOutSentence,
  notAttemptedText,
  orgChangeNote,
  orgTitle,
  reportNow,
  reportTitle,
  roleList,
  skipReasonText,
  summarySentence,
  unlistedText,
  unmanagedNote,
  userAside,
} from './words.js';
import { plural } from '../wording.js';

export interface RenderOptions {
  /** ANSI colours in text output (only on a TTY). */
  readonly colour: boolean;
}

type Paint = (text: string) => string;

interface Palette {
  readonly grant: Paint;
  readonly revoke: Paint;
  readonly warn: Paint;
  readonly change: Paint;
  readonly bold: Paint;
}

const ansi =
  (open: number, close: number): Paint =>
  (text) =>
    `\u001b[${open}m${text}\u001b[${close}m`;

const COLOURS: Palette = {
  grant: ansi(32, 39),
  revoke: ansi(31, 39),
  warn: ansi(33, 39),
  change: ansi(33, 39),
  bold: ansi(1, 22),
};
const plain: Paint = (text) => text;
const NO_COLOURS: Palette = { grant: plain, revoke: plain, warn: plain, change: plain, bold: plain };

/**
 * Terraform-like text: per organization a header and one line per user
 * (`~ dr.cameron@collins.example (a7748dfd…): admin, provider -> provider  (- admin)`),
 * then the summary line, then warnings, which are read last and so are placed last.
 */
export function renderText(report: Report, opts: RenderOptions): string {
  const p = opts.colour ? COLOURS : NO_COLOURS;
  const out: string[] = [p.bold(clean(reportTitle(report))), ''];
  const now = reportNow(report);
  for (const org of report.organizations) {
    orgLines(out, org, p, now);
    out.push('');
  }
  if (report.organizations.length === 0) out.push('No organizations.', '');
  out.push(p.bold(summarySentence(report)));
  const leftOut = leftOutSentence(report);
  if (leftOut !== undefined) out.push(clean(leftOut));
  if (report.warnings.length > 0) {
    out.push('', p.warn('Warnings:'));
    for (const w of report.warnings) out.push(p.warn(`  ! ${clean(w.message)}`));
  }
  return `${out.join('\n')}\n`;
}

/** Appends to `out` rather than returning lines: spreading a list of 100,000+ users overflows the stack. */
function orgLines(out: string[], org: OrgReport, p: Palette, now: number): void {
  const note = orgChangeNote(org);
  const header = p.bold(clean(orgTitle(org))) + (note !== undefined ? `  (${note})` : '');
  const start = out.length;
  out.push(header);
  if (org.unlisted !== undefined) {
    const changed = org.unlisted.previous !== undefined;
    out.push(`  ${changed ? p.change('~') : ' '} ${clean(unlistedText(org.unlisted))}`);
  }
  for (const c of org.changes) out.push(`  ${changeLine(c, p)}`);
  for (const a of org.accountChanges ?? []) out.push(`  ${accountLine(a, p, now)}`);
  for (const u of org.startsManaged) {
    out.push(`  ${p.grant('+')} ${who(u.user)}: ${roleList(u.roles ?? [])}  (starts being managed)`);
  }
  for (const u of org.noLongerManaged) {
    out.push(`  ${p.revoke('-')} ${who(u.user)}: ${rolesOf(u)}  ${p.warn(`(no longer managed; ${NOT_REVOKED})`)}`);
  }
  for (const e of org.expiryChanges ?? [])
    out.push(`  ${p.warn('*')} ${who(e.user)}: ${clean(expiryChangeText(e, now))}`);
  for (const g of org.expiring ?? []) out.push(`  ${p.warn('*')} ${who(g.user)}: ${expiringText(g, now)}`);
  for (const s of org.skipped) out.push(`  ${p.warn('!')} ${skippedLine(s)}`);
  for (const f of org.failures) out.push(`  ${p.revoke('x')} ${p.revoke(failureLine(f))}`);

  const tally: string[] = [];
  if (org.unchanged > 0 || out.length === start + 1) tally.push(`${org.unchanged.toLocaleString('en-US')} unchanged`);
  if (org.unmanaged.length > 0) tally.push(`${plural(org.unmanaged.length, 'unmanaged user')} (${unmanagedNote(org)})`);
  if (tally.length > 0) out.push(`  ${tally.join(', ')}`);
  if (org.unmanaged.length > 0 && org.unmanaged.length <= UNMANAGED_LIST_LIMIT) {
    for (const u of org.unmanaged) {
      const exempt = u.exempt !== undefined ? `  (not disabled: ${exemptText(u.exempt)})` : '';
      out.push(`      ${who(u.user)}: ${rolesOf(u)}${exempt}`);
    }
  }
}

function changeLine(c: RoleChange, p: Palette): string {
  const grantsOnly = c.removed.length === 0;
  const symbol = grantsOnly ? p.grant('+') : p.change('~');
  const delta = [...c.added.map((r) => p.grant(`+ ${r}`)), ...c.removed.map((r) => p.revoke(`- ${clean(r)}`))].join(
    ', ',
  );
  const result = resultNote(c.result, p);
  return `${symbol} ${who(c.user)}: ${clean(roleList(c.from))} -> ${roleList(c.to)}  (${delta})${result}`;
}

function accountLine(a: AccountChange, p: Palette, now: number): string {
  const symbol = a.kind === 'disable' ? p.revoke('-') : p.grant('+');
  const why = clean(accountReason(a, now));
  return `${symbol} ${who(a.user)}: ${clean(accountAction(a))}  (${why})${resultNote(a.result, p)}`;
}

function resultNote(result: ChangeResult, p: Palette): string {
  switch (result.state) {
    case 'planned':
      return '';
    case 'applied':
      return `  ${p.grant('applied')}`;
    case 'failed':
      return `  ${p.revoke(`FAILED (${failureBrief(result.failure)})`)}`;
    case 'not-attempted':
      return `  ${p.warn(`not attempted: ${notAttemptedText(result.reason)}`)}`;
  }
}

function skippedLine(s: SkippedUser): string {
  return (
    `${who(s.user)}: skipped, ${skipReasonText(s.reason)} ` +
    `(live: ${clean(roleList(s.liveRoles))}; file: ${roleList(s.desired)})`
  );
}

function failureLine(f: Failure): string {
  const subject = f.user !== undefined ? who(f.user) : 'organization';
  return `${subject}: failed, ${clean(failureText(f))}`;
}

function rolesOf(u: ManagedUser): string {
  return u.roles === undefined ? 'roles unknown' : clean(roleList(u.roles));
}

function who(user: UserLabel): string {
  const aside = userAside(user);
  return clean(aside.length > 0 ? `${user.key} (${aside.join(', ')})` : user.key);
}

/**
 * Names, details and unknown roles come from the file or from Parchment; a control character
 * in one must not be able to move the cursor or recolour the terminal.
 */
function clean(text: string): string {
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '\ufffd');
}
