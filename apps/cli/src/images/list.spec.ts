import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ImageSummary } from '@paas/images';
import { type Digest, digestOf } from '@paas/oci';
import { isIntermediate } from '@paas/images';
import { renderImages } from './list';

function image(name: string | undefined, layers: string[], steps: string[]): ImageSummary {
  const id = digestOf(`${name}:${layers.join()}:${steps.join()}`);
  return {
    id,
    manifestDigest: digestOf(id),
    names: name ? [`docker.io/library/${name}`] : [],
    manifest: { schemaVersion: 2, config: { mediaType: 'x', digest: id, size: 1 }, layers: [] },
    config: {
      architecture: 'amd64',
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: layers.map((l) => digestOf(l) as Digest) },
      history: steps.map((created_by) => ({ created_by })),
    },
    size: 1000,
    sharedSize: 0,
    created: '2026-01-01T00:00:00Z',
  };
}

describe('paas images', () => {
  const base = image('busybox:latest', ['a'], ['add busybox']);
  const step = image(undefined, ['a', 'b'], ['add busybox', 'RUN x']);
  const app = image('app:1', ['a', 'b', 'c'], ['add busybox', 'RUN x', 'COPY y']);
  const dangling = image(undefined, ['a', 'z'], ['add busybox', 'RUN old']);

  it('hides build steps (untagged parents of other images) unless -a, like docker', () => {
    assert.equal(isIntermediate(step, [base, step, app, dangling]), true);
    assert.equal(isIntermediate(dangling, [base, step, app, dangling]), false);
    assert.equal(isIntermediate(base, [base, step, app]), false);
    const listed = renderImages([base, step, app, dangling], {});
    assert.equal(listed.split('\n').filter((l) => l.startsWith('<none>')).length, 1);
    const all = renderImages([base, step, app, dangling], { all: true });
    assert.equal(all.split('\n').filter((l) => l.startsWith('<none>')).length, 2);
  });
});
