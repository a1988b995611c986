/**
 * The redactor is a safety rule: whatever text or JSON Parchment sends, and however a secret is
 * placed or escaped in it, no configured or minted secret survives.
 */
import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MIN_REDACTED_LENGTH, REDACTED, SecretRedactor } from '../src/parchment/redact.js';

const SECRET_CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.~';
const secretArb = fc
  .array(fc.constantFrom(...SECRET_CHARS), { minLength: MIN_REDACTED_LENGTH, maxLength: 40 })
  .map((cs) => cs.join(''));
/** Filler: anything, brackets and backslashes included, pieces of secrets too. */
const fillerArb = fc.string({ maxLength: 20 });

const world = fc.record({
  configured: fc.array(secretArb, { minLength: 1, maxLength: 4 }),
  minted: fc.array(secretArb, { maxLength: 4 }),
});

function redactorOf(w: { configured: string[]; minted: string[] }): SecretRedactor {
  const redactor = new SecretRedactor(w.configured);
  for (const token of w.minted) redactor.addMinted(token);
  return redactor;
}

function survivors(text: string, secrets: readonly string[]): string[] {
  return secrets.filter((s) => text.includes(s));
}

describe('SecretRedactor', () => {
  it('leaves no secret in any text built from secrets and filler', () => {
    fc.assert(
      fc.property(world, fc.array(fc.tuple(fillerArb, fc.nat()), { maxLength: 12 }), (w, pieces) => {
        const secrets = [...w.configured, ...w.minted];
        const text = pieces.map(([filler, i]) => `${filler}${secrets[i % secrets.length] ?? ''}`).join('');
        const out = redactorOf(w).text(text);
        expect(survivors(out, secrets)).toEqual([]);
        if (pieces.length > 0) expect(out).toContain(REDACTED);
      }),
    );
  });

  it('leaves no secret in a JSON body, in values or keys, even when every letter is a \\u escape', () => {
    const leaf = (secrets: string[]) =>
      fc.oneof(
        fillerArb,
        fc.constantFrom(...secrets),
        fc.tuple(fillerArb, fc.constantFrom(...secrets), fillerArb).map((p) => p.join('')),
      );
    fc.assert(
      fc.property(
        world.chain((w) => {
          const secrets = [...w.configured, ...w.minted];
          const value = fc.letrec<{ node: unknown }>((tie) => ({
            node: fc.oneof(
              { depthSize: 'small' },
              leaf(secrets),
              fc.array(tie('node'), { maxLength: 4 }),
              fc.dictionary(leaf(secrets), tie('node'), { maxKeys: 4 }),
            ),
          })).node;
          return fc.tuple(fc.constant(w), value, fc.boolean());
        }),
        ([w, value, escapeLetters]) => {
          const plain = JSON.stringify(value);
          // No numbers, booleans or null in these bodies: every letter is inside a string.
          const raw = escapeLetters
            ? plain.replace(/[A-Za-z]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
            : plain;
          const out = redactorOf(w).json(JSON.parse(raw), raw);
          expect(survivors(JSON.stringify(out), [...w.configured, ...w.minted])).toEqual([]);
        },
      ),
    );
  });

  it('keeps a body without secrets as it is, and ignores values too short to search for', () => {
    const redactor = new SecretRedactor(['short', 'a-long-organization-secret']);
    redactor.addMinted('t1');
    const body = { data: { users: [{ user_id: 'u1', email: 'short@clinic.example' }] } };
    expect(redactor.json(body, JSON.stringify(body))).toBe(body);
    expect(redactor.text('x a-long-organization-secret y')).toBe(`x ${REDACTED} y`);
  });

  it('remembers a bounded number of minted tokens, the newest', () => {
    const redactor = new SecretRedactor([]);
    const tokens = Array.from({ length: 300 }, (_, i) => `minted-token-${String(i).padStart(4, '0')}`);
    for (const t of tokens) redactor.addMinted(t);
    expect(redactor.text(tokens.at(-1)!)).toBe(REDACTED);
    expect(redactor.text(tokens[0]!)).toBe(tokens[0]);
  });
});
