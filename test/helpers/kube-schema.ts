/**
 * Strict checks of Kubernetes manifests against the API schemas, from the npm package
 * kubernetes-models (core types) and @kubernetes-models/prometheus-operator (ServiceMonitor,
 * PrometheusRule), in two passes:
 *
 * 1. the models' own validators (generated from the OpenAPI schemas): types, formats, enums and
 *    required fields. They let unknown fields through, as the API server's non-strict decoding does.
 * 2. the TypeScript compiler over each manifest as an object literal typed with the model's
 *    interface: excess-property checks make every unknown field an error, at any depth, which is
 *    what `kubectl apply --validate=strict` refuses.
 */
import { join } from 'node:path';
import ts from 'typescript';

/** A model's class; each takes its own data type, so the table below erases it. */
interface ModelClass {
  new (data: never): { validate(): void };
}

interface Model {
  /** Module that exports both the class and its interface. */
  readonly module: string;
  readonly className: string;
  readonly load: () => Promise<ModelClass>;
}

const model = (module: string, className: string, load: () => Promise<ModelClass>): Model => ({
  module,
  className,
  load,
});

/** apiVersion/kind → its model. A manifest of any other kind is an error: add it here. */
const MODELS: Readonly<Record<string, Model>> = {
  'apps/v1/Deployment': model(
    'kubernetes-models/apps/v1/Deployment',
    'Deployment',
    async () => (await import('kubernetes-models/apps/v1/Deployment')).Deployment,
  ),
  'v1/Service': model(
    'kubernetes-models/v1/Service',
    'Service',
    async () => (await import('kubernetes-models/v1/Service')).Service,
  ),
  'v1/ServiceAccount': model(
    'kubernetes-models/v1/ServiceAccount',
    'ServiceAccount',
    async () => (await import('kubernetes-models/v1/ServiceAccount')).ServiceAccount,
  ),
  'v1/Secret': model(
    'kubernetes-models/v1/Secret',
    'Secret',
    async () => (await import('kubernetes-models/v1/Secret')).Secret,
  ),
  'v1/ConfigMap': model(
    'kubernetes-models/v1/ConfigMap',
    'ConfigMap',
    async () => (await import('kubernetes-models/v1/ConfigMap')).ConfigMap,
  ),
  'networking.k8s.io/v1/NetworkPolicy': model(
    'kubernetes-models/networking.k8s.io/v1/NetworkPolicy',
    'NetworkPolicy',
    async () => (await import('kubernetes-models/networking.k8s.io/v1/NetworkPolicy')).NetworkPolicy,
  ),
  'monitoring.coreos.com/v1/ServiceMonitor': model(
    '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor',
    'ServiceMonitor',
    async () =>
      (await import('@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor')).ServiceMonitor,
  ),
  'monitoring.coreos.com/v1/PrometheusRule': model(
    '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule',
    'PrometheusRule',
    async () =>
      (await import('@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule')).PrometheusRule,
  ),
};

export interface KubeDocument {
  /** Where it came from, for messages: `deployment.yaml` or `deployment.yaml#2`. */
  readonly where: string;
  readonly doc: Record<string, unknown>;
}

/** Every problem found, one line each, naming the document; empty when all are valid. */
export async function kubeSchemaProblems(docs: readonly KubeDocument[], root: string): Promise<string[]> {
  const problems: string[] = [];
  const typed: { readonly where: string; readonly model: Model; readonly doc: Record<string, unknown> }[] = [];
  for (const { where, doc } of docs) {
    const key = `${String(doc['apiVersion'])}/${String(doc['kind'])}`;
    const m = MODELS[key];
    if (!m) {
      problems.push(`${where}: no schema known for ${key}`);
      continue;
    }
    typed.push({ where, model: m, doc });
    const Class = await m.load();
    try {
      new Class(doc as never).validate();
    } catch (err) {
      problems.push(`${where}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  problems.push(...excessFieldProblems(typed, root));
  return problems;
}

/** Pass 2: the manifests as typed object literals, compiled in memory. */
function excessFieldProblems(
  docs: readonly { readonly where: string; readonly model: Model; readonly doc: Record<string, unknown> }[],
  root: string,
): string[] {
  if (docs.length === 0) return [];
  const modules = [...new Map(docs.map((d) => [d.model.module, d.model])).values()];
  const lines = modules.map((m, i) => `import type { I${m.className} as T${i} } from '${m.module}';`);
  /** Line ranges of each manifest in the generated source, to name it in a diagnostic. */
  const ranges: { readonly where: string; readonly from: number; readonly json: string[] }[] = [];
  docs.forEach((d, i) => {
    const json = JSON.stringify(d.doc, null, 2).split('\n');
    ranges.push({ where: d.where, from: lines.length, json });
    lines.push(`export const m${i}: T${modules.indexOf(d.model)} = ${json[0]!}`, ...json.slice(1));
    lines[lines.length - 1] += ';';
  });
  // Inside the repository, so `kubernetes-models` resolves from its node_modules.
  const file = join(root, 'test', '__kube-manifests__.ts');
  const source = lines.join('\n');
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
  };
  const host = ts.createCompilerHost(options);
  const fileExists = host.fileExists.bind(host);
  const readFile = host.readFile.bind(host);
  const getSourceFile = host.getSourceFile.bind(host);
  host.fileExists = (f) => f === file || fileExists(f);
  host.readFile = (f) => (f === file ? source : readFile(f));
  host.getSourceFile = (f, lang, onError) =>
    f === file ? ts.createSourceFile(f, source, lang) : getSourceFile(f, lang, onError);
  const program = ts.createProgram([file], options, host);
  const diagnostics = ts.getPreEmitDiagnostics(program);
  return diagnostics.map((d) => {
    const text = ts.flattenDiagnosticMessageText(d.messageText, '\n').split('\n').pop()!.trim();
    if (d.file?.fileName !== file || d.start === undefined) return `TypeScript: ${text}`;
    const line = d.file.getLineAndCharacterOfPosition(d.start).line;
    const range = [...ranges].reverse().find((r) => r.from <= line);
    if (!range) return `generated imports: ${text}`;
    return `${range.where}: ${range.json[line - range.from]!.trim()} — ${text}`;
  });
}
