import { afterEach, describe, expect, it } from 'vitest';
import { parseOrgId, parseUserId } from '../src/core/domain.js';
import { plannedOutcome } from '../src/core/outcome.js';
import { DaemonMetrics } from '../src/daemon/metrics.js';
import { parseListenAddress, startOpsServer, type OpsServer, type Readiness } from '../src/daemon/ops-server.js';
import { silentLogger } from '../src/log.js';
import { VERSION } from '../src/version.js';
import { DAEMON_METRIC_NAMES, parsePrometheusText, sampleValue } from './helpers/daemon-prom.js';

const ORG = parseOrgId('7fa84d2b-26d7-4c71-9b5b-e591eff97e7d')!;
const USER = parseUserId('a7748dfd-ceb2-4b17-8380-425c304f5ae7')!;

describe('DaemonMetrics', () => {
  it('renders every named series as valid Prometheus text, with the figures recorded', async () => {
    let depth = 3;
    let rate = 5;
    const m = new DaemonMetrics({ queueDepth: () => depth, requestRate: () => rate });
    m.declareOrganizations([ORG]);
    m.setConfigValid(true);
    m.recordApiRequest({
      method: 'PUT',
      route: '/v1/organizations/{organization_id}/users/{user_id}/roles',
      status: 200,
      durationSeconds: 0.12,
    });
    m.recordApiRequest({
      method: 'GET',
      route: '/v1/organizations/{organization_id}/users',
      status: 'error',
      durationSeconds: 10,
    });
    m.recordRateLimited();
    const outcomes = [
      plannedOutcome({
        id: ORG,
        entries: [{ kind: 'not-found', user: { key: 'ghost@x.example' }, unknownEmails: 0 }],
        unmanaged: [{ id: USER }],
        expiring: [],
        noLongerManaged: [],
      }),
    ];
    m.recordCycle(
      'failure',
      outcomes,
      new Map([[ORG, { pendingChanges: 2, driftedUsers: 1, unmanagedUsers: 1 }]]),
      new Date(5_000),
    );
    depth = 7;
    rate = 12.5;

    const { contentType, body } = await m.render();
    expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    const families = parsePrometheusText(body);
    for (const name of DAEMON_METRIC_NAMES) expect(families.has(name), name).toBe(true);
    expect(families.has('process_cpu_seconds_total')).toBe(true);
    expect(sampleValue(families, 'role_sync_config_valid')).toBe(1);
    expect(sampleValue(families, 'role_sync_queue_depth')).toBe(7);
    expect(sampleValue(families, 'role_sync_request_rate')).toBe(12.5);
    expect(sampleValue(families, 'role_sync_pending_changes', { organization: ORG })).toBe(2);
    expect(sampleValue(families, 'role_sync_drifted_users', { organization: ORG })).toBe(1);
    expect(sampleValue(families, 'role_sync_unmanaged_users', { organization: ORG })).toBe(1);
    expect(sampleValue(families, 'role_sync_reconcile_runs_total', { result: 'failure' })).toBe(1);
    expect(sampleValue(families, 'role_sync_reconcile_runs_total', { result: 'success' })).toBe(0);
    expect(sampleValue(families, 'role_sync_reconcile_runs_total', { result: 'interrupted' })).toBe(0);
    expect(sampleValue(families, 'role_sync_snapshot_ok')).toBe(1);
    expect(sampleValue(families, 'role_sync_apply_failures_total', { organization: ORG, reason: 'not-found' })).toBe(1);
    expect(sampleValue(families, 'role_sync_apply_failures_total', { organization: ORG, reason: 'rejected' })).toBe(0);
    expect(sampleValue(families, 'role_sync_changes_applied_total', { organization: ORG })).toBe(0);
    expect(sampleValue(families, 'role_sync_api_requests_total', { method: 'GET', status: 'error' })).toBe(1);
    expect(sampleValue(families, 'role_sync_api_request_duration_seconds_count', { method: 'PUT' })).toBe(1);
    expect(sampleValue(families, 'role_sync_rate_limited_total')).toBe(1);
    // A failed cycle is not a success: the timestamp stays unset.
    expect(sampleValue(families, 'role_sync_last_success_timestamp_seconds')).toBe(0);
    m.recordCycle('success', [], new Map(), new Date(9_000));
    expect(sampleValue(parsePrometheusText((await m.render()).body), 'role_sync_last_success_timestamp_seconds')).toBe(
      9,
    );
  });

  it('counts each drift once, in the cycle that first sees it', async () => {
    const m = new DaemonMetrics({ queueDepth: () => 0, requestRate: () => 5 });
    m.declareOrganizations([ORG]);
    const t1 = new Date('2026-11-27T01:00:00Z');
    const t2 = new Date('2026-11-27T01:05:00Z');
    const drift = { organization: ORG, firstSeen: t1.toISOString() };
    const count = async () =>
      sampleValue(parsePrometheusText((await m.render()).body), 'role_sync_drift_detected_total', {
        organization: ORG,
      });
    expect(await count()).toBe(0);
    m.recordDrift([drift], t1);
    expect(await count()).toBe(1);
    // The same drift, still there a cycle later, and a new one beside it.
    m.recordDrift([drift, { organization: ORG, firstSeen: t2.toISOString() }], t2);
    expect(await count()).toBe(2);
  });

  it('names the running version in role_sync_build_info', async () => {
    const families = parsePrometheusText(
      (await new DaemonMetrics({ queueDepth: () => 0, requestRate: () => 5 }).render()).body,
    );
    expect(families.get('role_sync_build_info')!.samples).toEqual([
      { name: 'role_sync_build_info', labels: { version: VERSION }, value: 1 },
    ]);
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'])
      expect(families.has(name), `${name}: a gauge named like a counter`).toBe(false);
    expect(families.get('nodejs_active_handles')?.type).toBe('gauge');
  });

  it('drops gauges of organizations that left the file', async () => {
    const m = new DaemonMetrics({ queueDepth: () => 0, requestRate: () => 5 });
    m.recordCycle(
      'success',
      [],
      new Map([[ORG, { pendingChanges: 1, driftedUsers: 0, unmanagedUsers: 4 }]]),
      new Date(),
    );
    m.recordCycle('success', [], new Map(), new Date());
    const families = parsePrometheusText((await m.render()).body);
    expect(families.get('role_sync_unmanaged_users')!.samples).toEqual([]);
  });

  it('keeps two daemons in one process apart', async () => {
    const a = new DaemonMetrics({ queueDepth: () => 1, requestRate: () => 5 });
    const b = new DaemonMetrics({ queueDepth: () => 2, requestRate: () => 5 });
    a.setConfigValid(false);
    b.setConfigValid(true);
    expect(sampleValue(parsePrometheusText((await a.render()).body), 'role_sync_config_valid')).toBe(0);
    expect(sampleValue(parsePrometheusText((await b.render()).body), 'role_sync_config_valid')).toBe(1);
  });
});

describe('parseListenAddress', () => {
  it.each([
    ['0.0.0.0:9464', { host: '0.0.0.0', port: 9464 }],
    ['127.0.0.1:0', { host: '127.0.0.1', port: 0 }],
    ['[::]:9464', { host: '::', port: 9464 }],
    [':8080', { host: '0.0.0.0', port: 8080 }],
    ['localhost:9464', { host: 'localhost', port: 9464 }],
  ])('%s', (text, expected) => {
    expect(parseListenAddress(text)).toEqual(expected);
  });

  it.each(['9464', '0.0.0.0:99999', 'host:port', '::1:80', ''])('refuses %j', (text) => {
    expect(parseListenAddress(text)).toBeUndefined();
  });
});

describe('ops server', () => {
  let server: OpsServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  async function serve(readiness: () => Readiness) {
    const metrics = new DaemonMetrics({ queueDepth: () => 0, requestRate: () => 5 });
    server = await startOpsServer(
      { host: '127.0.0.1', port: 0 },
      {
        readiness,
        metrics: () => metrics.render(),
        status: (detail) => JSON.stringify({ detail }),
        statusToken: 'the-status-token-0123',
      },
      silentLogger(),
    );
    return `http://127.0.0.1:${server.address.port}`;
  }

  it('answers health, readiness, metrics and status', async () => {
    let ready: Readiness = { kind: 'not-ready', reason: 'no reconcile has completed yet' };
    const base = await serve(() => ready);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const notReady = await fetch(`${base}/readyz`);
    expect(notReady.status).toBe(503);
    expect(await notReady.text()).toContain('no reconcile has completed yet');
    ready = { kind: 'ready' };
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    const metrics = await fetch(`${base}/metrics`);
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(parsePrometheusText(await metrics.text()).has('role_sync_config_valid')).toBe(true);
    expect(await (await fetch(`${base}/status`)).json()).toEqual({ detail: 'summary' });
    const authorized = { authorization: 'Bearer the-status-token-0123' };
    expect(await (await fetch(`${base}/status`, { headers: authorized })).json()).toEqual({ detail: 'full' });
    const wrong = await fetch(`${base}/status`, { headers: { authorization: 'Bearer the-status-token-0124' } });
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).not.toContain('detail');
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    expect((await fetch(`${base}/healthz`, { method: 'POST' })).status).toBe(405);
  });

  it('keeps /healthz up when readiness cannot be computed', async () => {
    const base = await serve(() => {
      throw new Error('boom');
    });
    expect((await fetch(`${base}/readyz`)).status).toBe(500);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });
});
