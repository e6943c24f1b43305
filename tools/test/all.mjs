#!/usr/bin/env node
// The whole test suite, as `npm test` runs it after bootstrap: static checks (lint, format),
// unit specs beside the code, the native C tests, then the end-to-end specs in e2e/.
// Prints one closing line: `N passed, N failed` (`, N skipped` when some are).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { tsImport } from 'tsx/esm/api';
import { runSpecs } from './specs.mjs';

const workspace = fileURLToPath(new URL('../..', import.meta.url));
const env = { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false' };
const total = { passed: 0, failed: 0, skipped: 0 };
const failures = [];

function run(command, args, { onLine } = {}) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: workspace, env, stdio: ['ignore', 'pipe', 'inherit'] });
    let buffered = '';
    child.stdout.on('data', (chunk) => {
      process.stdout.write(chunk);
      buffered += chunk;
      let nl;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        onLine?.(buffered.slice(0, nl));
        buffered = buffered.slice(nl + 1);
      }
    });
    child.on('exit', (code, signal) => {
      if (buffered) onLine?.(buffered);
      resolve(code ?? (signal ? 128 : 1));
    });
  });
}

function add(section, counts) {
  total.passed += counts.passed;
  total.failed += counts.failed;
  total.skipped += counts.skipped;
  if (counts.failed > 0) failures.push(`${section}: ${counts.failed} failed`);
}

async function check(section, command, args) {
  console.log(`\n=== ${section}`);
  const code = await run(command, args);
  add(section, code === 0 ? { passed: 1, failed: 0, skipped: 0 } : { passed: 0, failed: 1, skipped: 0 });
}

await check('lint', 'npx', ['nx', 'run-many', '-t', 'lint', '--outputStyle=static']);
await check('format', 'npx', ['prettier', '--check', '.']);

// One throw-away PostgreSQL cluster for the run: platform specs make a fresh database on it
// per spec file (libs/platform/src/testing), so they test against SQLite and PostgreSQL.
const { startTestPostgres } = await tsImport('../../libs/platform/src/testing/postgres.ts', import.meta.url);
const postgres = await startTestPostgres();
process.env.PAAS_TEST_POSTGRES_URL = postgres.url;
const stopPostgres = () => postgres.stop();
process.once('exit', stopPostgres);

console.log('\n=== unit');
add('unit', await runSpecs(['apps', 'libs', 'tools'], { concurrency: 2 }));

console.log('\n=== native');
const native = { passed: 0, failed: 0, skipped: 0 };
const nativeCode = await run('make', ['-s', '-C', 'native', 'test'], {
  onLine: (line) => {
    if (/^not ok\b/.test(line)) native.failed++;
    else if (/^ok\b.*#\s*SKIP/i.test(line)) native.skipped++;
    else if (/^ok\b/.test(line)) native.passed++;
  },
});
if (nativeCode !== 0 && native.failed === 0) native.failed = 1;
add('native', native);

console.log('\n=== e2e');
add('e2e', await runSpecs(['e2e'], { concurrency: 1 }));

process.removeListener('exit', stopPostgres);
stopPostgres();

console.log('');
for (const f of failures) console.log(`FAILED ${f}`);
console.log(`${total.passed} passed, ${total.failed} failed${total.skipped ? `, ${total.skipped} skipped` : ''}`);
process.exitCode = total.failed > 0 ? 1 : 0;
