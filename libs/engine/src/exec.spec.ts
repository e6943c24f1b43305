import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ExecError, execProgram } from './exec';

describe('execProgram', () => {
  it('gives the program its input and returns what it wrote', async () => {
    const { stdout, stderr } = await execProgram('sh', ['-c', 'cat; echo oops >&2'], { input: 'line 1\nline 2\n' });
    assert.equal(stdout, 'line 1\nline 2\n');
    assert.equal(stderr, 'oops\n');
  });

  it('gives a program without input /dev/null, not the caller stdin', async () => {
    const { stdout } = await execProgram('sh', ['-c', 'readlink /proc/self/fd/0; cat']);
    assert.equal(stdout, '/dev/null\n');
  });

  it('fails with the exit code and both outputs when the program fails', async () => {
    const err = await execProgram('sh', ['-c', 'echo partial; echo "no such device" >&2; exit 3']).catch((e) => e);
    assert.ok(err instanceof ExecError);
    assert.equal(err.code, 3);
    assert.equal(err.signal, null);
    assert.equal(err.stdout, 'partial\n');
    assert.equal(err.stderr, 'no such device\n');
    assert.match(err.message, /^Command failed \(exited with code 3\): sh -c .*\nno such device\n$/);
  });

  it('stops a program at its time limit with SIGTERM', async () => {
    const started = Date.now();
    const err = await execProgram('sleep', ['30'], { timeoutMs: 100 }).catch((e) => e);
    assert.ok(err instanceof ExecError);
    assert.equal(err.signal, 'SIGTERM');
    assert.equal(err.killed, true);
    assert.ok(Date.now() - started < 10_000, 'it did not wait for sleep 30');
  });

  it('fails a program that writes more than maxBuffer, keeping what fits', async () => {
    const err = await execProgram('sh', ['-c', 'head -c 100000 /dev/zero'], { maxBuffer: 1000 }).catch((e) => e);
    assert.ok(err instanceof ExecError);
    assert.equal(err.killed, true);
    assert.equal(err.stdout.length, 1000);
  });

  it('rejects a program that does not exist as spawn does (ENOENT)', async () => {
    const err = await execProgram('paas-no-such-program', []).catch((e) => e);
    assert.equal(err.code, 'ENOENT');
    assert.match(err.message, /spawn paas-no-such-program ENOENT/);
  });

  it('hands the child no descriptor of ours and default signal handling', async () => {
    // node ignores SIGPIPE; an ignored signal would survive exec and change how pipes end
    const { stdout } = await execProgram('sh', ['-c', 'ls /proc/self/fd; grep ^SigIgn /proc/self/status']);
    const [fds, ignored] = [stdout.split('\n').filter((l) => /^\d+$/.test(l)), /SigIgn:\s*([0-9a-f]+)/.exec(stdout)];
    assert.deepEqual(
      fds.map(Number).filter((fd) => fd > 3),
      [],
      `descriptors: ${fds.join(' ')}`,
    );
    const sigpipe = 1n << 12n;
    assert.equal(BigInt(`0x${ignored?.[1] ?? '0'}`) & sigpipe, 0n, 'SIGPIPE is not ignored in the child');
  });

  it('runs many programs at once, each with its own output', async () => {
    const results = await Promise.all(
      Array.from({ length: 64 }, (_, i) => execProgram('sh', ['-c', `echo ${i}`]).then((r) => r.stdout)),
    );
    assert.deepEqual(
      results,
      Array.from({ length: 64 }, (_, i) => `${i}\n`),
    );
    // and every child was reaped: no zombie of ours is left, under any of our threads
    const children = readdirSync('/proc/self/task').flatMap((task) =>
      readFileSync(`/proc/self/task/${task}/children`, 'utf8').split(/\s+/).filter(Boolean),
    );
    for (const pid of children) {
      const state = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0];
      assert.notEqual(state, 'Z', `child ${pid} is a zombie`);
    }
  });
});
