import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
// ajv is CommonJS: under NodeNext the default import is the module object, whose `default` is the class.
import Ajv2020 from 'ajv/dist/2020.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ASSIGNABLE_ROLES, parseUserRef, userRefKey } from '../src/core/domain.js';
import {
  entryRoles,
  type DesiredEntry,
  type DesiredOrg,
  type DesiredState,
  type DesiredUser,
} from '../src/core/desired-state.js';
import { parseDesiredState } from '../src/core/file-model.js';
import { desiredFileJsonSchema, desiredFileSchema } from '../src/core/file-schema.js';
import { hasErrors } from '../src/core/problems.js';
import { desiredStateArb, lifecycleStateArb, userKeyArb as validKeyArb } from './helpers/desired-arbitraries.js';

const ORG_ID = '7fa84d2b-26d7-4c71-9b5b-e591eff97e7d';
const EXAMPLE = readFileSync(fileURLToPath(new URL('../roles.example.yaml', import.meta.url)), 'utf8');

interface Style {
  readonly quoteKeys: boolean;
  readonly blockLists: boolean;
  readonly upperOrgIds: boolean;
  /** Long forms as block maps rather than `{...}`; also quotes `until` values. */
  readonly blockMaps?: boolean;
  /** Writes `then: disabled` where it is the default, and a plain role list as `{roles: [...]}`. */
  readonly explicit?: boolean;
  /** Puts `timezone` after `organizations` (it must still govern every `until`). */
  readonly zoneLast?: boolean;
}

/** Writes a state as YAML in a given style; returns the state a correct parser must give back, positions included. */
function emit(state: DesiredState, style: Style): { text: string; expected: DesiredState } {
  const out: string[] = ['# generated', 'version: 1'];
  const zone = state.timezone !== 'UTC' || style.explicit === true;
  let zonePos: { line: number; col: number } | undefined;
  if (zone && style.zoneLast !== true) {
    out.push(`timezone: ${state.timezone}`);
    zonePos = { line: out.length, col: 11 };
  }
  out.push('organizations:');
  const key = (k: string): string => (style.quoteKeys ? JSON.stringify(k) : k);
  const list = (roles: readonly string[]): string => `[${roles.join(', ')}]`;
  const organizations: DesiredOrg[] = state.organizations.map((org) => {
    out.push(`  ${key(style.upperOrgIds ? org.id.toUpperCase() : org.id)}:`);
    const pos = { line: out.length, col: 3 };
    if (org.name !== undefined) out.push(`    name: ${JSON.stringify(org.name)}`);
    if (org.unlisted === 'disable' || style.explicit === true) out.push(`    unlisted: ${org.unlisted}`);
    const keep = org.keep.map((k, i) => {
      if (i === 0) out.push('    keep:');
      out.push(`      - ${JSON.stringify(k.key)}`);
      return { ...k, pos: { line: out.length, col: 9 } };
    });
    out.push(org.users.length === 0 ? '    users: {}' : '    users:');
    const users: DesiredUser[] = org.users.map((u) => {
      const at = { line: out.length + 1, col: 7 };
      const entry = u.entry;
      if (entry.kind === 'disabled') {
        out.push(`      ${key(u.key)}: disabled`);
        return { ...u, pos: at };
      }
      const long = entry.enable || entry.expiry !== undefined || style.explicit === true;
      if (!long) {
        if (style.blockLists) {
          out.push(`      ${key(u.key)}:`);
          for (const r of entry.roles) out.push(`        - ${r}`);
        } else out.push(`      ${key(u.key)}: ${list(entry.roles)}`);
        return { ...u, pos: at };
      }
      const fields: [string, string][] = [['roles', list(entry.roles)]];
      if (entry.enable) fields.push(['enabled', 'true']);
      const expiry = entry.expiry;
      if (expiry !== undefined) {
        fields.push(['until', style.blockMaps === true ? JSON.stringify(expiry.written) : expiry.written]);
        if (expiry.then.kind === 'roles') fields.push(['then', list(expiry.then.roles)]);
        else if (style.explicit === true) fields.push(['then', 'disabled']);
      }
      let untilPos = { line: 0, col: 0 };
      if (style.blockMaps === true) {
        out.push(`      ${key(u.key)}:`);
        for (const [k, v] of fields) {
          out.push(`        ${k}: ${v}`);
          if (k === 'until') untilPos = { line: out.length, col: 9 + k.length + 2 };
        }
      } else {
        let line = `      ${key(u.key)}: {`;
        fields.forEach(([k, v], i) => {
          line += `${i === 0 ? '' : ', '}${k}: `;
          if (k === 'until') untilPos = { line: out.length + 1, col: line.length + 1 };
          line += v;
        });
        out.push(`${line}}`);
      }
      const parsed: DesiredEntry = expiry === undefined ? entry : { ...entry, expiry: { ...expiry, pos: untilPos } };
      return { ...u, entry: parsed, pos: at };
    });
    return { ...org, users, keep, pos };
  });
  if (zone && style.zoneLast === true) {
    out.push(`timezone: ${state.timezone}`);
    zonePos = { line: out.length, col: 11 };
  }
  const expected: DesiredState = {
    version: 1,
    timezone: state.timezone,
    ...(zonePos !== undefined ? { timezonePos: zonePos } : {}),
    organizations,
  };
  return { text: `${out.join('\n')}\n`, expected };
}

/** The role lists of an entry (its `then` too): each list with rx_queue_manager draws one warning. */
function listsOf(entry: DesiredEntry): (readonly string[])[] {
  if (entry.kind === 'disabled') return [];
  const then = entry.expiry?.then;
  return then?.kind === 'roles' ? [entry.roles, then.roles] : [entry.roles];
}

const styleArb = fc.record({ quoteKeys: fc.boolean(), blockLists: fc.boolean(), upperOrgIds: fc.boolean() });
const lifecycleStyleArb = fc.record({
  quoteKeys: fc.boolean(),
  blockLists: fc.boolean(),
  upperOrgIds: fc.boolean(),
  blockMaps: fc.boolean(),
  explicit: fc.boolean(),
  zoneLast: fc.boolean(),
});

describe('file model properties', () => {
  it('any valid desired state written as YAML parses back to the same state and positions', () => {
    fc.assert(
      fc.property(desiredStateArb({ maxOrgs: 3, maxUsers: 8 }), styleArb, (state, style) => {
        const { text, expected } = emit(state, style);
        const result = parseDesiredState(text);
        // The only thing a valid state may draw is the "coming soon" warning, once per list that has the role.
        const comingSoon = expected.organizations
          .flatMap((o) => o.users)
          .filter((u) => entryRoles(u.entry)?.includes('rx_queue_manager'));
        expect(result.problems.map((p) => [p.severity, p.message.includes('rx_queue_manager')])).toEqual(
          comingSoon.map(() => ['warning', true]),
        );
        expect(result.state).toEqual(expected);
      }),
      { numRuns: 200 },
    );
  });

  it('every form of a user value (disabled, enabled, until, then), timezone, unlisted and keep parses back', () => {
    fc.assert(
      fc.property(lifecycleStateArb(), lifecycleStyleArb, (state, style) => {
        const { text, expected } = emit(state, style);
        const result = parseDesiredState(text);
        const comingSoon = expected.organizations
          .flatMap((o) => o.users)
          .flatMap((u) => listsOf(u.entry))
          .filter((roles) => roles.includes('rx_queue_manager'));
        expect(result.problems.map((p) => [p.severity, p.message.includes('rx_queue_manager')])).toEqual(
          comingSoon.map(() => ['warning', true]),
        );
        expect(result.state).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });

  it('warns exactly about the grants whose until has passed at the injected time, at the until', () => {
    fc.assert(
      fc.property(lifecycleStateArb(), lifecycleStyleArb, fc.date({ noInvalidDate: true }), (state, style, now) => {
        const { text, expected } = emit(state, style);
        const result = parseDesiredState(text, { now: now.getTime() });
        const expired = expected.organizations
          .flatMap((o) => o.users)
          .flatMap((u) => (u.entry.kind === 'roles' && u.entry.expiry !== undefined ? [u.entry.expiry] : []))
          .filter((e) => e.at <= now.getTime());
        const warned = result.problems.filter((p) => p.message.includes('update or remove "until"'));
        expect(warned.map((p) => p.pos)).toEqual(expired.map((e) => e.pos));
        expect(result.state).toEqual(expected);
      }),
      { numRuns: 150 },
    );
  });

  it('a user repeated with its email in another case is an error at the repeat naming the first line', () => {
    const withEmail = desiredStateArb({ maxOrgs: 2, maxUsers: 6 }).filter((s) =>
      s.organizations.some((o) => o.users.some((u) => u.ref.kind === 'email')),
    );
    fc.assert(
      fc.property(withEmail, fc.nat(), (state, pick) => {
        const orgIndex = state.organizations.findIndex((o) => o.users.some((u) => u.ref.kind === 'email'));
        const org = state.organizations[orgIndex]!;
        const emails = org.users.filter((u) => u.ref.kind === 'email');
        const original = emails[pick % emails.length]!;
        const variant = [...original.key].map((c, i) => ((pick >> i) & 1 ? c.toUpperCase() : c.toLowerCase())).join('');
        const copy: DesiredUser = { ...original, key: variant };
        const organizations = state.organizations.map((o, i) =>
          i === orgIndex ? { ...o, users: [...o.users, copy] } : o,
        );
        const { text, expected } = emit(
          { version: 1, timezone: 'UTC', organizations },
          { quoteKeys: false, blockLists: false, upperOrgIds: false },
        );
        const firstLine = expected.organizations[orgIndex]!.users.find((u) => u.key === original.key)!.pos.line;
        const repeat = expected.organizations[orgIndex]!.users.at(-1)!.pos;
        const result = parseDesiredState(text);
        expect(result.state).toBeUndefined();
        expect(result.problems.filter((p) => p.severity === 'error')).toEqual([
          { severity: 'error', pos: repeat, message: `user "${variant}" is listed twice (first at line ${firstLine})` },
        ]);
      }),
      { numRuns: 150 },
    );
  });

  it('a user key with an invisible character anywhere in it is an error at that character', () => {
    const invisible = fc.constantFrom(
      '\u200b', '\u200c', '\u200d', '\u2060', '\ufeff', '\u00a0', '\u00ad', '\u202f', '\u2007', '\u3000',
      '\u200e', '\u200f', '\u202a', '\u202e', '\u2066', '\u2069', '\u061c', '\u180e', '\u034f', '\u2800',
      '\u3164', '\ufe0f', '\u{e0041}', '\u2062',
    ); // prettier-ignore
    fc.assert(
      fc.property(validKeyArb, invisible, fc.nat(), fc.boolean(), ({ key }, char, at, quoted) => {
        const index = at % (key.length + 1);
        const bad = key.slice(0, index) + char + key.slice(index);
        // Quoted as YAML single-quoted scalars: the character stays literal in the source, never escaped.
        const written = quoted ? `'${bad}'` : bad;
        const text = `version: 1\norganizations:\n  ${ORG_ID}:\n    users:\n      ${written}: [admin]\n`;
        const { state, problems } = parseDesiredState(text);
        expect(state).toBeUndefined();
        const col = 7 + (quoted ? 1 : 0) + index;
        expect(problems).toContainEqual({
          severity: 'error',
          pos: { line: 5, col },
          message: expect.stringContaining('an invisible character') as string,
        });
      }),
      { numRuns: 300 },
    );
  });

  it('on mangled input never throws, places every problem inside the file, gives a state only without errors', () => {
    const alphabet = [
      ':',
      '-',
      ' ',
      ' ',
      '\n',
      '\t',
      '&a',
      '*a',
      '!x',
      '!!str ',
      '[',
      ']',
      '{',
      '}',
      '"',
      "'",
      '#',
      'q',
      '@',
      ',',
      '|',
      '?',
      '---\n',
      '%',
    ];
    const edit = fc.record({ at: fc.nat(), remove: fc.nat({ max: 4 }), insert: fc.constantFrom(...alphabet) });
    fc.assert(
      fc.property(fc.array(edit, { minLength: 1, maxLength: 6 }), (edits) => {
        let text = EXAMPLE;
        for (const e of edits) {
          const at = e.at % (text.length + 1);
          text = text.slice(0, at) + e.insert + text.slice(at + e.remove);
        }
        const fileLines = text.split('\n');
        const { state, problems } = parseDesiredState(text);
        for (const p of problems) {
          expect(p.pos.line).toBeGreaterThanOrEqual(1);
          expect(p.pos.line).toBeLessThanOrEqual(fileLines.length);
          expect(p.pos.col).toBeGreaterThanOrEqual(1);
          expect(p.pos.col).toBeLessThanOrEqual(fileLines[p.pos.line - 1]!.length + 1);
          expect(p.message).not.toMatch(/\n/);
        }
        expect(state !== undefined).toBe(!hasErrors(problems));
      }),
      { numRuns: 400 },
    );
  });
});

describe('the validator, the zod schema and the published JSON Schema agree', () => {
  const ajv = new Ajv2020.default({ allErrors: true, strict: false });
  const validate = ajv.compile(desiredFileJsonSchema());

  const ORGS = [
    '7fa84d2b-26d7-4c71-9b5b-e591eff97e7d',
    '3b1f9c2e-8d4a-4e6b-9f1a-2c5d7e8f9a0b',
    'c0ffee00-1111-4222-8333-444455556666',
  ];
  /** Mostly valid pieces, so that both outcomes are common; undefined drops the key. */
  const rarely = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> =>
    fc.oneof({ arbitrary: fc.constant(undefined), weight: 12 }, { arbitrary: arb, weight: 1 });
  const sometimes = <T>(good: fc.Arbitrary<T>, bad: fc.Arbitrary<T>): fc.Arbitrary<T> =>
    fc.oneof({ arbitrary: good, weight: 12 }, { arbitrary: bad, weight: 1 });
  const roleArb = fc.constantFrom<string>(...ASSIGNABLE_ROLES, 'owner', 'member', 'Admin', 'provder', '');
  const userKeyArb = sometimes(
    fc.constantFrom('a@b.example', 'dr.who@clinic.example', 'a7748dfd-ceb2-4b17-8380-425c304f5ae7', 'opaque_ID-1', 'x'),
    fc.constantFrom('two words', 'no@', '', 'bad!id', 'a'.repeat(129)),
  );
  const orgKeyArb = sometimes(
    fc.constantFrom(...ORGS),
    fc.constantFrom('not-a-uuid', '7fa84d2b26d74c719b5be591eff97e7d'),
  );
  const validRolesArb = fc
    .subarray([...ASSIGNABLE_ROLES], { minLength: 1 })
    .map((roles) =>
      roles.includes('rx_reader') && !roles.includes('receptionist') ? [...roles, 'receptionist'] : roles,
    );
  const rolesArb = sometimes<string[]>(validRolesArb, fc.array(roleArb, { maxLength: 4 }));
  // Calendar validity (2027-02-30) and which zone names exist are beyond JSON Schema: only shapes are varied here.
  const untilArb = sometimes<unknown>(
    fc.constantFrom('2027-01-31', '2027-01-31T17:00:00+11:00', '2027-01-31t17:00:00.5Z'),
    fc.constantFrom('2027-1-31', '2027-01-31T17:00', 'tomorrow', 20270131),
  );
  const longFormArb = fc
    .record({
      roles: rarely(rolesArb),
      enabled: rarely(fc.constantFrom<unknown>(true, false, 'yes')),
      until: fc.option(untilArb, { nil: undefined }),
      then: fc.option(sometimes<unknown>(fc.oneof(fc.constant('disabled'), validRolesArb), fc.constant('never')), {
        nil: undefined,
      }),
      colour: rarely(fc.constant('red')),
    })
    .map((entry) => ({ roles: ['provider'], ...JSON.parse(JSON.stringify(entry)) }) as Record<string, unknown>);
  const valueArb = fc.oneof(
    { arbitrary: rolesArb, weight: 6 },
    { arbitrary: sometimes<unknown>(fc.constant('disabled'), fc.constantFrom('disable', 'Disabled')), weight: 1 },
    { arbitrary: longFormArb, weight: 3 },
  );
  const usersArb = fc.dictionary(userKeyArb, valueArb, { maxKeys: 4 });
  const orgArb = fc.record({
    name: fc.option(sometimes<unknown>(fc.string({ maxLength: 8 }), fc.integer()), { nil: undefined }),
    unlisted: rarely(sometimes<unknown>(fc.constantFrom('keep', 'disable'), fc.constantFrom('delete', true))),
    keep: rarely(sometimes<unknown>(fc.array(userKeyArb, { maxLength: 2 }), fc.constant('a@b.example'))),
    users: sometimes<unknown>(usersArb, fc.constant(['a'])),
    extra: rarely(fc.constant(true)),
  });
  const fileArb = fc
    .record({
      version: sometimes<unknown>(fc.constant(1), fc.constantFrom(2, '1', undefined)),
      timezone: rarely(sometimes<unknown>(fc.constantFrom('Australia/Melbourne', 'UTC'), fc.constantFrom(10, null))),
      organizations: sometimes<unknown>(fc.dictionary(orgKeyArb, orgArb, { minKeys: 1, maxKeys: 3 }), fc.constant({})),
      extra: rarely(fc.constant('x')),
    })
    .map((file) => JSON.parse(JSON.stringify(file)) as Record<string, unknown>);

  /** Case-insensitive duplicates are the one rule JSON Schema cannot state. */
  function hasCaseDuplicates(file: Record<string, unknown>): boolean {
    const orgs = file['organizations'];
    if (typeof orgs !== 'object' || orgs === null) return false;
    return Object.values(orgs).some((org) => {
      const users = (org as { users?: unknown }).users;
      if (typeof users !== 'object' || users === null) return false;
      const ids = Object.keys(users).map((k) => {
        const ref = parseUserRef(k);
        return ref === undefined ? k : userRefKey(ref);
      });
      return new Set(ids).size !== ids.length;
    });
  }

  it('on generated documents, valid means valid everywhere', () => {
    let valid = 0;
    let invalid = 0;
    fc.assert(
      fc.property(
        fileArb.filter((f) => !hasCaseDuplicates(f)),
        (file) => {
          const ours = !hasErrors(parseDesiredState(JSON.stringify(file)).problems);
          const json = validate(file);
          const zod = desiredFileSchema.safeParse(file).success;
          if (ours) valid++;
          else invalid++;
          expect({ json, zod }).toEqual({ json: ours, zod: ours });
        },
      ),
      { numRuns: 600 },
    );
    // The generator must reach both outcomes for the agreement to mean anything.
    expect(valid).toBeGreaterThan(50);
    expect(invalid).toBeGreaterThan(50);
  });
});
