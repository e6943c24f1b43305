import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ImageNotFoundError, ImageService, imageRoots } from '@paas/images';
import { NodeImages } from './images';

describe('NodeImages: add-on images from the host (a temporary root)', () => {
  const root = mkdtempSync(join(tmpdir(), 'paas-agent-images-'));
  let images: ImageService;
  let node: NodeImages;
  before(async () => {
    images = await ImageService.open(imageRoots(root));
    node = new NodeImages(images, root);
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it("bootstraps redis from the host's redis-server once when the store lacks it, and says so", async () => {
    const lines: string[] = [];
    await Promise.all([
      node.bootstrap('redis:latest', 'redis', (l) => lines.push(l)),
      node.bootstrap('redis:latest', 'redis', (l) => lines.push(l)),
    ]);
    assert.deepEqual(
      lines,
      ["Bootstrapping redis from the host's binaries for redis:latest"],
      'one bootstrap for both',
    );
    assert.match((await images.resolve('redis:latest')).id, /^sha256:/);
    await node.bootstrap('redis:latest', 'redis', (l) => lines.push(l));
    assert.equal(lines.length, 1, 'there already: nothing made');
  });

  it('refuses an add-on image the host bootstraps under another tag, naming both', async () => {
    await assert.rejects(
      node.bootstrap('redis:99', 'redis'),
      (err: unknown) =>
        err instanceof ImageNotFoundError &&
        err.message ===
          "No such image: redis:99 (the redis bootstrapped from this host's binaries is tagged otherwise)",
    );
  });
});
