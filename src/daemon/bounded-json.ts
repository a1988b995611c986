/**
 * JSON of at most about `maxBytes`, for endpoints that must stay small whatever the input's size.
 * Lists are cut where the budget runs out, and the cut is said: an array held by an object's key
 * `k` that lost items gets a sibling `kOmitted` with how many. Long strings are shortened. Work is
 * proportional to what is written, not to the input: a 700,000-user report costs one budget.
 */

/** Longer strings (an HTML error page quoted in a failure) are cut to this many characters. */
export const MAX_STRING_CHARS = 2_000;

interface Budget {
  remaining: number;
}

/**
 * Scalars and the keys of objects always come out (they are small); the budget decides how many
 * items of each array fit, in order, so what comes first in an object is what survives. An array
 * inside an array is kept whole or not at all.
 */
export function boundedJson(value: unknown, maxBytes: number): string {
  return emitValue(value, { remaining: maxBytes }) ?? 'null';
}

function charge(budget: Budget, text: string): string {
  budget.remaining -= Buffer.byteLength(text);
  return text;
}

/** JSON of a scalar; undefined for what JSON has no form for (functions, symbols, undefined). */
function emitScalar(value: unknown): string | undefined {
  if (value === null) return 'null';
  if (typeof value === 'string') {
    const cut =
      value.length > MAX_STRING_CHARS
        ? `${value.slice(0, MAX_STRING_CHARS)}… (${value.length - MAX_STRING_CHARS} more characters)`
        : value;
    return JSON.stringify(cut);
  }
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : 'null';
  if (typeof value === 'boolean') return String(value);
  return undefined;
}

function emitValue(value: unknown, budget: Budget): string | undefined {
  if (Array.isArray(value)) return emitArray(value, budget).json;
  if (typeof value === 'object' && value !== null) return emitObject(value as Record<string, unknown>, budget);
  const scalar = emitScalar(value);
  return scalar === undefined ? undefined : charge(budget, scalar);
}

function emitObject(value: Record<string, unknown>, budget: Budget): string {
  const parts: string[] = [];
  for (const [key, item] of Object.entries(value)) {
    if (item === undefined || typeof item === 'function') continue;
    const name = charge(budget, `${JSON.stringify(key)}:`);
    if (Array.isArray(item)) {
      // Room for the `kOmitted` count is kept back while the items are chosen.
      const reserve = Buffer.byteLength(key) + 24;
      budget.remaining -= reserve;
      const { json, omitted } = emitArray(item, budget);
      budget.remaining += reserve;
      parts.push(`${name}${json}`);
      if (omitted > 0) parts.push(charge(budget, `${JSON.stringify(`${key}Omitted`)}:${omitted}`));
      continue;
    }
    parts.push(`${name}${emitValue(item, budget) ?? 'null'}`);
  }
  budget.remaining -= 2 + Math.max(0, parts.length - 1);
  return `{${parts.join(',')}}`;
}

function emitArray(items: readonly unknown[], budget: Budget): { json: string; omitted: number } {
  budget.remaining -= 2;
  const parts: string[] = [];
  for (let i = 0; i < items.length; i++) {
    if (budget.remaining <= 0) return { json: `[${parts.join(',')}]`, omitted: items.length - i };
    const item = items[i];
    const json = fits(item, budget, i === 0 ? 0 : 1);
    if (json === undefined) return { json: `[${parts.join(',')}]`, omitted: items.length - i };
    parts.push(json);
  }
  return { json: `[${parts.join(',')}]`, omitted: 0 };
}

/**
 * An array item, if it fits what is left: objects may shorten their own lists to fit, other
 * values (scalars, nested arrays) come whole or not at all. A miss leaves the budget untouched.
 */
function fits(item: unknown, budget: Budget, separator: number): string | undefined {
  const trial: Budget = { remaining: budget.remaining - separator };
  let json: string | undefined;
  if (Array.isArray(item)) {
    const whole = emitArray(item, trial);
    json = whole.omitted === 0 ? whole.json : undefined;
  } else {
    json = emitValue(item, trial);
  }
  if (json === undefined || trial.remaining < 0) return undefined;
  budget.remaining = trial.remaining;
  return json;
}
