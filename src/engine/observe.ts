import type { DesiredOrg } from '../core/desired-state.js';
import type { Email, UserId } from '../core/domain.js';
import { indexUsers, resolveUser } from '../core/live-plan.js';
import type { ObservedOrg, ObservedUser } from '../core/observed-state.js';
import type { FailureDetail } from '../core/report.js';
import type { ParchmentApi } from './parchment-api.js';
import { failureOf } from './failures.js';

export type Observation =
  | { readonly kind: 'observed'; readonly observed: ObservedOrg }
  | { readonly kind: 'unobserved'; readonly failure: FailureDetail };

/** Reads sent together while looking for the users behind email keys (see UserReads.findEmails). */
export const EMAIL_READ_WINDOW = 4;

/**
 * List the organization's users, then read what the list did not carry (the documented list
 * shapes differ: some have no roles, the vendor's own example has no email). First, while email
 * keys of the file match no listed user and some listed users came without an email, read those
 * users in list order, stopping as soon as every email key has matched (at most one read per
 * listed user); then read the roles of managed users the list gave none for (and, under
 * `unlisted: disable`, of every listed user, with their email while a `keep` email is unmatched). A read that fails,
 * or answers for another user, is kept as that user's failure: the user is planned as unreadable
 * and nothing is written to them.
 */
export async function observeOrg(api: ParchmentApi, org: DesiredOrg, signal?: AbortSignal): Promise<Observation> {
  let listed: readonly ObservedUser[];
  try {
    listed = await api.listUsers(org.id, signal);
  } catch (err) {
    return { kind: 'unobserved', failure: failureOf(err, 'observe', 'cannot list the users') };
  }
  const reads = new UserReads(api, org, signal);
  await reads.findEmails(listed);

  const merged = reads.merge(listed);
  const index = indexUsers({ id: org.id, users: merged });
  const needRoles = new Map<UserId, ObservedUser>();
  for (const user of org.users) {
    const found = resolveUser(index, user);
    if (found.kind === 'one' && found.user.roles === undefined && !reads.attempted(found.user.id)) {
      needRoles.set(found.user.id, found.user);
    }
  }
  if (org.unlisted === 'disable') {
    // Whom it may disable depends on their roles (and their email, while a `keep` email is unmatched).
    const known = new Set(merged.flatMap((u) => (u.email ? [u.email] : [])));
    const keepOpen = org.keep.some((k) => k.ref.kind === 'email' && !known.has(k.ref.email));
    for (const u of merged) {
      if ((u.roles === undefined || (keepOpen && !u.email)) && !reads.attempted(u.id)) needRoles.set(u.id, u);
    }
  }
  await Promise.all([...needRoles.values()].map((u) => reads.read(u)));
  const failures = reads.failures();
  return {
    kind: 'observed',
    observed: { id: org.id, users: reads.merge(listed), ...(failures.size > 0 ? { readFailures: failures } : {}) },
  };
}

/** The read-user calls of one observation: each user at most once, answers and failures kept by id. */
class UserReads {
  readonly #answers = new Map<UserId, ObservedUser>();
  readonly #failures = new Map<UserId, FailureDetail>();
  readonly #attempted = new Set<UserId>();

  constructor(
    private readonly api: ParchmentApi,
    private readonly org: DesiredOrg,
    private readonly signal: AbortSignal | undefined,
  ) {}

  attempted(id: UserId): boolean {
    return this.#attempted.has(id);
  }

  failures(): ReadonlyMap<UserId, FailureDetail> {
    return this.#failures;
  }

  async read(user: ObservedUser): Promise<ObservedUser | undefined> {
    if (this.#attempted.has(user.id)) return this.#answers.get(user.id);
    this.#attempted.add(user.id);
    try {
      const answer = await this.api.getUser(this.org.id, user.id, this.signal);
      this.#answers.set(user.id, answer);
      return answer;
    } catch (err) {
      this.#failures.set(user.id, failureOf(err, 'observe'));
      return undefined;
    }
  }

  /**
   * Reads email-less listed users in batches of EMAIL_READ_WINDOW, only while an email key is still
   * unmatched: a batch starts only after the one before has answered, so no more than
   * EMAIL_READ_WINDOW - 1 reads are sent beyond the one that matched the last key.
   */
  async findEmails(listed: readonly ObservedUser[]): Promise<void> {
    const known = new Set<Email>(listed.flatMap((u) => (u.email ? [u.email] : [])));
    const wanted = new Set<Email>(
      this.org.users.flatMap((u) => (u.ref.kind === 'email' && !known.has(u.ref.email) ? [u.ref.email] : [])),
    );
    const withoutEmail = [...new Map(listed.filter((u) => !u.email).map((u) => [u.id, u])).values()];
    for (let next = 0; wanted.size > 0 && next < withoutEmail.length; next += EMAIL_READ_WINDOW) {
      if (this.signal?.aborted === true) return;
      const batch = withoutEmail.slice(next, next + EMAIL_READ_WINDOW);
      for (const answer of await Promise.all(batch.map((u) => this.read(u)))) {
        if (answer?.email) wanted.delete(answer.email);
      }
    }
  }

  /** The listed users with what their reads told; the id is always the one listed and asked for. */
  merge(listed: readonly ObservedUser[]): ObservedUser[] {
    return listed.map((u) => {
      const answer = this.#answers.get(u.id);
      if (!answer) return u;
      const email = answer.email ?? u.email;
      const fullName = answer.fullName ?? u.fullName;
      const roles = answer.roles ?? u.roles;
      return {
        id: u.id,
        ...(email ? { email } : {}),
        ...(fullName ? { fullName } : {}),
        ...(roles ? { roles } : {}),
      };
    });
  }
}
