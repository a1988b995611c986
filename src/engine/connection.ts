import type { OrgId, UserId } from '../core/domain.js';
import type { Logger } from '../log.js';
import { ParchmentClient, type AttemptRecord } from '../parchment/client.js';
import type { ParchmentSettings } from '../parchment/settings.js';
import type { RequestScheduler } from '../queue/contract.js';
import { Reconciler } from './reconciler.js';

/** A reconciler bound to one set of credentials, and the client it owns. */
export interface Connection {
  readonly organizations: ReadonlySet<OrgId>;
  readonly reconciler: Reconciler;
  readonly close: () => void;
}

export interface ConnectOptions {
  readonly logger: Logger;
  /** The shared request budget: every client of the process goes through one queue. */
  readonly scheduler: RequestScheduler;
  /** Dry-run and plan rest on the HTTP layer refusing writes, not on the reconciler's good behaviour. */
  readonly readOnly: boolean;
  readonly onRequest?: (record: AttemptRecord) => void;
}

/** Wires settings into a client and a reconciler; the same for one-shot commands and the daemon. */
export function connect(settings: ParchmentSettings, opts: ConnectOptions): Connection {
  const client = new ParchmentClient({
    settings,
    logger: opts.logger,
    scheduler: opts.scheduler,
    readOnly: opts.readOnly,
    ...(opts.onRequest ? { onRequest: opts.onRequest } : {}),
  });
  const reconciler = new Reconciler({
    client,
    logger: opts.logger,
    now: () => new Date(),
    actingUsers: actingUsersOf(settings),
  });
  return { organizations: new Set(settings.organizations.keys()), reconciler, close: () => client.close() };
}

/** The user role-sync acts as, per organization: whose own admin role the guard protects. */
function actingUsersOf(settings: ParchmentSettings): Map<OrgId, UserId> {
  const acting = new Map<OrgId, UserId>();
  for (const [id, org] of settings.organizations) {
    const user = org.actingUser ?? settings.auth.userId;
    if (user !== undefined) acting.set(id, user);
  }
  return acting;
}
