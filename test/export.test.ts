/**
 * The export renderer: what a live organization becomes as a desired-state document. The safety
 * rules are properties: whatever Parchment returns, the document validates, planning it against the
 * same users changes nothing, and it does not depend on the order users were listed in.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { asLiveRole, parseOrgId, type Email, type OrgId, type UserId } from '../src/core/domain.js';
import { renderExport, type ExportOrg } from '../src/core/export.js';
import { parseDesiredState } from '../src/core/file-model.js';
import { planOrg } from '../src/core/live-plan.js';
import type { ObservedUser } from '../src/core/observed-state.js';

const ORG = parseOrgId('7fa84d2b-26d7-4c71-9b5b-e591eff97e7d') as OrgId;
const OTHER = parseOrgId('3b1f9c2e-8d4a-4e6b-9f1a-2c5d7e8f9a0b') as OrgId;

function user(id: string, roles: readonly string[] | undefined, email?: string, fullName?: string): ObservedUser {
  return {
    id: id as UserId,
    ...(email !== undefined ? { email: email as Email } : {}),
    ...(fullName !== undefined ? { fullName } : {}),
    ...(roles !== undefined ? { roles: roles.map(asLiveRole) } : {}),
  };
}

describe('renderExport', () => {
  it('writes each user under its email with roles, names as comments, users it must not manage as comments', () => {
    const { text, counts } = renderExport(
      [
        {
          id: ORG,
          users: [
            user('u2', ['provider', 'admin'], 'dr.b@clinic.example', 'Dr B'),
            user('u1', ['receptionist', 'rx_reader'], 'desk@clinic.example'),
            user('u3', ['owner', 'admin'], 'boss@clinic.example', 'The Owner'),
            user('u4', ['super_admin'], 'odd@clinic.example'),
            user('u5', ['provider'], undefined, 'No Email'),
            user('u6', ['support']),
            user('u7', []),
          ],
        },
      ],
      { key: 'email' },
    );
    expect(text.split('\n').slice(3)).toEqual([
      'version: 1',
      'organizations:',
      `  ${ORG}:`,
      '    users:',
      '      desk@clinic.example: [receptionist, rx_reader]  # id u1',
      '      dr.b@clinic.example: [admin, provider]  # Dr B, id u2',
      '      u5: [provider]  # No Email, keyed by id: Parchment gave no email',
      '      # Not managed by role-sync:',
      '      # boss@clinic.example: owner, admin (The Owner, id u3) — holds owner: role-sync never writes such a user' +
        ' (a replacing PUT could strip a role the API cannot give back)',
      '      # odd@clinic.example: super_admin (id u4) — ' +
        'holds super_admin, which role-sync cannot assign: never written',
      '      # u6: support (keyed by id: Parchment gave no email) — holds support: role-sync never writes such a user' +
        ' (a replacing PUT could strip a role the API cannot give back)',
      '      # u7: no roles (keyed by id: Parchment gave no email) — holds no role at all',
      '',
    ]);
    expect(counts).toEqual({ managed: 3, disabled: 0, comments: 4 });
  });

  it('keys by id under --key id, with the email as a comment', () => {
    const { text } = renderExport([{ id: ORG, users: [user('u1', ['admin'], 'a@clinic.example', 'A')] }], {
      key: 'id',
    });
    expect(text).toContain('      u1: [admin]  # A, a@clinic.example\n');
  });

  it('keys two accounts sharing an email by id, since the email names neither', () => {
    const { text } = renderExport(
      [
        {
          id: ORG,
          users: [user('u1', ['admin'], 'same@clinic.example'), user('u2', ['provider'], 'same@clinic.example')],
        },
      ],
      { key: 'email' },
    );
    expect(text).toContain(
      '      u1: [admin]  # same@clinic.example, keyed by id: another account has the same email\n',
    );
    expect(text).toContain(
      '      u2: [provider]  # same@clinic.example, keyed by id: another account has the same email\n',
    );
  });

  it('never lets text from Parchment start a line of its own, and quotes keys YAML would read otherwise', () => {
    const { text } = renderExport(
      [
        {
          id: ORG,
          users: [
            user('u1', ['admin'], 'a@clinic.example', 'Evil\nversion: 2\r\n  x: [admin]'),
            user('u2', ['admin'], 'hash#tag@clinic.example'),
            user('123', ['provider']),
            user('true', ['provider']),
          ],
        },
      ],
      { key: 'email' },
    );
    expect(text).toContain('      a@clinic.example: [admin]  # Evil version: 2 x: [admin], id u1\n');
    expect(text).toContain('      "hash#tag@clinic.example": [admin]  # id u2\n');
    expect(text).toContain('      "123": [provider]');
    expect(text).toContain('      "true": [provider]');
    expect(parseDesiredState(text).state?.organizations[0]?.users.map((u) => u.key)).toEqual([
      '123',
      'a@clinic.example',
      'hash#tag@clinic.example',
      'true',
    ]);
  });

  it('turns a user whose key the file format refuses into a comment saying why', () => {
    const { text, counts } = renderExport([{ id: ORG, users: [user('bad id with spaces', ['admin'])] }], { key: 'id' });
    expect(text).toContain('    users: {}\n');
    expect(text).toMatch(/# bad id with spaces: admin .*— cannot be written in the file as it is in Parchment: /);
    expect(counts).toEqual({ managed: 0, disabled: 0, comments: 1 });
  });

  it('sorts organizations by id and users by key', () => {
    const orgs: ExportOrg[] = [
      { id: ORG, users: [user('b', ['admin']), user('a', ['admin'])] },
      { id: OTHER, users: [user('c', ['admin'])] },
    ];
    const { text } = renderExport(orgs, { key: 'id' });
    expect(text.indexOf(OTHER)).toBeLessThan(text.indexOf(ORG));
    expect(text.indexOf('      a: [admin]')).toBeLessThan(text.indexOf('      b: [admin]'));
  });
});

// ---------------------------------------------------------------------------------------------
// Properties

const roleArb = fc.constantFrom(
  'admin',
  'provider',
  'receptionist',
  'rx_reader',
  'rx_queue_manager',
  'owner',
  'support',
  'super_admin',
  'PROVIDER',
  'member',
);
/** Live role lists as Parchment may report them: duplicates, unknown roles, `member` alone or beside others, none. */
const liveRolesArb = fc.oneof(
  fc.array(roleArb, { maxLength: 4 }),
  fc.constant(['member']),
  fc.constant(['member', 'member']),
);
const idArb = fc.oneof(
  fc.uuid(),
  fc.stringMatching(/^[A-Za-z0-9_-]{1,12}$/),
  fc.string({ minLength: 1, maxLength: 12 }).filter((s) => !s.includes('@')),
);
const emailArb = fc.oneof(
  fc.stringMatching(/^[a-z][a-z0-9.]{0,8}@[a-z]{1,6}\.example$/),
  fc
    .tuple(fc.string({ minLength: 1, maxLength: 6 }), fc.string({ minLength: 1, maxLength: 6 }))
    .map(([a, b]) => `${a}@${b}`),
);
const nameArb = fc.option(fc.string({ maxLength: 20 }), { nil: undefined });
const usersArb = fc
  .uniqueArray(
    fc.record({ id: idArb, roles: liveRolesArb, email: fc.option(emailArb, { nil: undefined }), fullName: nameArb }),
    { selector: (u) => u.id, maxLength: 25 },
  )
  .map((users) =>
    users
      // The client lower-cases emails and drops those with whitespace, as the file model's keys do.
      .map((u) => user(u.id, u.roles, u.email?.toLowerCase().replace(/\s/g, '') || undefined, u.fullName))
      .filter((u) => u.email === undefined || /^[^\s@]+@[^\s@]+$/.test(u.email)),
  );

describe('renderExport, whatever Parchment returns', () => {
  it('gives a document that validates and against which a plan changes nothing', () => {
    fc.assert(
      fc.property(usersArb, fc.constantFrom('email' as const, 'id' as const), (users, key) => {
        const { text } = renderExport([{ id: ORG, users }], { key });
        const parsed = parseDesiredState(text);
        expect(parsed.problems.filter((p) => p.severity === 'error')).toEqual([]);
        const org = parsed.state!.organizations[0]!;
        const plan = planOrg(org, { id: ORG, users }, undefined, { now: 0 });
        const acted = plan.entries.filter((e) => e.kind !== 'unchanged' && e.kind !== 'disabled');
        expect(acted).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it('is the same bytes whatever order the users were listed in', () => {
    fc.assert(
      fc.property(
        usersArb.chain((users) =>
          fc.tuple(fc.constant(users), fc.shuffledSubarray(users, { minLength: users.length })),
        ),
        ([users, shuffled]) => {
          expect(renderExport([{ id: ORG, users: shuffled }], { key: 'email' }).text).toBe(
            renderExport([{ id: ORG, users }], { key: 'email' }).text,
          );
        },
      ),
    );
  });
});
