import { describe, expect, it } from 'vitest';
import {
  asLiveRole,
  parseEmail,
  parseOrgId,
  parseUserId,
  type AssignableRole,
  type Email,
  type OrgId,
  type UserId,
} from '../src/core/domain.js';
import { buildOfflineReport } from '../src/core/offline-report.js';
import { renderReport } from '../src/core/render/index.js';
import { renderJson } from '../src/core/render/json.js';
import { MARKDOWN_LIMIT, renderMarkdown } from '../src/core/render/markdown.js';
import { renderText } from '../src/core/render/text.js';
import {
  REPORT_VERSION,
  summarize,
  type ManagedUser,
  type OrgReport,
  type Report,
  type ReportKind,
  type ReportWarning,
  type RoleChange,
  type UserLabel,
} from '../src/core/report.js';
import { desiredState } from './helpers/desired-arbitraries.js';

const COLLINS = parseOrgId('7fa84d2b-26d7-4c71-9b5b-e591eff97e7d') as OrgId;
const FITZROY = parseOrgId('3b1f9c2e-8d4a-4e6b-9f1a-2c5d7e8f9a0b') as OrgId;
const CAMERON_ID = parseUserId('a7748dfd-ceb2-4b17-8380-425c304f5ae7') as UserId;
const ESC = '\u001b';

const byEmail = (key: string, id?: string): UserLabel => ({
  key,
  email: parseEmail(key),
  ...(id !== undefined ? { id: parseUserId(id) } : {}),
});
const cameron: UserLabel = {
  key: 'dr.cameron@collins.example',
  id: CAMERON_ID,
  email: 'dr.cameron@collins.example' as Email,
};

function change(
  user: UserLabel,
  from: AssignableRole[],
  to: AssignableRole[],
  result: RoleChange['result'] = { state: 'planned' },
): RoleChange {
  return {
    user,
    from,
    to,
    added: to.filter((r) => !from.includes(r)),
    removed: from.filter((r) => !to.includes(r)),
    result,
  };
}

function org(partial: Partial<OrgReport> & { id: OrgId }): OrgReport {
  return {
    orgChange: 'kept',
    changes: [],
    startsManaged: [],
    noLongerManaged: [],
    skipped: [],
    failures: [],
    unmanaged: [],
    unchanged: 0,
    ...partial,
  };
}

function report(kind: ReportKind, organizations: OrgReport[], warnings: ReportWarning[] = [], dryRun = false): Report {
  return {
    reportVersion: REPORT_VERSION,
    kind,
    dryRun,
    generatedAt: '2025-06-01T12:00:00.000Z',
    source: { file: 'roles.yaml', sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' },
    organizations,
    summary: summarize(organizations),
    warnings,
  };
}

const unmanaged = (n: number): ManagedUser[] =>
  Array.from({ length: n }, (_, i) => ({
    user: byEmail(`other${i}@collins.example`, `0000000${i % 10}-0000-4000-8000-00000000000${i % 10}`),
    roles: [asLiveRole('provider')],
  }));

function livePlan(): Report {
  return report(
    'plan',
    [
      org({
        id: COLLINS,
        name: 'Collins Street Clinic',
        changes: [
          change(cameron, ['admin', 'provider'], ['provider']),
          change(byEmail('nurse.patel@collins.example'), ['receptionist'], ['receptionist', 'rx_reader']),
        ],
        skipped: [
          {
            user: byEmail('owner@collins.example'),
            reason: 'protected',
            liveRoles: [asLiveRole('owner'), asLiveRole('admin')],
            desired: ['admin'],
          },
        ],
        failures: [
          {
            user: byEmail('ghost@collins.example'),
            reason: 'not-found',
            message: 'user ghost@collins.example is not in organization; nothing was sent',
          },
        ],
        noLongerManaged: [{ user: byEmail('left@collins.example'), roles: ['admin'] }],
        unmanaged: unmanaged(3),
        unchanged: 5,
      }),
    ],
    [
      {
        organization: COLLINS,
        user: 'owner@collins.example',
        message: 'owner@collins.example holds owner: never written',
      },
    ],
  );
}

function applyReport(dryRun: boolean): Report {
  const failure = {
    reason: 'rejected' as const,
    message: 'PUT roles failed',
    status: 422,
    code: 'ROLE_INVALID',
    detail: 'rx_reader requires receptionist',
    requestId: 'req-8f2c',
  };
  return report(
    'apply',
    [
      org({
        id: COLLINS,
        name: 'Collins Street Clinic',
        changes: dryRun
          ? [change(cameron, ['admin', 'provider'], ['provider'])]
          : [
              change(cameron, ['admin', 'provider'], ['provider'], { state: 'applied' }),
              change(byEmail('front.desk@collins.example'), ['receptionist'], ['receptionist', 'rx_reader'], {
                state: 'failed',
                failure,
              }),
              change(byEmail('dr.nguyen@collins.example'), [], ['provider'], {
                state: 'not-attempted',
                reason: 'auth',
              }),
            ],
        failures: dryRun ? [] : [{ user: byEmail('front.desk@collins.example'), ...failure }],
        unchanged: 4,
      }),
      org({
        id: FITZROY,
        failures: [{ reason: 'observe', message: 'listing users failed', status: 503, requestId: 'req-1' }],
      }),
    ],
    [],
    dryRun,
  );
}

function offlinePlan(): Report {
  const base = desiredState({
    [COLLINS]: {
      name: 'Collins Street Clinic',
      users: { 'dr.cameron@collins.example': ['admin', 'provider'], 'old.hand@collins.example': ['admin'] },
    },
  });
  const head = desiredState({
    [COLLINS]: {
      name: 'Collins Street Clinic',
      users: { 'dr.cameron@collins.example': ['provider'], 'new.hire@collins.example': ['receptionist', 'rx_reader'] },
    },
  });
  return buildOfflineReport(head, base, {
    source: { file: 'roles.yaml', sha256: 'a'.repeat(64), base: { file: 'base.yaml', sha256: 'b'.repeat(64) } },
    now: new Date('2025-06-01T12:00:00.000Z'),
  });
}

describe('text', () => {
  it('shows a live change Terraform-style, with the id abbreviated', () => {
    const text = renderText(livePlan(), { colour: false });
    expect(text).toContain('\n  ~ dr.cameron@collins.example (a7748dfd…): admin, provider -> provider  (- admin)\n');
    expect(text).toContain(
      '\n  + nurse.patel@collins.example: receptionist -> receptionist, rx_reader  (+ rx_reader)\n',
    );
    expect(text).toContain('Collins Street Clinic (7fa84d2b-26d7-4c71-9b5b-e591eff97e7d)');
    expect(text).toContain('- left@collins.example: admin  (no longer managed; access NOT revoked)');
    expect(text).toMatch(/! owner@collins\.example: skipped, protected: .*\(live: owner, admin; file: admin\)/);
    expect(text).toContain('x ghost@collins.example: failed, not-found');
    expect(text).toContain('5 unchanged, 3 unmanaged users (in Parchment, not in the file; never touched)');
    expect(text).toContain('      other0@collins.example (00000000…): provider');
    expect(text).not.toContain(ESC);
  });

  it('ends with the summary line, then warnings', () => {
    const text = renderText(livePlan(), { colour: false });
    const summary =
      'Plan: 2 to change (1 grant, 1 revocation), 5 unchanged, 1 skipped, 3 unmanaged, ' +
      '1 no longer managed (access NOT revoked); 1 failed.';
    expect(text).toContain(`\n${summary}\n`);
    expect(text.indexOf('Warnings:')).toBeGreaterThan(text.indexOf(summary));
    expect(text.trimEnd().endsWith('  ! owner@collins.example holds owner: never written')).toBe(true);
  });

  it('colours grants green, revocations red and warnings yellow only when asked', () => {
    const text = renderText(livePlan(), { colour: true });
    expect(text).toContain(`${ESC}[32m+ rx_reader${ESC}[39m`);
    expect(text).toContain(`${ESC}[31m- admin${ESC}[39m`);
    expect(text).toContain(`${ESC}[33m  ! owner@collins.example holds owner: never written${ESC}[39m`);
    expect(renderReport(livePlan(), 'text', { colour: false })).not.toContain(ESC);
  });

  it('renders the offline plan with starts and no-longer-managed users', () => {
    const text = renderText(offlinePlan(), { colour: false });
    expect(text.split('\n')[0]).toBe('role-sync plan: roles.yaml against base.yaml');
    expect(text).toContain('  ~ dr.cameron@collins.example: admin, provider -> provider  (- admin)\n');
    expect(text).toContain('  + new.hire@collins.example: receptionist, rx_reader  (starts being managed)\n');
    expect(text).toContain('  - old.hand@collins.example: admin  (no longer managed; access NOT revoked)\n');
    expect(text).toContain(
      '\nPlan: 1 to change (0 grants, 1 revocation), 1 starts being managed, 1 no longer managed; 0 failed.\n',
    );
    expect(text).toMatch(/Warnings:\n {2}! old\.hand@collins\.example is removed from .*access is NOT revoked/);
  });

  it('marks added and removed organizations', () => {
    const r = report('offline-plan', [
      org({ id: COLLINS, orgChange: 'added', startsManaged: [{ user: byEmail('a@x.example'), roles: ['admin'] }] }),
      org({
        id: FITZROY,
        name: 'Fitzroy',
        orgChange: 'removed',
        noLongerManaged: [{ user: byEmail('b@x.example'), roles: ['provider'] }],
      }),
    ]);
    const text = renderText(r, { colour: false });
    expect(text).toContain(`${COLLINS}  (new in this revision)`);
    expect(text).toContain(`Fitzroy (${FITZROY})  (removed from the file; its users' access is NOT revoked)`);
    expect(text).toContain('1 organization added, 1 organization removed; 0 failed.');
  });

  it('reports apply results and failures with status, code, detail and requestId', () => {
    const text = renderText(applyReport(false), { colour: false });
    expect(text.split('\n')[0]).toBe('role-sync apply: roles.yaml');
    expect(text).toContain('~ dr.cameron@collins.example (a7748dfd…): admin, provider -> provider  (- admin)  applied');
    expect(text).toContain(
      '+ front.desk@collins.example: receptionist -> receptionist, rx_reader  (+ rx_reader)  ' +
        'FAILED (rejected, HTTP 422)',
    );
    expect(text).toContain("not attempted: the organization's authentication failed");
    expect(text).toContain(
      'x front.desk@collins.example: failed, rejected HTTP 422 ROLE_INVALID: rx_reader requires receptionist ' +
        '— PUT roles failed (requestId req-8f2c)',
    );
    expect(text).toContain('x organization: failed, observe HTTP 503 — listing users failed (requestId req-1)');
    expect(text).toContain(
      '\nApply: 1 applied, 2 failed, 1 not applied; 3 to change (2 grants, 1 revocation), 4 unchanged.\n',
    );
  });

  it('says a dry run wrote nothing', () => {
    const text = renderText(applyReport(true), { colour: false });
    expect(text.split('\n')[0]).toBe('role-sync apply --dry-run: roles.yaml (nothing written)');
    expect(text).toContain(
      '\nDry run (nothing written): 1 to change (0 grants, 1 revocation), 4 unchanged; 1 failed.\n',
    );
  });

  it('lists up to 20 unmanaged users and only counts more', () => {
    const listed = renderText(report('plan', [org({ id: COLLINS, unmanaged: unmanaged(20) })]), { colour: false });
    const counted = renderText(report('plan', [org({ id: COLLINS, unmanaged: unmanaged(21) })]), { colour: false });
    expect(listed).toContain('other19@collins.example');
    expect(counted).toContain('21 unmanaged users');
    expect(counted).not.toContain('other0@collins.example');
  });

  it('neutralises control characters from names and keys', () => {
    const r = report('plan', [
      org({ id: COLLINS, name: `Evil${ESC}[2J\nClinic`, unmanaged: [{ user: { key: `x${ESC}[31m@y.example` } }] }),
    ]);
    const text = renderText(r, { colour: false });
    expect(text).not.toContain(ESC);
    expect(text).toContain('Evil\ufffd[2J\ufffdClinic');
  });
});

describe('json', () => {
  it('is the report object, pretty-printed, with reportVersion first', () => {
    for (const r of [offlinePlan(), livePlan(), applyReport(false), applyReport(true)]) {
      const json = renderJson(r);
      const parsed = JSON.parse(json) as Record<string, unknown>;
      expect(parsed).toEqual(JSON.parse(JSON.stringify(r)));
      expect(Object.keys(parsed)[0]).toBe('reportVersion');
      expect(parsed['reportVersion']).toBe(1);
      expect(json.startsWith('{\n  "reportVersion": 1,\n  "kind": ')).toBe(true);
    }
  });
});

describe('markdown', () => {
  it('has a heading, a summary table, the changes per organization and warnings last', () => {
    const md = renderMarkdown(livePlan());
    expect(md.startsWith('## role-sync plan: roles.yaml against the live roles in Parchment\n')).toBe(true);
    expect(md).toContain('| Role changes | 2 |\n| Grants | 1 |\n| Revocations | 1 |');
    expect(md).toContain('| Failed | 1 |');
    expect(md).toContain('### Collins Street Clinic (7fa84d2b-26d7-4c71-9b5b-e591eff97e7d)');
    expect(md).toContain('| dr.cameron@collins.example (a7748dfd…) | admin, provider | provider |  | admin |');
    expect(md).toContain('| nurse.patel@collins.example | receptionist | receptionist, rx\\_reader | rx\\_reader |  |');
    expect(md).toContain('**No longer managed**: their access is **NOT revoked**');
    expect(md).toContain('- left@collins.example: admin');
    expect(md).toContain('**Unmanaged**: 3 users');
    expect(md.indexOf('### Warnings')).toBeGreaterThan(md.indexOf('### Collins'));
    expect(md).toContain('- ⚠️ owner@collins.example holds owner: never written');
    expect(md).not.toContain('Cut to stay under');
  });

  it('renders offline, apply and dry-run reports', () => {
    const offline = renderMarkdown(offlinePlan());
    expect(offline).toContain(
      '**Plan: 1 to change (0 grants, 1 revocation), 1 starts being managed, 1 no longer managed; 0 failed.**',
    );
    expect(offline).toContain('| Starts being managed | 1 |');
    expect(offline).toContain('- new.hire@collins.example: receptionist, rx\\_reader');
    expect(offline).toContain('base base.yaml sha256 bbbbbbbb…');

    const applied = renderMarkdown(applyReport(false));
    expect(applied).toContain('| User | From | To | Grants | Revocations | Result |');
    expect(applied).toContain('| applied |');
    expect(applied).toContain('| failed (rejected, HTTP 422) |');
    expect(applied).toContain(
      'rejected HTTP 422 ROLE\\_INVALID: rx\\_reader requires receptionist — PUT roles failed (requestId req-8f2c)',
    );
    expect(applied).toContain('| Applied | 1 |');

    const dry = renderMarkdown(applyReport(true));
    expect(dry).toContain('**Dry run (nothing written): ');
    expect(dry).not.toContain('| Applied |');
  });

  it('escapes markdown and HTML in keys and names', () => {
    const nasty: UserLabel = { key: 'a|b_c*d`e<script>@x.example' };
    const r = report('plan', [
      org({ id: COLLINS, name: '<img src=x> *Clinic* | _1_', changes: [change(nasty, ['admin'], ['provider'])] }),
    ]);
    const md = renderMarkdown(r);
    expect(md).toContain('| a\\|b\\_c\\*d\\`e&lt;script&gt;@x.example | admin | provider | provider | admin |');
    expect(md).toContain('### &lt;img src=x&gt; \\*Clinic\\* \\| \\_1\\_ (');
    expect(md).not.toContain('<script>');
    expect(md).not.toContain('<img');
  });

  it('stays under the limit for 50,000 changes, keeps summary and warnings, and says what was cut', () => {
    const changes = Array.from({ length: 50_000 }, (_, i) =>
      change(byEmail(`user${i}@big.example`), ['admin', 'provider'], ['provider']),
    );
    const r = report(
      'offline-plan',
      [org({ id: COLLINS, changes })],
      [{ message: 'a warning that must survive the cut' }],
    );
    const big = { ...r, source: { ...r.source, base: { file: 'base.yaml', sha256: 'b' } } };
    const md = renderMarkdown(big);
    expect(md.length).toBeLessThan(MARKDOWN_LIMIT);
    expect(md).toContain('| Role changes | 50,000 |');
    expect(md).toContain('- ⚠️ a warning that must survive the cut');
    const shown = md.split('\n').filter((l) => l.startsWith('| user')).length;
    expect(shown).toBeGreaterThan(100);
    const omitted = 50_000 - shown;
    expect(md).toContain(
      `… ${omitted.toLocaleString('en-US')} more changes not shown; ` +
        'run `role-sync plan -c roles.yaml --against base.yaml --format json` for the full list.',
    );
    expect(md.indexOf('Cut to stay under')).toBeLessThan(md.indexOf('### Warnings'));
  });

  it('counts every kind of entry it cuts', () => {
    const changes = Array.from({ length: 20_000 }, (_, i) =>
      change(byEmail(`user${i}@big.example`), ['admin'], ['provider']),
    );
    const leaving = Array.from({ length: 20_000 }, (_, i): ManagedUser => ({
      user: byEmail(`gone${i}@big.example`),
      roles: ['admin'],
    }));
    const md = renderMarkdown(report('plan', [org({ id: COLLINS, changes, noLongerManaged: leaving })]));
    expect(md.length).toBeLessThan(MARKDOWN_LIMIT);
    const shown = md.split('\n').filter((l) => l.startsWith('| user')).length;
    expect(md).toContain(
      `… ${(40_000 - shown).toLocaleString('en-US')} more entries ` +
        `(${(20_000 - shown).toLocaleString('en-US')} changes, 20,000 users no longer managed) not shown; ` +
        'run `role-sync plan -c roles.yaml --format json` for the full list.',
    );
  });

  it('renders 200,000 users as text and markdown without overflowing the stack', () => {
    const changes = Array.from({ length: 200_000 }, (_, i) =>
      change(byEmail(`user${i}@big.example`), ['admin'], ['provider']),
    );
    const r = report('plan', [org({ id: COLLINS, changes })]);
    expect(renderMarkdown(r).length).toBeLessThan(MARKDOWN_LIMIT);
    expect(
      renderText(r, { colour: false })
        .split('\n')
        .filter((l) => l.startsWith('  ~ user')).length,
    ).toBe(200_000);
  });

  it('caps a flood of warnings too', () => {
    const warnings = Array.from({ length: 5_000 }, (_, i): ReportWarning => ({
      message: `warning number ${i} about something`,
    }));
    const md = renderMarkdown(report('apply', [org({ id: COLLINS, unchanged: 3 })], warnings));
    expect(md.length).toBeLessThan(MARKDOWN_LIMIT);
    expect(md).toContain('- ⚠️ warning number 0 about something');
    expect(md).toMatch(/> … [\d,]+ more warnings not shown\./);
    expect(md).toContain('_3 unchanged._');
  });
});
