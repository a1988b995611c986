/**
 * A strict parser of the Prometheus text exposition format (0.0.4), enough to prove that
 * `/metrics` is well formed: every sample belongs to a family declared by `# TYPE`, label sets
 * parse, and values are numbers. Throws on the first malformed line.
 */

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Family {
  readonly name: string;
  readonly type: string;
  readonly help: string;
  readonly samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

export function parsePrometheusText(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const help = new Map<string, string>();
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    const where = `line ${i + 1} (${JSON.stringify(line)})`;
    if (line === '') return;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (!m) return;
      const [, kind, name, rest] = m as unknown as [string, string, string, string];
      if (!NAME.test(name)) throw new Error(`bad metric name at ${where}`);
      if (kind === 'HELP') help.set(name, rest);
      else {
        if (!TYPES.has(rest)) throw new Error(`unknown type at ${where}`);
        if (families.has(name)) throw new Error(`family declared twice at ${where}`);
        families.set(name, { name, type: rest, help: help.get(name) ?? '', samples: [] });
      }
      return;
    }
    const sample = parseSample(line, where);
    const family = familyOf(sample.name, families);
    if (!family) throw new Error(`sample without a # TYPE family at ${where}`);
    family.samples.push(sample);
  });
  return families;
}

function familyOf(sampleName: string, families: Map<string, Family>): Family | undefined {
  const direct = families.get(sampleName);
  if (direct) return direct;
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!sampleName.endsWith(suffix)) continue;
    const f = families.get(sampleName.slice(0, -suffix.length));
    if (f && (f.type === 'histogram' || f.type === 'summary')) return f;
  }
  return undefined;
}

function parseSample(line: string, where: string): Sample {
  const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( -?\d+)?$/.exec(line);
  if (!m) throw new Error(`malformed sample at ${where}`);
  const labels: Record<string, string> = {};
  let rest = m[3] ?? '';
  while (rest.length > 0) {
    const lm = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\["\\n])*)"(,|$)/.exec(rest);
    if (!lm) throw new Error(`malformed labels at ${where}`);
    labels[lm[1]!] = lm[2]!.replace(/\\(["\\n])/g, (_s, c: string) => (c === 'n' ? '\n' : c));
    rest = rest.slice(lm[0].length);
  }
  const value = parseValue(m[4]!);
  if (value === undefined) throw new Error(`bad value at ${where}`);
  return { name: m[1]!, labels, value };
}

/** As Prometheus reads values (Go's ParseFloat): special values in any case, so prom-client's `Nan` is fine. */
function parseValue(raw: string): number | undefined {
  const special = /^([+-]?)(inf|infinity|nan)$/i.exec(raw);
  if (special) return special[2]!.toLowerCase() === 'nan' ? NaN : special[1] === '-' ? -Infinity : Infinity;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(raw)) return undefined;
  return Number(raw);
}

/** The value of the one sample matching name and labels (a subset match); undefined when none. */
export function sampleValue(
  families: Map<string, Family>,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  for (const family of families.values()) {
    for (const s of family.samples) {
      if (s.name !== name) continue;
      if (Object.entries(labels).every(([k, v]) => s.labels[k] === v)) return s.value;
    }
  }
  return undefined;
}

/** Every metric role-sync's daemon must expose (README.md, "The daemon"). */
export const DAEMON_METRIC_NAMES = [
  'role_sync_config_valid',
  'role_sync_pending_changes',
  'role_sync_reconcile_runs_total',
  'role_sync_changes_applied_total',
  'role_sync_apply_failures_total',
  'role_sync_drifted_users',
  'role_sync_unmanaged_users',
  'role_sync_api_requests_total',
  'role_sync_api_request_duration_seconds',
  'role_sync_rate_limited_total',
  'role_sync_queue_depth',
  'role_sync_request_rate',
  'role_sync_last_success_timestamp_seconds',
  'role_sync_drift_detected_total',
  'role_sync_build_info',
  'role_sync_disables_total',
  'role_sync_enables_total',
  'role_sync_grants_expiring',
  'role_sync_snapshot_ok',
] as const;
