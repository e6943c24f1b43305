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

/**
 * A pushed repository is an attacker's: its symlinks must never lead a COPY, ADD, the
 * Dockerfile or .dockerignore out of the context. Every path resolves component by component
 * with the context as `/` (securejoin semantics), so a link to `/` is the context itself.
 */
describe('BuildContext: symlinks never leave the context', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'paas-ctx-'));
    mkdirSync(join(dir, 'src'));
    writeFileSync(join(dir, 'src', 'a.js'), 'inside');
    symlinkSync('/', join(dir, 'rootlink'));
    symlinkSync('..', join(dir, 'src', 'up'));
    symlinkSync('/etc', join(dir, 'etclink'));
    symlinkSync('/etc/passwd', join(dir, 'passwdlink'));
    symlinkSync('../../../../../../../../etc/passwd', join(dir, 'src', 'dotdot'));
    symlinkSync('/src/a.js', join(dir, 'absinside'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const notFound = /file not found in build context|no source files were specified/;

  it('does not follow a link in the middle of a source out of the context', async () => {
    const ctx = await BuildContext.open(dir);
    for (const source of ['rootlink/etc/passwd', 'etclink/passwd', 'src/up/../etc/passwd', 'rootlink/../etc/passwd']) {
      assert.throws(() => ctx.resolve([source]), notFound, source);
    }
    for (const source of ['rootlink/etc/*', 'etclink/pass*', 'rootlink/*/passwd']) {
      assert.throws(() => ctx.resolve([source]), notFound, source);
    }
  });

  it('resolves links as if the context were /', async () => {
    const ctx = await BuildContext.open(dir);
    const [viaRoot] = ctx.resolve(['rootlink/src/a.js']);
    assert.equal(viaRoot?.entry.abs, join(ctx.root, 'src', 'a.js'));
    const [viaUp] = ctx.resolve(['src/up/src/a.js']);
    assert.equal(viaUp?.entry.abs, join(ctx.root, 'src', 'a.js'));
    const [abs] = ctx.resolve(['absinside']);
    assert.equal(abs?.entry.abs, join(ctx.root, 'src', 'a.js'));
    assert.equal(abs?.entry.type, 'file');
  });

  it('resolves a link named as the source inside the context', async () => {
    const ctx = await BuildContext.open(dir);
    assert.throws(() => ctx.resolve(['passwdlink']), notFound);
    assert.throws(() => ctx.resolve(['src/dotdot']), notFound);
    // a link to / as the source is the whole context, never the host's root
    const [root] = ctx.resolve(['rootlink']);
    assert.ok(root);
    assert.equal(root.entry.abs, ctx.root);
    const copied = [...ctx.tree(root)].map((e) => e.abs);
    assert.ok(
      copied.every((abs) => abs === ctx.root || abs.startsWith(`${ctx.root}/`)),
      copied.join('\n'),
    );
  });

  it('keeps links inside a copied tree as links, never walking through them', async () => {
    writeFileSync(join(dir, '.dockerignore'), '*\n!rootlink/etc/passwd\n!src\n');
    const ctx = await BuildContext.open(dir);
    const walked = [...ctx.walk()];
    assert.ok(
      walked.every((e) => !e.rel.startsWith('rootlink/')),
      walked.map((e) => e.rel).join(', '),
    );
    assert.ok(walked.every((e) => e.abs.startsWith(`${ctx.root}/`)));
  });

  it('reads the Dockerfile and .dockerignore inside the context', async () => {
    symlinkSync('/etc/passwd', join(dir, 'Dockerfile'));
    symlinkSync('/etc/hostname', join(dir, '.dockerignore'));
    const ctx = await BuildContext.open(dir);
    assert.equal(ctx.ignore, undefined, 'the host file is not read as .dockerignore');
    assert.equal(ctx.readFile('Dockerfile'), undefined);
    symlinkSync('src/a.js', join(dir, 'Dockerfile.inside'));
    assert.equal(ctx.readFile('Dockerfile.inside'), 'inside');
  });
});
