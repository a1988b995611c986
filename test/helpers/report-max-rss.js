// Preloaded into a child with `NODE_OPTIONS=--import=…`: the process' peak resident set (kB) as
// its last stderr line, exact where sampling /proc from outside could miss the peak.
import { writeSync } from 'node:fs';

process.on('exit', () => {
  writeSync(2, `\nmax-rss-kb ${process.resourceUsage().maxRSS}\n`);
});
