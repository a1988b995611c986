import { describe, expect, it } from 'vitest';
import type { DesiredState } from '../src/core/desired-state.js';
import { parseDesiredState } from '../src/core/file-model.js';
import { buildOfflineReport } from '../src/core/offline-report.js';
import { renderJson } from '../src/core/render/json.js';
import { renderMarkdown } from '../src/core/render/markdown.js';
import { renderText } from '../src/core/render/text.js';
import { hasPendingChanges } from '../src/core/report.js';

const ORG = '7fa84d2b-26d7-4c71-9b5b-e591eff97e7d';
const source = { file: 'roles.yaml', sha256: 'aa', base: { file: 'base.yaml', sha256: 'bb' } };
/** 28 January 2027, 12:00 in Melbourne: three days and a half before the locum's grant ends. */
const now = new Date('2027-01-28T01:00:00.000Z');

function file(org: string, zone = 'Australia/Melbourne'): DesiredState {
  const text = `version: 1\ntimezone: ${zone}\norganizations:\n  ${ORG}:\n    name: Collins\n${org}`;
  const { state, problems } = parseDesiredState(text);
  if (state === undefined) throw new Error(problems.map((p) => p.message).join('\n'));
  return state;
}

const users = (...lines: string[]): string => `    users:\n${lines.map((l) => `      ${l}\n`).join('')}`;

function plan(head: DesiredState, base: DesiredState) {
  const report = buildOfflineReport(head, base, { source, now });
  return { report, org: report.organizations[0]!, text: renderText(report, { colour: false }) };
}

describe('the offline plan of the account lifecycle', () => {
  it('shows an offboarding as a disable revoking every role the base revision gave', () => {
    const { report, org, text } = plan(
      file(users('left@c.example: disabled', 'stays@c.example: [admin]')),
      file(users('left@c.example: [admin, provider]', 'stays@c.example: [admin]')),
    );
    expect(org.accountChanges).toEqual([
      {
        kind: 'disable',
        user: { key: 'left@c.example', email: 'left@c.example' },
        from: ['admin', 'provider'],
        cause: 'file',
        result: { state: 'planned' },
      },
    ]);
    expect(org.changes).toEqual([]);
    expect(org.unchanged).toBe(1);
    expect(text).toContain('  - left@c.example: disable (admin, provider)  (the file says disabled)');
    expect(text).toContain('Plan: 0 to change (0 grants, 0 revocations), 1 to disable,');
    expect(report.summary).toMatchObject({ disables: 1, enables: 0, pending: 1 });
    expect(hasPendingChanges(report)).toBe(true);
  });

  it('a user who stays disabled is unchanged; a user entering the file as disabled is a disable', () => {
    const { org } = plan(
      file(users('gone@c.example: disabled', 'new@c.example: disabled')),
      file(users('gone@c.example: disabled')),
    );
    expect(org.unchanged).toBe(1);
    expect(org.accountChanges).toEqual([
      {
        kind: 'disable',
        user: { key: 'new@c.example', email: 'new@c.example' },
        cause: 'file',
        result: { state: 'planned' },
      },
    ]);
    expect(org.startsManaged).toEqual([]);
  });

  it('brings someone back with enabled: true, and warns when the file forgets it', () => {
    const { report, org, text } = plan(
      file(users('back@c.example: {roles: [provider], enabled: true}', 'forgot@c.example: [receptionist]')),
      file(users('back@c.example: disabled', 'forgot@c.example: disabled')),
    );
    expect(org.accountChanges).toEqual([
      {
        kind: 'enable',
        user: { key: 'back@c.example', email: 'back@c.example' },
        from: ['member'],
        to: ['provider'],
        result: { state: 'planned' },
      },
    ]);
    expect(org.skipped).toEqual([
      {
        user: { key: 'forgot@c.example', email: 'forgot@c.example' },
        reason: 'disabled',
        liveRoles: ['member'],
        desired: ['receptionist'],
      },
    ]);
    expect(text).toContain('  + back@c.example: enable, then member -> provider  (enabled: true)');
    expect(report.warnings.map((w) => w.message)).toContainEqual(
      expect.stringContaining('write {roles: [receptionist], enabled: true} to bring them back'),
    );
  });

  it('warns when an entry gains enabled: true, since a disabled account would be enabled', () => {
    const { report, org } = plan(
      file(users('a@c.example: {roles: [admin], enabled: true}')),
      file(users('a@c.example: [admin]')),
    );
    expect(org.accountChanges).toEqual([
      expect.objectContaining({ kind: 'enable', from: ['admin'], to: ['admin'], ifDisabled: true }),
    ]);
    expect(org.unchanged).toBe(0);
    expect(report.warnings[0]!.message).toContain('if the account is disabled in Parchment');
  });

  it('shows a locum getting two weeks, with the end of the day in the file zone and how far away it is', () => {
    const { report, org, text } = plan(
      file(users('locum@c.example: {roles: [provider], until: 2027-01-31}')),
      file('    users: {}\n'),
    );
    expect(org.expiryChanges).toEqual([
      {
        kind: 'added',
        user: { key: 'locum@c.example', email: 'locum@c.example' },
        roles: ['provider'],
        after: {
          at: '2027-01-31T13:00:00.000Z',
          shown: '2027-01-31 23:59 +11:00',
          written: '2027-01-31',
          then: { kind: 'disabled' },
        },
      },
    ]);
    expect(text).toContain(
      '  * locum@c.example: provider expires 2027-01-31 23:59 +11:00, in 3 days; then disabled (new until)',
    );
    expect(report.summary.expiryChanges).toBe(1);
  });

  it('shows an until that moves, changes its then, or goes away', () => {
    const { org, text } = plan(
      file(
        users(
          'moved@c.example: {roles: [provider], until: 2027-02-14}',
          'then@c.example: {roles: [receptionist, rx_reader], until: 2027-02-01, then: [receptionist]}',
          'kept@c.example: [provider]',
        ),
      ),
      file(
        users(
          'moved@c.example: {roles: [provider], until: 2027-01-31}',
          'then@c.example: {roles: [receptionist, rx_reader], until: 2027-02-01}',
          'kept@c.example: {roles: [provider], until: 2027-02-01}',
        ),
      ),
    );
    expect(org.expiryChanges?.map((c) => [c.kind, c.user.key])).toEqual([
      ['changed', 'moved@c.example'],
      ['changed', 'then@c.example'],
      ['removed', 'kept@c.example'],
    ]);
    expect(text).toContain(
      '  * moved@c.example: provider expires 2027-02-14 23:59 +11:00, in 17 days; then disabled ' +
        '(was 2027-01-31 23:59 +11:00; then disabled)',
    );
    expect(text).toContain('  * kept@c.example: no longer expires (was 2027-02-01 23:59 +11:00; then disabled)');
    expect(org.unchanged).toBe(3);
  });

  it('a grant whose until has passed plans as its then: a disable caused by the expiry', () => {
    const { org, text } = plan(
      file(users('old@c.example: {roles: [provider], until: 2027-01-20}')),
      file(users('old@c.example: [provider]')),
    );
    expect(org.accountChanges).toEqual([
      expect.objectContaining({ kind: 'disable', from: ['provider'], cause: 'expired' }),
    ]);
    expect(text).toContain(
      '  - old@c.example: disable (provider)  (grant expired 2027-01-20 23:59 +11:00, 7 days ago)',
    );
  });

  it('shows the unlisted policy changing, with the keep list, and warns what it will do', () => {
    const { report, org, text } = plan(
      file(`    unlisted: disable\n    keep: [billing@c.example]\n${users('a@c.example: [admin]')}`),
      file(users('a@c.example: [admin]')),
    );
    expect(org.unlisted).toEqual({
      policy: 'disable',
      keep: ['billing@c.example'],
      previous: { policy: 'keep', keep: [] },
    });
    expect(text).toContain('  ~ unlisted: keep -> disable (keep: billing@c.example)');
    expect(report.summary.unlistedChanges).toBe(1);
    expect(report.warnings.map((w) => w.message)).toContainEqual(
      expect.stringContaining('every user in Parchment who is not in the file will be disabled'),
    );
    expect(hasPendingChanges(report)).toBe(true);
  });

  it('an unchanged unlisted: disable is shown but is not a change', () => {
    const both = file(`    unlisted: disable\n${users('a@c.example: [admin]')}`);
    const { report, org } = plan(both, both);
    expect(org.unlisted).toEqual({ policy: 'disable', keep: [] });
    expect(hasPendingChanges(report)).toBe(false);
  });

  it('puts every new kind in all three renderings', () => {
    const { report } = plan(
      file(
        `    unlisted: disable\n${users(
          'left@c.example: disabled',
          'back@c.example: {roles: [provider], enabled: true}',
          'locum@c.example: {roles: [provider], until: 2027-01-31}',
        )}`,
      ),
      file(users('left@c.example: [admin]', 'back@c.example: disabled')),
    );
    const json = JSON.parse(renderJson(report)) as { organizations: Record<string, unknown>[] };
    expect(Object.keys(json.organizations[0]!)).toEqual(
      expect.arrayContaining(['accountChanges', 'expiryChanges', 'unlisted']),
    );
    const md = renderMarkdown(report);
    expect(md).toContain('**Unlisted users** (changed): unlisted: keep -&gt; disable');
    expect(md).toContain('| left@c.example | disable (admin) | the file says disabled |');
    expect(md).toContain('| back@c.example | enable, then member -&gt; provider | enabled: true |');
    expect(md).toContain('- locum@c.example: provider expires 2027-01-31 23:59 +11:00, in 3 days; then disabled');
    expect(md).toContain('| Disables | 1 |');
    expect(md).toContain('| Enables | 1 |');
  });
});
