import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
// ajv is CommonJS: under NodeNext the default import is the module object, whose `default` is the class.
import Ajv2020 from 'ajv/dist/2020.js';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { desiredFileJsonSchema } from '../src/core/file-schema.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SCHEMA_FILE = join(ROOT, 'schema', 'roles.schema.json');
const ORG = '7fa84d2b-26d7-4c71-9b5b-e591eff97e7d';

async function cliSchema(): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, [join(ROOT, 'dist', 'cli.js'), 'schema'], {
    cwd: ROOT,
  });
  return stdout;
}

function compile() {
  // strict: unknown keywords or malformed schema parts fail compilation instead of being ignored.
  return new Ajv2020.default({ strict: true, allErrors: true }).compile(desiredFileJsonSchema());
}

describe('role-sync schema', () => {
  it('prints exactly the committed schema/roles.schema.json', async () => {
    const [printed, committed] = await Promise.all([cliSchema(), readFile(SCHEMA_FILE, 'utf8')]);
    expect(printed).toBe(committed);
    expect(JSON.parse(committed)).toMatchObject({
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      $id: expect.any(String),
      title: expect.stringContaining('role-sync'),
      required: ['version', 'organizations'],
      additionalProperties: false,
    });
  });

  it('the example file validates against it (the file the YAML language server is pointed at)', async () => {
    const text = await readFile(join(ROOT, 'roles.example.yaml'), 'utf8');
    expect(text).toContain('# yaml-language-server: $schema=./schema/roles.schema.json');
    const validate = compile();
    expect(validate(parse(text))).toBe(true);
  });

  it('describes keys, roles and the rx_reader pair so editors flag mistakes', () => {
    const validate = compile();
    const doc = (users: Record<string, unknown>, org = ORG): unknown => ({
      version: 1,
      organizations: { [org]: { users } },
    });
    expect(validate(doc({ 'a@b.example': ['provider'], 'opaque_id-1': ['admin'] }))).toBe(true);
    expect(validate(doc({ 'a@b.example': ['owner'] }))).toBe(false);
    expect(validate(doc({ 'a@b.example': [] }))).toBe(false);
    expect(validate(doc({ 'a@b.example': ['rx_reader'] }))).toBe(false);
    expect(validate(doc({ 'a@b.example': ['rx_reader', 'receptionist'] }))).toBe(true);
    expect(validate(doc({ 'two words': ['admin'] }))).toBe(false);
    expect(validate(doc({ 'a@b.example': ['admin'] }, 'not-a-uuid'))).toBe(false);
    expect(validate({ version: 1, organizations: {} })).toBe(false);
    expect(validate({ version: 2, organizations: { [ORG]: { users: {} } } })).toBe(false);
    expect(validate({ version: 1, organizations: { [ORG]: { users: {}, extra: 1 } } })).toBe(false);
  });
});
