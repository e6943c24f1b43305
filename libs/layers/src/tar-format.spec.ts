import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createWriteStream, mkdirSync, readdirSync, readlinkSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { LayerError } from './errors';
import { tarDirectory } from './diff';
import { extractLayer } from './extract';
import { decodeName, encodeName } from './names';
import { BLOCK, decodeHeader, decodePax, encodeHeader, parseNumber } from './tar-format';
import { TarReader } from './tar-read';
import { fixChecksum, header, scratch, streamOf, tarOf } from './spec-helpers';

async function readAll(tar: Buffer) {
  const out: Array<{ name: string; linkname: string; size: number; xattrs: Map<string, string>; body: string }> = [];
  const reader = new TarReader(streamOf(tar, 100)); // small chunks: headers span chunks
  for await (const entry of reader.entries()) {
    const parts: Buffer[] = [];
    for await (const chunk of entry.body()) parts.push(Buffer.from(chunk));
    const xattrs = new Map([...entry.header.xattrs].map(([k, v]) => [k, v.toString('hex')]));
    out.push({ ...entry.header, xattrs, body: Buffer.concat(parts).toString() });
  }
  return out;
}

describe('layers/tar-format', () => {
  it('keeps short ASCII names in ustar alone', () => {
    assert.equal(encodeHeader(header({ name: 'etc/hosts' }, 0)).length, BLOCK);
  });

  it('splits names up to 256 bytes into ustar prefix and name', async () => {
    const name = `${'p'.repeat(150)}/${'n'.repeat(99)}`;
    const block = encodeHeader(header({ name }, 0));
    assert.equal(block.length, BLOCK);
    assert.deepEqual((await readAll(tarOf([{ name }])))[0]?.name, name);
  });

  it('uses pax for long, non-ASCII and linkpath names, and binary xattrs', async () => {
    const long = `${'d'.repeat(120)}/${'f'.repeat(120)}`;
    const cap = Buffer.from([0x01, 0x00, 0x00, 0x02, 0x20, 0xff, 0x00, 0x80]);
    const entries = await readAll(
      tarOf([
        { name: long, body: 'x' },
        { name: 'héllo/wörld', body: 'y' },
        { name: 'l', type: 'symlink', linkname: `/${'t'.repeat(200)}` },
        { name: 'ping', body: '', xattrs: new Map([['security.capability', cap]]) },
      ]),
    );
    assert.deepEqual(
      entries.map((e) => [e.name, e.body]),
      [
        [long, 'x'],
        ['héllo/wörld', 'y'],
        ['l', ''],
        ['ping', ''],
      ],
    );
    assert.equal(entries[2]?.linkname, `/${'t'.repeat(200)}`);
    assert.equal(entries[3]?.xattrs.get('security.capability'), cap.toString('hex'));
  });

  it('writes sizes, ids and times beyond octal range as pax records', async () => {
    const big = header({ name: 'x', uid: 5_000_000, gid: 3_000_000, mtime: -5 }, 0);
    const reader = new TarReader(streamOf(Buffer.concat([encodeHeader(big), Buffer.alloc(1024)])));
    for await (const entry of reader.entries()) {
      assert.equal(entry.header.uid, 5_000_000);
      assert.equal(entry.header.gid, 3_000_000);
      assert.equal(entry.header.mtime, -5);
    }
  });

  it('parses octal with spaces and NULs, and base-256', () => {
    const field = (text: string | number[]) => {
      const b = Buffer.alloc(BLOCK);
      if (typeof text === 'string') b.write(text, 124, 'latin1');
      else Buffer.from(text).copy(b, 124);
      return parseNumber(b, 124, 12, 'size', 0);
    };
    assert.equal(field('00000000017\0'), 15);
    assert.equal(field('   17 \0'), 15);
    assert.equal(field(''), 0);
    assert.equal(field([0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00]), 256);
    assert.throws(() => field('12x45'), LayerError);
    assert.throws(() => field('-1'), LayerError);
    assert.throws(() => field([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe]), /negative/);
    assert.throws(() => field([0x80, 0, 0, 0, 0x10, 0, 0, 0, 0, 0, 0, 0]), /too large/);
  });

  it('refuses a header whose checksum does not match', () => {
    const block = encodeHeader(header({ name: 'x' }, 0));
    block[0] = 0x79;
    assert.throws(
      () => decodeHeader(block, 512),
      (err: unknown) => err instanceof LayerError && err.offset === 512,
    );
  });

  it('parses pax records strictly', () => {
    assert.equal(decodePax(Buffer.from('12 path=abc\n'), 0).path, 'abc');
    assert.throws(() => decodePax(Buffer.from('13 path=abc\n'), 0), /length does not match/);
    assert.throws(() => decodePax(Buffer.from('x path=abc\n'), 0), /record length/);
    assert.throws(() => decodePax(Buffer.from('11 size=1a\n'), 0), /size/);
    assert.throws(() => decodePax(Buffer.from('22 GNU.sparse.major=1\n'), 0), /sparse/);
  });
});

/** One pax record with its length computed: "LEN KEY=VALUE\n". */
function pax(key: string, value: string | Buffer): Buffer {
  const rest = Buffer.concat([Buffer.from(` ${key}=`), Buffer.from(value), Buffer.from('\n')]);
  let len = rest.length + 1;
  while (String(len).length + rest.length !== len) len = String(len).length + rest.length;
  return Buffer.concat([Buffer.from(String(len)), rest]);
}

/** A tar of one pax extended header (records as given) and the entry it describes. */
function paxTar(records: Buffer, entry: Parameters<typeof header>[0], body = Buffer.alloc(0)): Buffer {
  const x = Buffer.from(encodeHeader(header({ name: 'PaxHeaders/x' }, records.length)));
  x[156] = 0x78; // 'x'
  fixChecksum(x);
  const pad = (n: number) => Buffer.alloc((BLOCK - (n % BLOCK)) % BLOCK);
  const main = encodeHeader(header(entry, 0)); // ustar size 0: the pax record gives the real one
  return Buffer.concat([x, records, pad(records.length), main, body, pad(body.length), Buffer.alloc(2 * BLOCK)]);
}

const bytes = (...parts: Array<string | number[]>) =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))));

describe('layers/tar-format: pax numbers as Go archive/tar reads them', () => {
  it('accepts leading zeros and a plus sign in size, uid, gid and mtime', () => {
    const r = decodePax(
      Buffer.concat([pax('size', '00000042'), pax('uid', '+0001000'), pax('gid', '0'), pax('mtime', '0001700000000')]),
      0,
    );
    assert.deepEqual([r.size, r.uid, r.gid, r.mtime], [42, 1000, 0, 1_700_000_000]);
    // More digits than the value needs, in the value and in the record's own length.
    assert.equal(decodePax(Buffer.from('018 size=00000042\n'), 0).size, 42);
    assert.equal(decodePax(pax('size', `${'0'.repeat(30)}42`), 0).size, 42);
    assert.equal(decodePax(pax('mtime', `${'0'.repeat(30)}42.5`), 0).mtime, 42.5);
  });

  it('reads mtime fractions like parsePAXTime: signed, up to nanoseconds, the rest cut off', () => {
    const mtime = (text: string) => decodePax(pax('mtime', text), 0).mtime;
    assert.equal(mtime('1700000000.5'), 1_700_000_000.5);
    assert.equal(mtime('-1.25'), -1.25);
    assert.equal(mtime('+2.000000001'), 2.000000001);
    assert.equal(mtime('3.1234567899999'), 3.123456789);
    assert.equal(mtime('0004.'), 4);
  });

  it('refuses negative, overflowing and garbage numbers, naming the record', () => {
    const refused: Array<[string, string, RegExp]> = [
      ['size', '-1', /size="-1" is negative/],
      ['uid', '-00007', /uid="-00007" is negative/],
      ['size', '99999999999999999999', /size="99999999999999999999" is too large/],
      ['gid', '0x10', /gid="0x10" is not a decimal number/],
      ['size', ' 42', /size=" 42" is not a decimal number/],
      ['size', '', /size="" is not a decimal number/],
      ['uid', '4_2', /uid="4_2" is not a decimal number/],
      ['mtime', '.5', /mtime=".5" is not a time/],
      ['mtime', '1.5.5', /mtime="1.5.5" is not a time/],
      ['mtime', '1.-5', /mtime="1.-5" is not a time/],
      ['mtime', '99999999999999999999', /mtime="99999999999999999999" is not a time/],
    ];
    for (const [key, value, message] of refused) {
      assert.throws(
        () => decodePax(pax(key, value), 1024),
        (err: unknown) =>
          err instanceof LayerError && err.problem === 'MALFORMED' && err.offset === 1024 && message.test(err.message),
        `${key}=${value}`,
      );
    }
  });

  it('reads a whole entry whose size record has leading zeros', async () => {
    const entries = await readAll(paxTar(pax('size', '0000000005'), { name: 'five' }, Buffer.from('hello')));
    assert.deepEqual(
      entries.map((e) => [e.name, e.size, e.body]),
      [['five', 5, 'hello']],
    );
  });
});

describe('layers/tar-format: names that are not UTF-8 keep their bytes', () => {
  const latin1 = bytes('caf', [0xe9]); // "café" in ISO-8859-1
  const broken = bytes('x', [0xc3, 0x28], 'y', [0xed, 0xa0, 0x80], [0xff], '.txt'); // bad sequence, a surrogate, 0xff
  const emoji = bytes('ok-\u{1f600}-', [0xe9]); // valid 4-byte UTF-8 beside a bad byte

  it('decodes and encodes names losslessly', () => {
    for (const name of [latin1, broken, emoji, bytes('plain/ascii'), bytes('h\u00e9llo')]) {
      assert.deepEqual(encodeName(decodeName(name)), name, name.toString('hex'));
    }
    assert.equal(decodeName(bytes('h\u00e9llo')), 'h\u00e9llo');
    assert.notEqual(decodeName(latin1), decodeName(bytes('caf\ufffd')));
  });

  it('reads names, link names and GNU tar pax archives with their bytes (not U+FFFD)', async (t) => {
    const dir = scratch(t);
    const src = join(dir, 'src');
    mkdirSync(src);
    // Names made from bytes, the way printf makes them in a shell.
    execFileSync('sh', [
      '-c',
      `cd "$1" && mkdir "$(printf 'caf\\351')" && printf hi > "$(printf 'caf\\351/x\\377')"`,
      'sh',
      src,
    ]);
    symlinkSync(Buffer.concat([latin1, bytes('/x'), Buffer.of(0xff)]), Buffer.from(`${src}/link`));
    const tar = execFileSync('tar', ['--format=pax', '-cf', '-', '-C', src, '.'], { maxBuffer: 1 << 24 });
    const entries = await readAll(tar);
    const names = entries.map((e) => encodeName(e.name).toString('hex')).sort();
    assert.deepEqual(
      names,
      ['./', './caf\xe9/', './caf\xe9/x\xff', './link'].map((n) => Buffer.from(n, 'latin1').toString('hex')).sort(),
    );
    const link = entries.find((e) => e.name === './link');
    assert.deepEqual(encodeName(link?.linkname ?? ''), Buffer.concat([latin1, bytes('/x'), Buffer.of(0xff)]));
  });

  it('extracts them with exactly those bytes, and archives them back unchanged', async (t) => {
    const dir = scratch(t);
    const name = decodeName(broken);
    const folder = decodeName(latin1);
    const tar = tarOf([
      { name: `${folder}/`, type: 'dir' },
      { name: `${folder}/${name}`, body: 'content' },
      { name: `${folder}/link`, type: 'symlink', linkname: `../${folder}/${name}` },
      { name: `hard-${name}`, type: 'hardlink', linkname: `${folder}/${name}` },
    ]);
    const out = join(dir, 'out');
    mkdirSync(out);
    await extractLayer(streamOf(tar, 700), out);
    const top = readdirSync(out, { encoding: 'buffer' })
      .map((b) => b.toString('hex'))
      .sort();
    assert.deepEqual(top, [latin1, Buffer.concat([bytes('hard-'), broken])].map((b) => b.toString('hex')).sort());
    const inner = Buffer.concat([Buffer.from(`${out}/`), latin1]);
    assert.deepEqual(
      readdirSync(inner, { encoding: 'buffer' })
        .map((b) => b.toString('hex'))
        .sort(),
      [broken, bytes('link')].map((b) => b.toString('hex')).sort(),
    );
    assert.deepEqual(
      readlinkSync(Buffer.concat([inner, bytes('/link')]), { encoding: 'buffer' }),
      Buffer.concat([bytes('../'), latin1, bytes('/'), broken]),
    );

    // GNU tar reads what we write with the same bytes.
    const listed = execFileSync('tar', ['--quoting-style=literal', '-tf', '-'], { input: tar })
      .toString('latin1')
      .split('\n')
      .filter(Boolean);
    assert.ok(listed.includes(Buffer.concat([latin1, bytes('/'), broken]).toString('latin1')), listed.join(', '));

    // Our writer archives the extracted tree with the same names.
    const again = join(dir, 'again.tar');
    await tarDirectory(out, createWriteStream(again), { compression: 'none' });
    const back = execFileSync('tar', ['--quoting-style=literal', '-tf', again])
      .toString('latin1')
      .split('\n')
      .filter(Boolean)
      .sort();
    const expected = [
      Buffer.concat([latin1, bytes('/')]),
      Buffer.concat([latin1, bytes('/'), broken]),
      Buffer.concat([latin1, bytes('/link')]),
      Buffer.concat([bytes('hard-'), broken]),
    ].map((b) => b.toString('latin1'));
    assert.deepEqual(back, expected.sort());
  });
});
