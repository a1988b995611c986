/** Small pieces of English every message and rendering shares, so all of them say a thing the same way. */

/** `1 user`, `2 users`, `12,000 users`. */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;
}

/** Long ids are noise in a line that already names the user; eight characters are enough to tell them apart. */
export function shortId(id: string): string {
  return id.length > 9 ? `${id.slice(0, 8)}…` : id;
}

/** The message of whatever was thrown: an Error's message, anything else as a string. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
