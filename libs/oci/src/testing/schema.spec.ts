import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CONFORMANCE_DIR, type OciSchema, schemaErrors } from './schema';

/** The spec pages mark valid examples as ```json,title=...&mediatype=...``` blocks. */
function examples(page: string): Array<{ mediaType: string; body: unknown }> {
  const text = readFileSync(join(CONFORMANCE_DIR, 'image-spec', page), 'utf8');
  const found: Array<{ mediaType: string; body: unknown }> = [];
  for (const m of text.matchAll(/```json,title=[^&\n]*&mediatype=([^\n]+)\n([\s\S]*?)```/g)) {
    found.push({ mediaType: decodeURIComponent(m[1] ?? ''), body: JSON.parse(m[2] ?? '') });
  }
  return found;
}

const KIND_BY_MEDIA_TYPE: Record<string, OciSchema> = {
  'application/vnd.oci.image.manifest.v1+json': 'manifest',
  'application/vnd.oci.image.index.v1+json': 'index',
  'application/vnd.oci.image.config.v1+json': 'config',
  'application/vnd.oci.layout.header.v1+json': 'layout',
  'application/vnd.oci.descriptor.v1+json': 'descriptor',
};

describe('OCI schema validation (the test oracle itself)', () => {
  const all = ['manifest.md', 'image-index.md', 'config.md', 'image-layout.md', 'descriptor.md'].flatMap(examples);

  it('finds the spec examples', () => {
    assert.ok(all.length >= 5, `only ${all.length} examples found`);
  });

  it('accepts every valid example of the spec', () => {
    let checked = 0;
    for (const { mediaType, body } of all) {
      const kind = KIND_BY_MEDIA_TYPE[mediaType];
      if (!kind) continue;
      assert.deepEqual(schemaErrors(kind, body), [], `${mediaType}: ${JSON.stringify(body).slice(0, 200)}`);
      checked++;
    }
    assert.ok(checked >= 5);
  });

  it('rejects documents that break the schema, saying where', () => {
    assert.ok(schemaErrors('manifest', { schemaVersion: 2, config: {}, layers: [] }).length > 0);
    assert.ok(schemaErrors('manifest', { schemaVersion: 1 }).some((e) => /schemaVersion/.test(e)));
    const badDigest = {
      mediaType: 'application/vnd.oci.image.layer.v1.tar',
      digest: 'sha256 nope',
      size: 1,
    };
    assert.ok(schemaErrors('descriptor', badDigest).some((e) => e.startsWith('/digest')));
    assert.ok(
      schemaErrors('config', { architecture: 1, os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }).length,
    );
    assert.ok(schemaErrors('layout', { imageLayoutVersion: 1 }).length > 0);
  });
});
