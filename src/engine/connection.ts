import type { OrgId, UserId } from '../core/domain.js';
import { writes, type RunMode } from '../core/run-mode.js';
import type { Logger } from '../log.js';
import { ParchmentClient } from '../parchment/client.js';
import type { AttemptRecord } from '../parchment/http.js';
import type { ParchmentSettings } from '../parchment/settings.js';
import type { RequestScheduler } from '../queue/contract.js';
import { rateControllerFor } from '../queue/rate-controller.js';
import { formatRate, rateChangeLog } from '../queue/rate-log.js';
import { RequestQueue } from '../queue/request-queue.js';
import type { ParchmentApi } from './parchment-api.js';
import { Reconciler, type UserWrites } from './reconciler.js';

/** Reconcilers bound to one set of credentials, and the clients they own. */
export interface Connection {
  readonly organizations: ReadonlySet<OrgId>;
  /**
   * The reconciler for a run mode. `plan` and `dry-run` get a client whose HTTP layer refuses every
   * write, so a read-only run rests on that refusal, not on the reconciler's good behaviour.
   */
  reconciler(mode: RunMode): Reconciler;
  /** The Parchment calls the reconciler for `mode` makes. */
  api(mode: RunMode): ParchmentApi;
  close(): void;
}

export interface ConnectOptions {
  readonly logger: Logger;
  /** The shared request budget: every client of the process goes through one queue. */
  readonly scheduler: RequestScheduler;
  /** The per-user write order, owned (and closed at shutdown) by the caller. */
  readonly coordinator: UserWrites;
  readonly onRequest?: (record: AttemptRecord) => void;
}

/** Wires settings into clients and reconcilers; the same for one-shot commands and the daemon. */
export function connect(settings: ParchmentSettings, opts: ConnectOptions): Connection {
  // Read-only first: tokens are minted through it (the token call passes the read-only guard),
  // and the writing client, made only when a mode writes, shares them.
  const reading = new ParchmentClient({
    settings,
    logger: opts.logger,
    scheduler: opts.scheduler,
    readOnly: true,
    onRequest: opts.onRequest,
  });
  let writing: ParchmentClient | undefined;
  const reconcilers = new Map<RunMode, Reconciler>();
  const actingUsers = actingUsersOf(settings);
  const apiFor = (mode: RunMode): ParchmentApi =>
    writes(mode) ? (writing ??= reading.sibling({ readOnly: false })) : reading;
  return {
    organizations: new Set(settings.organizations.keys()),
    reconciler(mode) {
      let r = reconcilers.get(mode);
      if (!r) {
        r = new Reconciler({
          api: apiFor(mode),
          mode,
          coordinator: opts.coordinator,
          logger: opts.logger,
          now: () => new Date(),
          actingUsers,
        });
        reconcilers.set(mode, r);
      }
      return r;
    },
    api: apiFor,
    close() {
      writing?.close();
      reading.close();
    },
  };
}

/**
 * The process's one request budget, from ROLE_SYNC_RATE(_MAX) and ROLE_SYNC_CONCURRENCY: one rate
 * for every organization, because a limit it learns is the partner's or the API's, not an
 * organization's. Every 429 is logged, and a learned rate when it moves.
 */
export function requestQueue(
  settings: Pick<ParchmentSettings, 'rate' | 'concurrency'>,
  logger: Logger,
  onRateLimited?: (delayMs: number) => void,
): RequestQueue {
  const controller = rateControllerFor(settings.rate);
  if (settings.rate.kind === 'auto') {
    logger.debug(
      { ratePerSecond: controller.rate, maxPerSecond: settings.rate.maxPerSecond },
      `request rate: learned from Parchment's answers, starting at ${formatRate(controller.rate)}`,
    );
  }
  const logRate = rateChangeLog(controller.rate, (rate, previous) =>
    logger.info(
      { ratePerSecond: round2(rate), previousPerSecond: round2(previous) },
      `request rate now ${formatRate(rate)}, learned from Parchment's answers (was ${formatRate(previous)})`,
    ),
  );
  return new RequestQueue({
    rate: controller,
    concurrency: settings.concurrency,
    onRateLimited: (delayMs) => {
      onRateLimited?.(delayMs);
      logger.warn({ delayMs }, 'rate limited by Parchment: pausing all requests');
    },
    onRateChange: logRate,
  });
}

const round2 = (n: number): number => Number(n.toFixed(2));

/** The user role-sync acts as, per organization: whose own admin role the guard protects. */
function actingUsersOf(settings: ParchmentSettings): Map<OrgId, UserId> {
  const acting = new Map<OrgId, UserId>();
  for (const [id, org] of settings.organizations) {
    const user = org.actingUser ?? settings.auth.userId;
    if (user !== undefined) acting.set(id, user);
  }
  return acting;
}
