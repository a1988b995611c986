/**
 * Decoding and parsing the desired-state file's bytes: what the calling process runs for a small
 * file and the parser process (parse-child.ts) for a large one.
 */
import { parseDesiredState, type ParseResult } from './core/file-model.js';

export type ParseReply = { readonly kind: 'parsed'; readonly result: ParseResult } | { readonly kind: 'not-utf8' };

export function parseBytes(bytes: Uint8Array, now: number): ParseReply {
  let text: string;
  try {
    // fatal: a mis-encoded file is refused rather than silently turned into U+FFFD user keys. A BOM is dropped.
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return { kind: 'not-utf8' };
  }
  return { kind: 'parsed', result: parseDesiredState(text, { now }) };
}
