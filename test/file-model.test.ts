import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseDesiredState } from '../src/core/file-model.js';
import { closestMatch } from '../src/core/file-schema.js';
import { formatProblem, type Problem } from '../src/core/problems.js';

const EXAMPLE = readFileSync(fileURLToPath(new URL('../roles.example.yaml', import.meta.url)), 'utf8');
const ORG = '7fa84d2b-26d7-4c71-9b5b-e591eff97e7d';
const ORG2 = '3b1f9c2e-8d4a-4e6b-9f1a-2c5d7e8f9a0b';

/** A one-organization file whose users start on line 5, column 7. */
function withUsers(...lines: string[]): string {
  return `version: 1\norganizations:\n  ${ORG}:\n    users:\n${lines.map((l) => `      ${l}\n`).join('')}`;
}

function lines(text: string): string[] {
  return parseDesiredState(text).problems.map((p) => formatProblem('f.yaml', p));
}

function only(text: string): Problem {
  const { problems, state } = parseDesiredState(text);
  expect(problems).toHaveLength(1);
  if (problems[0]!.severity === 'error') expect(state).toBeUndefined();
  return problems[0]!;
}

describe('valid files', () => {
  it('parses the example into the desired state, with positions', () => {
    const { state, problems } = parseDesiredState(EXAMPLE);
    expect(problems).toEqual([]);
    expect(state?.organizations.map((o) => [o.id, o.name, o.users.length])).toEqual([
      [ORG, 'Collins Street Clinic', 10],
      [ORG2, 'Fitzroy Telehealth', 4],
    ]);
    const collins = state!.organizations[0]!;
    expect(collins.pos).toEqual({ line: 15, col: 3 });
    const first = collins.users[0]!;
    expect(first).toEqual({
      ref: { kind: 'id', id: 'a7748dfd-ceb2-4b17-8380-425c304f5ae7' },
      key: 'a7748dfd-ceb2-4b17-8380-425c304f5ae7',
      entry: { kind: 'roles', roles: ['admin', 'provider'], enable: false },
      pos: { line: 19, col: 7 },
    });
    // Aliased role lists resolve to the anchor's roles.
    const weekend = collins.users.find((u) => u.key === 'weekend.desk@collins.example');
    expect(weekend?.entry).toEqual({ kind: 'roles', roles: ['receptionist', 'rx_reader'], enable: false });
    expect(collins.users.find((u) => u.key === 'left.in.march@collins.example')?.entry).toEqual({ kind: 'disabled' });
    expect(collins.users.find((u) => u.key === 'locum.smith@collins.example')?.entry).toMatchObject({
      roles: ['provider'],
      expiry: { shown: '2030-06-30 23:59 +10:00', then: { kind: 'disabled' } },
    });
  });

  it('lower-cases emails and UUIDs in refs but keeps the key as written', () => {
    const { state } = parseDesiredState(
      withUsers('Dr.Who@Example.COM: [provider]', 'A7748DFD-CEB2-4B17-8380-425C304F5AE7: [admin]'),
    );
    const [email, id] = state!.organizations[0]!.users;
    expect(email).toMatchObject({ key: 'Dr.Who@Example.COM', ref: { kind: 'email', email: 'dr.who@example.com' } });
    expect(id).toMatchObject({ ref: { kind: 'id', id: 'a7748dfd-ceb2-4b17-8380-425c304f5ae7' } });
  });

  it('keeps numeric-looking keys as written (007 is an opaque id, not the number 7)', () => {
    const { state } = parseDesiredState(withUsers('007: [admin]'));
    expect(state!.organizations[0]!.users[0]!.key).toBe('007');
  });

  it('canonicalises role order and accepts an empty users map', () => {
    const text =
      `version: 1\norganizations:\n  ${ORG}:\n    users: {a@b.example: [provider, admin]}\n` +
      `  ${ORG2}:\n    users: {}\n`;
    const { state, problems } = parseDesiredState(text);
    expect(problems).toEqual([]);
    expect(state!.organizations[0]!.users[0]!.entry).toMatchObject({ roles: ['admin', 'provider'] });
    expect(state!.organizations[1]!.users).toEqual([]);
  });

  it('accepts a users map shared between organizations through an alias', () => {
    const text =
      `version: 1\norganizations:\n  ${ORG}:\n    users: &all\n      a@b.example: [admin]\n` +
      `  ${ORG2}:\n    users: *all\n`;
    const { state, problems } = parseDesiredState(text);
    expect(problems).toEqual([]);
    expect(state!.organizations.map((o) => o.users.map((u) => u.key))).toEqual([['a@b.example'], ['a@b.example']]);
  });

  it('accepts a byte-order mark and YAML 1.2 core scalars (yes stays a string)', () => {
    expect(parseDesiredState(`\uFEFF${withUsers('a@b.example: [admin]')}`).problems).toEqual([]);
    expect(lines(withUsers('a@b.example: [yes]'))[0]).toContain('unknown role "yes"');
  });
});

describe('role rules', () => {
  it('refuses owner, support and member because the API cannot assign them', () => {
    for (const role of ['owner', 'support', 'member']) {
      const p = only(withUsers(`a@b.example: [${role}]`));
      expect(p).toMatchObject({ severity: 'error', pos: { line: 5, col: 21 } });
      expect(p.message).toContain(`role "${role}" cannot be assigned`);
    }
  });

  it('refuses an unknown role, listing the valid ones and suggesting a close one', () => {
    const [admin, provider, nothing] = parseDesiredState(withUsers('a@b.example: [Admin, provder, banana]')).problems;
    expect(admin!.message).toBe(
      'unknown role "Admin"; did you mean "admin"? ' +
        '(valid roles: admin, provider, receptionist, rx_reader, rx_queue_manager)',
    );
    expect(provider!.message).toContain('did you mean "provider"?');
    expect(provider!.pos).toEqual({ line: 5, col: 28 });
    expect(nothing!.message).not.toContain('did you mean');
    expect(nothing!.message).toContain('valid roles: admin, provider');
  });

  it('refuses an empty role list', () => {
    const p = only(withUsers('a@b.example: []'));
    expect(p.pos).toEqual({ line: 5, col: 20 });
    expect(p.message).toContain('the role list is empty');
  });

  it('refuses rx_reader without receptionist, at the rx_reader item', () => {
    const p = only(withUsers('a@b.example: [admin, rx_reader]'));
    expect(p).toMatchObject({ severity: 'error', pos: { line: 5, col: 28 } });
    expect(p.message).toContain('rx_reader needs receptionist');
  });

  it('warns about rx_queue_manager but keeps the role', () => {
    const { state, problems } = parseDesiredState(withUsers('a@b.example: [rx_queue_manager]'));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ severity: 'warning', pos: { line: 5, col: 21 } });
    expect(problems[0]!.message).toContain('coming soon');
    expect(state!.organizations[0]!.users[0]!.entry).toMatchObject({ roles: ['rx_queue_manager'] });
  });

  it('warns about a role listed twice and drops the duplicate', () => {
    const { state, problems } = parseDesiredState(withUsers('a@b.example: [admin, provider, admin]'));
    expect(problems).toEqual([
      {
        severity: 'warning',
        pos: { line: 5, col: 38 },
        message: 'role "admin" is listed twice; the duplicate is ignored',
      },
    ]);
    expect(state!.organizations[0]!.users[0]!.entry).toMatchObject({ roles: ['admin', 'provider'] });
  });

  it('refuses a scalar or an empty value where a list belongs, and non-string roles', () => {
    expect(lines(withUsers('a@b.example: admin'))).toEqual([
      'f.yaml:5:20: error: roles must be a list, e.g. [admin], not "admin"',
    ]);
    expect(lines(withUsers('a@b.example:'))[0]).toContain('roles must be a list');
    expect(lines(withUsers('a@b.example: [3, {x: 1}]'))).toEqual([
      expect.stringContaining('f.yaml:5:21: error: a role must be a role name, not the number 3'),
      expect.stringContaining('f.yaml:5:24: error: a role must be a role name, not a map'),
    ]);
  });

  it('reports an invalid aliased list where each alias is, and warns once per list', () => {
    const text = withUsers(
      'a@b.example: &bad [rx_reader]',
      'b@b.example: *bad',
      'c@b.example: &q [rx_queue_manager]',
      'd@b.example: *q',
    );
    expect(lines(text)).toEqual([
      'f.yaml:5:26: error: rx_reader needs receptionist in the same role list (Parchment grants them as a pair)',
      'f.yaml:6:20: error: rx_reader needs receptionist in the same role list (Parchment grants them as a pair)',
      'f.yaml:7:24: warning: rx_queue_manager is marked "coming soon" by Parchment; granting it may have no effect yet',
    ]);
  });
});

describe('keys and structure', () => {
  it('refuses an organization key that is not a UUID', () => {
    const p = only('version: 1\norganizations:\n  clinic-one:\n    users: {}\n');
    expect(p.pos).toEqual({ line: 3, col: 3 });
    expect(p.message).toContain('organization key "clinic-one" is not a UUID');
  });

  it('refuses a user key that is neither an id nor an email', () => {
    const p = only(withUsers('"dr who": [admin]'));
    expect(p.pos).toEqual({ line: 5, col: 7 });
    expect(p.message).toBe(
      'user key "dr who" is neither a Parchment user id (a UUID or [A-Za-z0-9_-]{1,128}) nor an email address',
    );
  });

  it('refuses unknown keys at every level, at the key, with a suggestion', () => {
    const text = `version: 1\nextra: true\norganizations:\n  ${ORG}:\n    nmae: Clinic\n    users: {}\n`;
    expect(lines(text)).toEqual([
      'f.yaml:2:1: error: unknown key "extra" in the file (allowed: version, timezone, organizations)',
      `f.yaml:5:5: error: unknown key "nmae" in organization "${ORG}"; ` +
        `did you mean "name"? (allowed: name, unlisted, keep, users)`,
    ]);
  });

  it('reports a missing version at line 1 column 1 and a missing users map at the organization', () => {
    expect(lines(`# comment\norganizations:\n  ${ORG}: {}\n`)).toEqual([
      'f.yaml:1:1: error: the file is missing the required key "version"',
      `f.yaml:3:3: error: organization "${ORG}" is missing the required key "users"`,
    ]);
  });

  it('refuses a version other than 1', () => {
    expect(lines(`version: 2\norganizations:\n  ${ORG}: {users: {}}\n`)).toEqual([
      'f.yaml:1:10: error: "version" must be 1, not the number 2',
    ]);
    expect(lines(`version: "1"\norganizations:\n  ${ORG}: {users: {}}\n`)).toEqual([
      'f.yaml:1:10: error: "version" must be 1, not "1"',
    ]);
  });

  it('refuses an empty file, a comment-only file, a top-level list and a scalar', () => {
    expect(lines('')).toEqual(['f.yaml:1:1: error: the file is empty; it needs "version: 1" and "organizations"']);
    expect(lines('# nothing\n')).toEqual([
      'f.yaml:1:1: error: the file is empty; it needs "version: 1" and "organizations"',
    ]);
    expect(lines('\n- version: 1\n')).toEqual([
      'f.yaml:2:1: error: the top level must be a map with "version" and "organizations", not a list',
    ]);
    expect(lines('hello\n')[0]).toContain('not "hello"');
  });

  it('refuses an empty organizations map and wrong shapes for organizations, an organization and users', () => {
    expect(lines('version: 1\norganizations: {}\n')).toEqual([
      'f.yaml:2:16: error: "organizations" lists no organization; give at least one',
    ]);
    expect(lines('version: 1\norganizations: [a]\n')[0]).toContain('"organizations" must be a map');
    expect(lines(`version: 1\norganizations:\n  ${ORG}: x\n`)[0]).toContain(`organization "${ORG}" must be a map`);
    expect(lines(`version: 1\norganizations:\n  ${ORG}:\n    users: [a]\n`)[0]).toMatch(
      /^f\.yaml:4:12: error: "users" of organization .* must be a map/,
    );
    expect(lines(`version: 1\norganizations:\n  ${ORG}:\n    name: 5\n    users: {}\n`)).toEqual([
      'f.yaml:4:11: error: "name" must be a string, not the number 5',
    ]);
  });

  it('refuses non-string keys', () => {
    expect(lines(withUsers('? [a, b]\n      : [admin]'))[0]).toMatch(
      /^f\.yaml:5:9: error: a user key must be a plain string, not a list/,
    );
  });
});

describe('duplicates', () => {
  it('reports the same email in another case at the second occurrence, naming the first line', () => {
    const p = only(withUsers('a@b.example: [admin]', 'x@b.example: [admin]', 'A@B.Example: [provider]'));
    expect(p).toEqual({
      severity: 'error',
      pos: { line: 7, col: 7 },
      message: 'user "A@B.Example" is listed twice (first at line 5)',
    });
  });

  it('reports the same id twice, UUIDs compared case-insensitively', () => {
    const id = 'a7748dfd-ceb2-4b17-8380-425c304f5ae7';
    expect(lines(withUsers(`${id}: [admin]`, `${id.toUpperCase()}: [admin]`))).toEqual([
      `f.yaml:6:7: error: user "${id.toUpperCase()}" is listed twice (first at line 5)`,
    ]);
  });

  it('reports a duplicate organization compared case-insensitively', () => {
    const text = `version: 1\norganizations:\n  ${ORG}: {users: {}}\n  ${ORG.toUpperCase()}: {users: {}}\n`;
    expect(lines(text)).toEqual([
      `f.yaml:4:3: error: organization "${ORG.toUpperCase()}" is listed twice (first at line 3)`,
    ]);
  });

  it('reports duplicate keys in other maps generically', () => {
    const text = `version: 1\nversion: 1\norganizations:\n  ${ORG}:\n    name: a\n    name: b\n    users: {}\n`;
    expect(lines(text)).toEqual([
      'f.yaml:2:1: error: key "version" is repeated (first at line 1)',
      'f.yaml:6:5: error: key "name" is repeated (first at line 5)',
    ]);
  });
});

describe('YAML-level problems', () => {
  it('reports a syntax error with its line and column', () => {
    const [p] = lines('version: 1\norganizations: [a\n');
    expect(p).toMatch(/^f\.yaml:3:1: error: YAML syntax: /);
  });

  it('reports tab indentation', () => {
    expect(lines(`version: 1\norganizations:\n\t${ORG}: {users: {}}\n`)).toEqual([
      'f.yaml:3:1: error: YAML syntax: Tabs are not allowed as indentation',
    ]);
  });

  it('refuses more than one document', () => {
    expect(lines('version: 1\n---\nversion: 1\n')[0]).toMatch(
      /^f\.yaml:2:1: error: the file holds more than one YAML document/,
    );
  });

  it('refuses tags outside the core schema', () => {
    const text = withUsers(
      'a@b.example: !!set {admin: null}',
      'b@b.example: !role [admin]',
      'c@b.example: [!!binary YWRtaW4=]',
    );
    const found = lines(text);
    expect(found.filter((l) => l.includes('is not allowed: only YAML core schema tags'))).toEqual([
      expect.stringMatching(/^f\.yaml:5:20: error: tag !!set is not allowed/),
      expect.stringMatching(/^f\.yaml:6:20: error: tag !role is not allowed/),
      expect.stringMatching(/^f\.yaml:7:21: error: tag !!binary is not allowed/),
    ]);
    expect(parseDesiredState(withUsers('a@b.example: !!seq [!!str admin]')).problems).toEqual([]);
  });

  it('refuses an alias to an anchor that does not exist', () => {
    expect(lines(withUsers('a@b.example: *nope'))).toEqual([
      'f.yaml:5:20: error: alias "*nope" refers to no anchor "&nope" before it',
    ]);
  });

  it('stops an alias bomb quickly with an error', () => {
    const levels = ['a: &a [admin, admin, admin, admin, admin, admin, admin, admin, admin, admin]'];
    for (let i = 1; i < 9; i++) {
      const prev = String.fromCharCode(96 + i);
      levels.push(
        `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10).fill(`*${prev}`).join(', ')}]`,
      );
    }
    const text = `${levels.join('\n')}\n${withUsers('a@b.example: *i', 'b@b.example: *i')}`;
    const started = performance.now();
    const { problems, state } = parseDesiredState(text);
    expect(performance.now() - started).toBeLessThan(2000);
    expect(state).toBeUndefined();
    expect(problems.filter((p) => p.message.includes('aliases expand to more than'))).toHaveLength(1);
  });

  it('reports every problem at once, sorted by position', () => {
    const text =
      `version: 3\norganizations:\n  ${ORG}:\n    users:\n` +
      '      a@b.example: [owner]\n      nobody here: [admin]\n      c@b.example: []\n';
    const found = parseDesiredState(text).problems;
    expect(found.map((p) => p.pos.line)).toEqual([1, 5, 6, 7]);
  });
});

describe('closestMatch', () => {
  it('suggests within edit distance 2, case-insensitively', () => {
    expect(closestMatch('RECEPTIONIST', ['admin', 'receptionist'])).toBe('receptionist');
    expect(closestMatch('rx-reader', ['rx_reader', 'receptionist'])).toBe('rx_reader');
    expect(closestMatch('doctor', ['admin', 'provider'])).toBeUndefined();
  });
});

describe('account state and expiring grants', () => {
  const zoned = (zone: string, ...users: string[]): string =>
    `version: 1\ntimezone: ${zone}\norganizations:\n  ${ORG}:\n    users:\n` +
    users.map((l) => `      ${l}\n`).join('');

  it('reads disabled, enabled: true, until and then into typed entries', () => {
    const { state, problems } = parseDesiredState(
      zoned(
        'Australia/Melbourne',
        'left@b.example: disabled',
        'back@b.example: {roles: [provider], enabled: true}',
        'locum@b.example:',
        '  roles: [provider]',
        '  until: 2027-01-31',
        'casual@b.example: {roles: [receptionist, rx_reader], until: 2027-01-31T17:00:00+11:00, then: [receptionist]}',
        'plain@b.example: {roles: [admin]}',
      ),
    );
    expect(problems).toEqual([]);
    expect(state!.timezone).toBe('Australia/Melbourne');
    const [left, back, locum, casual, plain] = state!.organizations[0]!.users.map((u) => u.entry);
    expect(left).toEqual({ kind: 'disabled' });
    expect(back).toEqual({ kind: 'roles', roles: ['provider'], enable: true });
    expect(locum).toEqual({
      kind: 'roles',
      roles: ['provider'],
      enable: false,
      expiry: {
        at: Date.parse('2027-01-31T13:00:00Z'),
        form: 'date',
        written: '2027-01-31',
        shown: '2027-01-31 23:59 +11:00',
        then: { kind: 'disabled' },
        pos: { line: 10, col: 16 },
      },
    });
    expect(casual).toMatchObject({
      expiry: {
        at: Date.parse('2027-01-31T06:00:00Z'),
        form: 'instant',
        shown: '2027-01-31 17:00 +11:00',
        then: { kind: 'roles', roles: ['receptionist'], enable: false },
      },
    });
    expect(plain).toEqual({ kind: 'roles', roles: ['admin'], enable: false });
    expect(state!.organizations[0]).toMatchObject({ unlisted: 'keep', keep: [] });
  });

  it('defaults the zone to UTC, and a role-list then inherits enabled: true', () => {
    const { state } = parseDesiredState(
      withUsers('a@b.example: {roles: [admin], enabled: true, until: 2027-01-31, then: [provider]}'),
    );
    expect(state!.timezone).toBe('UTC');
    expect(state!.organizations[0]!.users[0]!.entry).toMatchObject({
      expiry: { at: Date.parse('2027-02-01T00:00:00Z'), then: { kind: 'roles', roles: ['provider'], enable: true } },
    });
  });

  it('reads timezone wherever it is in the file', () => {
    const text =
      `version: 1\norganizations:\n  ${ORG}:\n    users:\n` +
      '      a@b.example: {roles: [admin], until: 2027-01-31}\ntimezone: Australia/Melbourne\n';
    expect(parseDesiredState(text).state!.organizations[0]!.users[0]!.entry).toMatchObject({
      expiry: { shown: '2027-01-31 23:59 +11:00' },
    });
  });

  it('reads unlisted and keep', () => {
    const text =
      `version: 1\norganizations:\n  ${ORG}:\n` +
      '    unlisted: disable\n    keep: [Billing@B.example, 007]\n    users: {}\n';
    const { state, problems } = parseDesiredState(text);
    expect(problems).toEqual([]);
    expect(state!.organizations[0]).toMatchObject({
      unlisted: 'disable',
      keep: [
        { key: 'Billing@B.example', ref: { kind: 'email', email: 'billing@b.example' }, pos: { line: 5, col: 12 } },
        { key: '007', ref: { kind: 'id', id: '007' }, pos: { line: 5, col: 31 } },
      ],
    });
  });

  it('refuses every malformed piece at its line and column', () => {
    expect(
      lines(
        zoned(
          'Mars/Olympus',
          'a@b.example: disable',
          'b@b.example: {roles: [admin], enabled: false}',
          'c@b.example: {roles: [admin], until: 2027-01-31T17:00}',
          'd@b.example: {roles: [admin], until: 2027-02-30}',
          'e@b.example: {roles: [admin], then: disabled}',
          'f@b.example: {roles: [admin], until: 2027-01-31, then: gone}',
          'g@b.example: {until: 2027-01-31}',
          'h@b.example: {roles: [admin], colour: red}',
          'i@b.example: {roles: [admin], until: 20270131}',
          'j@b.example: {roles: [admin], until: 2027-01-31, then: [rx_reader]}',
        ),
      ),
    ).toEqual([
      'f.yaml:2:11: error: "timezone" "Mars/Olympus" is not an IANA time ' +
        'zone name (e.g. Australia/Melbourne, Europe/London, UTC)',
      'f.yaml:6:20: error: "disable" is not a user\'s value; did you mean "disabled"?',
      'f.yaml:7:46: error: "enabled" can only be true (to disable a user, ' +
        'write the user\'s value as "disabled"), not the boolean false',
      'f.yaml:8:44: error: "until" must be a date (YYYY-MM-DD, the end ' +
        "of that day in the file's timezone) or an RFC 3339 time with an " +
        'offset (e.g. 2027-01-31T17:00:00+11:00), not "2027-01-31T17:00" (a time needs an offset, e.g. +11:00 or Z)',
      'f.yaml:9:44: error: "until" "2027-02-30" is not a calendar date',
      'f.yaml:10:43: error: "then" says what the entry means after "until", so it needs an "until"',
      'f.yaml:11:62: error: "then" must be "disabled" or a role list (e.g. [receptionist]), not "gone"',
      'f.yaml:12:7: error: the entry of user "g@b.example" is missing the required key "roles"',
      'f.yaml:13:37: error: unknown key "colour" in the entry of user "h@b.example" ' +
        '(allowed: roles, enabled, until, then)',
      'f.yaml:14:44: error: "until" must be a date or a time, not the number 20270131',
      'f.yaml:15:63: error: rx_reader needs receptionist in the same role list (Parchment grants them as a pair)',
    ]);
  });

  it('warns about keep entries that do nothing, at the entry', () => {
    const text =
      `version: 1\norganizations:\n  ${ORG}:\n    keep: [x@b.example]\n    users: {}\n  ${ORG2}:\n` +
      '    unlisted: disable\n    keep: [a@b.example, A@b.example]\n    users:\n      a@b.example: [admin]\n';
    expect(lines(text)).toEqual([
      `f.yaml:4:11: warning: "keep" of organization "${ORG}" has no effect: ` +
        `unlisted users are only disabled under "unlisted: disable"`,
      'f.yaml:8:12: warning: "keep" lists a@b.example, who is in "users" ' +
        '(line 10); "keep" only protects unlisted users',
      'f.yaml:8:25: warning: "keep" lists A@b.example twice (first at line 8)',
    ]);
  });

  it('refuses a bad unlisted policy and bad keep entries', () => {
    const text =
      `version: 1\norganizations:\n  ${ORG}:\n` +
      '    unlisted: delete\n    keep: [two words, {a: b}]\n    users: {}\n';
    expect(lines(text)).toEqual([
      'f.yaml:4:15: error: "unlisted" must be keep or disable, not "delete"',
      'f.yaml:5:12: error: user key "two words" is neither a Parchment ' +
        'user id (a UUID or [A-Za-z0-9_-]{1,128}) nor an email address',
      'f.yaml:5:23: error: a "keep" entry must be a user id or email, not a map',
    ]);
  });

  it('warns, at the until, about a grant that has already ended, given the time', () => {
    const text = zoned('Australia/Melbourne', 'a@b.example: {roles: [provider], until: 2027-01-31}');
    const now = Date.parse('2027-02-03T00:00:00Z');
    expect(lines(text)).toEqual([]);
    expect(parseDesiredState(text, { now }).problems.map((p) => formatProblem('f.yaml', p))).toEqual([
      'f.yaml:6:47: warning: the grant of a@b.example ended 2027-01-31 ' +
        '23:59 +11:00 (2 days ago): the entry now means disabled; update or remove "until"',
    ]);
    expect(parseDesiredState(text, { now: Date.parse('2027-01-31T12:59:59Z') }).problems).toEqual([]);
  });
});

describe('keys a reviewer would misread', () => {
  it('refuses an invisible character in a key, at the character, showing where it is', () => {
    // ZERO WIDTH SPACE after "front": column 7 + 5.
    expect(lines(withUsers('front\u200bdesk@collins.example: [receptionist]'))).toEqual([
      'f.yaml:5:12: error: user key "front<U+200B>desk@collins.example" contains U+200B ZERO WIDTH SPACE, ' +
        'an invisible character; remove it: a reviewer cannot see it',
    ]);
  });

  it('names NBSP, soft hyphen and bidi controls, and finds the character inside a quoted key', () => {
    const cases: [string, string][] = [
      ['\u00a0', 'U+00A0 NO-BREAK SPACE'],
      ['\u00ad', 'U+00AD SOFT HYPHEN'],
      ['\u202e', 'U+202E RIGHT-TO-LEFT OVERRIDE'],
      ['\u2066', 'U+2066 LEFT-TO-RIGHT ISOLATE'],
      ['\ufeff', 'U+FEFF ZERO WIDTH NO-BREAK SPACE'],
    ];
    for (const [char, name] of cases) {
      const p = only(withUsers(`"dr${char}who@x.example": [admin]`));
      expect(p).toMatchObject({ severity: 'error', pos: { line: 5, col: 10 } });
      expect(p.message).toContain(`contains ${name}, an invisible character`);
    }
  });

  it('counts further invisible characters in the same key and reports the key once', () => {
    const p = only(withUsers('a\u200bb\u200cc@x.example: [admin]'));
    expect(p.pos).toEqual({ line: 5, col: 8 });
    expect(p.message).toContain('(and 1 more invisible characters)');
  });

  it('warns about a non-ASCII letter, naming it and where it is, and keeps the user', () => {
    const text = withUsers('dr.c\u0430meron@collins.example: [provider]');
    const { state, problems } = parseDesiredState(text);
    expect(problems.map((p) => formatProblem('f.yaml', p))).toEqual([
      'f.yaml:5:11: warning: user key "dr.c\u0430meron@collins.example" contains U+0430 CYRILLIC SMALL LETTER A, ' +
        'not an ASCII letter; in review it may pass for another address',
    ]);
    expect(state?.organizations[0]?.users.map((u) => u.key)).toEqual(['dr.c\u0430meron@collins.example']);
  });

  it('names Greek and accented Latin letters, and falls back to the code point and script', () => {
    const named = (key: string): string => only(withUsers(`${key}: [admin]`)).message;
    expect(named('j\u03bfhn@x.example')).toContain('U+03BF GREEK SMALL LETTER OMICRON');
    expect(named('\u0391lex@x.example')).toContain('U+0391 GREEK CAPITAL LETTER ALPHA');
    expect(named('\u03a4om@x.example')).toContain('U+03A4 GREEK CAPITAL LETTER TAU');
    expect(named('jos\u00e9@x.example')).toContain('U+00E9 LATIN SMALL LETTER E WITH ACUTE');
    expect(named('\u0406van@x.example')).toContain('U+0406 CYRILLIC CAPITAL LETTER BYELORUSSIAN-UKRAINIAN I');
    expect(named('\u0563@x.example')).toContain('U+0563 (a Armenian character)');
  });
});
