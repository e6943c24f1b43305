import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LayerError } from './errors';
import { BLOCK, decodeHeader, decodePax, encodeHeader, parseNumber } from './tar-format';
import { TarReader } from './tar-read';
import { header, streamOf, tarOf } from './spec-helpers';

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
