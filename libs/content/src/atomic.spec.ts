import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { LockTimeoutError, createFileAtomic, fileStamp, withLock, writeFileAtomic, writeStreamAtomic } from './atomic';

describe('atomic files and locks', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'paas-atomic-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('replaces a file atomically, leaving no temp files', async () => {
    const path = join(dir, 'index.json');
    await writeFileAtomic(path, 'one');
    await writeFileAtomic(path, 'two');
    assert.equal(readFileSync(path, 'utf8'), 'two');
    assert.deepEqual(readdirSync(dir), ['index.json']);
  });

  it("stamps a file's version: none without the file, the same until it is replaced, even by the same bytes", async () => {
    const path = join(dir, 'state.json');
    assert.equal(await fileStamp(path), null);
    await writeFileAtomic(path, 'one', 0o644, { durable: false });
    const first = await fileStamp(path);
    assert.ok(first);
    assert.equal(await fileStamp(path), first);
    await writeFileAtomic(path, 'one', 0o644, { durable: false });
    assert.notEqual(await fileStamp(path), first);
    await assert.rejects(fileStamp(join(path, 'below')), { code: 'ENOTDIR' });
  });

  it('creates a file once, whole: racing creators leave one content, no temp files', async () => {
    const path = join(dir, 'token.key');
    const made = await Promise.all(['a', 'b', 'c', 'd'].map((k) => createFileAtomic(path, k.repeat(64), 0o600)));
    assert.equal(made.filter(Boolean).length, 1, `created ${made.filter(Boolean).length} times`);
    const content = readFileSync(path, 'utf8');
    assert.match(content, /^(a{64}|b{64}|c{64}|d{64})$/);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(await createFileAtomic(path, 'e'.repeat(64)), false);
    assert.equal(readFileSync(path, 'utf8'), content, 'an existing file is never replaced');
    assert.deepEqual(readdirSync(dir), ['token.key']);
  });

  it('gives the file exactly its mode, whatever the umask', async (t) => {
    const old = process.umask(0o077);
    t.after(() => process.umask(old));
    const hook = join(dir, 'hook');
    await writeFileAtomic(hook, '#!/bin/sh\n', 0o755);
    assert.equal(statSync(hook).mode & 0o777, 0o755, 'a hook git must run');
    process.umask(0);
    const secret = join(dir, 'secret');
    await writeFileAtomic(secret, 'token', 0o600);
    assert.equal(statSync(secret).mode & 0o777, 0o600, 'a secret only its owner reads');
  });

  it('streams into the temp file, and leaves the old file whole when the producer fails', async () => {
    const path = join(dir, 'image.tar');
    await writeStreamAtomic(path, async (out) => {
      for (const part of ['one ', 'two ', 'three']) out.write(part);
    });
    assert.equal(readFileSync(path, 'utf8'), 'one two three');
    await assert.rejects(
      writeStreamAtomic(path, async (out) => {
        out.write('half of it');
        throw new Error('the source broke');
      }),
      /the source broke/,
    );
    assert.equal(readFileSync(path, 'utf8'), 'one two three');
    assert.deepEqual(readdirSync(dir), ['image.tar'], 'no temp file left');
  });

  it('serialises read-modify-write across processes', async () => {
    const counter = join(dir, 'counter');
    writeFileSync(counter, '0');
    const script = join(dir, 'inc.ts');
    writeFileSync(
      script,
      `import { readFileSync, writeFileSync } from 'node:fs';
       import { withLock } from ${JSON.stringify(join(__dirname, 'atomic.ts'))};
       (async () => {
         for (let i = 0; i < 25; i++) {
           await withLock(${JSON.stringify(join(dir, 'counter.lock'))}, async () => {
             const n = Number(readFileSync(${JSON.stringify(counter)}, 'utf8'));
             await new Promise((r) => setImmediate(r));
             writeFileSync(${JSON.stringify(counter)}, String(n + 1));
           });
         }
       })();`,
    );
    await Promise.all(
      Array.from(
        { length: 4 },
        () =>
          new Promise((resolve, reject) => {
            const child = spawn(process.execPath, ['--import', 'tsx', script], { stdio: 'inherit' });
            child.on('exit', (code) => (code === 0 ? resolve(code) : reject(new Error(`exit ${code}`))));
          }),
      ),
    );
    assert.equal(readFileSync(counter, 'utf8'), '100');
    assert.deepEqual(readdirSync(dir).sort(), ['counter', 'inc.ts']);
  });

  it('takes over a lock left by a dead process', async () => {
    const lock = join(dir, 'x.lock');
    writeFileSync(lock, `${2 ** 22 + 7}\n`);
    assert.equal(await withLock(lock, async () => 'got it'), 'got it');
    assert.deepEqual(readdirSync(dir), []);
  });

  it('takes over an empty lock file once it is old (a crash between create and write)', async () => {
    const lock = join(dir, 'x.lock');
    writeFileSync(lock, '');
    const old = new Date(Date.now() - 60_000);
    utimesSync(lock, old, old);
    assert.equal(await withLock(lock, async () => 1), 1);
  });

  it('serves many callers of one process in turn, none timing out behind the others', async () => {
    const lock = join(dir, 'busy.lock');
    const order: number[] = [];
    let inside = 0;
    // 300 callers at once, each holding the lock a moment
    const results = await Promise.allSettled(
      Array.from({ length: 300 }, (_, k) =>
        withLock(
          lock,
          async () => {
            inside++;
            assert.equal(inside, 1, 'one holder at a time');
            await new Promise((r) => setTimeout(r, 1));
            order.push(k);
            inside--;
          },
          { timeoutMs: 20_000 },
        ),
      ),
    );
    assert.deepEqual(
      results.filter((r) => r.status === 'rejected'),
      [],
    );
    assert.deepEqual(
      order,
      Array.from({ length: 300 }, (_, k) => k),
      'in the order they came',
    );
    assert.deepEqual(readdirSync(dir), []);
  });

  it('a caller that only tries gives up at once while another caller of this process holds it', async () => {
    const lock = join(dir, 'try.lock');
    let release = (): void => undefined;
    let holding = (): void => undefined;
    const holds = new Promise<void>((resolve) => (holding = resolve));
    const held = withLock(lock, async () => {
      holding();
      await new Promise<void>((resolve) => (release = resolve));
    });
    // until the first caller holds it (not a fixed while: on a busy machine it takes longer)
    await holds;
    await assert.rejects(
      withLock(lock, async () => 'second', { timeoutMs: 0 }),
      (err: unknown) => err instanceof LockTimeoutError && err.owner === process.pid,
    );
    // and the queue goes on: the next caller gets it once the first is done
    const third = withLock(lock, async () => 'third');
    release();
    await held;
    assert.equal(await third, 'third');
    assert.deepEqual(readdirSync(dir), []);
  });

  it('times out behind a live owner, naming it', async () => {
    const lock = join(dir, 'x.lock');
    writeFileSync(lock, `${process.ppid}\n`);
    await assert.rejects(
      withLock(lock, async () => 1, { timeoutMs: 100 }),
      (err: unknown) => {
        assert.ok(err instanceof LockTimeoutError);
        assert.match(err.message, new RegExp(`held by pid ${process.ppid}`));
        return true;
      },
    );
    assert.equal(readFileSync(lock, 'utf8'), `${process.ppid}\n`);
  });

  it('releases the lock when the function throws', async () => {
    const lock = join(dir, 'x.lock');
    await assert.rejects(
      withLock(lock, async () => {
        throw new Error('inside');
      }),
      /inside/,
    );
    assert.deepEqual(readdirSync(dir), []);
  });
});
