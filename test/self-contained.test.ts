/** The code points at the repository's own documents, never at notes that are not in it. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sourceFiles } from './helpers/import-graph.js';

const ROOT = join(import.meta.dirname, '..');
// Built from pieces so this file does not name them itself.
const OUTSIDE = [
  ['PRODUCT', 'md'].join('.'),
  ['API', 'NOTES'].join('-'),
  ['STACK', 'NOTES'].join('-'),
  ['..', 'shared'].join('/'),
];

describe('the repository is self-contained', () => {
  it('has no source, script, benchmark or build file citing a note outside the repository', () => {
    const files = [
      ...sourceFiles(join(ROOT, 'src')),
      ...sourceFiles(join(ROOT, 'test')),
      ...readdirSync(join(ROOT, 'scripts')).map((f) => join(ROOT, 'scripts', f)),
      ...readdirSync(join(ROOT, 'bench'), { recursive: true, encoding: 'utf8' })
        .filter((f) => f.endsWith('.js'))
        .map((f) => join(ROOT, 'bench', f)),
      join(ROOT, 'Dockerfile'),
    ];
    expect(files.length).toBeGreaterThan(100);
    const citing = files.flatMap((file) => {
      const text = readFileSync(file, 'utf8');
      return OUTSIDE.filter((name) => text.includes(name)).map((name) => `${file.slice(ROOT.length + 1)}: ${name}`);
    });
    expect(citing).toEqual([]);
  });

  it('has the design documents the code points at, linked from the README', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    for (const doc of ['docs/architecture.md', 'docs/parchment-api.md']) {
      expect(readFileSync(join(ROOT, doc), 'utf8').length).toBeGreaterThan(1000);
      expect(readme).toContain(`(${doc})`);
    }
  });
});
