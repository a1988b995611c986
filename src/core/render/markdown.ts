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
  userAside,
} from './words.js';
import { plural, shortId } from '../wording.js';

/** GitHub refuses comments over 65,536 characters; staying below 60,000 leaves room for whatever wraps the report. */
export const MARKDOWN_LIMIT = 60_000;
/** Warnings are kept when detail is cut, but a flood of them must not crowd out the summary either. */
const WARNINGS_BUDGET = 20_000;
/** Room kept for the note that says what was cut, beyond the command it quotes. */
const NOTE_RESERVE = 400;

type ItemKind =
  | 'change'
  | 'account'
  | 'expiring'
  | 'expiryChange'
  | 'startsManaged'
  | 'noLongerManaged'
  | 'skipped'
  | 'failure'
  | 'unmanaged';

/**
 * A line of per-organization detail. Lines that carry one user (what gets cut and counted) are
 * rendered only if they fit: a 200,000-user report is cut long before its last row.
 */
type Line =
  { readonly text: string; readonly item?: undefined } | { readonly render: () => string; readonly item: ItemKind };

/**
 * For a pull-request comment or `$GITHUB_STEP_SUMMARY`: a summary table, per organization the
 * grants and revocations, then warnings. Always shorter than MARKDOWN_LIMIT: when the full
 * rendering would not fit, per-user detail is cut (the summary and warnings stay) and a note
 * says how much was left out and how to get it.
 */
export function renderMarkdown(report: Report): string {
  const head = `${headLines(report).join('\n')}\n\n`;
  const warnings = warningsBlock(report);
  const foot = footer(report);
  const hint = fullReportHint(report);
  const budget = MARKDOWN_LIMIT - 1 - head.length - warnings.length - foot.length - NOTE_RESERVE - hint.length;

  const lines: Line[] = [];
  const now = reportNow(report);
  for (const org of report.organizations) orgLines(lines, org, now);
  const { text: detail, omitted } = fit(lines, budget);
  const note = omitted.size > 0 ? `${cutNote(omitted, hint)}\n\n` : '';
  return head + detail + note + warnings + foot;
}

function headLines(report: Report): string[] {
  const s = report.summary;
  const rows: [string, number | string][] = [];
  const orgs =
    s.organizationsAdded + s.organizationsRemoved > 0
      ? `${s.organizations} (${s.organizationsAdded} added, ${s.organizationsRemoved} removed)`
      : s.organizations;
  rows.push(['Organizations', orgs], ['Role changes', s.changes], ['Grants', s.grants], ['Revocations', s.revocations]);
  if (s.disables > 0) rows.push(['Disables', s.disables]);
  if (s.enables > 0) rows.push(['Enables', s.enables]);
  if (s.expiring > 0) rows.push(['Grants expiring', s.expiring]);
  if (s.expiryChanges > 0) rows.push(['Expiry changes', s.expiryChanges]);
  if (s.unlistedChanges > 0) rows.push(['Unlisted policy changes', s.unlistedChanges]);
  if (report.kind === 'apply' && !report.dryRun) rows.push(['Applied', s.applied], ['Not applied', s.pending]);
  if (report.kind === 'offline-plan') rows.push(['Starts being managed', s.startsManaged]);
  if (report.kind === 'offline-plan' || s.noLongerManaged > 0) {
    rows.push([`No longer managed (${NOT_REVOKED})`, s.noLongerManaged]);
  }
  rows.push(['Unchanged', s.unchanged]);
  if (report.kind !== 'offline-plan')
    rows.push(['Skipped', s.skipped], ['Unmanaged', s.unmanaged], ['Failed', s.failed]);

  const leftOut = leftOutSentence(report);
  return [
    `## ${esc(reportTitle(report))}`,
    '',
    `**${esc(summarySentence(report))}**`,
    '',
    ...(leftOut !== undefined ? [esc(leftOut), ''] : []),
    '| | Count |',
    '|:--|--:|',
    ...rows.map(([label, n]) => `| ${esc(label)} | ${typeof n === 'number' ? n.toLocaleString('en-US') : n} |`),
  ];
}

/** Appends to `lines` rather than returning them: spreading a list of 100,000+ users overflows the stack. */
function orgLines(lines: Line[], org: OrgReport, now: number): void {
  const note = orgChangeNote(org);
  const start = lines.length;
  lines.push({ text: `### ${esc(orgTitle(org))}${note !== undefined ? ` — ${esc(note)}` : ''}` }, { text: '' });
  if (org.unlisted !== undefined) {
    const changed = org.unlisted.previous !== undefined ? ' (changed)' : '';
    lines.push({ text: `**Unlisted users**${changed}: ${esc(unlistedText(org.unlisted))}` }, { text: '' });
  }

  if (org.changes.length > 0) {
    const withResult = org.changes.some((c) => c.result.state !== 'planned');
    lines.push(
      { text: '**Grants and revocations**' },
      { text: '' },
      { text: `| User | From | To | Grants | Revocations |${withResult ? ' Result |' : ''}` },
      { text: `|---|---|---|---|---|${withResult ? '---|' : ''}` },
    );
    for (const c of org.changes) lines.push({ render: () => changeRow(c, withResult), item: 'change' });
    lines.push({ text: '' });
  }
  const accounts = org.accountChanges ?? [];
  if (accounts.length > 0) {
    const withResult = accounts.some((a) => a.result.state !== 'planned');
    lines.push(
      { text: '**Disable and enable**' },
      { text: '' },
      { text: `| User | Action | Why |${withResult ? ' Result |' : ''}` },
      { text: `|---|---|---|${withResult ? '---|' : ''}` },
    );
    for (const a of accounts) lines.push({ render: () => accountRow(a, withResult, now), item: 'account' });
    lines.push({ text: '' });
  }
  listSection(lines, '**Expiry changes**', org.expiryChanges ?? [], 'expiryChange', (e) => {
    return `${who(e.user)}: ${esc(expiryChangeText(e, now))}`;
  });
  listSection(lines, '**Expiring grants**', org.expiring ?? [], 'expiring', (g) => {
    return `${who(g.user)}: ${esc(expiringText(g, now))}`;
  });
  listSection(
    lines,
    '**Starts being managed** (roles as in the file)',
    org.startsManaged,
    'startsManaged',
    managedItem,
  );
  listSection(
    lines,
    '**No longer managed**: their access is **NOT revoked**; they keep their current roles in Parchment',
    org.noLongerManaged,
    'noLongerManaged',
    managedItem,
  );
  listSection(lines, '**Skipped** (never written)', org.skipped, 'skipped', skippedItem);
  listSection(lines, '**Failures**', org.failures, 'failure', failureItem);

  const unmanaged = org.unmanaged;
  if (unmanaged.length > 0) {
    const spared = org.unlisted?.policy === 'disable' ? 'not disabled, see why' : 'never touched';
    const title = `**Unmanaged**: ${plural(unmanaged.length, 'user')} in Parchment but not in the file; ${spared}`;
    if (unmanaged.length <= UNMANAGED_LIST_LIMIT) listSection(lines, title, unmanaged, 'unmanaged', managedItem);
    else lines.push({ text: title }, { text: '' });
  }
  if (org.unchanged > 0 || lines.length === start + 2)
    lines.push({ text: `_${org.unchanged.toLocaleString('en-US')} unchanged._` }, { text: '' });
}

function listSection<T>(
  lines: Line[],
  title: string,
  items: readonly T[],
  item: ItemKind,
  render: (t: T) => string,
): void {
  if (items.length === 0) return;
  lines.push({ text: title }, { text: '' });
  for (const t of items) lines.push({ render: () => `- ${render(t)}`, item });
  lines.push({ text: '' });
}

function changeRow(c: RoleChange, withResult: boolean): string {
  const cells = [
    who(c.user),
    esc(roleList(c.from)),
    esc(roleList(c.to)),
    esc(c.added.join(', ')),
    esc(c.removed.join(', ')),
  ];
  if (withResult) cells.push(esc(resultText(c.result)));
  return `| ${cells.join(' | ')} |`;
}

function accountRow(a: AccountChange, withResult: boolean, now: number): string {
  const cells = [who(a.user), esc(accountAction(a)), esc(accountReason(a, now))];
  if (withResult) cells.push(esc(resultText(a.result)));
  return `| ${cells.join(' | ')} |`;
}

function resultText(result: ChangeResult): string {
  switch (result.state) {
    case 'planned':
      return 'planned';
    case 'applied':
      return 'applied';
    case 'failed':
      return `failed (${failureBrief(result.failure)})`;
    case 'not-attempted':
      return `not attempted: ${notAttemptedText(result.reason)}`;
  }
}

function managedItem(u: ManagedUser): string {
  const exempt = u.exempt !== undefined ? ` (not disabled: ${esc(exemptText(u.exempt))})` : '';
  return `${who(u.user)}: ${u.roles === undefined ? 'roles unknown' : esc(roleList(u.roles))}${exempt}`;
}

function skippedItem(s: SkippedUser): string {
  const text = `${skipReasonText(s.reason)} (live: ${roleList(s.liveRoles)}; file: ${roleList(s.desired)})`;
  return `${who(s.user)}: ${esc(text)}`;
}

function failureItem(f: Failure): string {
  return `${f.user !== undefined ? who(f.user) : 'organization'}: ${esc(failureText(f))}`;
}

function who(user: UserLabel): string {
  const aside = userAside(user);
  return esc(aside.length > 0 ? `${user.key} (${aside.join(', ')})` : user.key);
}

/** Takes whole lines while they fit; once one does not, everything after the last user shown is cut and counted. */
function fit(lines: readonly Line[], budget: number): { text: string; omitted: Map<ItemKind, number> } {
  const taken: string[] = [];
  let used = 0;
  for (const line of lines) {
    const text = line.item === undefined ? line.text : line.render();
    if (used + text.length + 1 > budget) break;
    taken.push(text);
    used += text.length + 1;
  }
  const omitted = new Map<ItemKind, number>();
  if (taken.length === lines.length) return { text: taken.map((t) => `${t}\n`).join(''), omitted };

  let keep = taken.length;
  while (keep > 0 && lines[keep - 1]?.item === undefined) keep--;
  for (let i = keep; i < lines.length; i++) {
    const item = lines[i]?.item;
    if (item !== undefined) omitted.set(item, (omitted.get(item) ?? 0) + 1);
  }
  const text = taken
    .slice(0, keep)
    .map((t) => `${t}\n`)
    .join('');
  return { text: text === '' ? '' : `${text}\n`, omitted };
}

const ITEM_NOUNS: Record<ItemKind, [string, string]> = {
  change: ['change', 'changes'],
  account: ['account change', 'account changes'],
  expiring: ['expiring grant', 'expiring grants'],
  expiryChange: ['expiry change', 'expiry changes'],
  startsManaged: ['user starting to be managed', 'users starting to be managed'],
  noLongerManaged: ['user no longer managed', 'users no longer managed'],
  skipped: ['skipped user', 'skipped users'],
  failure: ['failure', 'failures'],
  unmanaged: ['unmanaged user', 'unmanaged users'],
};

function cutNote(omitted: ReadonlyMap<ItemKind, number>, hint: string): string {
  const entries = [...omitted];
  const total = entries.reduce((sum, [, n]) => sum + n, 0);
  const [first] = entries;
  const kinds = entries.map(([k, n]) => plural(n, ...ITEM_NOUNS[k])).join(', ');
  const what =
    entries.length === 1 && first !== undefined
      ? `${total.toLocaleString('en-US')} more ${total === 1 ? ITEM_NOUNS[first[0]][0] : ITEM_NOUNS[first[0]][1]}`
      : `${total.toLocaleString('en-US')} more entries (${kinds})`;
  const limit = MARKDOWN_LIMIT.toLocaleString('en-US');
  return `> **Cut to stay under ${limit} characters:** … ${what} not shown; ${hint} for the full list.`;
}

function fullReportHint(report: Report): string {
  const file = report.source.file;
  switch (report.kind) {
    case 'offline-plan': {
      const base = report.source.base?.file ?? 'BASE.yaml';
      return `run ${code(`role-sync plan -c ${file} --against ${base} --format json`)}`;
    }
    case 'plan':
      return `run ${code(`role-sync plan -c ${file} --format json`)}`;
    case 'apply':
      return `use ${code('--format json')} (and ${code('--out FILE')})`;
  }
}

function warningsBlock(report: Report): string {
  if (report.warnings.length === 0) return '';
  const lines = ['### Warnings', ''];
  let used = lines.join('\n').length;
  let shown = 0;
  for (const w of report.warnings) {
    const line = `- ⚠️ ${esc(w.message)}`;
    if (used + line.length + 1 > WARNINGS_BUDGET) break;
    lines.push(line);
    used += line.length + 1;
    shown++;
  }
  const rest = report.warnings.length - shown;
  if (rest > 0) lines.push('', `> … ${plural(rest, 'more warning')} not shown.`);
  return `${lines.join('\n')}\n\n`;
}

function footer(report: Report): string {
  const src = report.source;
  const parts = [`generated ${report.generatedAt}`, `${src.file} sha256 ${shortId(src.sha256)}`];
  if (src.base !== undefined) parts.push(`base ${src.base.file} sha256 ${shortId(src.base.sha256)}`);
  return `<sub>${esc(parts.join(' · '))}</sub>\n`;
}

/**
 * Keys, names and messages come from the file or from Parchment: they must not open HTML, break a
 * table cell, or turn into emphasis or code. Line breaks would end a table row, so they become spaces.
 */
export function esc(text: string): string {
  return text
    .replace(/[\r\n]+/g, ' ')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/[\\`*_|[\]~#]/g, '\\$&');
}

/** A code span that holds any text: the fence is longer than any run of backticks inside (CommonMark). */
function code(text: string): string {
  const flat = text.replace(/[\r\n]+/g, ' ');
  const longest = Math.max(0, ...(flat.match(/`+/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(longest + 1);
  const pad = longest > 0 ? ' ' : '';
  return `${fence}${pad}${flat}${pad}${fence}`;
}
