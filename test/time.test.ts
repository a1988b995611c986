import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  canonicalTimeZone,
  endOfDay,
  expiryShown,
  formatInZone,
  parseUntil,
  relativeTime,
  zoneOffset,
} from '../src/core/time.js';

const iso = (ms: number): string => new Date(ms).toISOString();

function until(text: string, zone = 'UTC'): string {
  const parsed = parseUntil(text, zone);
  if (parsed.kind === 'invalid') throw new Error(parsed.message);
  return iso(parsed.at);
}

describe('a date-only until ends at the end of that day in the zone', () => {
  it('in summer and in winter time', () => {
    expect(until('2027-01-31', 'Australia/Melbourne')).toBe('2027-01-31T13:00:00.000Z');
    expect(until('2027-07-31', 'Australia/Melbourne')).toBe('2027-07-31T14:00:00.000Z');
    expect(until('2027-01-31', 'UTC')).toBe('2027-02-01T00:00:00.000Z');
    expect(until('2027-01-31', 'Pacific/Chatham')).toBe('2027-01-31T10:15:00.000Z');
  });

  it('across a daylight-saving change, the day keeps its own length', () => {
    // Melbourne leaves summer time at 03:00 on 4 April 2027: that day has 25 hours.
    expect(until('2027-04-03', 'Australia/Melbourne')).toBe('2027-04-03T13:00:00.000Z');
    expect(until('2027-04-04', 'Australia/Melbourne')).toBe('2027-04-04T14:00:00.000Z');
  });

  it('when midnight is skipped, at the moment the clocks jump; when it happens twice, at the first', () => {
    // Havana's clocks go 00:00 -> 01:00 on 14 March 2027 and 01:00 -> 00:00 on 7 November 2027.
    expect(until('2027-03-13', 'America/Havana')).toBe('2027-03-14T05:00:00.000Z');
    expect(until('2027-11-06', 'America/Havana')).toBe('2027-11-07T04:00:00.000Z');
  });

  it('reads as 23:59 of the date written, with the offset in force', () => {
    const at = endOfDay(2027, 1, 31, 'Australia/Melbourne');
    expect(expiryShown('date', at, 'Australia/Melbourne')).toBe('2027-01-31 23:59 +11:00');
    expect(expiryShown('date', endOfDay(2027, 7, 31, 'Australia/Melbourne'), 'Australia/Melbourne')).toBe(
      '2027-07-31 23:59 +10:00',
    );
    expect(expiryShown('date', endOfDay(2027, 3, 1, 'America/New_York'), 'America/New_York')).toBe(
      '2027-03-01 23:59 -05:00',
    );
  });

  it('for any zone and day, the day before ends a calendar day earlier and the wall clock reads 23:59', () => {
    const zones = ['UTC', 'Australia/Melbourne', 'America/Havana', 'Asia/Kolkata', 'Pacific/Chatham', 'Europe/London'];
    fc.assert(
      fc.property(
        fc.constantFrom(...zones),
        fc.date({ min: new Date('2001-01-01T00:00:00Z'), max: new Date('2098-12-31T00:00:00Z'), noInvalidDate: true }),
        (zone, d) => {
          const [y, m, day] = [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate()];
          const end = endOfDay(y, m, day, zone);
          const shown = expiryShown('date', end, zone);
          expect(shown.slice(0, 10)).toBe(
            `${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}-${String(day).padStart(2, '0')}`,
          );
          expect(shown.slice(11, 16)).toBe('23:59');
          const length = end - endOfDay(y, m, day - 1, zone);
          expect(length).toBeGreaterThanOrEqual(22 * 3_600_000);
          expect(length).toBeLessThanOrEqual(26 * 3_600_000);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('RFC 3339 times', () => {
  it('take their own offset; the file zone only changes how they read', () => {
    expect(until('2027-01-31T17:00:00+11:00', 'UTC')).toBe('2027-01-31T06:00:00.000Z');
    expect(until('2027-01-31T17:00:00+11:00', 'America/New_York')).toBe('2027-01-31T06:00:00.000Z');
    expect(until('2027-01-31t06:00:00.250z')).toBe('2027-01-31T06:00:00.250Z');
    expect(until('2027-01-31 06:00:00-03:30')).toBe('2027-01-31T09:30:00.000Z');
    const at = Date.parse('2027-01-31T06:00:00Z');
    expect(formatInZone(at, 'Australia/Melbourne')).toBe('2027-01-31 17:00 +11:00');
    expect(expiryShown('instant', at, 'UTC')).toBe('2027-01-31 06:00 +00:00');
  });

  it('agree with Date.parse on any time and offset', () => {
    fc.assert(
      fc.property(
        fc.date({ min: new Date('1971-01-01T00:00:00Z'), max: new Date('2099-12-31T00:00:00Z'), noInvalidDate: true }),
        fc.integer({ min: -47, max: 55 }).map((q) => q * 15),
        (d, offset) => {
          const local = new Date(d.getTime() + offset * 60_000).toISOString().slice(0, 23);
          const sign = offset < 0 ? '-' : '+';
          const two = (n: number): string => String(n).padStart(2, '0');
          const off = `${sign}${two(Math.floor(Math.abs(offset) / 60))}:${two(Math.abs(offset) % 60)}`;
          const text = `${local}${off}`;
          expect(until(text)).toBe(new Date(Date.parse(text)).toISOString());
        },
      ),
    );
  });
});

describe('invalid until values are refused with what would be accepted', () => {
  it.each([
    ['2027-02-29', '"until" "2027-02-29" is not a calendar date'],
    ['2027-13-01', '"until" "2027-13-01" is not a calendar date'],
    ['2027-01-31T24:00:00Z', '"until" "2027-01-31T24:00:00Z" is not a valid time'],
    ['2027-01-31T10:00:00+24:00', '"until" "2027-01-31T10:00:00+24:00" is not a valid time'],
  ])('%s', (text, message) => {
    expect(parseUntil(text, 'UTC')).toEqual({ kind: 'invalid', message });
  });

  it('says a time needs an offset', () => {
    const parsed = parseUntil('2027-01-31T17:00', 'UTC');
    expect(parsed.kind === 'invalid' && parsed.message).toContain('a time needs an offset, e.g. +11:00 or Z');
  });

  it('accepts 29 February in a leap year', () => {
    expect(until('2028-02-29')).toBe('2028-03-01T00:00:00.000Z');
  });
});

describe('zones and relative times', () => {
  it('knows IANA zones through Intl and refuses others', () => {
    expect(canonicalTimeZone('Australia/Melbourne')).toBe('Australia/Melbourne');
    expect(canonicalTimeZone('Mars/Olympus')).toBeUndefined();
    expect(canonicalTimeZone('')).toBeUndefined();
    expect(zoneOffset(Date.parse('2027-01-31T00:00:00Z'), 'Australia/Melbourne')).toBe(11 * 3_600_000);
  });

  it('says how far away a time is, coarsely', () => {
    const now = Date.parse('2027-01-28T12:00:00Z');
    const h = 3_600_000;
    expect(relativeTime(now + 30_000, now)).toBe('in less than a minute');
    expect(relativeTime(now + 5 * 60_000, now)).toBe('in 5 minutes');
    expect(relativeTime(now + h, now)).toBe('in 1 hour');
    expect(relativeTime(now + 47 * h, now)).toBe('in 47 hours');
    expect(relativeTime(now + 3 * 24 * h + h, now)).toBe('in 3 days');
    expect(relativeTime(now - 2 * 24 * h, now)).toBe('2 days ago');
    expect(relativeTime(now - 10_000, now)).toBe('just now');
  });
});
