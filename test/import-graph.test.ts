/** The shape of src/ as imports draw it (docs/architecture.md, "Layers"). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findCycles, importGraph, sourceFiles } from './helpers/import-graph.js';

const SRC = join(import.meta.dirname, '..', 'src');
const graph = importGraph(SRC);

describe('the import graph of src/', () => {
  it('is read from every source file', () => {
    expect(graph.size).toBeGreaterThan(50);
    expect(graph.get('engine/reconciler.ts')).toContain('core/live-plan.ts');
  });

  it('has no cycle, type-only imports included', () => {
    expect(findCycles(graph)).toEqual([]);
  });

  it('keeps the core pure: core imports only core, and no Node module', () => {
    const outside = [...graph]
      .filter(([file]) => file.startsWith('core/'))
      .flatMap(([file, targets]) => targets.filter((t) => !t.startsWith('core/')).map((t) => `${file} -> ${t}`));
    expect(outside).toEqual([]);
    const nodeImports = sourceFiles(join(SRC, 'core')).filter((f) => /from ['"]node:/.test(readFileSync(f, 'utf8')));
    expect(nodeImports).toEqual([]);
  });

  it('imports a command (a module that registers one) only from cli.ts: shared pieces live apart', () => {
    const commands = new Set(
      sourceFiles(join(SRC, 'commands'))
        .filter((f) => /export function register\(/.test(readFileSync(f, 'utf8')))
        .map((f) => `commands/${f.split('/').pop()!}`),
    );
    expect(commands.size).toBeGreaterThan(4);
    const importers = [...graph]
      .filter(([file]) => file !== 'cli.ts')
      .flatMap(([file, targets]) => targets.filter((t) => commands.has(t)).map((t) => `${file} -> ${t}`));
    expect(importers).toEqual([]);
  });

  it('finds a cycle when there is one', () => {
    const cyclic = new Map([
      ['a.ts', ['b.ts']],
      ['b.ts', ['c.ts']],
      ['c.ts', ['a.ts']],
    ]);
    expect(findCycles(cyclic)).toEqual([['a.ts', 'b.ts', 'c.ts', 'a.ts']]);
  });
});
