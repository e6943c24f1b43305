import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ESLint } from 'eslint';
import { WORKSPACE } from '../support/cli';

const nxEnv = { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false' };

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

  it('bootstraps idempotently: a second run installs and rebuilds nothing', () => {
    const r = spawnSync('bash', ['infra/bootstrap.sh'], { cwd: WORKSPACE, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'bootstrap: ready\n');
  });
});
