/**
 * The platform verbs load their work lazily, by noun: what every invocation loads (program.ts
 * and what it imports at once) holds no verb's work, and a verb's work pulls in no other
 * noun's. Read from the sources' imports as the bundle sees them: `import type` is erased,
 * `import()` is loaded on use.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';

const SRC = resolve(__dirname, '..');
const PLATFORM = __dirname;

function resolveModule(from: string, specifier: string): string {
  const base = resolve(dirname(from), specifier);
  const found = [`${base}.ts`, join(base, 'index.ts')].find((c) => existsSync(c) && statSync(c).isFile());
  assert.ok(found, `${relative(SRC, from)}: cannot resolve '${specifier}'`);
  return found;
}

/** The relative modules `file` imports at load time, and those it imports with `import()`. */
function importsOf(file: string): { static: string[]; dynamic: string[] } {
  const text = readFileSync(file, 'utf8');
  const at = (re: RegExp): string[] => [...text.matchAll(re)].map((m) => resolveModule(file, m[1] ?? ''));
  return {
    static: [
      ...at(/^\s*(?:import|export)\s+(?!type\b)[^'";]*?\bfrom\s+'(\.[^']+)'/gm),
      ...at(/^\s*import\s+'(\.[^']+)'/gm),
    ],
    dynamic: at(/\bimport\(\s*'(\.[^']+)'\s*\)/g),
  };
}

/** Every module that loads with `entry`, before any `import()` runs. */
function loadedWith(entry: string): Set<string> {
  const seen = new Set<string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const next of importsOf(file).static) visit(next);
  };
  visit(entry);
  return seen;
}

const NOUNS = readdirSync(PLATFORM, { withFileTypes: true })
  .filter((e) => e.isDirectory() && existsSync(join(PLATFORM, e.name, 'actions.ts')))
  .map((e) => e.name)
  .sort();
const actionsOf = (noun: string): string => join(PLATFORM, noun, 'actions.ts');
const shown = (files: Iterable<string>): string[] => [...files].map((f) => relative(SRC, f)).sort();

describe('platform verbs, one module per noun', () => {
  it('has a definitions and an actions module for each noun', () => {
    assert.deepEqual(NOUNS, [
      'addons',
      'apps',
      'auth',
      'builds',
      'certs',
      'config',
      'domains',
      'drains',
      'https',
      'logs',
      'maintenance',
      'nodes',
      'pg',
      'ps',
      'releases',
      'reviews',
      'run',
      'tokens',
    ]);
    for (const noun of NOUNS) assert.ok(existsSync(join(PLATFORM, noun, 'commands.ts')), `${noun}/commands.ts`);
  });

  it('loads no verb’s work on start-up', () => {
    const startup = loadedWith(join(SRC, 'program.ts'));
    const work = [...NOUNS.map(actionsOf), join(PLATFORM, 'session.ts'), join(PLATFORM, 'client.ts')];
    assert.deepEqual(shown(work.filter((f) => startup.has(f))), []);
  });

  it('loads a noun’s actions only from its own definitions, and no other noun’s with them', () => {
    for (const noun of NOUNS) {
      assert.deepEqual(shown(importsOf(join(PLATFORM, noun, 'commands.ts')).dynamic), [`platform/${noun}/actions.ts`]);
      const others = NOUNS.filter((n) => n !== noun).map(actionsOf);
      const loaded = loadedWith(actionsOf(noun));
      assert.deepEqual(shown(others.filter((f) => loaded.has(f))), [], `${noun}/actions.ts loads other nouns`);
    }
  });
});
