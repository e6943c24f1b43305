import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { ESLint } from 'eslint';
import ts from 'typescript';
import { WORKSPACE } from '../support/cli';

const nxEnv = { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false' };

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : /\.tsx?$/.test(e.name) ? [join(dir, e.name)] : [],
  );
}

function resolveModule(from: string, specifier: string): string | undefined {
  const base = resolve(dirname(from), specifier);
  return [base, `${base}.ts`, `${base}.tsx`, join(base, 'index.ts'), join(base, 'index.tsx')].find(
    (c) => existsSync(c) && statSync(c).isFile(),
  );
}

/**
 * The import circles among a project's modules, as madge finds them: every relative import
 * counts (static, dynamic, type-only, re-exports), since a circle of types is still a circle of
 * concepts. One list of modules per strongly connected component (Tarjan).
 */
function importCircles(dir: string): string[][] {
  const graph = new Map<string, string[]>();
  for (const file of sourceFiles(dir)) {
    const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    const targets = importedFiles
      .map((f) => f.fileName)
      .filter((s) => s.startsWith('.'))
      .map((s) => resolveModule(file, s));
    graph.set(
      file,
      targets.filter((t): t is string => t !== undefined),
    );
  }
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const circles: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, index.size);
    low.set(v, index.get(v) ?? 0);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) ?? 0, low.get(w) ?? 0));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v) ?? 0, index.get(w) ?? 0));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string | undefined;
    do {
      w = stack.pop();
      if (w === undefined) break;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || (graph.get(v) ?? []).includes(v)) circles.push(component.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return circles;
}

describe('workspace', () => {
  it('has an Nx project for every component of DESIGN.md', () => {
    const r = spawnSync('npx', ['nx', 'show', 'projects', '--json'], { cwd: WORKSPACE, env: nxEnv, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const projects = new Set(JSON.parse(r.stdout) as string[]);
    const expected = [
      ...['oci', 'content', 'layers', 'snapshots', 'images', 'dockerfile', 'builder', 'engine', 'registry', 'platform'],
      ...['cli', 'api', 'agent', 'proxy', 'dashboard', 'native', 'e2e'],
    ];
    for (const name of expected) assert.ok(projects.has(name), `missing project ${name}`);
  });

  it('derives project dependencies from imports, so a lib change rebuilds the apps using it', () => {
    const file = join(tmpdir(), `paas-graph-${process.pid}.json`);
    try {
      const r = spawnSync('npx', ['nx', 'graph', `--file=${file}`], { cwd: WORKSPACE, env: nxEnv, encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const graph = JSON.parse(readFileSync(file, 'utf8')) as {
        graph: { dependencies: Record<string, Array<{ target: string }>> };
      };
      const deps = (name: string): string[] => (graph.graph.dependencies[name] ?? []).map((d) => d.target);
      assert.ok(deps('cli').includes('engine'), `cli -> ${deps('cli').join(', ')}`);
      assert.ok(deps('images').includes('content'), `images -> ${deps('images').join(', ')}`);
    } finally {
      rmSync(file, { force: true });
    }
  });

  describe('module boundaries', () => {
    const eslint = new ESLint({ cwd: WORKSPACE });
    const violations = async (file: string, source: string): Promise<string[]> => {
      const [result] = await eslint.lintText(source, { filePath: join(WORKSPACE, file) });
      return (result?.messages ?? []).filter((m) => m.ruleId === '@nx/enforce-module-boundaries').map((m) => m.message);
    };

    it('lets an engine lib import another engine lib', async () => {
      assert.deepEqual(await violations('libs/images/src/probe.ts', "export * from '@paas/oci';\n"), []);
    });

    it('forbids an engine lib from importing platform code', async () => {
      const found = await violations('libs/engine/src/probe.ts', "export * from '@paas/platform';\n");
      assert.equal(found.length, 1);
      // Since the platform's build pipeline depends on the engine libs, Nx names the cycle such
      // an import would close before it gets to the tags; either way the import is refused.
      assert.match(found[0] ?? '', /scope:engine|Circular dependency between "engine" and "platform"/);
    });

    it('forbids a lib from importing an app', async () => {
      const found = await violations('libs/platform/src/probe.ts', "export * from '../../../apps/api/src/config';\n");
      assert.equal(found.length, 1);
    });

    it('forbids an engine layer from importing a layer above its own', async () => {
      // Imports that close no cycle, so the layer tags alone refuse them.
      for (const [file, lib, layer] of [
        ['libs/content/src/probe.ts', 'layers', 'layer:content'],
        ['libs/engine/src/probe.ts', 'registry', 'layer:engine'],
        ['libs/oci/src/probe.ts', 'config', 'layer:oci'],
      ] as const) {
        const found = await violations(file, `export * from '@paas/${lib}';\n`);
        assert.equal(found.length, 1, `${file} importing @paas/${lib}: ${found.join('; ')}`);
        assert.match(found[0] ?? '', new RegExp(`"${layer}"`));
      }
    });

    it('lets an engine layer import the layers below it', async () => {
      assert.deepEqual(await violations('libs/builder/src/probe.ts', "export * from '@paas/engine';\n"), []);
      assert.deepEqual(await violations('libs/registry/src/probe.ts', "export * from '@paas/images';\n"), []);
      assert.deepEqual(await violations('libs/engine/src/probe.ts', "export * from '@paas/config';\n"), []);
    });

    it('lets e2e reach the api through its testing entry alone', async () => {
      assert.deepEqual(await violations('e2e/probe.ts', "export * from '@paas/api/testing';\n"), []);
      assert.deepEqual(await violations('e2e/probe.ts', "export * from '@paas/cluster';\n"), []);
      const deep = await violations('e2e/probe.ts', "export * from '../apps/api/src/config';\n");
      assert.equal(deep.length, 1, deep.join('; '));
    });

    it('keeps the api testing entry and the cluster tool out of apps and libs', async () => {
      for (const [file, entry] of [
        ['libs/platform/src/probe.ts', '@paas/api/testing'],
        ['apps/agent/src/probe.ts', '@paas/api/testing'],
        ['apps/agent/src/probe.ts', '@paas/cluster'],
      ] as const) {
        const found = await violations(file, `export * from '${entry}';\n`);
        assert.equal(found.length, 1, `${file} importing ${entry}: ${found.join('; ')}`);
      }
    });

    it('keeps the Dockerfile parser on @paas/oci alone', async () => {
      assert.deepEqual(await violations('libs/dockerfile/src/probe.ts', "export * from '@paas/oci';\n"), []);
      const found = await violations('libs/dockerfile/src/probe.ts', "export * from '@paas/content';\n");
      assert.equal(found.length, 1);
    });
  });

  it('has no import circle inside a project', () => {
    const roots = ['apps', 'libs'].flatMap((top) =>
      readdirSync(join(WORKSPACE, top)).map((name) => join(WORKSPACE, top, name, 'src')),
    );
    const found = roots
      .filter((root) => existsSync(root))
      .flatMap((root) => importCircles(root).map((c) => c.map((f) => relative(WORKSPACE, f)).join(' <-> ')));
    assert.deepEqual(found, []);
  });

  it('bootstraps idempotently: a second run installs and rebuilds nothing', () => {
    const r = spawnSync('bash', ['infra/bootstrap.sh'], { cwd: WORKSPACE, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'bootstrap: ready\n');
  });
});
