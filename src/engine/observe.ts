import type { DesiredOrg } from '../core/desired-state.js';
import { indexUsers, resolveUser } from '../core/live-plan.js';
import type { ObservedOrg, ObservedUser } from '../core/observed-state.js';
import type { FailureDetail } from '../core/report.js';
import { failureOf } from './failures.js';
import type { ParchmentApi } from './parchment-api.js';

export type Observation =
  { readonly ok: true; readonly observed: ObservedOrg } | { readonly ok: false; readonly failure: FailureDetail };

/**
 * List the organization's users, then read the roles of managed users the list did not carry
 * (some list shapes carry no roles: docs/parchment-api.md). Reads run concurrently; the client's
 * queue bounds them.
 * A managed user whose read fails keeps `roles` undefined and is planned as unreadable.
 */
export async function observeOrg(api: ParchmentApi, org: DesiredOrg, signal?: AbortSignal): Promise<Observation> {
  let listed: readonly ObservedUser[];
  try {
    listed = await api.listUsers(org.id, signal);
  } catch (err) {
    return { ok: false, failure: failureOf(err, 'observe', `cannot list the users of organization ${org.id}`) };
  }
  const index = indexUsers({ id: org.id, users: listed });
  const toRead = new Set<ObservedUser>();
  for (const user of org.users) {
    const live = resolveUser(index, user);
    if (live && live.roles === undefined) toRead.add(live);
  }
  if (toRead.size === 0) return { ok: true, observed: { id: org.id, users: listed } };

  const read = new Map<string, ObservedUser>();
  await Promise.all(
    [...toRead].map(async (u) => {
      try {
        const full = await api.getUser(org.id, u.id, signal);
        read.set(u.id, { ...u, ...full, email: full.email ?? u.email });
      } catch {
        // Planned as `unreadable` (a failure naming the user); the client has logged the request.
      }
    }),
  );
  return { ok: true, observed: { id: org.id, users: listed.map((u) => read.get(u.id) ?? u) } };
}
