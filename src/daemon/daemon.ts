import { nextWake } from '../core/desired-state.js';
import type { OrgId } from '../core/domain.js';
import { analyzeDrift, type DriftEntry } from '../core/drift.js';
import { EMPTY_SNAPSHOT, type Snapshot } from '../core/observed-state.js';
import { credentialsRejected, failuresOf, isPlanned, type OrgOutcome, type PlannedOutcome } from '../core/outcome.js';
import { writes, type RunMode } from '../core/run-mode.js';
import { withLeftOut } from '../core/scope.js';
import type { MaxChanges } from '../core/units.js';
import type { Connection } from '../engine/connection.js';
import type { UserWrites } from '../engine/reconciler.js';
import { loadSnapshot, snapshotOrEmpty, saveSnapshot } from '../engine/snapshot.js';
import type { Logger } from '../log.js';
import type { RequestQueue } from '../queue/request-queue.js';
import type { DesiredSource, GoodDesired } from './desired-source.js';
import { FileWatcher, type CheckReason, type FileFingerprint } from './file-watcher.js';
import type { CycleResultLabel, DaemonMetrics, OrgGauges } from './metrics.js';
import { startOpsServer, type ListenAddress, type OpsServer, type Readiness, type StatusDetail } from './ops-server.js';
import { cycleReason, StatusPages, type CycleRecord, type StatusFacts } from './status.js';
import { messageOf } from '../core/wording.js';

/**
 * `role-sync run`: reconcile when the file changes, on SIGHUP and on a timer;
 * detect and heal drift; serve health and metrics; shut down without losing track of writes.
 * Cycles never overlap: triggers arriving while one runs are folded into a single next cycle.
 */

/** After the request queue has drained, how long the interrupted cycle gets to record its results. */
const CYCLE_WIND_DOWN_MS = 2_000;

export interface DaemonOptions {
  /** `apply`, or `dry-run` to observe and report only. A cycle on an invalid file is always a `plan`. */
  readonly mode: Exclude<RunMode, 'plan'>;
  readonly force: boolean;
  readonly maxChanges: MaxChanges;
  readonly maxDisables: number;
  readonly debounceMs: number;
  readonly rereadIntervalMs: number;
  readonly resyncIntervalMs: number;
  readonly listen: ListenAddress;
  /** How long requests in flight may take to finish after SIGTERM. */
  readonly shutdownDeadlineMs: number;
}

export interface DaemonDeps {
  readonly configPath: string;
  readonly logger: Logger;
  readonly metrics: DaemonMetrics;
  /** Already loaded once, validly: an invalid file at start is the caller's exit 1. */
  readonly source: DesiredSource;
  readonly queue: RequestQueue;
  /** The per-user write order every connection's reconcilers share; closed at shutdown like the queue. */
  readonly coordinator: UserWrites;
  /** Credentials for these organizations; throws (a SettingsError) when some have none. */
  readonly connect: (organizations: readonly OrgId[]) => Promise<Connection>;
  readonly stateDir: string;
  /** ROLE_SYNC_STATUS_TOKEN: who may read the full `/status`; without it, only the page without personal data. */
  readonly statusToken?: string;
  readonly now: () => Date;
}

/** `expiry`: a grant's `until` has come, so its `then` applies now rather than at the next resync. */
export type Trigger = 'start' | 'file-change' | 'resync' | 'signal' | 'expiry';

export class Daemon {
  readonly #opts: DaemonOptions;
  readonly #deps: DaemonDeps;
  #snapshot: Snapshot = EMPTY_SNAPSHOT;
  #connection: Connection | undefined;
  #watcher: FileWatcher | undefined;
  #ops: OpsServer | undefined;
  #resyncTimer: NodeJS.Timeout | undefined;
  #expiryTimer: NodeJS.Timeout | undefined;
  #requested = new Set<Trigger>();
  #loop: Promise<void> | undefined;
  #stopping = false;
  #started: Promise<void> | undefined;
  #stopped: Promise<void> | undefined;
  #lastCycle: CycleRecord | undefined;
  /** End of the last cycle that observed every organization: what readiness is about. */
  #lastCompleted: Date | undefined;
  #drift: readonly DriftEntry[] = [];
  /** The last cycle's outcomes: what /status lists as failures. */
  #outcomes: readonly OrgOutcome[] = [];
  #gauges = new Map<OrgId, OrgGauges>();
  #cycleAbort: AbortController | undefined;
  /** The last cycle saw credentials rejected (401 after a fresh token): read them again before the next. */
  #credentialsRejected = false;
  #lastAttemptedHash: string | undefined;
  #lastAppliedHash: string | undefined;
  /** Why the last snapshot write failed; undefined once one succeeds. */
  #snapshotError: string | undefined;
  readonly #status = new StatusPages(() => this.#statusFacts());

  constructor(opts: DaemonOptions, deps: DaemonDeps) {
    this.#opts = opts;
    this.#deps = deps;
  }

  get #dryRun(): boolean {
    return this.#opts.mode === 'dry-run';
  }

  /** Connect, load the snapshot, start the ops server and the watcher, and run the first cycle. */
  start(): Promise<void> {
    this.#started ??= this.#start();
    return this.#started;
  }

  async #start(): Promise<void> {
    const { logger, source, metrics, stateDir } = this.#deps;
    const good = source.good;
    if (!good) throw new Error('the daemon starts from a valid desired-state file');
    this.#connection = await this.#deps.connect(good.state.organizations.map((o) => o.id));
    metrics.setConfigValid(true);
    metrics.declareOrganizations(good.state.organizations.map((o) => o.id));

    const snapshot = await loadSnapshot(stateDir);
    if (snapshot.kind === 'unreadable') logger.warn({ stateDir }, `${snapshot.message}; starting without a snapshot`);
    this.#snapshot = snapshotOrEmpty(snapshot);

    this.#ops = await startOpsServer(
      this.#opts.listen,
      {
        readiness: () => this.readiness(),
        metrics: () => metrics.render(),
        status: (detail) => this.statusPage(detail),
        ...(this.#deps.statusToken !== undefined ? { statusToken: this.#deps.statusToken } : {}),
      },
      logger,
    );
    logger.info(
      { host: this.#ops.address.host, port: this.#ops.address.port },
      'ops server listening (/healthz, /readyz, /metrics, /status)',
    );

    const initial: FileFingerprint = { kind: 'content', sha256: good.sha256 };
    this.#watcher = await FileWatcher.start({
      path: this.#deps.configPath,
      debounceMs: this.#opts.debounceMs,
      rereadIntervalMs: this.#opts.rereadIntervalMs,
      initial,
      logger,
      onChange: (fingerprint, reason) => this.#onFileChange(fingerprint, reason),
    });
    logger.info(
      {
        file: good.file,
        sha256: good.sha256,
        directories: this.#watcher.directories,
        dryRun: this.#dryRun,
        debounceMs: this.#opts.debounceMs,
        rereadIntervalMs: this.#opts.rereadIntervalMs,
        resyncIntervalMs: this.#opts.resyncIntervalMs,
      },
      'watching the desired-state file',
    );
    this.#request('start');
  }

  /** SIGHUP: read the file now and reconcile, whether or not it changed. */
  async reread(): Promise<void> {
    if (this.#stopping || !this.#watcher) return;
    this.#deps.logger.info('SIGHUP: re-reading the desired-state file');
    await this.#watcher.check('signal');
    this.#request('signal');
  }

  readiness(): Readiness {
    if (this.#stopping) return { kind: 'not-ready', reason: 'shutting down' };
    if (!this.#deps.source.valid) return { kind: 'not-ready', reason: 'the desired-state file is not valid' };
    if (this.#snapshotError !== undefined) return { kind: 'not-ready', reason: this.#snapshotError };
    if (!this.#lastCompleted) return { kind: 'not-ready', reason: 'no reconcile has completed yet' };
    const age = this.#deps.now().getTime() - this.#lastCompleted.getTime();
    if (age > 3 * this.#opts.resyncIntervalMs)
      return { kind: 'not-ready', reason: `the last completed reconcile was ${Math.round(age / 1000)} s ago` };
    return { kind: 'ready' };
  }

  /** `/status` as JSON text: built once per change of what the daemon knows, whatever the number of requests. */
  statusPage(detail: StatusDetail): string {
    return this.#status.render(detail, { readiness: this.readiness(), shuttingDown: this.#stopping });
  }

  #statusFacts(): StatusFacts {
    const { source } = this.#deps;
    return {
      dryRun: this.#dryRun,
      configValid: source.valid,
      configProblems: source.problems,
      desiredHash: source.good?.sha256,
      lastAttemptedHash: this.#lastAttemptedHash,
      lastAppliedHash: this.#lastAppliedHash,
      snapshotError: this.#snapshotError,
      lastCycle: this.#lastCycle,
      outcomes: this.#outcomes,
      lastCompletedAt: this.#lastCompleted?.toISOString(),
      drift: this.#drift,
      gauges: this.#gauges,
    };
  }

  /**
   * SIGTERM/SIGINT: readiness goes 503, the watcher and timers stop, queued work is dropped,
   * requests in flight get `shutdownDeadlineMs` to finish, then the snapshot is written.
   */
  shutdown(signal: string): Promise<void> {
    this.#stopped ??= this.#shutdown(signal);
    return this.#stopped;
  }

  async #shutdown(signal: string): Promise<void> {
    const { logger, queue, coordinator } = this.#deps;
    this.#stopping = true;
    this.#status.invalidate();
    // A start still under way finishes first, so nothing it opens outlives the shutdown.
    await this.#started?.catch(() => undefined);
    this.#requested.clear();
    clearTimeout(this.#resyncTimer);
    clearTimeout(this.#expiryTimer);
    logger.info(
      { signal, inFlight: queue.depth },
      'shutting down: taking no new work, letting requests in flight finish',
    );
    await this.#watcher?.close();
    // Writes queued behind a user's in-flight write are dropped; the file is read again at the next start.
    coordinator.close();
    const drained = await queue.drain(this.#opts.shutdownDeadlineMs);
    if (drained === 'deadline')
      logger.warn(
        { deadlineMs: this.#opts.shutdownDeadlineMs },
        'requests still in flight at the shutdown deadline were aborted',
      );
    // Only now, with nothing in flight: the cycle's signal would cut requests, but it also ends retry back-off sleeps.
    this.#cycleAbort?.abort(new Error('shutting down'));
    await settledWithin(this.#loop, CYCLE_WIND_DOWN_MS);
    if (writes(this.#opts.mode)) await this.#saveSnapshot();
    this.#connection?.close();
    await this.#ops?.close();
    logger.info({ signal }, 'stopped');
  }

  async #onFileChange(fingerprint: FileFingerprint, reason: CheckReason): Promise<void> {
    const { logger, source, metrics } = this.#deps;
    if (this.#stopping) return;
    if (fingerprint.kind === 'unreadable')
      logger.warn({ code: fingerprint.code, reason }, 'the desired-state file cannot be read');
    const update = await source.reload();
    this.#status.invalidate();
    switch (update.kind) {
      case 'invalid':
        // As Flux's lastAttemptedRevision: this content was tried and refused; the last good one stays applied.
        if (update.sha256 !== undefined) this.#lastAttemptedHash = update.sha256;
        metrics.setConfigValid(false);
        return;
      case 'same':
        metrics.setConfigValid(true);
        logger.info(
          { sha256: update.desired.sha256, reason },
          'the desired-state file is valid again, with the content already applied',
        );
        return;
      case 'changed':
        metrics.setConfigValid(true);
        metrics.declareOrganizations(update.desired.state.organizations.map((o) => o.id));
        logger.info({ sha256: update.desired.sha256, reason }, 'the desired-state file changed');
        this.#armExpiry();
        this.#request('file-change');
        return;
    }
  }

  /** A timer to the next `until` in the file (re-armed after every cycle and file change). */
  #armExpiry(): void {
    clearTimeout(this.#expiryTimer);
    this.#expiryTimer = undefined;
    const good = this.#deps.source.good;
    if (this.#stopping || !good) return;
    const wake = nextWake(good.state, this.#deps.now().getTime());
    if (!wake) return;
    this.#expiryTimer = setTimeout(() => {
      if (wake.kind === 'wait') this.#armExpiry();
      else this.#request('expiry');
    }, wake.delayMs);
  }

  #request(trigger: Trigger): void {
    if (this.#stopping) return;
    this.#requested.add(trigger);
    this.#loop ??= this.#runLoop();
  }

  async #runLoop(): Promise<void> {
    // Let triggers raised in the same turn (a file change and SIGHUP) join this cycle.
    await new Promise<void>((resolve) => setImmediate(resolve));
    try {
      while (this.#requested.size > 0 && !this.#stopping) {
        const triggers = [...this.#requested];
        this.#requested.clear();
        clearTimeout(this.#resyncTimer);
        await this.#cycle(triggers);
        if (!this.#stopping) this.#resyncTimer = setTimeout(() => this.#request('resync'), this.#opts.resyncIntervalMs);
        this.#armExpiry();
      }
    } finally {
      this.#loop = undefined;
    }
  }

  async #cycle(triggers: readonly Trigger[]): Promise<void> {
    const { logger, source, metrics, now } = this.#deps;
    const desired = source.good!;
    // While the file is invalid the last good state is kept, but nothing is written on its behalf.
    const mode: RunMode = source.valid ? this.#opts.mode : 'plan';
    if (mode !== 'plan') this.#lastAttemptedHash = desired.sha256;
    const started = now();
    const connection = await this.#connectionFor(desired);
    const before = this.#snapshot;
    const base = {
      triggers,
      startedAt: started.toISOString(),
      mode: mode === 'plan' ? ('plan' as const) : ('apply' as const),
      dryRun: this.#dryRun,
      fileHash: desired.sha256,
    };
    let record: CycleRecord;
    try {
      this.#cycleAbort = new AbortController();
      const result = await connection.reconciler(mode).cycle(desired.state, before, {
        signal: this.#cycleAbort.signal,
        maxChanges: this.#opts.maxChanges,
        maxDisables: this.#opts.maxDisables,
        force: this.#opts.force,
        source: desired.source,
      });
      const ended = now();
      const { outcomes } = result;
      const report = withLeftOut(result.report, desired.leftOut);
      const refused = result.refusals.length > 0;
      this.#outcomes = outcomes;
      this.#credentialsRejected = outcomes.some(credentialsRejected);
      if (!refused) this.#snapshot = result.snapshot;
      if (!refused && writes(mode)) await this.#saveSnapshot();

      const drift = analyzeDrift({ outcomes, snapshot: before, previous: this.#drift, now: started });
      metrics.recordDrift(drift.detected, started);
      this.#drift = drift.open;
      this.#logDrift(drift.detected, drift.open, mode);
      this.#updateGauges(desired, outcomes, drift.pending);
      metrics.recordLifecycle(outcomes, desired.state, ended);

      const failed = outcomes.some((o) => failuresOf(o).length > 0);
      const interrupted = this.#stopping && (failed || cutByShutdown(outcomes));
      const reason = cycleReason(outcomes, { refused, interrupted });
      const resultLabel: CycleResultLabel = interrupted
        ? 'interrupted'
        : refused
          ? 'refused'
          : failed
            ? 'failure'
            : 'success';
      metrics.recordCycle(resultLabel, outcomes, this.#gauges, ended);
      if (outcomes.every(isPlanned)) this.#lastCompleted = ended;
      // As Flux's lastAppliedRevision: only a cycle that wrote everything it had to moves it.
      if (reason === 'Succeeded' && writes(mode)) this.#lastAppliedHash = desired.sha256;
      record = {
        ...base,
        durationMs: ended.getTime() - started.getTime(),
        result: resultLabel,
        reason,
        summary: report.summary,
        drift: {
          detected: drift.detected.length,
          healed: drift.detected.length - drift.open.filter((d) => drift.detected.includes(d)).length,
        },
        ...(refused ? { refusals: result.refusals } : {}),
        report,
      };
    } catch (err) {
      const ended = now();
      // An error once shutdown began is the shutdown's doing (aborted requests), not a failed reconcile.
      const resultLabel: CycleResultLabel = this.#stopping ? 'interrupted' : 'failure';
      metrics.recordCycle(resultLabel, [], this.#gauges, ended);
      record = {
        ...base,
        durationMs: ended.getTime() - started.getTime(),
        result: resultLabel,
        reason: this.#stopping ? 'Interrupted' : 'CycleFailed',
        error: messageOf(err),
      };
      logger.error({ err: record.error }, 'reconcile cycle failed');
    }
    this.#lastCycle = record;
    this.#status.invalidate();
    const s = record.summary;
    logger.info(
      {
        cycle: {
          triggers,
          result: record.result,
          reason: record.reason,
          mode: record.mode,
          sha256: desired.sha256,
          dryRun: this.#dryRun,
          durationMs: record.durationMs,
          changes: s?.changes ?? 0,
          applied: s?.applied ?? 0,
          pending: s?.pending ?? 0,
          failed: s?.failed ?? 0,
          unmanaged: s?.unmanaged ?? 0,
          driftDetected: record.drift?.detected ?? 0,
          driftHealed: record.drift?.healed ?? 0,
          openDrift: this.#drift.length,
        },
      },
      mode === 'plan'
        ? 'reconcile cycle finished (observed only: the desired-state file is not valid)'
        : 'reconcile cycle finished',
    );
  }

  /**
   * A file that names organizations the current credentials do not cover needs a new connection, and
   * so do credentials Parchment rejected: a Kubernetes Secret mounted as files (`NAME_FILE`) may have
   * been rotated since they were read.
   */
  async #connectionFor(desired: GoodDesired): Promise<Connection> {
    const current = this.#connection!;
    const wanted = desired.state.organizations.map((o) => o.id);
    if (!this.#credentialsRejected && wanted.every((id) => current.organizations.has(id))) return current;
    if (this.#credentialsRejected)
      this.#deps.logger.warn('Parchment rejected the credentials last cycle: reading them again');
    try {
      const next = await this.#deps.connect(wanted);
      current.close();
      this.#connection = next;
      return next;
    } catch (err) {
      // The organizations with credentials still reconcile; the others fail visibly in the report.
      this.#deps.logger.error({ err: messageOf(err) }, 'cannot load credentials for every organization in the file');
      return current;
    }
  }

  #logDrift(detected: readonly DriftEntry[], open: readonly DriftEntry[], mode: RunMode): void {
    const openSet = new Set(open);
    for (const d of detected) {
      const outcome = !openSet.has(d)
        ? 'healed'
        : this.#dryRun
          ? 'reported only (dry-run)'
          : mode === 'plan'
            ? 'reported only (file invalid)'
            : 'not healed';
      this.#deps.logger.warn(
        {
          drift: {
            organization: d.organization,
            user: d.user,
            userId: d.userId,
            from: d.from,
            to: d.to,
            firstSeen: d.firstSeen,
            outcome,
          },
        },
        `drift: ${d.user} in organization ${d.organization} has [${d.to.join(', ')}], ` +
          `role-sync last applied [${d.from.join(', ')}]; ${outcome}`,
      );
    }
  }

  #updateGauges(desired: GoodDesired, outcomes: readonly OrgOutcome[], pending: ReadonlyMap<OrgId, number>): void {
    const planned = new Map<OrgId, PlannedOutcome>(outcomes.filter(isPlanned).map((o) => [o.plan.id, o]));
    const next = new Map<OrgId, OrgGauges>();
    for (const org of desired.state.organizations) {
      const outcome = planned.get(org.id);
      if (!outcome) {
        // Not observed this cycle: the last known figures stand.
        const previous = this.#gauges.get(org.id);
        if (previous) next.set(org.id, previous);
        continue;
      }
      next.set(org.id, {
        pendingChanges: pending.get(org.id) ?? 0,
        driftedUsers: this.#drift.filter((d) => d.organization === org.id).length,
        unmanagedUsers: outcome.plan.unmanaged.length,
      });
    }
    this.#gauges = next;
  }

  async #saveSnapshot(): Promise<void> {
    const { stateDir, logger, metrics } = this.#deps;
    try {
      await saveSnapshot(stateDir, this.#snapshot, this.#deps.now());
      if (this.#snapshotError !== undefined) logger.info({ stateDir }, 'the observed-state snapshot is written again');
      this.#snapshotError = undefined;
      metrics.setSnapshotOk(true);
    } catch (err) {
      const message = messageOf(err);
      this.#snapshotError = `cannot write the observed-state snapshot in ${stateDir}: ${message}`;
      metrics.setSnapshotOk(false);
      logger.error({ stateDir, err: message }, 'cannot write the observed-state snapshot');
    }
    this.#status.invalidate();
  }
}

/** Writes left unsent because shutdown began: the cycle did not get to finish its work. */
function cutByShutdown(outcomes: readonly OrgOutcome[]): boolean {
  return outcomes.some(
    (o) =>
      isPlanned(o) &&
      o.users.some((u) => u.kind === 'write' && u.result.state === 'not-attempted' && u.result.reason === 'shutdown'),
  );
}

async function settledWithin(work: Promise<void> | undefined, ms: number): Promise<void> {
  if (!work) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([work, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
