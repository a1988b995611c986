/**
 * Checks HTTP requests and responses against Parchment's published OpenAPI document
 * (contract/openapi.resolved.json, see contract/NOTICE), for the simulator's and the client's tests.
 *
 * Limits of the vendor document, which these checks inherit:
 * - Five schemas are referenced but never defined (UsersListResponse, UserDetailsResponse, UpdateUser,
 *   UpdateUserResponse, ExternalApiValidationErrorResponse). The resolved copy defines them as open
 *   objects, so the list-users and read-user 200 bodies pass any object: use `exampleShapeErrors`
 *   against the documented examples for those.
 * - Enable and disable (`PUT .../enable`, `.../disable`) are not in the document at all:
 *   `validateResponse` reports them as unknown; check their bodies with `validateComponent`.
 * - Some statuses that the prose documents are missing per operation (403, 409, 429 on roles; 422 on
 *   the token call): `validateResponse` reports them as undocumented; use `validateComponent` with
 *   `ExternalApiErrorResponse` for those.
 */
import { readFileSync } from 'node:fs';
import { Ajv, type ValidateFunction } from 'ajv';
import formats from 'ajv-formats';

const DOC_KEY = 'parchment-openapi';

interface Parameter {
  name: string;
  in: 'header' | 'query' | 'path' | 'cookie';
  required?: boolean;
  schema?: Record<string, unknown>;
}

interface Operation {
  parameters?: Parameter[];
  security?: Record<string, unknown>[];
  requestBody?: { required?: boolean; content?: Record<string, { schema?: unknown }> };
  responses?: Record<string, { content?: Record<string, { schema?: unknown; example?: unknown }> }>;
}

interface OpenApiDoc {
  paths: Record<string, Record<string, Operation> & { parameters?: Parameter[] }>;
  security?: Record<string, unknown>[];
  components: { schemas: Record<string, unknown> };
}

function load(name: string): unknown {
  return JSON.parse(readFileSync(new URL(`../../contract/${name}`, import.meta.url), 'utf8'));
}

export const openApi = load('openapi.resolved.json') as OpenApiDoc;
/** The RS page's examples (contract/standardized-response-examples.json). */
export const standardizedExamples = (
  load('standardized-response-examples.json') as {
    standardized_response_examples: Record<string, { response: unknown }>;
  }
).standardized_response_examples;

const ajv = new Ajv({ strict: false, allErrors: true });
formats.default(ajv);
ajv.addSchema(openApi, DOC_KEY);

const compiled = new Map<string, ValidateFunction>();

/** Inline schemas in `paths` use document-relative refs; point them at the registered document. */
function rebase(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(rebase);
  if (typeof schema !== 'object' || schema === null) return schema;
  return Object.fromEntries(
    Object.entries(schema).map(([k, v]) => [
      k,
      k === '$ref' && typeof v === 'string' && v.startsWith('#') ? `${DOC_KEY}${v}` : rebase(v),
    ]),
  );
}

function validatorFor(cacheKey: string, schema: unknown): ValidateFunction {
  let v = compiled.get(cacheKey);
  if (!v) {
    v = ajv.compile(rebase(schema) as object);
    compiled.set(cacheKey, v);
  }
  return v;
}

function run(cacheKey: string, schema: unknown, value: unknown, where: string): string[] {
  const v = validatorFor(cacheKey, schema);
  if (v(value)) return [];
  return (v.errors ?? []).map(
    (e) => `${where}${e.instancePath || ''}: ${e.message ?? 'is invalid'}${allowedValues(e.params)}`,
  );
}

/** Ajv's `allowedValues`, when the error has them, appended to its message. */
function allowedValues(params: Record<string, unknown> | undefined): string {
  return params && 'allowedValues' in params ? ` ${JSON.stringify(params['allowedValues'])}` : '';
}

function stripBase(pathTemplate: string): string {
  return pathTemplate.startsWith('/external/') ? pathTemplate.slice('/external'.length) : pathTemplate;
}

function operation(method: string, pathTemplate: string): { op: Operation; params: Parameter[] } | undefined {
  const item = openApi.paths[stripBase(pathTemplate)];
  const op = item?.[method.toLowerCase()];
  if (!item || !op) return undefined;
  return { op, params: [...(item.parameters ?? []), ...(op.parameters ?? [])] };
}

/** Query, path and header values arrive as strings; turn them into what the parameter schema types. */
function coerce(value: string, schema: Record<string, unknown> | undefined): unknown {
  const type = schema?.['type'];
  if ((type === 'integer' || type === 'number') && /^-?\d+(\.\d+)?$/.test(value)) return Number(value);
  if (type === 'boolean' && (value === 'true' || value === 'false')) return value === 'true';
  return value;
}

export interface RequestParts {
  headers?: Record<string, string | undefined>;
  query?: Record<string, string | undefined>;
  /** Path parameters by name, e.g. `{ organization_id, user_id }`. */
  params?: Record<string, string>;
  body?: unknown;
}

/** Problems with a request to `pathTemplate` (e.g. `/v1/organizations/{organization_id}/users`); empty if none. */
export function validateRequest(method: string, pathTemplate: string, parts: RequestParts): string[] {
  const found = operation(method, pathTemplate);
  if (!found) return [`${method.toUpperCase()} ${stripBase(pathTemplate)} is not in the OpenAPI document`];
  const { op, params } = found;
  const errors: string[] = [];
  const headers = Object.fromEntries(Object.entries(parts.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  const sources: Record<string, Record<string, string | undefined>> = {
    header: headers,
    query: parts.query ?? {},
    path: parts.params ?? {},
  };
  for (const p of params) {
    const source = sources[p.in];
    if (!source) continue;
    const raw = source[p.in === 'header' ? p.name.toLowerCase() : p.name];
    if (raw === undefined) {
      if (p.required) errors.push(`${p.in} parameter ${p.name}: is required`);
      continue;
    }
    if (p.schema) {
      const key = `param:${method}:${pathTemplate}:${p.in}:${p.name}`;
      errors.push(...run(key, p.schema, coerce(raw, p.schema), `${p.in} parameter ${p.name}`));
    }
  }
  const security = op.security ?? openApi.security ?? [];
  if (security.some((s) => 'bearerAuth' in s) && !/^Bearer \S+$/.test(headers['authorization'] ?? '')) {
    errors.push('header authorization: a "Bearer <token>" value is required (bearerAuth)');
  }
  const bodySchema = op.requestBody?.content?.['application/json']?.schema;
  if (parts.body === undefined) {
    if (op.requestBody?.required) errors.push('body: is required');
  } else if (bodySchema) {
    errors.push(...run(`body:${method}:${pathTemplate}`, bodySchema, parts.body, 'body'));
  }
  return errors;
}

/** Problems with a response body for `status`; empty when the document's schema for that status accepts it. */
export function validateResponse(method: string, pathTemplate: string, status: number, body: unknown): string[] {
  const found = operation(method, pathTemplate);
  if (!found) return [`${method.toUpperCase()} ${stripBase(pathTemplate)} is not in the OpenAPI document`];
  const response = found.op.responses?.[String(status)];
  if (!response) return [`status ${status} is not documented for ${method.toUpperCase()} ${stripBase(pathTemplate)}`];
  const schema = response.content?.['application/json']?.schema;
  if (!schema) return [];
  return run(`response:${method}:${pathTemplate}:${status}`, schema, body, 'response');
}

/** Problems with `value` against one of the document's component schemas, e.g. `ExternalApiErrorResponse`. */
export function validateComponent(name: string, value: unknown): string[] {
  if (!(name in openApi.components.schemas)) return [`no component schema ${name}`];
  return run(`component:${name}`, { $ref: `#/components/schemas/${name}` }, value, name);
}

/** The example the document gives for a response, if any. */
export function documentedExample(method: string, pathTemplate: string, status: number): unknown {
  return operation(method, pathTemplate)?.op.responses?.[String(status)]?.content?.['application/json']?.example;
}

function kind(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}

/**
 * Structural comparison with a documented example: every key the example has must be present with
 * the same kind of value (arrays element-wise against the example's first element). A `null` in the
 * example accepts anything (e.g. `lastKey`). Extra keys are allowed. `ignore` lists example paths the
 * caller knowingly leaves out, written like `data.users[].external_user_id`.
 */
export function exampleShapeErrors(
  example: unknown,
  actual: unknown,
  ignore: readonly string[] = [],
  path = '',
): string[] {
  if (ignore.includes(path)) return [];
  if (example === null) return [];
  if (kind(example) !== kind(actual)) return [`${path || '(root)'}: expected ${kind(example)}, got ${kind(actual)}`];
  if (Array.isArray(example)) {
    const first = example[0];
    if (first === undefined) return [];
    return (actual as unknown[]).flatMap((item) => exampleShapeErrors(first, item, ignore, `${path}[]`));
  }
  if (typeof example === 'object') {
    const obj = actual as Record<string, unknown>;
    return Object.entries(example as Record<string, unknown>).flatMap(([k, v]) => {
      const sub = path === '' ? k : `${path}.${k}`;
      if (ignore.includes(sub)) return [];
      return k in obj ? exampleShapeErrors(v, obj[k], ignore, sub) : [`${sub}: missing`];
    });
  }
  return [];
}
