/**
 * The alerting rules: deploy/prometheus/rules.yaml (a plain rules file) and its PrometheusRule copy
 * in deploy/kubernetes are the same rules; promtool accepts them and their unit tests
 * (deploy/prometheus/rules.test.yaml) pass; every alert has its section in docs/runbook.md; and the
 * metrics they read are the daemon's.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DaemonMetrics } from '../src/daemon/metrics.js';
import { parsePrometheusText } from './helpers/daemon-prom.js';
import { findPromtool, promtool, PROMTOOL_MISSING } from './helpers/promtool.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const RULES = join(ROOT, 'deploy', 'prometheus', 'rules.yaml');
const RULE_TESTS = join(ROOT, 'deploy', 'prometheus', 'rules.test.yaml');
const PROMETHEUS_RULE = join(ROOT, 'deploy', 'kubernetes', 'prometheusrule.yaml');
const RUNBOOK = join(ROOT, 'docs', 'runbook.md');
/** Declared by the access-lifecycle work (expiring grants); the rule is ready for it. */
const NOT_YET_EXPOSED = new Set(['role_sync_grants_expiring']);

interface Rule {
  readonly alert?: string;
  readonly record?: string;
  readonly expr: string;
  readonly for?: string;
  readonly labels?: Record<string, string>;
  readonly annotations?: Record<string, string>;
}
interface Group {
  readonly name: string;
  readonly rules: readonly Rule[];
}

const readYaml = async (path: string): Promise<any> => parseYaml(await readFile(path, 'utf8'));

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens. */
function anchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

let groups: readonly Group[];
let alerts: readonly Rule[];
beforeAll(async () => {
  groups = ((await readYaml(RULES)) as { groups: Group[] }).groups;
  alerts = groups.flatMap((g) => g.rules).filter((r) => r.alert !== undefined);
});

describe('the alerting rules', () => {
  it('cover what an operator is paged for', () => {
    expect(alerts.map((a) => a.alert)).toEqual([
      'RoleSyncAbsent',
      'RoleSyncConfigInvalid',
      'RoleSyncNoSuccessfulReconcile',
      'RoleSyncApplyFailures',
      'RoleSyncDriftDetected',
      'RoleSyncRateLimited',
      'RoleSyncGrantsExpiringSoon',
    ]);
    const byName = new Map(alerts.map((a) => [a.alert, a]));
    expect(byName.get('RoleSyncDriftDetected')!.expr).toContain('role_sync_drift_detected_total');
    expect(byName.get('RoleSyncGrantsExpiringSoon')!.expr).toBe('role_sync_grants_expiring > 0');
    // 3 resync intervals at the default --resync-interval 5m.
    expect(byName.get('RoleSyncNoSuccessfulReconcile')!.expr).toContain('> 900');
    for (const a of alerts) {
      expect(a.labels?.['severity'], a.alert).toMatch(/^(critical|warning|info)$/);
      expect(a.annotations?.['summary'], a.alert).toEqual(expect.any(String));
      expect(a.annotations?.['description'], a.alert).toEqual(expect.any(String));
    }
  });

  it('link each alert to its own runbook section, and the runbook has no section without an alert', async () => {
    const runbook = await readFile(RUNBOOK, 'utf8');
    const sections = [...runbook.matchAll(/^## (.+)$/gm)].map((m) => m[1]!);
    expect(sections).toEqual(alerts.map((a) => a.alert));
    const anchors = new Set(sections.map(anchor));
    for (const a of alerts) {
      const url = a.annotations?.['runbook_url'];
      expect(url, a.alert).toMatch(/\/docs\/runbook\.md#[a-z0-9-]+$/);
      const target = url!.slice(url!.indexOf('#') + 1);
      expect(anchors.has(target), `${a.alert}: #${target} is a heading of the runbook`).toBe(true);
      expect(target).toBe(anchor(a.alert!));
    }
  });

  it('read only metrics the daemon exposes', async () => {
    const page = parsePrometheusText(
      (await new DaemonMetrics({ queueDepth: () => 0, requestRate: () => 5 }).render()).body,
    );
    for (const a of alerts) {
      for (const [name] of a.expr.matchAll(/\b(?:role_sync|process|nodejs)_[a-z0-9_]+/g)) {
        if (NOT_YET_EXPOSED.has(name)) continue;
        expect(page.has(name), `${a.alert} reads ${name}`).toBe(true);
      }
    }
  });

  it('are the same in the PrometheusRule as in the plain rules file', async () => {
    const rule = (await readYaml(PROMETHEUS_RULE)) as { apiVersion: string; kind: string; spec: { groups: Group[] } };
    expect(rule.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(rule.kind).toBe('PrometheusRule');
    expect(rule.spec.groups, 'copy the groups of deploy/prometheus/rules.yaml into spec.groups').toEqual(groups);
  });
});

describe('promtool', () => {
  const tool = findPromtool();
  const why = tool ? '' : ` (skipped: ${PROMTOOL_MISSING})`;
  let tmp: string;
  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'rs-alerts-'));
  });
  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it.skipIf(!tool)(`check rules accepts both files${why}`, async () => {
    const plain = await promtool(['check', 'rules', RULES]);
    expect(plain.output).toContain(`SUCCESS: ${alerts.length} rules found`);
    expect(plain.code).toBe(0);
    const spec = ((await readYaml(PROMETHEUS_RULE)) as { spec: unknown }).spec;
    const extracted = join(tmp, 'prometheusrule-groups.yaml');
    await writeFile(extracted, JSON.stringify(spec));
    const operator = await promtool(['check', 'rules', extracted]);
    expect(operator.output).toContain(`SUCCESS: ${alerts.length} rules found`);
    expect(operator.code).toBe(0);
  });

  it.skipIf(!tool)(`test rules passes deploy/prometheus/rules.test.yaml${why}`, async () => {
    const run = await promtool(['test', 'rules', RULE_TESTS]);
    expect(run.output).toContain('SUCCESS');
    expect(run.code, run.output).toBe(0);
    // Every alert is tested firing at least once.
    const tests = (await readYaml(RULE_TESTS)) as {
      tests: { alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[];
    };
    const fired = new Set(
      tests.tests.flatMap((t) => t.alert_rule_test.filter((c) => c.exp_alerts.length > 0).map((c) => c.alertname)),
    );
    expect([...fired].sort()).toEqual(alerts.map((a) => a.alert).sort());
  });

  it.skipIf(!tool)(`test rules fails when an alert does not fire as its test expects${why}`, async () => {
    // The unit tests are not vacuous: loosen one threshold and promtool must object.
    const rules = (await readFile(RULES, 'utf8')).replace(
      'expr: increase(role_sync_apply_failures_total[10m]) > 0',
      'expr: increase(role_sync_apply_failures_total[10m]) >= 0',
    );
    await writeFile(join(tmp, 'rules.yaml'), rules);
    await writeFile(join(tmp, 'rules.test.yaml'), await readFile(RULE_TESTS, 'utf8'));
    const run = await promtool(['test', 'rules', join(tmp, 'rules.test.yaml')]);
    expect(run.code).not.toBe(0);
    expect(run.output).toContain('alertname: RoleSyncApplyFailures');
  });
});
