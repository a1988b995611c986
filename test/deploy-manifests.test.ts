/**
 * The Dockerfile and the Kubernetes manifests under deploy/kubernetes must agree with each other and
 * with the code: the port, the config and state paths, the user, the secret files. The Dockerfile is
 * read by a small reader below (instructions, continuation lines, exec-form JSON), the manifests by
 * the yaml package.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, posix, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Ajv } from 'ajv';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_LISTEN, parseListenAddress } from '../src/daemon/ops-server.js';
import { loadDesiredFile } from '../src/desired-file.js';
import { loadSettings } from '../src/parchment/settings.js';
import { kubeSchemaProblems } from './helpers/kube-schema.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const K8S = join(ROOT, 'deploy', 'kubernetes');

// ---------------------------------------------------------------------------------------------
// A Dockerfile reader: enough of the format for these checks, no dependency.

interface Instruction {
  readonly keyword: string;
  /** The arguments as written (continuations joined), flags included. */
  readonly args: string;
  readonly line: number;
}

interface Stage {
  readonly from: string;
  readonly name?: string;
  readonly instructions: readonly Instruction[];
}

function readDockerfile(text: string): Stage[] {
  const instructions: Instruction[] = [];
  let pending: { text: string; line: number } | undefined;
  text.split(/\r?\n/).forEach((raw, i) => {
    const trimmed = raw.trim();
    // Comment and empty lines are dropped, even inside a continued instruction, as Docker does.
    if (trimmed.startsWith('#') || trimmed === '') return;
    const continued = /\\\s*$/.test(raw);
    const part = continued ? raw.replace(/\\\s*$/, '') : raw;
    pending = pending
      ? { text: `${pending.text} ${part.trim()}`, line: pending.line }
      : { text: part.trim(), line: i + 1 };
    if (continued) return;
    const m = /^(\S+)\s*(.*)$/s.exec(pending.text)!;
    instructions.push({ keyword: m[1]!.toUpperCase(), args: m[2]!.trim(), line: pending.line });
    pending = undefined;
  });
  if (pending) throw new Error(`line ${pending.line}: the last instruction ends with a continuation`);

  const stages: { from: string; name?: string; instructions: Instruction[] }[] = [];
  for (const ins of instructions) {
    if (ins.keyword === 'FROM') {
      const m = /^(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      if (!m) throw new Error(`line ${ins.line}: cannot read FROM ${ins.args}`);
      stages.push({ from: m[1]!, ...(m[2] !== undefined ? { name: m[2] } : {}), instructions: [] });
    } else if (stages.length === 0) {
      if (ins.keyword !== 'ARG') throw new Error(`line ${ins.line}: ${ins.keyword} before the first FROM`);
    } else {
      stages[stages.length - 1]!.instructions.push(ins);
    }
  }
  return stages;
}

/** The exec (JSON array) form; undefined for the shell form. */
function execForm(args: string): string[] | undefined {
  if (!args.startsWith('[')) return undefined;
  const parsed: unknown = JSON.parse(args);
  if (!Array.isArray(parsed) || !parsed.every((a) => typeof a === 'string'))
    throw new Error(`not a JSON string array: ${args}`);
  return parsed;
}

/** `ENV A=1 B="two words"` (the legacy `ENV A 1` form too). */
function envOf(args: string): Map<string, string> {
  const env = new Map<string, string>();
  const legacy = /^(\w+)\s+([^=]*)$/.exec(args);
  if (legacy) return env.set(legacy[1]!, legacy[2]!.trim());
  for (const m of args.matchAll(/(\w+)=("(?:[^"\\]|\\.)*"|\S*)/g)) {
    env.set(m[1]!, m[2]!.startsWith('"') ? (JSON.parse(m[2]!) as string) : m[2]!);
  }
  return env;
}

/** Flags such as `--from=build` and `--interval=30s`, and what follows them. */
function splitFlags(args: string): { flags: Map<string, string>; rest: string } {
  const flags = new Map<string, string>();
  let rest = args;
  for (let m = /^--([\w-]+)=(\S+)\s+/.exec(rest); m; m = /^--([\w-]+)=(\S+)\s+/.exec(rest)) {
    flags.set(m[1]!, m[2]!);
    rest = rest.slice(m[0].length);
  }
  return { flags, rest };
}

function only(stage: Stage, keyword: string): Instruction {
  const found = stage.instructions.filter((i) => i.keyword === keyword);
  // Docker uses the last one; more than one is a mistake in this Dockerfile either way.
  expect(found, `${keyword} instructions in the runtime stage`).toHaveLength(1);
  return found[0]!;
}

// ---------------------------------------------------------------------------------------------
// The manifests.

type Obj = Record<string, any>;

interface Manifest {
  readonly file: string;
  readonly doc: Obj;
}

async function yamlFiles(dir: string): Promise<string[]> {
  return (await readdir(dir))
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .map((f) => join(dir, f));
}

/** Every document of every Kubernetes YAML file; kustomization.yaml and the roles file are not resources. */
async function loadManifests(): Promise<Manifest[]> {
  const out: Manifest[] = [];
  for (const file of await yamlFiles(K8S)) {
    if (['kustomization.yaml', 'roles.yaml'].includes(basename(file))) continue;
    const docs = parseAllDocuments(await readFile(file, 'utf8'));
    if (!Array.isArray(docs)) throw new Error(`${file}: not YAML documents`);
    for (const d of docs) {
      expect(d.errors.map((e) => `${file}: ${e.message}`)).toEqual([]);
      const doc = d.toJS() as Obj | null;
      if (doc !== null) out.push({ file: basename(file), doc });
    }
  }
  return out;
}

let stages: Stage[];
let runtime: Stage;
let dockerfileText: string;
let manifests: Manifest[];
let kustomization: Obj;
let deployment: Obj;
let pod: Obj;
let container: Obj;
let service: Obj;
let secretTemplate: Obj;

function ofKind(kind: string, file?: string): Obj {
  const found = manifests.filter((m) => m.doc['kind'] === kind && (file === undefined || m.file === file));
  expect(
    found.map((m) => m.file),
    `${kind} manifests`,
  ).toHaveLength(1);
  return found[0]!.doc;
}

/** A container port given by name or number → its number. */
function portNumber(port: unknown): number {
  if (typeof port === 'number') return port;
  const named = (container['ports'] as Obj[]).find((p) => p['name'] === port);
  if (!named) throw new Error(`no container port named ${String(port)}`);
  return named['containerPort'] as number;
}

function volume(name: string): Obj {
  const v = (pod['volumes'] as Obj[]).find((x) => x['name'] === name);
  if (!v) throw new Error(`no volume named ${name}`);
  return v;
}

/** The mount whose mountPath is `path` or a parent of it. */
function mountHolding(path: string): Obj | undefined {
  return (container['volumeMounts'] as Obj[]).find(
    (m) => path === m['mountPath'] || path.startsWith(`${String(m['mountPath'])}/`),
  );
}

function envValue(name: string): string | undefined {
  return (container['env'] as Obj[] | undefined)?.find((e) => e['name'] === name)?.['value'] as string | undefined;
}

beforeAll(async () => {
  dockerfileText = await readFile(join(ROOT, 'Dockerfile'), 'utf8');
  stages = readDockerfile(dockerfileText);
  runtime = stages[stages.length - 1]!;
  manifests = await loadManifests();
  kustomization = parseYaml(await readFile(join(K8S, 'kustomization.yaml'), 'utf8')) as Obj;
  deployment = ofKind('Deployment');
  pod = deployment['spec']['template']['spec'] as Obj;
  container = (pod['containers'] as Obj[])[0]!;
  service = ofKind('Service');
  secretTemplate = ofKind('Secret', 'secret.example.yaml');
});

describe('the Dockerfile reader', () => {
  it('joins continuation lines, drops comments and splits stages', () => {
    const s = readDockerfile('ARG V=1\nFROM a:1 AS one\nRUN x \\\n  # a comment\n  && y\nFROM one\nCMD ["a", "b"]\n');
    expect(s.map((x) => [x.from, x.name])).toEqual([
      ['a:1', 'one'],
      ['one', undefined],
    ]);
    expect(s[0]!.instructions).toEqual([{ keyword: 'RUN', args: 'x && y', line: 3 }]);
    expect(execForm(s[1]!.instructions[0]!.args)).toEqual(['a', 'b']);
    expect(execForm('node x.js')).toBeUndefined();
    expect([...envOf('A=1 B="two words" C=').entries()]).toEqual([
      ['A', '1'],
      ['B', 'two words'],
      ['C', ''],
    ]);
    expect(() => readDockerfile('FROM a\nRUN x \\\n')).toThrow(/continuation/);
  });
});

describe('the Dockerfile', () => {
  it('is multi-stage, with the runtime on a pinned Node 24 image', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(runtime.from).toMatch(/^node:24(\.\d+){0,2}-(slim|bookworm-slim|trixie-slim)(@sha256:[0-9a-f]{64})?$/);
    for (const s of stages) expect(s.from, 'every stage pins a tag').toMatch(/:[^:]+$/);
  });

  it('builds with dev dependencies and ships production dependencies only, without npm at runtime', () => {
    const runs = (s: Stage): string =>
      s.instructions
        .filter((i) => i.keyword === 'RUN')
        .map((i) => i.args)
        .join('\n');
    const build = stages.find((s) => /\bnpm run build\b/.test(runs(s)));
    expect(build, 'a stage runs npm run build').toBeDefined();
    expect(runs(build!)).toMatch(/\bnpm ci\b(?![^\n]*--omit=dev)/);
    const deps = stages.find((s) => /\bnpm ci\b[^\n]*--omit=dev/.test(runs(s)));
    expect(deps, 'a stage runs npm ci --omit=dev').toBeDefined();
    // The runtime copies node_modules from the production-only stage, and dist from the build.
    const copies = runtime.instructions.filter((i) => i.keyword === 'COPY').map((i) => splitFlags(i.args));
    expect(copies.find((c) => c.rest.startsWith('/app/node_modules'))?.flags.get('from')).toBe(deps!.name);
    expect(copies.find((c) => c.rest.startsWith('/app/dist'))?.flags.get('from')).toBe(build!.name);
    // From the build context the runtime takes package.json alone: no sources, tests or benchmarks.
    const fromContext = copies.filter((c) => !c.flags.has('from')).flatMap((c) => c.rest.split(/\s+/).slice(0, -1));
    expect(fromContext).toEqual(['package.json']);
    expect(runs(runtime)).not.toMatch(/\bnpm (ci|install|start|run)\b/);
    expect(runs(runtime)).toMatch(/rm -rf[^\n]*\/usr\/local\/lib\/node_modules\/npm/);
  });

  it('sets production mode and the state directory, owned by the runtime user before it becomes a VOLUME', () => {
    const env = new Map(runtime.instructions.filter((i) => i.keyword === 'ENV').flatMap((i) => [...envOf(i.args)]));
    expect(env.get('NODE_ENV')).toBe('production');
    // README "Performance" quotes the peak memory under this setting as the container's.
    expect(env.get('NODE_OPTIONS')).toBe('--max-semi-space-size=2');
    const stateDir = env.get('ROLE_SYNC_STATE_DIR');
    expect(stateDir).toBe('/var/lib/role-sync');
    const vol = only(runtime, 'VOLUME');
    expect(execForm(vol.args) ?? vol.args.split(/\s+/)).toContain(stateDir);
    const [uid, gid] = only(runtime, 'USER').args.split(':');
    const chown = runtime.instructions.find(
      (i) => i.keyword === 'RUN' && i.args.includes(`chown ${uid}:${gid} ${stateDir}`),
    );
    expect(chown, 'a RUN chowns the state directory to USER').toBeDefined();
    expect(chown!.line).toBeLessThan(vol.line);
  });

  it('runs as a numeric non-root user', () => {
    expect(only(runtime, 'USER').args).toMatch(/^[1-9]\d*:[1-9]\d*$/);
  });

  it('starts the CLI directly (exec form, no npm, no shell) with the daemon as the default command', () => {
    expect(execForm(only(runtime, 'ENTRYPOINT').args)).toEqual(['node', '/app/dist/cli.js']);
    expect(execForm(only(runtime, 'CMD').args)).toEqual(['run', '-c', '/config/roles.yaml']);
    expect(existsSync(join(ROOT, 'src', 'cli.ts')), 'dist/cli.js is built from src/cli.ts').toBe(true);
  });

  it('exposes the default --listen port and health-checks it with node, not curl', () => {
    const port = parseListenAddress(DEFAULT_LISTEN)!.port;
    expect(only(runtime, 'EXPOSE').args.split(/\s+/)).toEqual([`${port}`]);
    const { flags, rest } = splitFlags(only(runtime, 'HEALTHCHECK').args);
    expect([...flags.keys()].sort()).toEqual(['interval', 'retries', 'start-period', 'timeout']);
    const cmd = execForm(rest.replace(/^CMD\s+/, ''));
    expect(cmd?.slice(0, 2)).toEqual(['node', '-e']);
    expect(cmd![2]).toContain(`http://127.0.0.1:${port}/healthz`);
    for (const s of stages)
      for (const i of s.instructions) expect(i.args, `line ${i.line}`).not.toMatch(/\b(curl|wget)\b/);
  });

  it('has a .dockerignore that lets in exactly what the build stages copy from the context', async () => {
    const lines = (await readFile(join(ROOT, '.dockerignore'), 'utf8'))
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'));
    expect(lines[0], 'an allow-list: everything is excluded first').toBe('*');
    const allowed = lines.slice(1).map((l) => {
      expect(l.startsWith('!'), `${l}: after '*' only exceptions`).toBe(true);
      return l.slice(1).replace(/\/$/, '');
    });
    const sources = stages
      .flatMap((s) => s.instructions.filter((i) => i.keyword === 'COPY' && !splitFlags(i.args).flags.has('from')))
      .flatMap((i) =>
        i.args
          .split(/\s+/)
          .slice(0, -1)
          .map((p) => p.replace(/\/$/, '')),
      );
    expect(new Set(sources)).toEqual(new Set(allowed));
    for (const p of allowed) expect(existsSync(join(ROOT, p)), p).toBe(true);
  });
});

describe('the Kubernetes manifests', () => {
  it('parse, and every resource has apiVersion, kind and a name', () => {
    expect(manifests.map((m) => `${m.file}:${m.doc['kind']}`).sort()).toEqual([
      'deployment.yaml:Deployment',
      'networkpolicy.yaml:NetworkPolicy',
      'prometheusrule.yaml:PrometheusRule',
      'secret.example.yaml:Secret',
      'service.yaml:Service',
      'serviceaccount.yaml:ServiceAccount',
      'servicemonitor.yaml:ServiceMonitor',
    ]);
    for (const { doc } of manifests) {
      expect(doc['apiVersion']).toEqual(expect.any(String));
      expect(doc['metadata']?.['name']).toEqual(expect.any(String));
    }
  });

  it('run exactly one daemon, never two at once', () => {
    expect(deployment['spec']['replicas']).toBe(1);
    expect(deployment['spec']['strategy']).toEqual({ type: 'Recreate' });
    expect(pod['containers']).toHaveLength(1);
  });

  it('run the image’s command against the ConfigMap, mounted as a directory (never subPath)', () => {
    const cmd = execForm(only(runtime, 'CMD').args)!;
    expect(container['command'], 'the image ENTRYPOINT stays').toBeUndefined();
    expect(container['args']).toEqual(cmd);
    const configPath = cmd[cmd.indexOf('-c') + 1]!;
    const mount = mountHolding(configPath);
    expect(mount?.['mountPath']).toBe(posix.dirname(configPath));
    expect(mount?.['subPath']).toBeUndefined();
    expect(mount?.['readOnly']).toBe(true);
    for (const m of container['volumeMounts'] as Obj[])
      expect(m['subPath'], `${String(m['name'])} uses subPath`).toBeUndefined();
    const source = volume(mount!['name'] as string)['configMap'] as Obj;
    const generator = (kustomization['configMapGenerator'] as Obj[]).find((g) => g['name'] === source['name']);
    expect(generator, `configMapGenerator ${String(source['name'])}`).toBeDefined();
    expect((generator!['files'] as string[]).map((f) => basename(f.split('=').pop()!))).toContain(
      posix.basename(configPath),
    );
    expect(source['items'], 'all keys, so the file name stays the key').toBeUndefined();
  });

  it('keep the state directory of the image on a writable volume', () => {
    const env = new Map(runtime.instructions.filter((i) => i.keyword === 'ENV').flatMap((i) => [...envOf(i.args)]));
    const stateDir = env.get('ROLE_SYNC_STATE_DIR')!;
    expect(envValue('ROLE_SYNC_STATE_DIR') ?? stateDir).toBe(stateDir);
    const mount = mountHolding(stateDir);
    expect(mount?.['mountPath']).toBe(stateDir);
    expect(mount?.['readOnly']).not.toBe(true);
    const v = volume(mount!['name'] as string);
    expect(v['emptyDir'] !== undefined || v['persistentVolumeClaim'] !== undefined).toBe(true);
  });

  it('run as the image’s user, locked down', () => {
    const [uid, gid] = only(runtime, 'USER').args.split(':').map(Number);
    const podSec = pod['securityContext'] as Obj;
    expect(podSec).toMatchObject({
      runAsNonRoot: true,
      runAsUser: uid,
      runAsGroup: gid,
      fsGroup: gid,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(container['securityContext']).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(container['securityContext']['privileged']).not.toBe(true);
    expect(pod['automountServiceAccountToken']).toBe(false);
  });

  it('probe /healthz (liveness) and /readyz (readiness) over HTTP on the exposed port', () => {
    const port = Number(only(runtime, 'EXPOSE').args);
    const expected = { livenessProbe: '/healthz', readinessProbe: '/readyz', startupProbe: '/healthz' } as const;
    for (const [probe, path] of Object.entries(expected)) {
      const p = container[probe] as Obj | undefined;
      if (probe === 'startupProbe' && p === undefined) continue;
      expect(p?.['httpGet']?.['path'], probe).toBe(path);
      expect(portNumber(p!['httpGet']['port']), probe).toBe(port);
      expect(p!['exec'], `${probe}: no shell in the loop`).toBeUndefined();
    }
    expect((container['ports'] as Obj[]).map((p) => p['containerPort'])).toEqual([port]);
  });

  it('give the daemon time to stop: a shell-less preStop sleep, then its 15 s within the grace period', () => {
    const sleep = container['lifecycle']?.['preStop']?.['sleep']?.['seconds'] as unknown;
    expect(sleep).toEqual(expect.any(Number));
    expect(container['lifecycle']['preStop']['exec']).toBeUndefined();
    // README "The daemon": SIGTERM → at most 10 s for requests in flight, 15 s in all before a forced exit.
    const grace = pod['terminationGracePeriodSeconds'] as number;
    expect(grace).toBeGreaterThanOrEqual(15);
    expect(grace).toBeGreaterThanOrEqual((sleep as number) + 15);
  });

  it('set requests and limits', () => {
    expect(container['resources']).toMatchObject({
      requests: { cpu: expect.any(String), memory: expect.any(String) },
      limits: { cpu: expect.any(String), memory: expect.any(String) },
    });
  });

  it('read every secret from files inside mounted Secret volumes, with names the template provides', () => {
    const env = container['env'] as Obj[];
    expect(
      env.filter((e) => e['valueFrom'] !== undefined),
      'no secret values in the environment',
    ).toEqual([]);
    const fileVars = env.filter((e) => /_FILE$/.test(e['name'] as string));
    expect(fileVars.map((e) => e['name']).sort()).toEqual([
      'PARCHMENT_CREDENTIALS_FILE',
      'PARCHMENT_PARTNER_ID_FILE',
      'PARCHMENT_PARTNER_SECRET_FILE',
    ]);
    const keys = Object.keys({
      ...(secretTemplate['stringData'] as Obj | undefined),
      ...(secretTemplate['data'] as Obj | undefined),
    });
    for (const e of fileVars) {
      const path = e['value'] as string;
      const mount = mountHolding(path);
      expect(mount, `${String(e['name'])}: ${path} is in no mount`).toBeDefined();
      expect(mount!['readOnly']).toBe(true);
      const secret = volume(mount!['name'] as string)['secret'] as Obj | undefined;
      expect(secret?.['secretName'], `${String(e['name'])}: mounted from the Secret`).toBe(
        secretTemplate['metadata']['name'],
      );
      expect(posix.dirname(path)).toBe(mount!['mountPath']);
      expect(keys).toContain(posix.basename(path));
    }
  });

  it('form valid settings: the Deployment’s environment, the Secret template, the ConfigMap’s file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rs-k8s-secret-'));
    try {
      const data = secretTemplate['stringData'] as Record<string, string>;
      for (const [key, value] of Object.entries(data)) await writeFile(join(dir, key), value);
      // The pod's environment, with the secret mount point moved to the temp dir.
      const secretMount = mountHolding(envValue('PARCHMENT_PARTNER_SECRET_FILE')!)!['mountPath'] as string;
      const env: NodeJS.ProcessEnv = {};
      for (const e of container['env'] as Obj[])
        env[e['name'] as string] = (e['value'] as string).replace(secretMount, dir);
      const roles = await loadDesiredFile(join(K8S, 'roles.yaml'));
      if (roles.kind === 'invalid') throw new Error('deploy/kubernetes/roles.yaml is not valid');
      const orgs = roles.state.organizations.map((o) => o.id);
      const settings = await loadSettings(env, orgs);
      expect(settings.auth).toMatchObject({
        kind: 'partner',
        partnerId: data['partner-id'],
        partnerSecret: data['partner-secret'],
      });
      expect([...settings.organizations.keys()].sort()).toEqual([...orgs].sort());
      expect(settings.stateDir).toBe('/var/lib/role-sync');
      expect(settings.baseUrl.protocol).toBe('https:');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('hold the example roles file in the ConfigMap', async () => {
    const deployed = parseYaml(await readFile(join(K8S, 'roles.yaml'), 'utf8')) as unknown;
    const example = parseYaml(await readFile(join(ROOT, 'roles.example.yaml'), 'utf8')) as unknown;
    expect(deployed).toEqual(example);
  });

  it('expose the metrics port in a Service selecting the pod, annotated for Prometheus', () => {
    const port = Number(only(runtime, 'EXPOSE').args);
    const ports = service['spec']['ports'] as Obj[];
    expect(ports).toHaveLength(1);
    expect(ports[0]).toMatchObject({ name: 'metrics', port });
    expect(portNumber(ports[0]!['targetPort'])).toBe(port);
    expect(service['metadata']['annotations']).toMatchObject({
      'prometheus.io/scrape': 'true',
      'prometheus.io/port': String(port),
      'prometheus.io/path': '/metrics',
    });
    const labels = deployment['spec']['template']['metadata']['labels'] as Obj;
    expect(labels).toMatchObject(service['spec']['selector'] as Obj);
    expect(labels).toMatchObject(deployment['spec']['selector']['matchLabels'] as Obj);
  });

  it('have a kustomization listing files that exist, and leaving the secret template out', () => {
    const listed = [
      ...(kustomization['resources'] as string[]),
      ...(kustomization['configMapGenerator'] as Obj[]).flatMap((g) =>
        (g['files'] as string[]).map((f) => f.split('=').pop()!),
      ),
    ];
    for (const f of listed) expect(existsSync(join(K8S, f)), f).toBe(true);
    expect(listed).not.toContain('secret.example.yaml');
    const resources = new Set(kustomization['resources'] as string[]);
    for (const m of manifests.filter((x) => x.file !== 'secret.example.yaml'))
      expect(resources.has(m.file), m.file).toBe(true);
    // Referenced images are ones the kustomization knows how to retag.
    const images = (kustomization['images'] as Obj[] | undefined)?.map((i) => i['name']) ?? [];
    expect(images).toContain((container['image'] as string).replace(/:[^:/]+$/, ''));
  });
});

describe('the Kubernetes manifests, around the Deployment', () => {
  it('give the daemon a ServiceAccount of its own that mounts no token', () => {
    const account = ofKind('ServiceAccount');
    expect(pod['serviceAccountName']).toBe(account['metadata']['name']);
    expect(account['automountServiceAccountToken']).toBe(false);
    expect(pod['automountServiceAccountToken']).toBe(false);
  });

  it('admit only Prometheus’ namespace to the pod, on the metrics port alone', () => {
    const policy = ofKind('NetworkPolicy');
    const labels = deployment['spec']['template']['metadata']['labels'] as Obj;
    expect(labels).toMatchObject(policy['spec']['podSelector']['matchLabels'] as Obj);
    // Ingress only: egress (DNS, HTTPS to Parchment) stays open.
    expect(policy['spec']['policyTypes']).toEqual(['Ingress']);
    expect(policy['spec']['ingress']).toEqual([
      {
        from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }],
        ports: [{ port: 'metrics', protocol: 'TCP' }],
      },
    ]);
    expect(portNumber('metrics')).toBe(Number(only(runtime, 'EXPOSE').args));
    // The probes use that same port, which the kubelet reaches from the node (README "Kubernetes").
    for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe'])
      expect(container[probe]['httpGet']['port'], probe).toBe('metrics');
  });

  it('scrape the metrics Service with a ServiceMonitor', () => {
    const monitor = ofKind('ServiceMonitor');
    expect(service['metadata']['labels']).toMatchObject(monitor['spec']['selector']['matchLabels'] as Obj);
    const ports = (service['spec']['ports'] as Obj[]).map((p) => p['name']);
    expect(monitor['spec']['endpoints']).toEqual([expect.objectContaining({ port: 'metrics', path: '/metrics' })]);
    expect(ports).toContain('metrics');
  });

  it('hold every resource in the kustomization, the Prometheus Operator ones included', () => {
    expect(kustomization['resources']).toEqual(
      expect.arrayContaining([
        'serviceaccount.yaml',
        'networkpolicy.yaml',
        'servicemonitor.yaml',
        'prometheusrule.yaml',
      ]),
    );
  });
});

describe('the Kubernetes schemas (kubernetes-models; unknown fields are errors)', () => {
  it('accept every manifest', async () => {
    const docs = manifests.map((m, i) => ({
      where: manifests.filter((x) => x.file === m.file).length > 1 ? `${m.file}#${i}` : m.file,
      doc: m.doc,
    }));
    // The ConfigMap the kustomization generates, as kubectl would send it.
    docs.push({
      where: 'the generated ConfigMap',
      doc: {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'role-sync-roles' },
        data: { 'roles.yaml': await readFile(join(K8S, 'roles.yaml'), 'utf8') },
      },
    });
    expect(await kubeSchemaProblems(docs, ROOT)).toEqual([]);
  });

  it('reject unknown fields at any depth, wrong types, missing required fields and unknown kinds', async () => {
    const pod = (extra: Obj) => ({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'x' },
      spec: {
        selector: { matchLabels: { a: 'b' } },
        template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'x', image: 'i', ...extra }] } },
      },
    });
    const problems = await kubeSchemaProblems(
      [
        { where: 'ok', doc: pod({}) },
        { where: 'typo', doc: pod({ livenessprobe: { httpGet: { port: 1 } } }) },
        { where: 'deep', doc: pod({ securityContext: { readOnlyRootFS: true } }) },
        { where: 'type', doc: pod({ ports: [{ containerPort: '9464' }] }) },
        {
          where: 'required',
          doc: { apiVersion: 'v1', kind: 'Service', metadata: { name: 'x' }, spec: { ports: [{ name: 'metrics' }] } },
        },
        {
          where: 'crd',
          doc: {
            apiVersion: 'monitoring.coreos.com/v1',
            kind: 'ServiceMonitor',
            metadata: { name: 'x' },
            spec: { selector: {}, endpoints: [{ port: 'metrics', intervall: '30s' }] },
          },
        },
        { where: 'kind', doc: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'x' } } },
      ],
      ROOT,
    );
    const about = (where: string) => problems.filter((p) => p.startsWith(`${where}: `));
    expect(about('ok')).toEqual([]);
    expect(about('typo')).toEqual([expect.stringMatching(/"livenessprobe".*does not exist in type 'IContainer'/)]);
    expect(about('deep')).toEqual([
      expect.stringMatching(/"readOnlyRootFS".*does not exist in type 'ISecurityContext'/),
    ]);
    expect(about('type').length).toBeGreaterThan(0);
    expect(about('type').join('\n')).toMatch(/containerPort/);
    expect(about('required').join('\n')).toMatch(/port/);
    expect(about('crd')).toEqual([expect.stringMatching(/"intervall".*does not exist in type 'IEndpoint'/)]);
    expect(about('kind')).toEqual(['kind: no schema known for v1/Pod']);
  });

  it('accept the kustomization’s own fields only', () => {
    const strings = { type: 'array', items: { type: 'string' } };
    const validate = new Ajv({ allErrors: true }).compile({
      type: 'object',
      additionalProperties: false,
      required: ['apiVersion', 'kind', 'resources'],
      properties: {
        apiVersion: { const: 'kustomize.config.k8s.io/v1beta1' },
        kind: { const: 'Kustomization' },
        resources: strings,
        configMapGenerator: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['name'],
            properties: { name: { type: 'string' }, files: strings, literals: strings },
          },
        },
        generatorOptions: {
          type: 'object',
          additionalProperties: false,
          properties: { disableNameSuffixHash: { type: 'boolean' }, labels: { type: 'object' } },
        },
        images: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['name'],
            properties: { name: { type: 'string' }, newName: { type: 'string' }, newTag: { type: 'string' } },
          },
        },
      },
    });
    expect(validate(kustomization), JSON.stringify(validate.errors)).toBe(true);
  });
});

describe('kubectl kustomize (when kubectl is installed)', () => {
  const exec = promisify(execFile);
  let kubectl: string | undefined;
  let out: string | undefined;
  beforeAll(async () => {
    kubectl = await exec('kubectl', ['version', '--client']).then(
      () => 'kubectl',
      () => undefined,
    );
    if (kubectl) out = (await exec(kubectl, ['kustomize', relative(ROOT, K8S)], { cwd: ROOT })).stdout;
  });

  it('renders the ConfigMap, the Deployment that mounts it, and the other resources', (ctx) => {
    if (!kubectl || out === undefined) {
      ctx.skip();
      return;
    }
    const docs = parseAllDocuments(out);
    if (!Array.isArray(docs)) throw new Error('kubectl kustomize printed no YAML documents');
    const rendered = docs.map((d) => d.toJS() as Obj);
    expect(rendered.map((d) => d['kind']).sort()).toEqual([
      'ConfigMap',
      'Deployment',
      'NetworkPolicy',
      'PrometheusRule',
      'Service',
      'ServiceAccount',
      'ServiceMonitor',
    ]);
    const cm = rendered.find((d) => d['kind'] === 'ConfigMap')!;
    const dep = rendered.find((d) => d['kind'] === 'Deployment')!;
    const vols = dep['spec']['template']['spec']['volumes'] as Obj[];
    expect(vols.some((v) => v['configMap']?.['name'] === cm['metadata']['name'])).toBe(true);
    expect(Object.keys(cm['data'] as Obj)).toEqual(['roles.yaml']);
  });
});
