/**
 * Text from Parchment is untrusted: an error detail that echoes a request header, or a gateway's
 * HTML page that quotes the request, can carry the organization secret, the partner secret or a
 * bearer token. Every response is passed through one redactor where it enters role-sync (the HTTP
 * layer), so no secret value can reach a log line, a report or an endpoint from there on.
 */

export const REDACTED = '[redacted]';

/**
 * Minted tokens kept for redaction. A server echoes the token the request carried, which is one
 * of the newest; past this many, the oldest (long expired) are forgotten so a long-running daemon
 * stays bounded.
 */
const MAX_MINTED = 256;
/**
 * Shorter values are not searched for: a two-letter "secret" would be replaced inside every
 * word, key and role name of every body, corrupting what the client parses. Real partner and
 * organization secrets and tokens are far longer.
 */
export const MIN_REDACTED_LENGTH = 8;

export class SecretRedactor {
  readonly #configured: readonly string[];
  readonly #minted = new Set<string>();
  /** Longest first, so a secret containing another is replaced whole. */
  #ordered: readonly string[];

  constructor(configured: Iterable<string>) {
    this.#configured = [...configured].filter((s) => s.length >= MIN_REDACTED_LENGTH);
    this.#ordered = order(this.#configured);
  }

  /** A token just minted: from now on it is a secret like the configured ones. */
  addMinted(token: string): void {
    if (token.length < MIN_REDACTED_LENGTH || this.#minted.has(token)) return;
    this.#minted.add(token);
    if (this.#minted.size > MAX_MINTED) {
      const oldest = this.#minted.values().next().value;
      if (oldest !== undefined) this.#minted.delete(oldest);
    }
    this.#ordered = order([...this.#configured, ...this.#minted]);
  }

  text(text: string): string {
    let out = text;
    for (const secret of this.#ordered) if (out.includes(secret)) out = out.replaceAll(secret, REDACTED);
    return out;
  }

  /**
   * A parsed JSON body with every string (keys included) redacted. `raw` is the text it was parsed
   * from: when that holds no secret and no escape sequence, no decoded string can hold one either
   * (a JSON string without escapes is a verbatim slice of the text), so large clean bodies are not walked.
   */
  json(value: unknown, raw: string): unknown {
    if (!raw.includes('\\') && !this.#ordered.some((s) => raw.includes(s))) return value;
    return this.#walk(value);
  }

  #walk(value: unknown): unknown {
    if (typeof value === 'string') return this.text(value);
    if (Array.isArray(value)) return value.map((v) => this.#walk(v));
    if (typeof value === 'object' && value !== null) {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [this.text(k), this.#walk(v)]));
    }
    return value;
  }
}

function order(secrets: readonly string[]): readonly string[] {
  return [...new Set(secrets)].sort((a, b) => b.length - a.length);
}
