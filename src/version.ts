import { readFileSync } from 'node:fs';

/** From package.json, so `--version` and the User-Agent never drift from the release. */
export const VERSION: string = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

export const USER_AGENT = `role-sync/${VERSION}`;
