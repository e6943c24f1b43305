#!/usr/bin/env node
// The whole test suite, as `npm test` runs it after bootstrap: static checks (lint, format)
// beside the native C tests, then the unit specs beside the code, then the end-to-end specs in e2e/.
// Prints one closing line: `N passed, N failed` (`, N skipped` when some are).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { tsImport } from 'tsx/esm/api';
import { runSpecs } from './specs.mjs';

const workspace = fileURLToPath(new URL('../..', import.meta.url));
const env = { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false' };
const total = { passed: 0, failed: 0, skipped: 0 };
const failures = [];

/**
 * Runs `command`; its output goes to ours as it comes, or, with `buffered`, is kept and
 * resolved with the exit code (for steps that run side by side and print one after another).
 */
function run(command, args, { onLine, buffered = false } = {}) {
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      cwd: workspace,
      env,
      stdio: ['ignore', 'pipe', buffered ? 'pipe' : 'inherit'],
    });
    let pending = '';
    let kept = '';
    const take = (chunk) => {
      if (buffered) kept += chunk;
      else process.stdout.write(chunk);
      pending += chunk;
      let nl;
      while ((nl = pending.indexOf('\n')) >= 0) {
        onLine?.(pending.slice(0, nl));
        pending = pending.slice(nl + 1);
      }
    };
    child.stdout.on('data', take);
    child.stderr?.on('data', (chunk) => (kept += chunk));
    // 'close', not 'exit': the output is all read only then
    child.on('close', (code, signal) => {
      if (pending) onLine?.(pending);
      resolve({ code: code ?? (signal ? 128 : 1), output: kept });
    });
  });
}

function add(section, counts) {
  total.passed += counts.passed;
  total.failed += counts.failed;
  total.skipped += counts.skipped;
  if (counts.failed > 0) failures.push(`${section}: ${counts.failed} failed`);
}

/** A step that passes or fails as a whole (lint, format): one test either way. */
const asOne = (code) => (code === 0 ? { passed: 1, failed: 0, skipped: 0 } : { passed: 0, failed: 1, skipped: 0 });

// The static checks (CPU) and the native C tests (mostly waiting on processes and the kernel)
// run side by side, each printed whole when all are done: the suite's wall time on 2 cores.
const native = { passed: 0, failed: 0, skipped: 0 };
const [lint, format, nativeRun] = await Promise.all([
  run('npx', ['nx', 'run-many', '-t', 'lint', '--outputStyle=static'], { buffered: true }),
  run('npx', ['prettier', '--check', '.'], { buffered: true }),
  run('make', ['-s', '-C', 'native', 'test'], {
    buffered: true,
    onLine: (line) => {
      if (/^not ok\b/.test(line)) native.failed++;
      else if (/^ok\b.*#\s*SKIP/i.test(line)) native.skipped++;
      else if (/^ok\b/.test(line)) native.passed++;
    },
  }),
]);
for (const [section, step] of [
  ['lint', lint],
  ['format', format],
  ['native', nativeRun],
]) {
  console.log(`\n=== ${section}`);
  process.stdout.write(step.output);
}
add('lint', asOne(lint.code));
add('format', asOne(format.code));
if (nativeRun.code !== 0 && native.failed === 0) native.failed = 1;
add('native', native);

// One throw-away PostgreSQL cluster for the run: platform specs make a fresh database on it
// per spec file (libs/platform/src/testing), so they test against SQLite and PostgreSQL.
const { startTestPostgres } = await tsImport('../../libs/platform/src/testing/postgres.ts', import.meta.url);
const postgres = await startTestPostgres();
process.env.PAAS_TEST_POSTGRES_URL = postgres.url;
const stopPostgres = () => postgres.stop();
process.once('exit', stopPostgres);

console.log('\n=== unit');
add('unit', await runSpecs(['apps', 'libs', 'tools'], { concurrency: 2 }));

console.log('\n=== e2e');
add('e2e', await runSpecs(['e2e'], { concurrency: 1 }));

process.removeListener('exit', stopPostgres);
stopPostgres();

console.log('');
for (const f of failures) console.log(`FAILED ${f}`);
console.log(`${total.passed} passed, ${total.failed} failed${total.skipped ? `, ${total.skipped} skipped` : ''}`);
process.exitCode = total.failed > 0 ? 1 : 0;
