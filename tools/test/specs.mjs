#!/usr/bin/env node
// Runs the *.spec.ts files under the given directories with node's test runner and tsx,
// printing the spec reporter's output and returning counts. Used by each Nx project's
// `test` target and by tools/test/all.mjs.
//
//   node tools/test/specs.mjs DIR... [--concurrency N] [--timeout MS]
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const workspace = fileURLToPath(new URL('../..', import.meta.url));
const SKIP_DIRS = new Set(['node_modules', 'dist', 'build', '.nx', 'artifacts']);

export function findSpecs(dir) {
  const found = [];
  const walk = (d) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      if (entry.isDirectory()) {
        if (!SKIP_DIRS.has(entry.name) && !entry.name.startsWith('.')) walk(join(d, entry.name));
      } else if (entry.name.endsWith('.spec.ts')) found.push(join(d, entry.name));
    }
  };
  walk(dir);
  return found.sort();
}

/** Resolves to { passed, failed, skipped }. */
export async function runSpecs(dirs, { concurrency = 2, timeoutMs = 300_000 } = {}) {
  const files = dirs.flatMap((d) => findSpecs(join(workspace, d)));
  if (files.length === 0) return { passed: 0, failed: 0, skipped: 0 };
  const scratch = mkdtempSync(join(tmpdir(), 'paas-specs-'));
  const countsFile = join(scratch, 'counts.json');
  try {
    const args = [
      '--import',
      'tsx',
      '--test',
      `--test-concurrency=${concurrency}`,
      `--test-timeout=${timeoutMs}`,
      '--test-reporter=spec',
      '--test-reporter-destination=stdout',
      `--test-reporter=${join(workspace, 'tools/test/count-reporter.mjs')}`,
      `--test-reporter-destination=${countsFile}`,
      ...files.map((f) => relative(workspace, f)),
    ];
    const code = await new Promise((resolve) => {
      const child = spawn(process.execPath, args, { cwd: workspace, stdio: ['ignore', 'inherit', 'inherit'] });
      child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0)));
    });
    let counts;
    try {
      counts = JSON.parse(readFileSync(countsFile, 'utf8'));
    } catch {
      counts = { passed: 0, failed: 1, skipped: 0 }; // the runner itself died
    }
    if (code !== 0 && counts.failed === 0) counts.failed = 1;
    return counts;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dirs = process.argv.slice(2);
  if (dirs.length === 0) {
    console.error('usage: node tools/test/specs.mjs DIR...');
    process.exit(2);
  }
  const { passed, failed, skipped } = await runSpecs(dirs);
  console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
  process.exitCode = failed > 0 ? 1 : 0;
}
