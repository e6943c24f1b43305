#!/usr/bin/env node
// Builds one Nx project: type-checks it with tsc, then bundles an app's src/main.ts with
// esbuild into dist/<projectRoot>/main.js. Libraries are type-checked only: apps bundle
// their sources, so there is no library output to keep in step.
//
// The CLI bundles its dependencies into the one file (its start-up is measured); daemons
// keep node_modules external so that native and optional modules resolve as npm installed them.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';

const [project, projectRoot] = process.argv.slice(2);
if (!project || !projectRoot) {
  console.error('usage: node tools/build.mjs PROJECT PROJECT_ROOT');
  process.exit(2);
}
const workspace = new URL('..', import.meta.url).pathname;
const tsc = join(workspace, 'node_modules', '.bin', 'tsc');

execFileSync(tsc, ['--noEmit', '-p', join(projectRoot, 'tsconfig.json')], {
  cwd: workspace,
  stdio: 'inherit',
});

// Workspace libraries (@paas/*) are compiled into the bundle; npm packages stay external.
const externalNpmPackages = {
  name: 'external-npm-packages',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) =>
      args.path.startsWith('@paas/') ? undefined : { path: args.path, external: true },
    );
  },
};

const entry = join(workspace, projectRoot, 'src', 'main.ts');
if (projectRoot.startsWith('apps/') && existsSync(entry)) {
  const { version } = JSON.parse(readFileSync(join(workspace, 'package.json'), 'utf8'));
  const standalone = project === 'cli';
  await build({
    entryPoints: [entry],
    outfile: join(workspace, 'dist', projectRoot, 'main.js'),
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    sourcemap: 'linked',
    minify: standalone,
    plugins: standalone ? [] : [externalNpmPackages],
    tsconfig: join(workspace, 'tsconfig.base.json'),
    define: { __PAAS_VERSION__: JSON.stringify(version) },
    logLevel: 'warning',
  });
}
