import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DigestError, Digester, digestHex, digestOf, isDigest, parseDigest, shortId } from './digest';

describe('digests', () => {
  const empty = 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

  it('digests bytes and streams alike', () => {
    assert.equal(digestOf(''), empty);
    const d = new Digester();
    d.update(Buffer.from('hello '));
    d.update(Buffer.from('world'));
    assert.equal(d.digest(), digestOf('hello world'));
    assert.equal(d.size, 11);
  });

  it('parses sha256 and sha512 and gives the hex and short id', () => {
    const parsed = parseDigest(empty);
    assert.equal(digestHex(parsed), empty.slice(7));
    assert.equal(shortId(parsed), 'e3b0c44298fc');
    assert.ok(isDigest(digestOf('x', 'sha512')));
  });

  for (const bad of [
    'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    'sha256:',
    'sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855',
    'sha256:e3b0',
    'sha256:../../../../etc/passwd',
    'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85/',
    'md5:d41d8cd98f00b204e9800998ecf8427e',
    'SHA256:' + 'a'.repeat(64),
    'sha512:' + 'a'.repeat(64),
  ]) {
    it(`rejects ${JSON.stringify(bad)}`, () => {
      assert.throws(() => parseDigest(bad), DigestError);
      assert.equal(isDigest(bad), false);
    });
  }
});
