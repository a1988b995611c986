/**
 * A stateful local stand-in for the Parchment API: `role-sync simulate`, the demo,
 * and every integration test. It serves under `/external` like the real API.
 *
 * Choices where the docs are silent or disagree (docs/parchment-api.md):
 * - PUT roles: unknown, non-assignable (owner/support/member) or no roles → 400 invalid-request
 *   "access_roles must be a non-empty array of valid roles" (nothing is filtered); `rx_reader`
 *   without `receptionist` → 400 "rx_reader must be combined with receptionist"; duplicates are
 *   dropped; a disabled user → 409 resource-conflict (enable it first; its only role is member).
 * - Disabled users are listed and readable, with roles [member]; they cannot act as `x-user-id`.
 * - A missing scope is 403 insufficient-scope (not the 401 of the LIST/GET examples); a token for
 *   another organization is 403 access-denied; a bad token scope request is 422.
 * - List: ordered by user id; `lastKey` is standard base64, so clients must URL-encode it;
 *   `oas` items are exactly the vendor's example (`user_id`, `external_user_id` = `SIM#<id>`, `full_name`,
 *   `access_roles`; no email); `rs` items carry `user_id`, `email`, `full_name`, `access_roles`;
 *   the `bare` shape ignores limit and lastKey.
 * - Hostile cases (one email on two accounts, a read answering for another user, an unknown live role,
 *   one id on two pages) are described in hostile.ts.
 * - Faults are decided before the route runs, so a faulted or dropped write changes nothing.
 * - The rate limit is a token bucket over every API request (burst: one second's worth); its 429s
 *   say how long until a request would pass, unless `retryAfter` makes them lie or stay silent.
 * - reset() restores users, log and configuration; tokens already issued stay valid.
 */
import { demoSeed } from './demo-seed.js';
import { validateSeed } from './seed.js';
import { startSimulator as start } from './server.js';
import type { RunningSimulator, SimOptions } from './types.js';

export type {
  ConfigPatch,
  FaultKind,
  HugeBody,
  ListShape,
  RateLimitOptions,
  RecordedRequest,
  RetryAfterMode,
  RunningSimulator,
  SimConfig,
  SimOptions,
  SimOrg,
  SimSeed,
  SimUser,
} from './types.js';
export { DEMO_ACTING_USER, DEMO_PARTNER, demoSeed } from './demo-seed.js';
export { loadSeedFile, SeedError, validateSeed } from './seed.js';
export { ConfigError } from './config.js';
export { DEFAULT_FAULTS, FAULT_KINDS } from './types.js';

/** Starts listening (default 127.0.0.1, a random port) with the demo seed unless another is given. */
export async function startSimulator(opts: SimOptions = {}): Promise<RunningSimulator> {
  return start(validateSeed(opts.seed ?? demoSeed(), 'seed option'), opts);
}
