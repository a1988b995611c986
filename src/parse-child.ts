/**
 * The parser process (see parser-process.ts): reads frames (a 4-byte big-endian length, the clock
 * as an 8-byte big-endian double, then the file's bytes) from stdin and answers each with a
 * ParseReply over IPC, until stdin ends or the parent goes away.
 */
import { parseBytes } from './parse-bytes.js';

const chunks: Buffer[] = [];
let buffered = 0;

function take(n: number): Buffer {
  const all = Buffer.concat(chunks, buffered);
  chunks.length = 0;
  if (all.length > n) chunks.push(all.subarray(n));
  buffered = all.length - n;
  return all.subarray(0, n);
}

const HEADER_BYTES = 12;
let needed: { readonly length: number; readonly now: number } | undefined;
process.stdin.on('data', (chunk: Buffer) => {
  chunks.push(chunk);
  buffered += chunk.length;
  for (;;) {
    if (needed === undefined) {
      if (buffered < HEADER_BYTES) return;
      const header = take(HEADER_BYTES);
      needed = { length: header.readUInt32BE(0), now: header.readDoubleBE(4) };
    }
    if (buffered < needed.length) return;
    const frame = take(needed.length);
    const now = needed.now;
    needed = undefined;
    process.send?.(parseBytes(frame, now));
  }
});
process.stdin.on('end', () => process.disconnect());
process.on('disconnect', () => process.exit(0));
