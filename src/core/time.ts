/**
 * Instants for expiring grants: the end of a calendar day in an IANA time zone, RFC 3339 timestamps,
 * and how reports show them ("2027-01-31 23:59 +11:00", "in 3 days"). Pure: the clock is always a
 * parameter. Time-zone rules come from the runtime's ICU data through Intl, so no zone database ships here.
 */

/** Milliseconds since the Unix epoch. */
export type EpochMs = number;

export const DEFAULT_TIME_ZONE = 'UTC';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const formatters = new Map<string, Intl.DateTimeFormat>();

/** One formatter per zone: constructing them is the expensive part of Intl. */
function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(zone, f);
  }
  return f;
}

/** The zone's canonical name when the runtime knows the zone, else undefined. */
export function canonicalTimeZone(zone: string): string | undefined {
  if (zone === '' || zone.length > 64) return undefined;
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: zone }).resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
}

interface WallClock {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
}

function wallClock(at: EpochMs, zone: string): WallClock {
  const parts: Record<string, number> = {};
  for (const p of formatter(zone).formatToParts(at)) if (p.type !== 'literal') parts[p.type] = Number(p.value);
  return {
    year: parts['year']!,
    month: parts['month']!,
    day: parts['day']!,
    hour: parts['hour']!,
    minute: parts['minute']!,
    second: parts['second']!,
  };
}

/** The zone's offset from UTC at an instant, in milliseconds (east positive). */
export function zoneOffset(at: EpochMs, zone: string): number {
  const w = wallClock(at, zone);
  const asUtc = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);
  return asUtc - Math.floor(at / 1000) * 1000;
}

/**
 * The instant a local wall-clock time (midnight of the given day) happens in `zone`. Around a clock
 * change the offset differs a few hours either side, so both offsets are tried: when the time happens
 * twice the first is taken, and when it is skipped (the clocks jump over it) the instant it would have
 * been under the earlier offset, i.e. the moment the clocks jump past it.
 */
function localToInstant(year: number, month: number, day: number, zone: string): EpochMs {
  const wall = Date.UTC(year, month - 1, day);
  const near = wall - zoneOffset(wall, zone);
  const before = zoneOffset(near - 6 * HOUR, zone);
  const after = zoneOffset(near + 6 * HOUR, zone);
  const exact = [wall - before, wall - after].filter((t) => t + zoneOffset(t, zone) === wall);
  return exact.length > 0 ? Math.min(...exact) : wall - before;
}

export function isValidDate(year: number, month: number, day: number): boolean {
  if (month < 1 || month > 12 || day < 1) return false;
  return day <= new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** The instant a date-only `until` ends: the start of the next day in `zone` (the whole day is still granted). */
export function endOfDay(year: number, month: number, day: number, zone: string): EpochMs {
  const next = new Date(Date.UTC(year, month - 1, day + 1));
  return localToInstant(next.getUTCFullYear(), next.getUTCMonth() + 1, next.getUTCDate(), zone);
}

export const DATE_PATTERN = /^(\d{4})-(\d{2})-(\d{2})$/;
export const RFC3339_PATTERN =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;

export type ParsedInstant =
  | { readonly kind: 'date'; readonly at: EpochMs }
  | { readonly kind: 'instant'; readonly at: EpochMs }
  | { readonly kind: 'invalid'; readonly message: string };

/**
 * `until` as written: a date (the end of that day in `zone`) or an RFC 3339 timestamp with an offset.
 * The messages say what would have been accepted.
 */
export function parseUntil(text: string, zone: string): ParsedInstant {
  const date = DATE_PATTERN.exec(text);
  if (date !== null) {
    const [year, month, day] = [Number(date[1]), Number(date[2]), Number(date[3])];
    if (!isValidDate(year, month, day)) return { kind: 'invalid', message: `"until" "${text}" is not a calendar date` };
    return { kind: 'date', at: endOfDay(year, month, day, zone) };
  }
  const stamp = RFC3339_PATTERN.exec(text);
  if (stamp !== null) {
    const [year, month, day, hour, minute, second] = stamp.slice(1, 7).map(Number) as [
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    const offset = stamp[8]!;
    const offsetMatch = /^([+-])(\d{2}):(\d{2})$/.exec(offset);
    const offsetMs =
      offsetMatch === null
        ? 0
        : (offsetMatch[1] === '-' ? -1 : 1) * (Number(offsetMatch[2]) * HOUR + Number(offsetMatch[3]) * MINUTE);
    const badOffset = offsetMatch !== null && (Number(offsetMatch[2]) > 23 || Number(offsetMatch[3]) > 59);
    if (!isValidDate(year, month, day) || hour > 23 || minute > 59 || second > 59 || badOffset) {
      return { kind: 'invalid', message: `"until" "${text}" is not a valid time` };
    }
    const fraction = stamp[7] === undefined ? 0 : Math.floor(Number(`0${stamp[7]}`) * 1000);
    return { kind: 'instant', at: Date.UTC(year, month - 1, day, hour, minute, second, fraction) - offsetMs };
  }
  const hint = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2})?(\.\d+)?$/.test(text)
    ? ' (a time needs an offset, e.g. +11:00 or Z)'
    : '';
  return {
    kind: 'invalid',
    message:
      `"until" must be a date (YYYY-MM-DD, the end of that day in the file's timezone) ` +
      `or an RFC 3339 time with an offset (e.g. 2027-01-31T17:00:00+11:00), not "${text}"${hint}`,
  };
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

function offsetText(offsetMs: number): string {
  const sign = offsetMs < 0 ? '-' : '+';
  const minutes = Math.round(Math.abs(offsetMs) / MINUTE);
  return `${sign}${pad(Math.floor(minutes / 60))}:${pad(minutes % 60)}`;
}

/** `2027-01-31 23:59 +11:00`: the wall-clock minute in `zone` and the offset in force then. */
export function formatInZone(at: EpochMs, zone: string): string {
  const w = wallClock(at, zone);
  const date = `${pad(w.year, 4)}-${pad(w.month)}-${pad(w.day)}`;
  return `${date} ${pad(w.hour)}:${pad(w.minute)} ${offsetText(zoneOffset(at, zone))}`;
}

/**
 * How an expiry reads: the last minute still granted. A date-only `until` ends at the next midnight, so
 * it reads as 23:59 of the date written; a timestamp reads as itself.
 */
export function expiryShown(kind: 'date' | 'instant', at: EpochMs, zone: string): string {
  return formatInZone(kind === 'date' ? at - MINUTE : at, zone);
}

function unit(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** `in 3 days`, `in 5 hours`, `2 days ago`: coarse on purpose, it sits next to the exact time. */
export function relativeTime(at: EpochMs, now: EpochMs): string {
  const delta = at - now;
  const span = Math.abs(delta);
  let text: string;
  if (span < MINUTE) return delta >= 0 ? 'in less than a minute' : 'just now';
  if (span < HOUR) text = unit(Math.floor(span / MINUTE), 'minute');
  else if (span < 2 * DAY) text = unit(Math.floor(span / HOUR), 'hour');
  else text = unit(Math.floor(span / DAY), 'day');
  return delta >= 0 ? `in ${text}` : `${text} ago`;
}
