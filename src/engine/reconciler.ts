import { setMaxListeners } from 'node:events';
import type { DesiredState } from '../core/desired-state.js';
import { sameGrantedRoles, type AssignableRole, type LiveRole, type OrgId, type UserId } from '../core/domain.js';
import { checkGuards, guardWarnings, type GuardRefusal } from '../core/guards.js';
import { planOrg, writesOf, type OrgPlan, type WriteEntry } from '../core/live-plan.js';
import { buildLiveReport } from '../core/live-report.js';
import type { OrgSnapshot, RememberedUser, Snapshot } from '../core/observed-state.js';
import { plannedOutcome, type OrgOutcome, type PlannedOutcome } from '../core/outcome.js';
import type { ChangeResult, FailureDetail, Report, ReportSource } from '../core/report.js';
import { writes, type RunMode } from '../core/run-mode.js';
import type { MaxChanges } from '../core/units.js';
import { defined } from '../core/objects.js';
import type { Logger } from '../log.js';
import { AuthFailedError } from '../parchment/errors.js';
import type { WriteOptions } from '../parchment/client.js';
import { RequestWithdrawnError } from '../queue/contract.js';
import { QueueClosedError } from '../queue/request-queue.js';
import type { WriteCoordinator } from '../queue/write-coordinator.js';
import { failureOf } from './failures.js';
import { observeOrg } from './observe.js';
import type { ParchmentApi } from './parchment-api.js';

export interface CycleOptions {
  readonly maxChanges: MaxChanges;
  /** Disables allowed per organization; the guard's default when absent. */
  readonly maxDisables?: number;
  readonly force: boolean;
  readonly source: ReportSource;
  readonly signal?: AbortSignal;
  readonly onProgress?: (done: number, total: number) => void;
}

export interface CycleResult {
  /** Per organization, in file order: what was observed, planned and written. */
  readonly outcomes: readonly OrgOutcome[];
  /** Non-empty when a guard refused the plan (and `--force` was not given): nothing was written. */
  readonly refusals: readonly GuardRefusal[];
  /** The snapshot to keep after this cycle. */
  readonly snapshot: Snapshot;
  /** The outcomes rendered for people and the versioned JSON; not for decisions. */
  readonly report: Report;
}

/** What one user's write is: a role list, a disable, or an enable followed by a role list (one task, in order). */
export type UserWrite =
  | { readonly kind: 'roles'; readonly roles: readonly AssignableRole[] }
  | { readonly kind: 'disable' }
  | { readonly kind: 'enable'; readonly roles: readonly AssignableRole[] };

/** Per-user write order: a newer write for a user replaces one still queued, never runs beside one in flight. */
export type UserWrites = WriteCoordinator<UserWrite>;

interface WriteAnswer {
  /** What Parchment stored, for writes that end with a role list. */
  readonly roles?: readonly LiveRole[];
  readonly requestId?: string;
}

export interface ReconcilerDeps {
  readonly api: ParchmentApi;
  /** Given once: `plan` and `dry-run` never write (and their `api` should refuse to). */
  readonly mode: RunMode;
  /** Orders writes per user; owned by whoever owns the process's lifetime (it closes it at shutdown). */
  readonly coordinator: UserWrites;
  readonly logger: Logger;
  readonly now: () => Date;
  /** The acting user per organization: whose own admin role the guard protects. */
  readonly actingUsers?: ReadonlyMap<OrgId, UserId>;
}

/** An organization between observation and writes. */
type Planning = Extract<OrgOutcome, { kind: 'unobserved' }> | { readonly kind: 'planned'; readonly plan: OrgPlan };

/** The writes of one organization: a result per change, and the failure that stopped them, if any. */
interface OrgWrites {
  readonly results: ReadonlyMap<UserId, ChangeResult>;
  readonly authStop?: FailureDetail;
}

/**
 * One reconcile cycle: observe every organization, plan (pure), check the guards, write the
 * changes through the per-user coordinator, and return the outcomes, the report and the next snapshot.
 */
export class Reconciler {
  readonly #deps: ReconcilerDeps;

  constructor(deps: ReconcilerDeps) {
    this.#deps = deps;
  }

  get mode(): RunMode {
    return this.#deps.mode;
  }

  async cycle(desired: DesiredState, snapshot: Snapshot, opts: CycleOptions): Promise<CycleResult> {
    const { api, logger, mode } = this.#deps;
    const observed = await Promise.all(
      desired.organizations.map(async (org): Promise<Planning> => {
        const obs = await observeOrg(api, org, opts.signal);
        if (obs.kind === 'unobserved') return { kind: 'unobserved', org, failure: obs.failure };
        const context = defined({ now: this.#deps.now().getTime(), actingUser: this.#deps.actingUsers?.get(org.id) });
        return { kind: 'planned', plan: planOrg(org, obs.observed, snapshot.organizations.get(org.id), context) };
      }),
    );
    const plans = observed.flatMap((o) => (o.kind === 'planned' ? [o.plan] : []));

    const tripped = opts.force
      ? []
      : checkGuards(
          plans,
          defined({ maxChanges: opts.maxChanges, maxDisables: opts.maxDisables, actingUsers: this.#deps.actingUsers }),
        );
    // A plan writes nothing, so nothing is refused (no exit 3 for a read-only run); it warns that an apply would be.
    const refusals = mode === 'plan' ? [] : tripped;
    const guardNote = mode === 'plan' ? 'an apply would be refused by a safety guard' : 'refused by safety guard';
    for (const r of refusals) logger.warn({ guard: r.kind, organization: r.organization }, r.message);

    const written = await this.#writes(plans, refusals.length > 0, opts);
    const outcomes = observed.map((o): OrgOutcome => {
      if (o.kind === 'unobserved') return o;
      const w = written.get(o.plan.id);
      return plannedOutcome(o.plan, w?.results, w?.authStop);
    });
    const report = buildLiveReport({
      mode,
      now: this.#deps.now(),
      source: opts.source,
      outcomes,
      warnings: [
        ...guardWarnings(plans, this.#deps.actingUsers),
        ...tripped.map((r) => ({ organization: r.organization, message: `${guardNote}: ${r.message}` })),
      ],
    });
    return { outcomes, refusals, report, snapshot: nextSnapshot(snapshot, outcomes) };
  }

  /** What became of every change: written (apply), refused by a guard, or left planned (plan, dry-run). */
  async #writes(
    plans: readonly OrgPlan[],
    refused: boolean,
    opts: CycleOptions,
  ): Promise<ReadonlyMap<OrgId, OrgWrites>> {
    if (refused) {
      const notAttempted: ChangeResult = { state: 'not-attempted', reason: 'guard' };
      return new Map(plans.map((p) => [p.id, { results: new Map(writesOf(p).map((c) => [c.id, notAttempted])) }]));
    }
    if (!writes(this.#deps.mode)) return new Map();
    const total = plans.reduce((n, p) => n + writesOf(p).length, 0);
    let done = 0;
    const progress = (): void => opts.onProgress?.(++done, total);
    const written = await Promise.all(
      plans.map(async (plan) => [plan.id, await this.#writeOrg(plan, progress, opts.signal)] as const),
    );
    return new Map(written);
  }

  async #writeOrg(plan: OrgPlan, progress: () => void, signal: AbortSignal | undefined): Promise<OrgWrites> {
    // Once Parchment rejects the credentials, writes of this organization not yet sent are not sent:
    // those waiting in the request queue are withdrawn, those not yet queued are never queued.
    const stop = new AbortController();
    // Every queued write of the organization listens on it: thousands are normal, not a leak.
    setMaxListeners(0, stop.signal);
    const results = await Promise.all(
      writesOf(plan).map(async (change) => {
        const result = await this.#writeOne(plan.id, change, stop, signal);
        progress();
        return [change.id, result] as const;
      }),
    );
    const refused = results.find(([, r]) => r.state === 'failed' && r.failure.reason === 'auth');
    const result = refused?.[1];
    if (refused === undefined || result?.state !== 'failed') return { results: new Map(results) };
    // Shown under the organization, so it names the user whose write met the refusal, not the organization.
    const at = writesOf(plan).find((w) => w.id === refused[0])?.user.key ?? refused[0];
    return {
      results: new Map(results),
      authStop: { ...result.failure, message: `writes stopped at ${at}: ${result.failure.message}` },
    };
  }

  async #writeOne(
    org: OrgId,
    entry: WriteEntry,
    stop: AbortController,
    signal: AbortSignal | undefined,
  ): Promise<ChangeResult> {
    const { coordinator } = this.#deps;
    const outcome = await coordinator.submit(`${org}/${entry.id}`, userWrite(entry), async (write, writeSignal) => {
      if (stop.signal.aborted) throw new NotAttempted('auth');
      if (signal?.aborted) throw new NotAttempted('shutdown');
      return this.#send(org, entry.id, write, { signal: anySignal(signal, writeSignal), withdraw: stop.signal });
    });
    switch (outcome.kind) {
      case 'done': {
        const { roles, requestId } = outcome.result;
        if (entry.kind === 'disable' || roles === undefined || sameGrantedRoles(roles, entry.to))
          return { state: 'applied' };
        const answered = `Parchment answered with roles [${roles.join(', ')}] instead of [${entry.to.join(', ')}]`;
        const failure: FailureDetail = { reason: 'mismatch', message: `${writeName(entry)}: ${answered}` };
        return { state: 'failed', failure: requestId === undefined ? failure : { ...failure, requestId } };
      }
      case 'failed': {
        if (outcome.error instanceof NotAttempted) return { state: 'not-attempted', reason: outcome.error.reason };
        if (outcome.error instanceof RequestWithdrawnError) return { state: 'not-attempted', reason: 'auth' };
        // Shutdown drained the queue before this write started: nothing was sent.
        if (outcome.error instanceof QueueClosedError) return { state: 'not-attempted', reason: 'shutdown' };
        if (outcome.error instanceof AuthFailedError) stop.abort();
        return { state: 'failed', failure: failureOf(outcome.error, 'rejected') };
      }
      case 'superseded':
      case 'cancelled':
        return { state: 'not-attempted', reason: 'shutdown' };
    }
  }

  /**
   * One user's requests, in order: an enable is answered before its roles are sent. Only the first
   * request may be withdrawn: once the enable went out, its roles follow, so that a write reported
   * as not attempted really sent nothing.
   */
  async #send(org: OrgId, user: UserId, write: UserWrite, opts: Required<WriteOptions>): Promise<WriteAnswer> {
    const { api } = this.#deps;
    switch (write.kind) {
      case 'roles':
        return api.replaceRoles(org, user, write.roles, opts);
      case 'disable': {
        const { requestId } = await api.disableUser(org, user, opts);
        return requestId === undefined ? {} : { requestId };
      }
      case 'enable':
        await api.enableUser(org, user, opts);
        return api.replaceRoles(org, user, write.roles, { signal: opts.signal });
    }
  }
}

function userWrite(entry: WriteEntry): UserWrite {
  switch (entry.kind) {
    case 'change':
      return { kind: 'roles', roles: entry.to };
    case 'disable':
      return { kind: 'disable' };
    case 'enable':
      return { kind: 'enable', roles: entry.to };
  }
}

function writeName(entry: WriteEntry): string {
  switch (entry.kind) {
    case 'change':
      return 'PUT roles';
    case 'disable':
      return 'PUT disable';
    case 'enable':
      return 'PUT enable, then PUT roles';
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

/** What Parchment leaves a disabled account with. */
const DISABLED_ROLES: readonly LiveRole[] = ['member'];

/**
 * The snapshot after a cycle: managed users and observed roles from this observation, and the
 * applied roles (what drift is measured against) moved to what was written or confirmed equal to
 * the file. An organization that could not be observed keeps what the previous snapshot had.
 */
export function nextSnapshot(previous: Snapshot, outcomes: readonly OrgOutcome[]): Snapshot {
  const organizations = new Map(previous.organizations);
  for (const outcome of outcomes) {
    if (outcome.kind === 'unobserved') continue;
    organizations.set(outcome.plan.id, orgSnapshot(outcome, previous.organizations.get(outcome.plan.id)));
  }
  return { organizations };
}

function orgSnapshot(outcome: PlannedOutcome, before: OrgSnapshot | undefined): OrgSnapshot {
  const managed = new Map<UserId, RememberedUser>();
  const observed = new Map<UserId, readonly LiveRole[]>();
  const applied = new Map(before?.applied ?? []);
  for (const u of outcome.plan.unmanaged) if (u.roles) observed.set(u.id, u.roles);
  for (const u of outcome.users) {
    const e = u.entry;
    if (e.kind === 'not-found' || e.kind === 'ambiguous') continue;
    const unlisted = e.kind === 'disable' && e.cause === 'unlisted';
    if (!unlisted) managed.set(e.id, e.user.email ? { key: e.user.key, email: e.user.email } : { key: e.user.key });
    if (u.kind === 'write') {
      const after = u.entry.kind === 'disable' ? DISABLED_ROLES : u.entry.to;
      if (u.result.state !== 'applied') observed.set(e.id, u.entry.from);
      else {
        observed.set(e.id, after);
        // Drift is measured for managed users only.
        if (!unlisted) applied.set(e.id, after);
      }
      continue;
    }
    if (e.kind === 'unchanged') {
      observed.set(e.id, e.roles);
      applied.set(e.id, e.roles);
    } else if (e.kind === 'protected' || e.kind === 'disabled') {
      observed.set(e.id, e.live);
    }
  }
  return { managed, observed, applied };
}
