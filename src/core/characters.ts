/**
 * Characters a reviewer cannot see or would misread in a user key, and their Unicode names.
 * Pure. Node carries no Unicode name table, so names come from the small tables below: every
 * invisible character this module flags, the Cyrillic and Greek letters that look like Latin ones,
 * and accented Latin letters; anything else is named by its code point and script.
 */

/** Characters that render as nothing or as a plain space, by name. */
const INVISIBLE_NAMES: ReadonlyMap<number, string> = new Map([
  [0x00a0, 'NO-BREAK SPACE'],
  [0x00ad, 'SOFT HYPHEN'],
  [0x034f, 'COMBINING GRAPHEME JOINER'],
  [0x061c, 'ARABIC LETTER MARK'],
  [0x115f, 'HANGUL CHOSEONG FILLER'],
  [0x1160, 'HANGUL JUNGSEONG FILLER'],
  [0x1680, 'OGHAM SPACE MARK'],
  [0x180e, 'MONGOLIAN VOWEL SEPARATOR'],
  [0x2000, 'EN QUAD'],
  [0x2001, 'EM QUAD'],
  [0x2002, 'EN SPACE'],
  [0x2003, 'EM SPACE'],
  [0x2004, 'THREE-PER-EM SPACE'],
  [0x2005, 'FOUR-PER-EM SPACE'],
  [0x2006, 'SIX-PER-EM SPACE'],
  [0x2007, 'FIGURE SPACE'],
  [0x2008, 'PUNCTUATION SPACE'],
  [0x2009, 'THIN SPACE'],
  [0x200a, 'HAIR SPACE'],
  [0x200b, 'ZERO WIDTH SPACE'],
  [0x200c, 'ZERO WIDTH NON-JOINER'],
  [0x200d, 'ZERO WIDTH JOINER'],
  [0x200e, 'LEFT-TO-RIGHT MARK'],
  [0x200f, 'RIGHT-TO-LEFT MARK'],
  [0x2028, 'LINE SEPARATOR'],
  [0x2029, 'PARAGRAPH SEPARATOR'],
  [0x202a, 'LEFT-TO-RIGHT EMBEDDING'],
  [0x202b, 'RIGHT-TO-LEFT EMBEDDING'],
  [0x202c, 'POP DIRECTIONAL FORMATTING'],
  [0x202d, 'LEFT-TO-RIGHT OVERRIDE'],
  [0x202e, 'RIGHT-TO-LEFT OVERRIDE'],
  [0x202f, 'NARROW NO-BREAK SPACE'],
  [0x205f, 'MEDIUM MATHEMATICAL SPACE'],
  [0x2060, 'WORD JOINER'],
  [0x2061, 'FUNCTION APPLICATION'],
  [0x2062, 'INVISIBLE TIMES'],
  [0x2063, 'INVISIBLE SEPARATOR'],
  [0x2064, 'INVISIBLE PLUS'],
  [0x2066, 'LEFT-TO-RIGHT ISOLATE'],
  [0x2067, 'RIGHT-TO-LEFT ISOLATE'],
  [0x2068, 'FIRST STRONG ISOLATE'],
  [0x2069, 'POP DIRECTIONAL ISOLATE'],
  [0x2800, 'BRAILLE PATTERN BLANK'],
  [0x3000, 'IDEOGRAPHIC SPACE'],
  [0x3164, 'HANGUL FILLER'],
  [0xfeff, 'ZERO WIDTH NO-BREAK SPACE'],
  [0xffa0, 'HALFWIDTH HANGUL FILLER'],
]);

/**
 * Format characters (Cf: zero-width, bidi controls, soft hyphen, tags), controls (Cc), separators
 * other than the ASCII space, and the fillers named above. A plain space is visible in review and
 * already refused by the key's syntax.
 */
const INVISIBLE =
  /[\p{Cf}\p{Cc}\p{Zl}\p{Zp}\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000\u115f\u1160\u2800\u3164\uffa0]/u;

/** Combining marks that show nothing on their own: a regular expression class would combine them. */
function isInvisibleMark(cp: number): boolean {
  return cp === 0x034f || (cp >= 0xfe00 && cp <= 0xfe0f) || (cp >= 0xe0100 && cp <= 0xe01ef);
}

function isInvisible(char: string): boolean {
  return INVISIBLE.test(char) || isInvisibleMark(char.codePointAt(0) ?? 0);
}

/** Cyrillic А..я (U+0410..U+044F) share these names, capital then small. */
const CYRILLIC_BASIC = [
  'A', 'BE', 'VE', 'GHE', 'DE', 'IE', 'ZHE', 'ZE', 'I', 'SHORT I', 'KA', 'EL', 'EM', 'EN', 'O', 'PE',
  'ER', 'ES', 'TE', 'U', 'EF', 'HA', 'TSE', 'CHE', 'SHA', 'SHCHA', 'HARD SIGN', 'YERU', 'SOFT SIGN', 'E',
  'YU', 'YA',
]; // prettier-ignore

/** Cyrillic letters outside А..я that pass for Latin ones. */
const CYRILLIC_EXTRA: ReadonlyMap<number, string> = new Map([
  [0x0405, 'CYRILLIC CAPITAL LETTER DZE'],
  [0x0406, 'CYRILLIC CAPITAL LETTER BYELORUSSIAN-UKRAINIAN I'],
  [0x0408, 'CYRILLIC CAPITAL LETTER JE'],
  [0x0455, 'CYRILLIC SMALL LETTER DZE'],
  [0x0456, 'CYRILLIC SMALL LETTER BYELORUSSIAN-UKRAINIAN I'],
  [0x0458, 'CYRILLIC SMALL LETTER JE'],
  [0x04bb, 'CYRILLIC SMALL LETTER SHHA'],
  [0x0501, 'CYRILLIC SMALL LETTER KOMI DE'],
  [0x051b, 'CYRILLIC SMALL LETTER QA'],
  [0x051d, 'CYRILLIC SMALL LETTER WE'],
]);

/** Greek α..ω (U+03B1..U+03C9), U+03C2 being FINAL SIGMA; the capitals Α..Ω follow the same order. */
const GREEK_BASIC = [
  'ALPHA', 'BETA', 'GAMMA', 'DELTA', 'EPSILON', 'ZETA', 'ETA', 'THETA', 'IOTA', 'KAPPA', 'LAMDA', 'MU',
  'NU', 'XI', 'OMICRON', 'PI', 'RHO', 'FINAL SIGMA', 'SIGMA', 'TAU', 'UPSILON', 'PHI', 'CHI', 'PSI', 'OMEGA',
]; // prettier-ignore

/** Combining marks by name, for Latin letters that decompose into an ASCII letter and one mark (é = e + ◌́). */
const MARKS: ReadonlyMap<number, string> = new Map([
  [0x0300, 'GRAVE'],
  [0x0301, 'ACUTE'],
  [0x0302, 'CIRCUMFLEX'],
  [0x0303, 'TILDE'],
  [0x0304, 'MACRON'],
  [0x0306, 'BREVE'],
  [0x0307, 'DOT ABOVE'],
  [0x0308, 'DIAERESIS'],
  [0x030a, 'RING ABOVE'],
  [0x030b, 'DOUBLE ACUTE'],
  [0x030c, 'CARON'],
  [0x0323, 'DOT BELOW'],
  [0x0327, 'CEDILLA'],
  [0x0328, 'OGONEK'],
]);

function accentedLatinName(char: string): string | undefined {
  const parts = char.normalize('NFD');
  const [base, mark] = [parts[0] ?? '', parts.codePointAt(1)];
  if (parts.length !== 2 || !/^[A-Za-z]$/.test(base) || mark === undefined) return undefined;
  const markName = MARKS.get(mark);
  if (markName === undefined) return undefined;
  const size = base === base.toUpperCase() ? 'CAPITAL' : 'SMALL';
  return `LATIN ${size} LETTER ${base.toUpperCase()} WITH ${markName}`;
}

const SCRIPTS: readonly (readonly [RegExp, string])[] = [
  [/\p{Script=Latin}/u, 'Latin'],
  [/\p{Script=Cyrillic}/u, 'Cyrillic'],
  [/\p{Script=Greek}/u, 'Greek'],
  [/\p{Script=Armenian}/u, 'Armenian'],
  [/\p{Script=Cherokee}/u, 'Cherokee'],
];

export function codePointLabel(cp: number): string {
  return `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
}

function tableName(cp: number): string | undefined {
  const invisible = INVISIBLE_NAMES.get(cp) ?? CYRILLIC_EXTRA.get(cp);
  if (invisible !== undefined) return invisible;
  if (cp >= 0x0410 && cp <= 0x044f) {
    const small = cp >= 0x0430;
    return `CYRILLIC ${small ? 'SMALL' : 'CAPITAL'} LETTER ${CYRILLIC_BASIC[(cp - 0x0410) % 32]}`;
  }
  if (cp >= 0x03b1 && cp <= 0x03c9) return `GREEK SMALL LETTER ${GREEK_BASIC[cp - 0x03b1]}`;
  // The unassigned U+03A2 stands where the small letters have FINAL SIGMA, so the capitals line up too.
  if (cp >= 0x0391 && cp <= 0x03a9 && cp !== 0x03a2) return `GREEK CAPITAL LETTER ${GREEK_BASIC[cp - 0x0391]}`;
  return accentedLatinName(String.fromCodePoint(cp));
}

/** `U+0430 CYRILLIC SMALL LETTER A`, or `U+00E9 (a Latin character)` where no name is at hand. */
export function describeCharacter(char: string): string {
  const cp = char.codePointAt(0) ?? 0;
  const name = tableName(cp);
  if (name !== undefined) return `${codePointLabel(cp)} ${name}`;
  const script = SCRIPTS.find(([pattern]) => pattern.test(char))?.[1];
  return `${codePointLabel(cp)} (${script !== undefined ? `a ${script}` : 'a non-ASCII'} character)`;
}

export interface CharacterAt {
  readonly char: string;
  /** Offset in UTF-16 code units, as columns are counted. */
  readonly index: number;
}

export interface KeyCharacters {
  readonly invisible: readonly CharacterAt[];
  /** Visible characters outside ASCII. */
  readonly nonAscii: readonly CharacterAt[];
}

export function scanKey(key: string): KeyCharacters {
  const invisible: CharacterAt[] = [];
  const nonAscii: CharacterAt[] = [];
  let index = 0;
  for (const char of key) {
    if (isInvisible(char)) invisible.push({ char, index });
    else if (char.charCodeAt(0) > 0x7e) nonAscii.push({ char, index });
    index += char.length;
  }
  return { invisible, nonAscii };
}

/** The key with each invisible character shown as `<U+200B>`, so a message can show where it is. */
export function revealInvisible(key: string): string {
  let out = '';
  for (const char of key) out += isInvisible(char) ? `<${codePointLabel(char.codePointAt(0) ?? 0)}>` : char;
  return out;
}
