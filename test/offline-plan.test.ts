import { describe, expect, it } from 'vitest';
import type { AssignableRole } from '../src/core/domain.js';
import { buildOfflineReport } from '../src/core/offline-report.js';
import { hasPendingChanges } from '../src/core/report.js';
import { desiredState } from './helpers/desired-arbitraries.js';

const COLLINS = '7fa84d2b-26d7-4c71-9b5b-e591eff97e7d';
const FITZROY = '3b1f9c2e-8d4a-4e6b-9f1a-2c5d7e8f9a0b';
const RICHMOND = '0d6e1c1a-5a4b-4c3d-8e2f-1a2b3c4d5e6f';
const ADMIN_ID = 'a7748dfd-ceb2-4b17-8380-425c304f5ae7';

const source = { file: 'roles.yaml', sha256: 'aa', base: { file: 'base.yaml', sha256: 'bb' } };
const now = new Date('2025-06-01T12:00:00.000Z');

const collinsBase: Record<string, readonly AssignableRole[]> = {
  [ADMIN_ID]: ['admin', 'provider'],
  'dr.cameron@collins.example': ['admin', 'provider'],
  'front.desk@collins.example': ['receptionist', 'rx_reader'],
  'nurse.patel@collins.example': ['receptionist'],
};

describe('buildOfflineReport', () => {
  it('reports a role change with from, to, added and removed, and counts the rest unchanged', () => {
    const base = desiredState({ [COLLINS]: { name: 'Collins Street Clinic', users: collinsBase } });
    const head = desiredState({
      [COLLINS]: {
        name: 'Collins Street Clinic',
        users: {
          ...collinsBase,
          'dr.cameron@collins.example': ['provider'],
          'nurse.patel@collins.example': ['receptionist', 'rx_reader'],
        },
      },
    });
    const report = buildOfflineReport(head, base, { source, now });

    expect(report).toMatchObject({
      reportVersion: 1,
      kind: 'offline-plan',
      dryRun: false,
      generatedAt: '2025-06-01T12:00:00.000Z',
      source,
    });
    const [org] = report.organizations;
    expect(org).toMatchObject({ id: COLLINS, name: 'Collins Street Clinic', orgChange: 'kept', unchanged: 2 });
    expect(org?.changes).toEqual([
      {
        user: { key: 'dr.cameron@collins.example', email: 'dr.cameron@collins.example' },
        from: ['admin', 'provider'],
        to: ['provider'],
        added: [],
        removed: ['admin'],
        result: { state: 'planned' },
      },
      {
        user: { key: 'nurse.patel@collins.example', email: 'nurse.patel@collins.example' },
        from: ['receptionist'],
        to: ['receptionist', 'rx_reader'],
        added: ['rx_reader'],
        removed: [],
        result: { state: 'planned' },
      },
    ]);
    expect(report.summary).toMatchObject({
      organizations: 1,
      changes: 2,
      grants: 1,
      revocations: 1,
      unchanged: 2,
      startsManaged: 0,
      noLongerManaged: 0,
      pending: 2,
    });
    expect(report.warnings).toEqual([]);
    expect(hasPendingChanges(report)).toBe(true);
  });

  it('joins email keys case-insensitively and labels the change with the head key', () => {
    const base = desiredState({ [COLLINS]: { users: { 'Dr.Cameron@Collins.example': ['admin'] } } });
    const head = desiredState({ [COLLINS]: { users: { 'dr.cameron@collins.EXAMPLE': ['provider'] } } });
    const [org] = buildOfflineReport(head, base, { source, now }).organizations;
    expect(org?.startsManaged).toEqual([]);
    expect(org?.noLongerManaged).toEqual([]);
    expect(org?.changes.map((c) => c.user)).toEqual([
      { key: 'dr.cameron@collins.EXAMPLE', email: 'dr.cameron@collins.example' },
    ]);
  });

  it('joins UUID keys case-insensitively', () => {
    const base = desiredState({ [COLLINS]: { users: { [ADMIN_ID.toUpperCase()]: ['admin'] } } });
    const head = desiredState({ [COLLINS]: { users: { [ADMIN_ID]: ['admin'] } } });
    const report = buildOfflineReport(head, base, { source, now });
    expect(report.summary).toMatchObject({ changes: 0, unchanged: 1, startsManaged: 0, noLongerManaged: 0 });
    expect(hasPendingChanges(report)).toBe(false);
  });

  it('treats a user re-keyed from id to email as two users, and says why', () => {
    const base = desiredState({ [COLLINS]: { users: { [ADMIN_ID]: ['admin'] } } });
    const head = desiredState({ [COLLINS]: { users: { 'dr.cameron@collins.example': ['admin'] } } });
    const report = buildOfflineReport(head, base, { source, now });
    const [org] = report.organizations;
    expect(org?.startsManaged).toEqual([
      { user: { key: 'dr.cameron@collins.example', email: 'dr.cameron@collins.example' }, roles: ['admin'] },
    ]);
    expect(org?.noLongerManaged).toEqual([{ user: { key: ADMIN_ID, id: ADMIN_ID }, roles: ['admin'] }]);
    expect(report.warnings.map((w) => w.message)).toEqual([
      expect.stringContaining('access is NOT revoked'),
      expect.stringContaining('a user re-keyed between id and email cannot be matched without the network'),
    ]);
  });

  it('does not suspect a re-keying when entering and leaving users are keyed the same way', () => {
    const base = desiredState({ [COLLINS]: { users: { 'old.name@collins.example': ['admin'] } } });
    const head = desiredState({ [COLLINS]: { users: { 'new.name@collins.example': ['admin'] } } });
    const report = buildOfflineReport(head, base, { source, now });
    expect(report.warnings.map((w) => w.user)).toEqual(['old.name@collins.example']);
  });

  it('a user removed from the file is no longer managed, with a warning naming them that access is NOT revoked', () => {
    const base = desiredState({ [COLLINS]: { name: 'Collins Street Clinic', users: collinsBase } });
    const { 'front.desk@collins.example': _gone, ...rest } = collinsBase;
    const head = desiredState({ [COLLINS]: { name: 'Collins Street Clinic', users: rest } });
    const report = buildOfflineReport(head, base, { source, now });
    expect(report.organizations[0]?.noLongerManaged).toEqual([
      {
        user: { key: 'front.desk@collins.example', email: 'front.desk@collins.example' },
        roles: ['receptionist', 'rx_reader'],
      },
    ]);
    expect(report.warnings).toEqual([
      {
        organization: COLLINS,
        user: 'front.desk@collins.example',
        message:
          `front.desk@collins.example is removed from Collins Street Clinic (${COLLINS}): ` +
          'role-sync stops managing this user, ' +
          'but their access is NOT revoked; they keep their current roles in Parchment.',
      },
    ]);
    expect(hasPendingChanges(report)).toBe(true);
  });

  it('several users removed give one warning with the count', () => {
    const base = desiredState({ [COLLINS]: { users: collinsBase } });
    const head = desiredState({ [COLLINS]: { users: { [ADMIN_ID]: ['admin', 'provider'] } } });
    const report = buildOfflineReport(head, base, { source, now });
    expect(report.organizations[0]?.noLongerManaged.map((u) => u.user.key)).toEqual([
      'dr.cameron@collins.example',
      'front.desk@collins.example',
      'nurse.patel@collins.example',
    ]);
    expect(report.warnings).toHaveLength(1);
    expect(report.warnings[0]?.message).toMatch(/^3 users are removed from 7fa84d2b.*access is NOT revoked/);
  });

  it('an added organization starts managing its users; a removed one stops, without revoking; head order first', () => {
    const base = desiredState({
      [RICHMOND]: { name: 'Richmond', users: { 'a@richmond.example': ['admin'], 'b@richmond.example': ['provider'] } },
      [COLLINS]: { users: collinsBase },
    });
    const head = desiredState({
      [FITZROY]: { name: 'Fitzroy Telehealth', users: { 'dr.okafor@fitzroy.example': ['admin', 'provider'] } },
      [COLLINS]: { users: collinsBase },
    });
    const report = buildOfflineReport(head, base, { source, now });
    expect(report.organizations.map((o) => [o.id, o.orgChange])).toEqual([
      [FITZROY, 'added'],
      [COLLINS, 'kept'],
      [RICHMOND, 'removed'],
    ]);
    const [fitzroy, , richmond] = report.organizations;
    expect(fitzroy?.startsManaged).toEqual([
      { user: { key: 'dr.okafor@fitzroy.example', email: 'dr.okafor@fitzroy.example' }, roles: ['admin', 'provider'] },
    ]);
    expect(richmond).toMatchObject({ name: 'Richmond', unchanged: 0, changes: [], startsManaged: [] });
    expect(richmond?.noLongerManaged.map((u) => [u.user.key, u.roles])).toEqual([
      ['a@richmond.example', ['admin']],
      ['b@richmond.example', ['provider']],
    ]);
    expect(report.summary).toMatchObject({
      organizations: 3,
      organizationsAdded: 1,
      organizationsRemoved: 1,
      startsManaged: 1,
      noLongerManaged: 2,
      unchanged: 4,
    });
    expect(report.warnings).toEqual([
      {
        organization: RICHMOND,
        message: expect.stringMatching(
          new RegExp(
            String.raw`^organization Richmond \(0d6e1c1a-.*\) is removed from the file: ` +
              'role-sync stops managing its 2 users, but their access is NOT revoked',
          ),
        ),
      },
    ]);
  });

  it('an organization name change alone is not a pending change', () => {
    const base = desiredState({ [COLLINS]: { name: 'Old name', users: collinsBase } });
    const head = desiredState({ [COLLINS]: { name: 'New name', users: collinsBase } });
    const report = buildOfflineReport(head, base, { source, now });
    expect(report.organizations[0]?.name).toBe('New name');
    expect(hasPendingChanges(report)).toBe(false);
  });

  it('plans 50,000 users per side in linear time', () => {
    const users = (n: number, shift: number, adminEvery: number) => {
      const out: Record<string, readonly AssignableRole[]> = {};
      for (let k = shift; k < n + shift; k++)
        out[`user${k}@big.example`] = k % adminEvery === 0 ? ['admin'] : ['provider'];
      return out;
    };
    const time = (n: number) => {
      const base = desiredState({ [COLLINS]: { users: users(n, 0, 10) } });
      const head = desiredState({ [COLLINS]: { users: { 'user0@big.example': ['provider'], ...users(n, 100, 5) } } });
      const started = performance.now();
      const report = buildOfflineReport(head, base, { source, now });
      return { ms: performance.now() - started, report };
    };
    time(1_000);
    const { ms, report } = time(50_000);
    expect(report.summary).toMatchObject({
      startsManaged: 100,
      noLongerManaged: 99,
      unchanged: 44_910,
      changes: 4_991,
    });
    console.info(`buildOfflineReport, 50,000 users per side: ${ms.toFixed(1)} ms`);
    // A quadratic join takes minutes at this size; linear takes tens of milliseconds.
    expect(ms).toBeLessThan(5_000);
  });
});
