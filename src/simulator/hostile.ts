/**
 * The hostile cases the simulator can play (README.md, "The simulator"), so tests and users can watch role-sync
 * refuse them. Each is off unless configured:
 * - `wrongUser` (`--wrong-user ASKED=OTHER`): read-user for ASKED answers with OTHER's record, and
 *   `PUT .../roles` for ASKED writes ASKED but answers with `user_id` OTHER.
 * - `overlapPages` (`--overlap-pages`): every list page after the first repeats the previous page's
 *   last user, as an inclusive cursor would: one user id twice across pages.
 * - `legacyEmails: true` on a seeded organization: emails as written, one address on several accounts.
 * - Any role string in a seed or in `PUT /_sim/.../roles` (`super_admin`, `PROVIDER`): an unknown live role.
 */
import { normalizeUserId } from './seed.js';
import type { SimState, UserPage } from './state.js';
import type { SimConfig, SimUser } from './types.js';

/** The user a read-user for `asked` answers with: another one when `wrongUser` says so and that user exists. */
export function readAnswerUser(config: SimConfig, state: SimState, orgId: string, asked: SimUser): SimUser {
  const other = config.wrongUser[normalizeUserId(asked.id)];
  return (other !== undefined ? state.user(orgId, other) : undefined) ?? asked;
}

/** The `user_id` a `PUT .../roles` answer names after writing `written`. */
export function rolesAnswerUserId(config: SimConfig, written: SimUser): string {
  return config.wrongUser[normalizeUserId(written.id)] ?? written.id;
}

/** Under `overlapPages`, a page after the first also starts with the user just before it. */
export function overlapPage(config: SimConfig, state: SimState, orgId: string, page: UserPage): UserPage {
  if (!config.overlapPages || page.offset === 0) return page;
  const previous = state.userAt(orgId, page.offset - 1);
  return previous === undefined ? page : { ...page, users: [previous, ...page.users] };
}
