import { defined } from '../core/objects.js';
import { normalizeOrgId, normalizeUserId } from './seed.js';
import type { SimSeed, SimUser } from './types.js';

interface OrgState {
  id: string;
  name?: string;
  secret: string;
  users: Map<string, SimUser>;
  /** User ids in list order (code-unit order of the id), so pages are stable. */
  order: string[];
}

export interface UserPage {
  users: SimUser[];
  /** Index of the first user of this page in the whole list. */
  offset: number;
  total: number;
  /** Cursor for the next page; undefined on the last page. */
  nextKey?: string;
}

export type ToggleResult = 'changed' | 'unchanged' | 'no-such-user';

function copyUser(u: SimUser): SimUser {
  return { ...u, roles: [...u.roles] };
}

/** The cursor imitates the DynamoDB key Parchment's RS example shows; clients must treat it as opaque. */
function encodeCursor(orgId: string, userId: string): string {
  return Buffer.from(JSON.stringify({ pk: `ORG#${orgId}`, sk: `USER#${userId}` }), 'utf8').toString('base64');
}

function decodeCursor(orgId: string, key: string): string | undefined {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(key, 'base64').toString('utf8'));
    if (typeof parsed !== 'object' || parsed === null) return undefined;
    const { pk, sk } = parsed as { pk?: unknown; sk?: unknown };
    if (pk !== `ORG#${orgId}` || typeof sk !== 'string' || !sk.startsWith('USER#')) return undefined;
    return sk.slice('USER#'.length);
  } catch {
    return undefined;
  }
}

/** Index of the first id greater than `after` in the sorted `ids` (binary search; lists can be long). */
function firstAfter(ids: readonly string[], after: string): number {
  let lo = 0;
  let hi = ids.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((ids[mid] as string) > after) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** The organizations and users the simulator serves; mutated by role writes and `/_sim/` calls. */
export class SimState {
  private orgs = new Map<string, OrgState>();

  constructor(private readonly seed: SimSeed) {
    this.reset();
  }

  reset(): void {
    this.orgs = new Map(
      this.seed.organizations.map((o) => {
        const users = new Map(o.users.map((u) => [u.id, copyUser(u)]));
        const order = [...users.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
        const org: OrgState = defined({ id: o.id, secret: o.secret, users, order, name: o.name });
        return [o.id, org];
      }),
    );
  }

  hasOrg(orgId: string): boolean {
    return this.orgs.has(normalizeOrgId(orgId));
  }

  orgSecret(orgId: string): string | undefined {
    return this.orgs.get(normalizeOrgId(orgId))?.secret;
  }

  user(orgId: string, userId: string): SimUser | undefined {
    const u = this.find(orgId, userId);
    return u ? copyUser(u) : undefined;
  }

  /** Replaces the user's roles; false when there is no such user. */
  setRoles(orgId: string, userId: string, roles: readonly string[]): boolean {
    const u = this.find(orgId, userId);
    if (!u) return false;
    u.roles = [...roles];
    return true;
  }

  /** Disabling downgrades every role to member. */
  disable(orgId: string, userId: string): ToggleResult {
    const u = this.find(orgId, userId);
    if (!u) return 'no-such-user';
    if (u.disabled === true) return 'unchanged';
    u.disabled = true;
    u.roles = ['member'];
    return 'changed';
  }

  /** Enabling leaves the user with member only; roles are re-assigned separately. */
  enable(orgId: string, userId: string): ToggleResult {
    const u = this.find(orgId, userId);
    if (!u) return 'no-such-user';
    if (u.disabled !== true) return 'unchanged';
    delete u.disabled;
    u.roles = ['member'];
    return 'changed';
  }

  /** All users of the organization in list order. */
  allUsers(orgId: string): SimUser[] {
    const org = this.orgs.get(normalizeOrgId(orgId));
    return org ? org.order.map((id) => copyUser(org.users.get(id) as SimUser)) : [];
  }

  /** The user at `index` in list order. */
  userAt(orgId: string, index: number): SimUser | undefined {
    const org = this.orgs.get(normalizeOrgId(orgId));
    const id = org?.order[index];
    const u = id === undefined ? undefined : org?.users.get(id);
    return u ? copyUser(u) : undefined;
  }

  /** A page after `lastKey`; `invalid-key` when the cursor is not one this organization issued. */
  page(orgId: string, size: number, lastKey: string | undefined): UserPage | 'invalid-key' {
    const org = this.orgs.get(normalizeOrgId(orgId));
    if (!org) return { users: [], offset: 0, total: 0 };
    let start = 0;
    if (lastKey !== undefined) {
      const after = decodeCursor(org.id, lastKey);
      if (after === undefined) return 'invalid-key';
      start = firstAfter(org.order, after);
    }
    const ids = org.order.slice(start, start + size);
    const end = start + ids.length;
    const last = ids[ids.length - 1];
    return defined({
      users: ids.map((id) => copyUser(org.users.get(id) as SimUser)),
      offset: start,
      total: org.order.length,
      nextKey: end < org.order.length && last !== undefined ? encodeCursor(org.id, last) : undefined,
    });
  }

  /** The current world, shaped like a seed (for `GET /_sim/state`). */
  snapshot(): SimSeed {
    return {
      partners: this.seed.partners.map((p) => ({ ...p })),
      organizations: [...this.orgs.values()].map((o) =>
        defined({ id: o.id, name: o.name, secret: o.secret, users: this.allUsers(o.id) }),
      ),
    };
  }

  private find(orgId: string, userId: string): SimUser | undefined {
    return this.orgs.get(normalizeOrgId(orgId))?.users.get(normalizeUserId(userId));
  }
}
