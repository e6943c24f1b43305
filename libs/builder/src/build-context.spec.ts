import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { BuildContext, cleanSource } from './build-context';
import { BuildError } from './errors';

describe('BuildContext', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'paas-ctx-'));
    mkdirSync(join(dir, 'src', 'deep'), { recursive: true });
    writeFileSync(join(dir, 'src', 'a.js'), 'a');
    writeFileSync(join(dir, 'src', 'b.log'), 'b');
    writeFileSync(join(dir, 'src', 'deep', 'c.js'), 'c');
    writeFileSync(join(dir, 'secret.env'), 's');
    writeFileSync(join(dir, 'keep.md'), 'k');
    writeFileSync(join(dir, 'other.md'), 'o');
    writeFileSync(join(dir, '.dockerignore'), '*.env\n**/*.log\n*.md\n!keep.md\n');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const sum = async (...sources: string[]) => {
    const ctx = await BuildContext.open(dir);
    return ctx.checksum(ctx.resolve(sources));
  };

  it('cleans sources like Docker: relative to the context, never above it', () => {
    assert.equal(cleanSource('./src/'), 'src');
    assert.equal(cleanSource('/src/a.js'), 'src/a.js');
    assert.equal(cleanSource('../../etc/passwd'), 'etc/passwd');
    assert.equal(cleanSource('.'), '');
  });

  it('walks the context without what .dockerignore excludes, exceptions included', async () => {
    const ctx = await BuildContext.open(dir);
    const paths = [...ctx.walk()].map((e) => e.rel);
    assert.deepEqual(paths, ['.dockerignore', 'keep.md', 'src', 'src/a.js', 'src/deep', 'src/deep/c.js']);
  });

  it('fails like Docker for a missing or excluded source, and for a wildcard without matches', async () => {
    const ctx = await BuildContext.open(dir);
    assert.throws(
      () => ctx.resolve(['nope']),
      (err: unknown) =>
        err instanceof BuildError &&
        err.message ===
          'COPY failed: file not found in build context or excluded by .dockerignore: stat nope: file does not exist',
    );
    assert.throws(() => ctx.resolve(['secret.env']), /excluded by .dockerignore/);
    assert.throws(() => ctx.resolve(['*.txt']), /no source files were specified/);
  });

  it('expands wildcards without crossing directories', async () => {
    const ctx = await BuildContext.open(dir);
    assert.deepEqual(
      ctx.resolve(['src/*.js']).map((m) => m.entry.rel),
      ['src/a.js'],
    );
    assert.deepEqual(
      ctx.resolve(['src/*']).map((m) => m.entry.rel),
      ['src/a.js', 'src/deep'],
    );
  });

  it('checksums content and mode but not mtimes', async () => {
    const before = await sum('src');
    utimesSync(join(dir, 'src', 'a.js'), new Date(2001, 1, 1), new Date(2001, 1, 1));
    assert.equal(await sum('src'), before, 'touching a file keeps the checksum');
    writeFileSync(join(dir, 'src', 'a.js'), 'A');
    const edited = await sum('src');
    assert.notEqual(edited, before, 'editing a file changes it');
    chmodSync(join(dir, 'src', 'a.js'), 0o755);
    assert.notEqual(await sum('src'), edited, 'a mode change changes it');
  });

  it('checksums symlink targets and ignores excluded files', async () => {
    symlinkSync('a.js', join(dir, 'src', 'link'));
    const before = await sum('src');
    writeFileSync(join(dir, 'src', 'b.log'), 'changed but ignored');
    assert.equal(await sum('src'), before);
    rmSync(join(dir, 'src', 'link'));
    symlinkSync('deep/c.js', join(dir, 'src', 'link'));
    assert.notEqual(await sum('src'), before);
  });

  it('measures the context as docker build reports it', async () => {
    const ctx = await BuildContext.open(dir);
    const { files, bytes } = ctx.scan();
    assert.equal(files, 6);
    // 6 headers + 4 files of one block each + the end marker
    assert.equal(bytes, 6 * 512 + 4 * 512 + 1024);
  });
});
