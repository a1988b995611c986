/** Parsers for the CLI's value syntax (durations, `--max-changes`). Pure; return undefined on bad input. */

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

/** `500ms`, `30s`, `5m`, `1h` → milliseconds. A bare number is refused: the unit must be explicit. */
export function parseDuration(text: string): number | undefined {
  const m = DURATION.exec(text.trim());
  if (!m) return undefined;
  const ms = Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
  return Number.isFinite(ms) ? Math.round(ms) : undefined;
}

export type MaxChanges =
  { readonly kind: 'count'; readonly count: number } | { readonly kind: 'percent'; readonly percent: number };

/** `40` or `25%`. */
export function parseMaxChanges(text: string): MaxChanges | undefined {
  const t = text.trim();
  const pct = /^(\d+(?:\.\d+)?)%$/.exec(t);
  if (pct) {
    const percent = Number(pct[1]);
    return percent <= 100 ? { kind: 'percent', percent } : undefined;
  }
  return /^\d+$/.test(t) ? { kind: 'count', count: Number(t) } : undefined;
}
