/**
 * Runs the steps of a composite action (action.yml) as the GitHub runner does, for tests: inputs
 * with their defaults, `${{ }}` expressions in `if`, `env`, `with`, `working-directory` and output
 * values, `bash --noprofile --norc -eo pipefail` for `shell: bash` steps, one GITHUB_OUTPUT file per
 * step, and the step status rules (a failed step skips the rest, except `always()` steps).
 *
 * The expression language is the subset an action should need: context paths (`inputs.x`,
 * `steps.id.outputs.y`, `github.action_path`, `github.token`), string literals, `==`, `!=`, `!`,
 * `&&`, `||`, parentheses and the status functions. Anything else throws, so an action that grows
 * past it fails its tests rather than being run wrongly. `uses:` steps are not run: the test says
 * what stands in for each (`replace`), or the run fails.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runToEnd } from './child.js';

type Obj = Record<string, any>;

export interface StepResult {
  readonly id?: string;
  readonly name: string;
  readonly outcome: 'success' | 'failure' | 'skipped' | 'replaced';
  readonly code?: number | null;
  readonly outputs: Record<string, string>;
}

export interface ActionRun {
  /** 0 when every step that ran succeeded, else the exit code of the first failed step. */
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly outputs: Record<string, string>;
  readonly steps: readonly StepResult[];
}

export interface RunActionOptions {
  /** The directory holding action.yml: `github.action_path`. */
  readonly actionPath: string;
  /** The workspace: where steps run unless they set working-directory. */
  readonly cwd: string;
  readonly inputs: Record<string, string>;
  /** The calling step's `env:` and the runner's own variables. */
  readonly env: Record<string, string>;
  readonly github?: Record<string, string>;
  /** Steps not to run (by id or by `uses`), with the outputs that stand in for them. */
  readonly replace?: Record<string, Record<string, string>>;
}

export async function runCompositeAction(action: Obj, opts: RunActionOptions): Promise<ActionRun> {
  if (action['runs']?.['using'] !== 'composite') throw new Error('not a composite action');
  const inputs: Record<string, string> = {};
  const github: Record<string, string> = { action_path: opts.actionPath, token: 'test-token', ...opts.github };
  const steps: Record<string, { outputs: Record<string, string>; outcome: string }> = {};
  const contexts = (): Ctx => ({ inputs, github, steps });
  for (const [name, spec] of Object.entries((action['inputs'] ?? {}) as Obj)) {
    const given = opts.inputs[name];
    if (given === undefined && spec['required'] === true) throw new Error(`input ${name} is required`);
    inputs[name] = given ?? interpolate(String(spec['default'] ?? ''), contexts());
  }
  for (const name of Object.keys(opts.inputs))
    if (!(name in inputs)) throw new Error(`the action has no input named ${name}`);

  const tmp = await mkdtemp(join(tmpdir(), 'rs-action-'));
  const results: StepResult[] = [];
  let failed: number | undefined;
  let stdout = '';
  let stderr = '';
  try {
    for (const [i, step] of ((action['runs']['steps'] ?? []) as Obj[]).entries()) {
      const id = step['id'] as string | undefined;
      const name = step['name'] ? interpolate(String(step['name']), contexts()) : (step['uses'] ?? step['run']);
      const condition = step['if'] === undefined ? 'success()' : String(step['if']);
      const run = evaluate(stripBraces(condition), { ...contexts(), failed: failed !== undefined }, true);
      const record = (r: Omit<StepResult, 'id' | 'name'>): void => {
        results.push({ ...(id ? { id } : {}), name: String(name), ...r });
        if (id) steps[id] = { outputs: r.outputs, outcome: r.outcome };
      };
      if (!truthy(run)) {
        record({ outcome: 'skipped', outputs: {} });
        continue;
      }
      const stand = opts.replace?.[id ?? ''] ?? opts.replace?.[String(step['uses'] ?? '')];
      if (stand) {
        record({ outcome: 'replaced', outputs: stand });
        continue;
      }
      if (step['uses'] !== undefined)
        throw new Error(`step ${i + 1} uses ${String(step['uses'])}: say what replaces it`);
      if (step['shell'] !== 'bash') throw new Error(`step ${i + 1}: only shell: bash is supported`);

      const script = join(tmp, `step-${i}.sh`);
      const output = join(tmp, `output-${i}`);
      await writeFile(script, interpolate(String(step['run']), contexts()));
      await writeFile(output, '');
      const env: Record<string, string> = { ...opts.env, GITHUB_ACTION_PATH: opts.actionPath, GITHUB_OUTPUT: output };
      for (const [k, v] of Object.entries((step['env'] ?? {}) as Obj)) env[k] = interpolate(String(v), contexts());
      const wd = step['working-directory'] ? interpolate(String(step['working-directory']), contexts()) : opts.cwd;
      const done = await runToEnd('bash', ['--noprofile', '--norc', '-eo', 'pipefail', script], { cwd: wd, env });
      stdout += done.stdout;
      stderr += done.stderr;
      const outputs = parseOutputFile(await readFile(output, 'utf8'));
      const ok = done.code === 0;
      record({ outcome: ok ? 'success' : 'failure', code: done.code, outputs });
      if (!ok && failed === undefined) failed = done.code ?? 1;
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  const outputs: Record<string, string> = {};
  for (const [name, spec] of Object.entries((action['outputs'] ?? {}) as Obj))
    outputs[name] = interpolate(String(spec['value']), contexts());
  return { code: failed ?? 0, stdout, stderr, outputs, steps: results };
}

/** `name=value` lines and `name<<DELIMITER` blocks, as the runner reads GITHUB_OUTPUT. */
export function parseOutputFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line);
    if (heredoc) {
      const end = lines.indexOf(heredoc[2]!, i + 1);
      if (end < 0) throw new Error(`GITHUB_OUTPUT: ${heredoc[1]!} has no closing ${heredoc[2]!}`);
      out[heredoc[1]!] = lines.slice(i + 1, end).join('\n');
      i = end;
    } else if (line.includes('=')) {
      out[line.slice(0, line.indexOf('='))] = line.slice(line.indexOf('=') + 1);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Expressions.

interface Ctx {
  readonly inputs: Record<string, string>;
  readonly github: Record<string, string>;
  readonly steps: Record<string, { outputs: Record<string, string>; outcome: string }>;
  readonly failed?: boolean;
}

type Value = string | boolean;

function stripBraces(text: string): string {
  const m = /^\s*\$\{\{(.*)\}\}\s*$/s.exec(text);
  return m ? m[1]! : text;
}

function interpolate(text: string, ctx: Ctx): string {
  return text.replace(/\$\{\{(.*?)\}\}/gs, (_, expr: string) => {
    const v = evaluate(expr, ctx, false);
    return typeof v === 'boolean' ? String(v) : v;
  });
}

function truthy(v: Value): boolean {
  return typeof v === 'boolean' ? v : v !== '';
}

const TOKEN = /\s*(\|\||&&|==|!=|!|\(|\)|'(?:[^']|'')*'|[A-Za-z_][\w.-]*(?:\(\))?)/y;

/** `if:` conditions without a status function behave as `success() && (...)`. */
function evaluate(expr: string, ctx: Ctx, isCondition: boolean): Value {
  const tokens: string[] = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < expr.length) {
    if (/^\s*$/.test(expr.slice(TOKEN.lastIndex))) break;
    const start = TOKEN.lastIndex;
    const m = TOKEN.exec(expr);
    if (!m) throw new Error(`cannot read the expression ${JSON.stringify(expr)} at ${start}`);
    tokens.push(m[1]!);
  }
  let pos = 0;
  const peek = (): string | undefined => tokens[pos];
  const take = (): string => tokens[pos++]!;
  const or = (): Value => {
    let left = and();
    while (peek() === '||') {
      take();
      const right = and();
      left = truthy(left) ? left : right;
    }
    return left;
  };
  const and = (): Value => {
    let left = compare();
    while (peek() === '&&') {
      take();
      const right = compare();
      left = truthy(left) ? right : left;
    }
    return left;
  };
  const compare = (): Value => {
    const left = unary();
    const op = peek();
    if (op !== '==' && op !== '!=') return left;
    take();
    const right = unary();
    const same = String(left).toLowerCase() === String(right).toLowerCase();
    return op === '==' ? same : !same;
  };
  const unary = (): Value => {
    if (peek() === '!') {
      take();
      return !truthy(unary());
    }
    return primary();
  };
  const primary = (): Value => {
    const t = take();
    if (t === undefined) throw new Error(`the expression ${JSON.stringify(expr)} ends early`);
    if (t === '(') {
      const v = or();
      if (take() !== ')') throw new Error(`unbalanced parentheses in ${JSON.stringify(expr)}`);
      return v;
    }
    if (t.startsWith("'")) return t.slice(1, -1).replace(/''/g, "'");
    if (t === 'true' || t === 'false') return t === 'true';
    if (t === 'always()') return true;
    if (t === 'success()') return !ctx.failed;
    if (t === 'failure()') return ctx.failed === true;
    return lookup(t, ctx);
  };
  const usesStatus = tokens.some((t) => /^(always|success|failure|cancelled)\(\)$/.test(t));
  const value = or();
  if (pos !== tokens.length) throw new Error(`unexpected ${tokens[pos]!} in ${JSON.stringify(expr)}`);
  return isCondition && !usesStatus ? !ctx.failed && truthy(value) : value;
}

function lookup(path: string, ctx: Ctx): string {
  const [root, ...rest] = path.split('.');
  if (root === 'inputs' && rest.length === 1) {
    if (!(rest[0]! in ctx.inputs)) throw new Error(`no input named ${rest[0]!}`);
    return ctx.inputs[rest[0]!]!;
  }
  if (root === 'github' && rest.length === 1) return ctx.github[rest[0]!] ?? '';
  if (root === 'steps' && rest.length === 3 && rest[1] === 'outputs')
    return ctx.steps[rest[0]!]?.outputs[rest[2]!] ?? '';
  if (root === 'steps' && rest.length === 2 && rest[1] === 'outcome') return ctx.steps[rest[0]!]?.outcome ?? '';
  throw new Error(`unsupported context ${path}`);
}
