/**
 * Hostile archives, after the families of moby's pkg/archive breakout tests
 * (TestUntarInvalidFilenames, TestUntarInvalidHardlink, TestUntarInvalidSymlink,
 * TestUntarHardlinkToSymlink, TestUntarSymlinkBreakout, TestUntarSiblingPrefixContained)
 * and containerd's TestBreakouts. Every case checks its outcome (rejected with a code, or
 * neutralised: extracted, but inside the target) and that nothing beside the target
 * changed: a sibling tree with a marker file is snapshotted before and after.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { type LayerErrorCode, LayerError } from './errors';
import { type ExtractOptions, type ExtractResult, extractLayer } from './extract';
import { decodeName } from './names';
import { BLOCK, encodeHeader } from './tar-format';
import { fixChecksum, header, isRoot, scratch, snapshot, streamOf, tarOf } from './spec-helpers';

interface World {
  readonly base: string;
  readonly target: string;
  /** A sibling of the target holding `marker`. */
  readonly outside: string;
  /** moby's victim dir: a sibling holding `hello`. */
  readonly victim: string;
}

interface Case {
  readonly name: string;
  readonly tar: (w: World) => Buffer;
  /** A LayerError code, or 'ok' for an archive that extracts with its tricks neutralised. */
  readonly expect: LayerErrorCode | 'ok';
  readonly opts?: ExtractOptions;
  readonly into?: (w: World) => string;
  readonly check?: (w: World, result: ExtractResult | undefined, error: unknown) => void;
}

const unique = `paas-layers-escape-${randomBytes(4).toString('hex')}`;
const file = (name: string, body = 'pwned') => ({ name, body });
const symlink = (name: string, linkname: string) => ({ name, type: 'symlink' as const, linkname });
const hardlink = (name: string, linkname: string) => ({ name, type: 'hardlink' as const, linkname });
const dir = (name: string, mode = 0o755) => ({ name, type: 'dir' as const, mode });
const read = (w: World, rel: string) => readFileSync(join(w.target, rel), 'utf8');
/** The byte 0xff, which no UTF-8 name holds, as names.ts carries it. */
const ff = decodeName(Buffer.of(0xff));

/** A one-entry tar whose header block the test edits (then fixes the checksum). */
function rawHeader(edit: (block: Buffer) => void, body = Buffer.alloc(0)): Buffer {
  const block = Buffer.from(encodeHeader(header({ name: 'edited' }, body.length)));
  edit(block);
  fixChecksum(block);
  return Buffer.concat([block, body, Buffer.alloc((BLOCK - (body.length % BLOCK)) % BLOCK), Buffer.alloc(2 * BLOCK)]);
}

const cases: Case[] = [
  // --- names -----------------------------------------------------------------------
  { name: '../escape is refused', tar: () => tarOf([file('../escape')]), expect: 'UNSAFE' },
  { name: 'a/../../escape is refused', tar: () => tarOf([file('a/../../escape')]), expect: 'UNSAFE' },
  {
    name: '/abs/path lands relative to the target',
    tar: () => tarOf([file('/abs/path', 'inside')]),
    expect: 'ok',
    check: (w) => assert.equal(read(w, 'abs/path'), 'inside'),
  },
  { name: 'an entry named . that is not a directory is refused', tar: () => tarOf([file('.')]), expect: 'UNSAFE' },
  // Names that are not UTF-8 keep their bytes (names.ts); every check applies to them alike.
  { name: '\\xff/../../escape is refused', tar: () => tarOf([file(`${ff}/../../escape`)]), expect: 'UNSAFE' },
  {
    name: 'link\\xff -> ../.. then link\\xff/x\\xff stays inside, with its bytes',
    tar: () => tarOf([symlink(`link${ff}`, '../..'), file(`link${ff}/x${ff}`)]),
    expect: 'ok',
    check: (w) => {
      assert.equal(readFileSync(Buffer.concat([Buffer.from(`${w.target}/x`), Buffer.of(0xff)]), 'utf8'), 'pwned');
      assert.deepEqual(
        readlinkSync(Buffer.concat([Buffer.from(`${w.target}/link`), Buffer.of(0xff)]), 'buffer'),
        Buffer.from('../..'),
      );
    },
  },
  {
    name: 'a symlink whose target is not UTF-8 and climbs out stays inside',
    tar: () => tarOf([symlink('l', `../../..${ff}/../../outside`), file('l/pwned')]),
    expect: 'ok',
    check: (w) => assert.equal(read(w, 'outside/pwned'), 'pwned'),
  },
  {
    name: 'a hardlink whose target is not UTF-8 and climbs out is refused',
    tar: () => tarOf([file(`f${ff}`), hardlink('h', `f${ff}/../../../outside/marker`)]),
    expect: 'UNSAFE',
  },

  // --- symlinks as parents -----------------------------------------------------------
  {
    name: 'link -> / then link/etc/x writes under the target',
    tar: () => tarOf([symlink('link', '/'), file(`link/etc/${unique}`)]),
    expect: 'ok',
    check: (w) => {
      assert.ok(!existsSync(`/etc/${unique}`));
      assert.equal(read(w, `etc/${unique}`), 'pwned');
    },
  },
  {
    name: 'link -> absolute path of a sibling then link/x stays inside',
    tar: (w) => tarOf([symlink('link', w.outside), file('link/pwned')]),
    expect: 'ok',
    check: (w) => assert.equal(read(w, join(w.outside, 'pwned')), 'pwned'),
  },
  {
    name: 'link -> ../.. then link/x stays inside',
    tar: () => tarOf([symlink('link', '../..'), file('link/pwned')]),
    expect: 'ok',
    check: (w) => assert.equal(read(w, 'pwned'), 'pwned'),
  },
  {
    name: 'chained symlinks a -> b -> c -> ../../outside stay inside',
    tar: () => tarOf([symlink('a', 'b'), symlink('b', 'c'), symlink('c', '../../outside'), file('a/pwned')]),
    expect: 'ok',
    check: (w) => assert.equal(read(w, 'outside/pwned'), 'pwned'),
  },
  {
    name: 'a symlinked parent dir/loophole -> ../../victim stays inside (moby)',
    tar: () => tarOf([symlink('dir/loophole', '../../victim'), file('dir/loophole/newdir/newfile')]),
    expect: 'ok',
    check: (w) => assert.equal(read(w, 'victim/newdir/newfile'), 'pwned'),
  },
  {
    name: 'the two-hop chain inner/go_up -> .. then escape -> ../victim stays inside (moby)',
    tar: () =>
      tarOf([
        dir('inner'),
        symlink('inner/go_up', '..'),
        symlink('inner/go_up/escape', '../victim'),
        file('inner/go_up/escape/newfile'),
      ]),
    expect: 'ok',
    check: (w) => assert.equal(read(w, 'victim/newfile'), 'pwned'),
  },
  {
    name: 'a symlink loop as a parent is refused',
    tar: () => tarOf([symlink('a', 'b'), symlink('b', 'a'), file('a/x')]),
    expect: 'UNSAFE',
  },
  {
    name: 'writing a file over a symlink to the outside replaces the symlink',
    tar: (w) => tarOf([symlink('sl', join(w.outside, 'marker')), file('sl', 'replaced')]),
    expect: 'ok',
    check: (w) => assert.equal(read(w, 'sl'), 'replaced'),
  },

  // --- replacing -------------------------------------------------------------------
  {
    name: 'a dir replaced by a symlink, then entries under it, stay inside',
    tar: (w) => tarOf([dir('d'), file('d/before'), symlink('d', w.outside), file('d/pwned')]),
    expect: 'ok',
    check: (w) => {
      assert.ok(lstatSync(join(w.target, 'd')).isSymbolicLink());
      assert.equal(read(w, join(w.outside, 'pwned')), 'pwned');
    },
  },
  {
    name: 'a symlink replaced by a dir becomes a real dir',
    tar: (w) => tarOf([symlink('s', w.outside), dir('s'), file('s/f', 'in s')]),
    expect: 'ok',
    check: (w) => {
      assert.ok(lstatSync(join(w.target, 's')).isDirectory());
      assert.equal(read(w, 's/f'), 'in s');
    },
  },
  {
    name: 'duplicates: the later entry wins, a file replaces a dir tree, dirs merge',
    tar: () =>
      tarOf([
        file('x', 'one'),
        file('x', 'two'),
        dir('d'),
        file('d/f'),
        file('d', 'now a file'),
        dir('m', 0o700),
        file('m/kept', 'kept'),
        dir('m', 0o751),
      ]),
    expect: 'ok',
    check: (w) => {
      assert.equal(read(w, 'x'), 'two');
      assert.equal(read(w, 'd'), 'now a file');
      assert.equal(read(w, 'm/kept'), 'kept');
      assert.equal(lstatSync(join(w.target, 'm')).mode & 0o777, 0o751);
    },
  },
  {
    name: 'the target dir itself being a symlink is resolved once',
    tar: () => tarOf([file('f', 'through the link')]),
    expect: 'ok',
    into: (w) => {
      const link = join(w.base, 'target-link');
      symlinkSync(w.target, link);
      return link;
    },
    check: (w) => assert.equal(read(w, 'f'), 'through the link'),
  },

  // --- hardlinks -------------------------------------------------------------------
  {
    name: 'hardlink to ../outside/marker is refused',
    tar: () => tarOf([hardlink('h', '../outside/marker')]),
    expect: 'UNSAFE',
  },
  {
    name: 'hardlink to the absolute path of an outside file resolves inside (and is missing)',
    tar: (w) => tarOf([hardlink('h', join(w.outside, 'marker'))]),
    expect: 'IO',
  },
  {
    name: 'hardlink to an absolute path inside the layer links inside (moby, kaniko)',
    tar: () => tarOf([file('usr/bin/perlbug', 'perl'), hardlink('usr/bin/perlthanks', '/usr/bin/perlbug')]),
    expect: 'ok',
    check: (w) =>
      assert.equal(
        lstatSync(join(w.target, 'usr/bin/perlthanks')).ino,
        lstatSync(join(w.target, 'usr/bin/perlbug')).ino,
      ),
  },
  {
    name: 'hardlink through a symlink to / links the file inside (containerd)',
    tar: () =>
      tarOf([file('etc/passwd', 'inside'), symlink('localetc', '/etc'), hardlink('localpasswd', '/localetc/passwd')]),
    expect: 'ok',
    check: (w) =>
      assert.equal(lstatSync(join(w.target, 'localpasswd')).ino, lstatSync(join(w.target, 'etc/passwd')).ino),
  },
  {
    name: 'hardlink to a symlink pointing outside links the symlink, and writing it replaces it',
    tar: (w) => tarOf([symlink('sl', join(w.outside, 'marker')), hardlink('hl', 'sl'), file('hl', 'replaced')]),
    expect: 'ok',
    check: (w) => {
      assert.equal(read(w, 'hl'), 'replaced');
      assert.equal(readlinkSync(join(w.target, 'sl')), join(w.outside, 'marker'));
    },
  },
  {
    name: 'hardlink to a symlink to a file not yet written (moby TestUntarHardlinkToSymlink)',
    tar: () => tarOf([symlink('symlink1', 'regfile'), hardlink('symlink2', 'symlink1'), file('regfile', 'reg')]),
    expect: 'ok',
    check: (w) => assert.equal(read(w, 'symlink2'), 'reg'),
  },
  {
    name: 'hardlink then a file of the same name does not write through the link',
    tar: () => tarOf([file('f', 'inside'), hardlink('h', 'f'), file('h', 'changed')]),
    expect: 'ok',
    check: (w) => {
      assert.equal(read(w, 'f'), 'inside');
      assert.equal(read(w, 'h'), 'changed');
    },
  },
  {
    name: 'hardlink to ../victim then writing under it is refused (moby loophole-victim)',
    tar: () => tarOf([hardlink('loophole-victim', '../victim'), file('loophole-victim/file')]),
    expect: 'UNSAFE',
  },
  {
    name: 'hardlink to a prefix-sharing sibling ../target-evil/secret is refused (moby)',
    tar: () => tarOf([hardlink('grab', '../target-evil/secret')]),
    expect: 'UNSAFE',
  },
  { name: 'hardlink to a directory is refused', tar: () => tarOf([dir('d'), hardlink('h', 'd')]), expect: 'UNSAFE' },
  {
    name: 'hardlink to itself keeps the file',
    tar: () => tarOf([file('f', 'self'), hardlink('f', 'f')]),
    expect: 'ok',
    check: (w) => assert.equal(read(w, 'f'), 'self'),
  },

  // --- whiteouts -------------------------------------------------------------------
  { name: '.wh.. is refused', tar: () => tarOf([file('.wh..')]), expect: 'UNSAFE' },
  { name: '.wh... is refused', tar: () => tarOf([file('d/.wh...')]), expect: 'UNSAFE' },
  { name: '.wh. alone is refused', tar: () => tarOf([file('.wh.')]), expect: 'UNSAFE' },
  {
    name: '../.wh.outside (a whiteout above the root) is refused',
    tar: () => tarOf([file('../.wh.outside')]),
    expect: 'UNSAFE',
  },
  {
    name: 'a whiteout through a symlink to the outside deletes nothing outside (apply)',
    tar: (w) => tarOf([symlink('link', w.outside), file('link/.wh.marker')]),
    expect: 'ok',
  },
  {
    name: 'an opaque marker through a symlink to the outside clears nothing outside (apply)',
    tar: (w) => tarOf([symlink('link', w.outside), file('link/.wh..wh..opq')]),
    expect: 'ok',
  },
  {
    name: 'a whiteout through a symlink to the outside makes its device inside (overlay)',
    tar: (w) => tarOf([symlink('link', w.outside), file('link/.wh.marker')]),
    expect: isRoot ? 'ok' : 'IO',
    opts: { whiteouts: 'overlay' },
    check: (w, result) => {
      if (result) assert.ok(lstatSync(join(w.target, w.outside, 'marker')).isCharacterDevice());
    },
  },
  {
    name: "overlay's own xattrs in a layer are ignored with a warning",
    tar: () => tarOf([{ ...dir('d'), xattrs: new Map([['trusted.overlay.redirect', Buffer.from('/etc')]]) }]),
    expect: 'ok',
    opts: { whiteouts: 'overlay' },
    check: (_w, result) => assert.ok(result?.warnings.some((x) => x.message.includes('trusted.overlay.redirect'))),
  },

  // --- devices -----------------------------------------------------------------------
  {
    name: 'device nodes are skipped with a warning when not allowed',
    tar: () => tarOf([{ name: 'null', type: 'char', devmajor: 1, devminor: 3 }, file('after', 'after')]),
    expect: 'ok',
    opts: { allowDevices: false },
    check: (w, result) => {
      assert.ok(!existsSync(join(w.target, 'null')));
      assert.equal(read(w, 'after'), 'after');
      assert.deepEqual(
        result?.warnings.map((x) => x.entry),
        ['null'],
      );
    },
  },

  // --- malformed streams ---------------------------------------------------------------
  {
    name: 'a header with a bad checksum is refused',
    tar: () => {
      const tar = tarOf([file('f')]);
      tar[0] = 0x67;
      return tar;
    },
    expect: 'MALFORMED',
  },
  {
    name: 'an absurd base-256 size field is refused',
    tar: () => rawHeader((b) => Buffer.from([0x80, 0, 0, 0x10, 0, 0, 0, 0, 0, 0, 0, 0]).copy(b, 124)),
    expect: 'MALFORMED',
  },
  {
    name: 'a negative base-256 size field is refused',
    tar: () => rawHeader((b) => b.fill(0xff, 124, 136)),
    expect: 'MALFORMED',
  },
  {
    name: 'garbage in the size field is refused',
    tar: () => rawHeader((b) => b.write('12x45\0', 124, 'latin1')),
    expect: 'MALFORMED',
  },
  {
    name: 'garbage in the mode field is refused',
    tar: () => rawHeader((b) => b.write('-0644\0', 100, 'latin1')),
    expect: 'MALFORMED',
  },
  {
    name: 'an oversized pax header is refused before it is buffered',
    tar: () =>
      rawHeader((b) => {
        b[156] = 0x78; // 'x'
        b.write('00010000000\0', 124, 'latin1'); // 1 GiB
      }),
    expect: 'MALFORMED',
  },
  {
    name: 'an unsupported entry type is refused',
    tar: () => rawHeader((b) => (b[156] = 0x56)), // 'V' volume header
    expect: 'UNSUPPORTED',
  },
  {
    name: 'a stream cut in the middle of a file names the entry',
    tar: () => tarOf([file('small', 'x'), file('big', 'y'.repeat(10_000))]).subarray(0, 1024 + 512 + 3000),
    expect: 'TRUNCATED',
    check: (_w, _r, error) => assert.match(String(error), /layer is truncated at entry "big" \(offset 1024\)/),
  },
  {
    name: 'a stream cut inside a header is refused',
    tar: () => tarOf([file('f', 'x')]).subarray(0, 1024 + 300),
    expect: 'TRUNCATED',
  },
  {
    name: 'gzip garbage is refused',
    tar: () => Buffer.concat([Buffer.from([0x1f, 0x8b, 0x08, 0x00]), randomBytes(300)]),
    expect: 'MALFORMED',
  },
  {
    name: 'a gzip stream cut in half is refused',
    tar: () => {
      const gz = gzipSync(tarOf([file('f', randomBytes(20_000).toString('hex'))]));
      return gz.subarray(0, gz.length >> 1);
    },
    expect: 'TRUNCATED',
  },
  {
    name: 'a lone zero block followed by more data is refused',
    tar: () => Buffer.concat([Buffer.alloc(BLOCK), tarOf([file('f')])]),
    expect: 'MALFORMED',
  },
];

async function runCase(t: { after(fn: () => void): void }, c: Case): Promise<void> {
  const base = scratch(t);
  const w: World = {
    base,
    target: join(base, 'target'),
    outside: join(base, 'outside'),
    victim: join(base, 'victim'),
  };
  for (const d of [w.target, w.outside, w.victim, join(base, 'target-evil')]) mkdirSync(d);
  writeFileSync(join(w.outside, 'marker'), 'untouched');
  writeFileSync(join(w.victim, 'hello'), 'hello');
  writeFileSync(join(base, 'target-evil', 'secret'), 'secret');
  const into = c.into?.(w) ?? w.target;
  const isTarget = (rel: string) => rel === 'target' || rel.startsWith('target/');
  const before = snapshot(base, { skip: isTarget });

  let result: ExtractResult | undefined;
  let error: unknown;
  try {
    result = await extractLayer(streamOf(c.tar(w), 1000), into, c.opts);
  } catch (err) {
    error = err;
  }

  if (c.expect === 'ok') assert.equal(error, undefined);
  else {
    assert.ok(error instanceof LayerError, `expected a LayerError, got ${String(error)}`);
    assert.equal(error.problem, c.expect, error.message);
  }
  assert.deepEqual(snapshot(base, { skip: isTarget }), before, 'something outside the target changed');
  c.check?.(w, result, error);
}

describe('layers/extract: hostile archives', () => {
  for (const c of cases) it(c.name, (t) => runCase(t, c));

  it('fails fast on a 10 GB entry with 1 KB present, without allocating for it', async (t) => {
    const target = scratch(t);
    const tar = Buffer.concat([encodeHeader(header({ name: 'huge' }, 10 * 1024 ** 3)), randomBytes(1024)]);
    const rss = process.memoryUsage().rss;
    const started = performance.now();
    await assert.rejects(extractLayer(streamOf(tar), target), (err: unknown) => {
      return err instanceof LayerError && err.problem === 'TRUNCATED' && err.entry === 'huge';
    });
    assert.ok(performance.now() - started < 2000);
    assert.ok(process.memoryUsage().rss - rss < 64 * 1024 * 1024);
    assert.ok(lstatSync(join(target, 'huge')).size <= 1024);
  });

  it('creates device nodes when allowed (as root)', { skip: !isRoot && 'needs root' }, async (t) => {
    const target = scratch(t);
    await extractLayer(
      streamOf(tarOf([{ name: 'null', type: 'char', devmajor: 1, devminor: 3, mode: 0o666 }])),
      target,
    );
    const st = lstatSync(join(target, 'null'));
    assert.ok(st.isCharacterDevice());
    assert.equal(st.rdev, (1 << 8) | 3);
    assert.equal(st.mode & 0o777, 0o666);
  });
});
