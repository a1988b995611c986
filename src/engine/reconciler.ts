import type { DesiredState } from '../core/desired-state.js';
import { sameRoles, type AssignableRole, type LiveRole, type OrgId, type UserId } from '../core/domain.js';
import { checkGuards, type GuardRefusal } from '../core/guards.js';
import { changesOf, planOrg, type ChangeEntry, type OrgPlan } from '../core/live-plan.js';
import { buildLiveReport, type OrgOutcome } from '../core/live-report.js';
import type { Memory, OrgMemory, RememberedUser } from '../core/observed-state.js';
import type { ChangeResult, FailureDetail, Report, ReportSource } from '../core/report.js';
import type { MaxChanges } from '../core/units.js';
import type { Logger } from '../log.js';
import type { ParchmentClient } from '../parchment/client.js';
import { AuthFailedError } from '../parchment/errors.js';
import { QueueClosedError } from '../queue/request-queue.js';
import { WriteCoordinator } from '../queue/write-coordinator.js';
import { failureOf } from './failures.js';
import { observeOrg } from './observe.js';

export interface CycleOptions {
  /** `plan` observes only; `apply` also writes (unless the client is read-only, i.e. dry-run). */
  readonly mode: 'plan' | 'apply';
  readonly dryRun: boolean;
  readonly maxChanges: MaxChanges;
  readonly force: boolean;
  readonly source: ReportSource;
  readonly signal?: AbortSignal;
  readonly onProgress?: (done: number, total: number) => void;
}

export interface CycleResult {
  readonly report: Report;
  /** Non-empty when a guard refused the plan (and `--force` was not given): nothing was written. */
  readonly refusals: readonly GuardRefusal[];
  /** What to remember: the new snapshot content. */
  readonly memory: Memory;
  readonly plans: readonly OrgPlan[];
}

export interface ReconcilerDeps {
  readonly client: ParchmentClient;
  readonly logger: Logger;
  readonly now: () => Date;
  /** The acting user per organization: whose own admin role the guard protects. */
  readonly actingUsers?: ReadonlyMap<OrgId, UserId>;
  readonly coordinator?: WriteCoordinator<readonly AssignableRole[]>;
}

/**
 * One reconcile cycle: observe every organization, plan (pure), check the guards, write the
 * changes through the per-user coordinator, and build the report and the next memory.
 */
export class Reconciler {
  readonly #deps: ReconcilerDeps;
  readonly #coordinator: WriteCoordinator<readonly AssignableRole[]>;

  constructor(deps: ReconcilerDeps) {
    this.#deps = deps;
    this.#coordinator = deps.coordinator ?? new WriteCoordinator();
  }

  get coordinator(): WriteCoordinator<readonly AssignableRole[]> {
    return this.#coordinator;
  }

  async cycle(desired: DesiredState, memory: Memory, opts: CycleOptions): Promise<CycleResult> {
    const { client, logger } = this.#deps;
    const observations = await Promise.all(
      desired.organizations.map(async (org) => ({ org, obs: await observeOrg(client, org, opts.signal) })),
    );

    const plans: OrgPlan[] = [];
    const failedOrgs = new Map<OrgId, FailureDetail>();
    for (const { org, obs } of observations) {
      if (obs.ok) plans.push(planOrg(org, obs.observed, memory.organizations.get(org.id)));
      else failedOrgs.set(org.id, obs.failure);
    }

    const tripped = opts.force
      ? []
      : checkGuards(plans, {
          maxChanges: opts.maxChanges,
          ...(this.#deps.actingUsers ? { actingUsers: this.#deps.actingUsers } : {}),
        });
    // A plan writes nothing, so nothing is refused (no exit 3 for a read-only run); it warns that an apply would be.
    const refusals = opts.mode === 'plan' ? [] : tripped;
    const guardNote = opts.mode === 'plan' ? 'an apply would be refused by a safety guard' : 'refused by safety guard';
    const writing = opts.mode === 'apply' && !opts.dryRun && refusals.length === 0;
    for (const r of refusals) logger.warn({ guard: r.kind, organization: r.organization }, r.message);

    const results = new Map<OrgId, Map<UserId, ChangeResult>>();
    const orgWriteFailure = new Map<OrgId, FailureDetail>();
    if (writing) await this.#write(plans, results, orgWriteFailure, opts);
    else if (refusals.length > 0) {
      for (const plan of plans)
        results.set(
          plan.id,
          new Map(changesOf(plan).map((c) => [c.id, { state: 'not-attempted', reason: 'guard' } as const])),
        );
    }

    const outcomes: OrgOutcome[] = desired.organizations.map((org) => {
      const failure = failedOrgs.get(org.id);
      if (failure) return { kind: 'unobserved', org, failure };
      const plan = plans.find((p) => p.id === org.id)!;
      const orgFailure = orgWriteFailure.get(org.id);
      return {
        kind: 'planned',
        plan,
        results: results.get(org.id) ?? new Map(),
        ...(orgFailure ? { failure: orgFailure } : {}),
      };
    });
    const report = buildLiveReport({
      kind: opts.mode,
      dryRun: opts.dryRun,
      now: this.#deps.now(),
      source: opts.source,
      outcomes,
      warnings: tripped.map((r) => ({ organization: r.organization, message: `${guardNote}: ${r.message}` })),
    });
    return { report, refusals, plans, memory: nextMemory(memory, plans, results, writing) };
  }

  async #write(
    plans: readonly OrgPlan[],
    results: Map<OrgId, Map<UserId, ChangeResult>>,
    orgFailure: Map<OrgId, FailureDetail>,
    opts: CycleOptions,
  ): Promise<void> {
    const all = plans.flatMap((plan) => changesOf(plan).map((change) => ({ plan, change })));
    let done = 0;
    const authStopped = new Set<OrgId>();
    await Promise.all(
      all.map(async ({ plan, change }) => {
        const orgResults = results.get(plan.id) ?? new Map<UserId, ChangeResult>();
        results.set(plan.id, orgResults);
        const result = await this.#writeOne(plan.id, change, authStopped, opts.signal);
        if (result.state === 'failed' && result.failure.reason === 'auth' && !orgFailure.has(plan.id)) {
          orgFailure.set(plan.id, {
            ...result.failure,
            message: `writes to organization ${plan.id} stopped: ${result.failure.message}`,
          });
        }
        orgResults.set(change.id, result);
        done++;
        opts.onProgress?.(done, all.length);
      }),
    );
  }

  async #writeOne(
    org: OrgId,
    change: ChangeEntry,
    authStopped: Set<OrgId>,
    signal: AbortSignal | undefined,
  ): Promise<ChangeResult> {
    const { client } = this.#deps;
    const context = `PUT roles of ${change.user.key} in organization ${org}`;
    const outcome = await this.#coordinator.submit(`${org}/${change.id}`, change.to, async (roles, writeSignal) => {
      if (authStopped.has(org)) throw new NotAttempted('auth');
      if (signal?.aborted) throw new NotAttempted('shutdown');
      return client.replaceRoles(org, change.id, roles, anySignal(signal, writeSignal));
    });
    switch (outcome.status) {
      case 'done': {
        const { roles, requestId } = outcome.result;
        if (!sameRoles(roles, change.to)) {
          return {
            state: 'failed',
            failure: {
              reason: 'mismatch',
              message: `${context}: Parchment answered with roles [${roles.join(', ')}] instead of [${change.to.join(', ')}]`,
              ...(requestId !== undefined ? { requestId } : {}),
            },
          };
        }
        return { state: 'applied' };
      }
      case 'failed': {
        if (outcome.error instanceof NotAttempted) return { state: 'not-attempted', reason: outcome.error.reason };
        // Shutdown drained the queue before this write started: nothing was sent.
        if (outcome.error instanceof QueueClosedError) return { state: 'not-attempted', reason: 'shutdown' };
        if (outcome.error instanceof AuthFailedError) authStopped.add(org);
        return { state: 'failed', failure: failureOf(outcome.error, 'rejected', context) };
      }
      case 'superseded':
      case 'cancelled':
        return { state: 'not-attempted', reason: 'shutdown' };
    }
  }
}

class NotAttempted extends Error {
  constructor(readonly reason: 'auth' | 'shutdown') {
    super(`not attempted: ${reason}`);
  }
}

/**
 * A signal of the write's own. The coordinator's signal is shared by every write and each queued
 * request listens on the signal it is given, so passing it on would pile one listener per pending
 * write onto it (Node's "possible EventTarget memory leak" warning past 10).
 */
function anySignal(a: AbortSignal | undefined, b: AbortSignal): AbortSignal {
  return AbortSignal.any(a ? [a, b] : [b]);
}

/**
 * The memory after a cycle: managed users and observed roles from this observation, and the
 * drift baseline (`applied`) moved to what was written or confirmed equal to the file.
 */
function nextMemory(
  previous: Memory,
  plans: readonly OrgPlan[],
  results: ReadonlyMap<OrgId, ReadonlyMap<UserId, ChangeResult>>,
  wrote: boolean,
): Memory {
  const organizations = new Map(previous.organizations);
  for (const plan of plans) {
    const before = previous.organizations.get(plan.id);
    const managed = new Map<UserId, RememberedUser>();
    const observed = new Map<UserId, readonly LiveRole[]>();
    const applied = new Map(before?.applied ?? []);
    for (const u of plan.unmanaged) if (u.roles) observed.set(u.id, u.roles);
    for (const e of plan.entries) {
      if (e.kind === 'not-found' || e.kind === 'ambiguous') continue;
      managed.set(e.id, { key: e.user.key, ...(e.user.email ? { email: e.user.email } : {}) });
      if (e.kind === 'unchanged') {
        observed.set(e.id, e.roles);
        applied.set(e.id, e.roles);
      } else if (e.kind === 'change') {
        const applyResult = results.get(plan.id)?.get(e.id);
        if (wrote && applyResult?.state === 'applied') {
          observed.set(e.id, e.to);
          applied.set(e.id, e.to);
        } else {
          observed.set(e.id, e.from);
        }
      } else if (e.kind === 'protected' || e.kind === 'disabled') {
        observed.set(e.id, e.live);
      }
    }
    const next: OrgMemory = { managed, observed, applied };
    organizations.set(plan.id, next);
  }
  return { organizations };
}
