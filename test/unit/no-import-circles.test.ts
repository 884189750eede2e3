/**
 * The shape of src/ (docs/architecture.md): no import circles, and one direction of dependency
 * between its rooms — core → net → store → delivery / api → cli, api and delivery never importing
 * each other, core importing nothing of ours outside core, and config.ts read only by cli (the
 * other rooms are handed their settings).
 *
 * The graph comes from madge, which parses every .ts file under src/ (type-only imports count: a
 * circle of types is still a circle a reader has to untangle) and resolves each import with
 * tsconfig.json. A file it cannot parse or resolve would silently drop out of the graph, so the
 * test also asserts it saw every file and skipped none.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import madge from 'madge';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SRC = join(ROOT, 'src');

/** The rooms each room may import besides itself. A file outside these rooms fails the test: place it first. */
const MAY_IMPORT: Readonly<Record<string, readonly string[]>> = {
  core: [],
  net: ['core'],
  store: ['core', 'net'],
  delivery: ['core', 'net', 'store'],
  api: ['core', 'net', 'store'],
  'config.ts': ['core'],
  cli: ['core', 'net', 'store', 'delivery', 'api', 'config.ts'],
};

/** `store/sqlite/events.ts` → `store`; a file at the top of src/ is a room of its own (`config.ts`). */
const roomOf = (file: string): string => file.split('/')[0]!;

function tsFilesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...tsFilesUnder(path));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) out.push(relative(SRC, path));
  }
  return out.sort();
}

describe('src/ import graph', () => {
  let graph: Record<string, string[]>;
  let circles: string[][];

  before(async () => {
    const result = await madge(SRC, {
      baseDir: SRC,
      fileExtensions: ['ts'],
      tsConfig: join(ROOT, 'tsconfig.json'),
    });
    assert.deepEqual(result.warnings().skipped, [], 'madge could not resolve these imports, so the graph would miss them');
    graph = result.obj();
    circles = result.circular();
  });

  it('holds every file under src/, with the imports between them', () => {
    assert.deepEqual(Object.keys(graph).sort(), tsFilesUnder(SRC));
    // A graph that lost its edges would pass every check below: these imports exist today.
    assert.ok(graph['cli/main.ts']!.length > 0, 'cli/main.ts imports nothing?');
    assert.ok(graph['store/sqlite/sqlite-store.ts']!.includes('store/store.ts'));
    assert.ok(graph['store/postgres/postgres-store.ts']!.includes('store/postgres/querier.ts'));
  });

  it('has no import circles', () => {
    assert.deepEqual(
      circles.map((c) => c.join(' > ')),
      [],
      'break each circle by moving what the files share (a type, a helper) into a small module of its own',
    );
  });

  it('imports only in the one direction between rooms', () => {
    const violations: string[] = [];
    for (const [file, deps] of Object.entries(graph)) {
      const from = roomOf(file);
      const allowed = MAY_IMPORT[from];
      if (allowed === undefined) {
        violations.push(`${file} is in no known room (add it to MAY_IMPORT and docs/architecture.md)`);
        continue;
      }
      for (const dep of deps) {
        const to = roomOf(dep);
        if (to !== from && !allowed.includes(to)) violations.push(`${file} imports ${dep} (${from} may import ${allowed.join(', ') || 'only itself'})`);
      }
    }
    assert.deepEqual(violations, []);
  });
});
