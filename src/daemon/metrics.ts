import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { grantsExpiringWithin, type DesiredState } from '../core/desired-state.js';
import type { OrgId } from '../core/domain.js';
import { appliedCount, failuresOf, orgIdOf, type OrgOutcome } from '../core/outcome.js';
import type { FailureReason } from '../core/report.js';
import type { AttemptRecord } from '../parchment/http.js';
import { VERSION } from '../version.js';

/**
 * The daemon's Prometheus metrics (README.md lists them), on a registry of their own rather than
 * prom-client's global one, so several daemons (tests, benchmarks) can live in one process.
 */

/** `interrupted`: shutdown began mid-cycle and cut it short; not a success, not Parchment's failure either. */
export type CycleResultLabel = 'success' | 'failure' | 'refused' | 'interrupted';
const CYCLE_RESULTS: readonly CycleResultLabel[] = ['success', 'failure', 'refused', 'interrupted'];
const FAILURE_REASONS: readonly FailureReason[] = [
  'not-found',
  'ambiguous',
  'wrong-user',
  'rejected',
  'mismatch',
  'auth',
  'network',
  'observe',
];
/**
 * prom-client's defaults that are gauges named like counters, which `promtool check metrics` rejects.
 * Dropped rather than renamed: `sum(nodejs_active_handles)` (and requests, resources), kept per type,
 * gives the same totals.
 */
const MISNAMED_DEFAULTS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

/** Per-organization figures of one cycle, for the gauges that describe "now". */
export interface OrgGauges {
  readonly pendingChanges: number;
  readonly driftedUsers: number;
  readonly unmanagedUsers: number;
}

export interface DaemonMetricsOptions {
  /** Read on every scrape, so the gauge never lags the queue. */
  readonly queueDepth: () => number;
  /** The request queue's current rate, learned or fixed; read on every scrape too. */
  readonly requestRate: () => number;
}

export class DaemonMetrics {
  readonly registry = new Registry();
  readonly #configValid: Gauge;
  readonly #pending: Gauge<'organization'>;
  readonly #runs: Counter<'result'>;
  readonly #applied: Counter<'organization'>;
  readonly #failures: Counter<'organization' | 'reason'>;
  readonly #drifted: Gauge<'organization'>;
  readonly #unmanaged: Gauge<'organization'>;
  readonly #apiRequests: Counter<'method' | 'route' | 'status'>;
  readonly #apiDuration: Histogram<'method' | 'route'>;
  readonly #rateLimited: Counter;
  readonly #lastSuccess: Gauge;
  readonly #driftDetected: Counter<'organization'>;
  readonly #lifecycle: LifecycleMetrics;
  readonly #snapshotOk: Gauge;

  constructor(opts: DaemonMetricsOptions) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 100 });
    for (const name of MISNAMED_DEFAULTS) this.registry.removeSingleMetric(name);
    this.#configValid = new Gauge({
      name: 'role_sync_config_valid',
      help: '1 when the desired-state file last read is valid, else 0',
      registers,
    });
    this.#pending = new Gauge({
      name: 'role_sync_pending_changes',
      help:
        'Managed users whose live roles differ from the file and that role-sync has not applied yet ' +
        '(drift excluded)',
      labelNames: ['organization'],
      registers,
    });
    this.#runs = new Counter({
      name: 'role_sync_reconcile_runs_total',
      help: 'Reconcile cycles by result',
      labelNames: ['result'],
      registers,
    });
    this.#applied = new Counter({
      name: 'role_sync_changes_applied_total',
      help: 'Role changes, disables and enables written and confirmed',
      labelNames: ['organization'],
      registers,
    });
    this.#failures = new Counter({
      name: 'role_sync_apply_failures_total',
      help: 'Failed users or organizations, per cycle, by reason',
      labelNames: ['organization', 'reason'],
      registers,
    });
    this.#drifted = new Gauge({
      name: 'role_sync_drifted_users',
      help: 'Managed users whose live roles differ from what role-sync last applied, not (yet) healed',
      labelNames: ['organization'],
      registers,
    });
    this.#unmanaged = new Gauge({
      name: 'role_sync_unmanaged_users',
      help: 'Users in the organization but not in the file',
      labelNames: ['organization'],
      registers,
    });
    this.#apiRequests = new Counter({
      name: 'role_sync_api_requests_total',
      help: 'HTTP attempts against the Parchment API',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    this.#apiDuration = new Histogram({
      name: 'role_sync_api_request_duration_seconds',
      help: 'Duration of HTTP attempts against the Parchment API',
      labelNames: ['method', 'route'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.#rateLimited = new Counter({
      name: 'role_sync_rate_limited_total',
      help: 'Responses 429 from Parchment',
      registers,
    });
    new Gauge({
      name: 'role_sync_queue_depth',
      help: 'Requests waiting or in flight in the request queue',
      registers,
      collect() {
        this.set(opts.queueDepth());
      },
    });
    new Gauge({
      name: 'role_sync_request_rate',
      help: 'Requests a second the queue may start now: learned from 429s (ROLE_SYNC_RATE=auto) or fixed',
      registers,
      collect() {
        this.set(opts.requestRate());
      },
    });
    this.#lastSuccess = new Gauge({
      name: 'role_sync_last_success_timestamp_seconds',
      help: 'Unix time the last fully successful reconcile cycle ended',
      registers,
    });
    this.#driftDetected = new Counter({
      name: 'role_sync_drift_detected_total',
      help:
        'Drift found: a managed user whose live roles left what role-sync applied, ' +
        'counted once per drift, healed or not',
      labelNames: ['organization'],
      registers,
    });
    new Gauge({
      name: 'role_sync_build_info',
      help: 'Always 1; the version of role-sync running, as a label',
      labelNames: ['version'],
      registers,
    }).set({ version: VERSION }, 1);
    this.#lifecycle = new LifecycleMetrics(registers);
    this.#snapshotOk = new Gauge({
      name: 'role_sync_snapshot_ok',
      help: '0 when the last write of the observed-state snapshot failed (see /readyz), else 1',
      registers,
    });
    this.#snapshotOk.set(1);
    // Series exist from the start, so dashboards and alerts see 0 rather than "no data".
    for (const result of CYCLE_RESULTS) this.#runs.inc({ result }, 0);
    this.#rateLimited.inc(0);
  }

  readonly recordApiRequest = (r: AttemptRecord): void => {
    this.#apiRequests.inc({ method: r.method, route: r.route, status: String(r.status) });
    this.#apiDuration.observe({ method: r.method, route: r.route }, r.durationSeconds);
  };

  readonly recordRateLimited = (): void => {
    this.#rateLimited.inc();
  };

  setSnapshotOk(ok: boolean): void {
    this.#snapshotOk.set(ok ? 1 : 0);
  }

  setConfigValid(valid: boolean): void {
    this.#configValid.set(valid ? 1 : 0);
  }

  /** Organizations in the file: their counters start at 0 rather than appearing on the first event. */
  declareOrganizations(orgs: readonly OrgId[]): void {
    for (const organization of orgs) {
      this.#applied.inc({ organization }, 0);
      this.#driftDetected.inc({ organization }, 0);
      for (const reason of FAILURE_REASONS) this.#failures.inc({ organization, reason }, 0);
    }
    this.#lifecycle.declare(orgs);
  }

  /** After a cycle: accounts disabled and enabled, and the grants of the file ending within a week. */
  recordLifecycle(outcomes: readonly OrgOutcome[], state: DesiredState, endedAt: Date): void {
    this.#lifecycle.record(outcomes, state, endedAt);
  }

  /** After a cycle: counters from its outcomes, gauges replaced so organizations gone from the file disappear. */
  recordCycle(
    result: CycleResultLabel,
    outcomes: readonly OrgOutcome[],
    gauges: ReadonlyMap<OrgId, OrgGauges>,
    endedAt: Date,
  ): void {
    this.#runs.inc({ result });
    if (result === 'success') this.#lastSuccess.set(endedAt.getTime() / 1000);
    for (const outcome of outcomes) {
      const organization = orgIdOf(outcome);
      this.#applied.inc({ organization }, appliedCount(outcome));
      for (const f of failuresOf(outcome)) this.#failures.inc({ organization, reason: f.reason });
    }
    this.#pending.reset();
    this.#drifted.reset();
    this.#unmanaged.reset();
    for (const [organization, g] of gauges) {
      this.#pending.set({ organization }, g.pendingChanges);
      this.#drifted.set({ organization }, g.driftedUsers);
      this.#unmanaged.set({ organization }, g.unmanagedUsers);
    }
  }

  /**
   * Drift entries of one cycle. Only the ones first seen now count: a drift left in place (dry-run,
   * a guard, a failing write) is seen again every cycle but happened once.
   */
  recordDrift(
    detected: readonly { readonly organization: OrgId; readonly firstSeen: string }[],
    cycleStart: Date,
  ): void {
    const now = cycleStart.toISOString();
    for (const d of detected) if (d.firstSeen === now) this.#driftDetected.inc({ organization: d.organization });
  }

  async render(): Promise<{ readonly contentType: string; readonly body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

/** A week: "expiring soon" is what a practice manager should look at before it happens. */
const EXPIRING_WITHIN_MS = 7 * 24 * 60 * 60 * 1000;

/** The account-lifecycle metrics: disables, enables and grants about to end. */
class LifecycleMetrics {
  readonly #disables: Counter<'organization'>;
  readonly #enables: Counter<'organization'>;
  readonly #expiring: Gauge<'organization'>;

  constructor(registers: Registry[]) {
    this.#disables = new Counter({
      name: 'role_sync_disables_total',
      help: 'Accounts disabled and confirmed (offboarded, expired or unlisted users)',
      labelNames: ['organization'],
      registers,
    });
    this.#enables = new Counter({
      name: 'role_sync_enables_total',
      help: 'Accounts enabled (then given their roles) and confirmed',
      labelNames: ['organization'],
      registers,
    });
    this.#expiring = new Gauge({
      name: 'role_sync_grants_expiring',
      help: 'Grants in the file whose until falls within the next 7 days',
      labelNames: ['organization'],
      registers,
    });
  }

  declare(orgs: readonly OrgId[]): void {
    for (const organization of orgs) {
      this.#disables.inc({ organization }, 0);
      this.#enables.inc({ organization }, 0);
    }
  }

  record(outcomes: readonly OrgOutcome[], state: DesiredState, endedAt: Date): void {
    for (const outcome of outcomes) {
      const organization = orgIdOf(outcome);
      this.#disables.inc({ organization }, appliedCount(outcome, ['disable']));
      this.#enables.inc({ organization }, appliedCount(outcome, ['enable']));
    }
    this.#expiring.reset();
    for (const org of state.organizations) {
      this.#expiring.set({ organization: org.id }, grantsExpiringWithin(org, endedAt.getTime(), EXPIRING_WITHIN_MS));
    }
  }
}
