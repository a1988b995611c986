import type { AssignableRole, LiveRole, OrgId, UserId } from '../../src/core/domain.js';
import type { ObservedUser } from '../../src/core/observed-state.js';
import type { ParchmentApi, RolesWritten, UserToggled } from '../../src/engine/parchment-api.js';
import { AuthFailedError, ParchmentApiError } from '../../src/parchment/errors.js';
import { ROUTES } from '../../src/parchment/routes.js';

/** A call the engine made, in order. */
export type FakeCall =
  | { readonly kind: 'list'; readonly org: OrgId }
  | { readonly kind: 'get'; readonly org: OrgId; readonly user: UserId }
  | {
      readonly kind: 'put-roles';
      readonly org: OrgId;
      readonly user: UserId;
      readonly roles: readonly AssignableRole[];
    }
  | { readonly kind: 'disable' | 'enable'; readonly org: OrgId; readonly user: UserId };

/** How the fake answers a role write, per user; by default it stores the roles and answers with them. */
export type PutBehaviour =
  | { readonly kind: 'store' }
  /** Stores nothing and answers with these roles instead (what a server that drops a role does). */
  | { readonly kind: 'answer'; readonly roles: readonly LiveRole[] }
  /** A 401 that a fresh token did not cure. */
  | { readonly kind: 'auth' }
  | { readonly kind: 'status'; readonly status: number };

export interface FakeOrg {
  readonly users: readonly ObservedUser[];
  /** Listing fails with this status (a 401 becomes the client's AuthFailedError). */
  readonly listStatus?: number;
  /** The list carries no roles: the engine has to read each managed user. */
  readonly bareList?: boolean;
}

/**
 * An in-memory Parchment behind the engine's interface: organizations and users held in maps,
 * failures as the real client throws them. For in-process tests of the reconciler.
 */
export class FakeParchment implements ParchmentApi {
  readonly calls: FakeCall[] = [];
  readonly #orgs = new Map<OrgId, Map<UserId, ObservedUser>>();
  readonly #listStatus = new Map<OrgId, number>();
  readonly #bare = new Set<OrgId>();
  readonly #put = new Map<UserId, PutBehaviour>();
  /** Accounts disabled through the fake: a role write to one is refused (409) until it is enabled. */
  readonly #disabled = new Set<string>();

  constructor(orgs: ReadonlyMap<OrgId, FakeOrg>, put: ReadonlyMap<UserId, PutBehaviour> = new Map()) {
    for (const [id, org] of orgs) {
      this.#orgs.set(id, new Map(org.users.map((u) => [u.id, u])));
      // As in Parchment, an account holding only `member` is a disabled one.
      for (const u of org.users)
        if (u.roles?.length === 1 && u.roles[0] === 'member') this.#disabled.add(`${id}/${u.id}`);
      if (org.listStatus !== undefined) this.#listStatus.set(id, org.listStatus);
      if (org.bareList === true) this.#bare.add(id);
    }
    for (const [user, b] of put) this.#put.set(user, b);
  }

  /** The roles the fake holds now. */
  roles(org: OrgId, user: UserId): readonly LiveRole[] | undefined {
    return this.#orgs.get(org)?.get(user)?.roles;
  }

  async listUsers(org: OrgId): Promise<readonly ObservedUser[]> {
    this.calls.push({ kind: 'list', org });
    const status = this.#listStatus.get(org);
    if (status !== undefined) throw apiError('GET', ROUTES.users, org, undefined, status);
    const users = [...this.#users(org).values()];
    return this.#bare.has(org) ? users.map(({ roles: _roles, ...rest }) => rest) : users;
  }

  async getUser(org: OrgId, user: UserId): Promise<ObservedUser> {
    this.calls.push({ kind: 'get', org, user });
    const found = this.#users(org).get(user);
    if (!found) throw apiError('GET', ROUTES.user, org, user, 404);
    return found;
  }

  async replaceRoles(org: OrgId, user: UserId, roles: readonly AssignableRole[]): Promise<RolesWritten> {
    this.calls.push({ kind: 'put-roles', org, user, roles });
    const users = this.#users(org);
    const found = users.get(user);
    if (!found) throw apiError('PUT', ROUTES.roles, org, user, 404);
    if (this.#disabled.has(`${org}/${user}`)) throw apiError('PUT', ROUTES.roles, org, user, 409);
    const behaviour = this.#put.get(user) ?? { kind: 'store' };
    switch (behaviour.kind) {
      case 'store':
        users.set(user, { ...found, roles });
        return { roles, requestId: `put-${user}` };
      case 'answer':
        return { roles: behaviour.roles, requestId: `put-${user}` };
      case 'auth':
        throw apiError('PUT', ROUTES.roles, org, user, 401);
      case 'status':
        throw apiError('PUT', ROUTES.roles, org, user, behaviour.status);
    }
  }

  async disableUser(org: OrgId, user: UserId): Promise<UserToggled> {
    this.calls.push({ kind: 'disable', org, user });
    const users = this.#users(org);
    const found = users.get(user);
    if (!found) throw apiError('PUT', ROUTES.disable, org, user, 404);
    users.set(user, { ...found, roles: ['member'] });
    this.#disabled.add(`${org}/${user}`);
    return { userId: user };
  }

  async enableUser(org: OrgId, user: UserId): Promise<UserToggled> {
    this.calls.push({ kind: 'enable', org, user });
    if (!this.#users(org).has(user)) throw apiError('PUT', ROUTES.enable, org, user, 404);
    this.#disabled.delete(`${org}/${user}`);
    return { userId: user };
  }

  #users(org: OrgId): Map<UserId, ObservedUser> {
    const users = this.#orgs.get(org);
    if (!users) throw apiError('GET', ROUTES.users, org, undefined, 404);
    return users;
  }
}

function apiError(
  method: 'GET' | 'PUT',
  route: string,
  org: OrgId,
  user: UserId | undefined,
  status: number,
): ParchmentApiError {
  const err = new ParchmentApiError({ method, route, organizationId: org, userId: user, status, requestId: 'req-err' });
  return status === 401 ? new AuthFailedError(err, 'token-rejected-after-renewal') : err;
}
