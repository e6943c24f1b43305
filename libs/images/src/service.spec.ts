import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type ImageConfig, digestHex } from '@paas/oci';
import { schemaErrors } from '@paas/oci/testing';
import { AmbiguousImageError, ImageConflictError, ImageNotFoundError } from './errors';
import { type Image, ImageService, imageRoots } from './service';

describe('ImageService', () => {
  let root: string;
  let images: ImageService;
  let base: Image;

  async function makeImage(name: string | undefined, files: Record<string, string>, parent?: Image): Promise<Image> {
    const dir = mkdtempSync(join(tmpdir(), 'paas-layer-'));
    try {
      for (const [path, content] of Object.entries(files)) {
        mkdirSync(join(dir, path, '..'), { recursive: true });
        writeFileSync(join(dir, path), content);
      }
      const layer = await images.layerFromDirectory(dir, { fixedMtime: new Date(0) });
      const created = new Date().toISOString();
      const config: ImageConfig = {
        created,
        architecture: 'amd64',
        os: 'linux',
        config: { Cmd: ['sh'] },
        rootfs: { type: 'layers', diff_ids: [...(parent?.config.rootfs.diff_ids ?? []), layer.diffId] },
        history: [...(parent?.config.history ?? []), { created, created_by: `files ${Object.keys(files).join(' ')}` }],
      };
      return images.commit(config, [...(parent?.manifest.layers ?? []), layer.descriptor], name);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'paas-images-'));
    images = await ImageService.open(imageRoots(root));
    base = await makeImage('base:1', { 'etc/os-release': 'NAME=test\n', 'bin/tool': 'x'.repeat(5000) });
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('commits images whose manifest and config validate against the OCI schemas', async () => {
    assert.deepEqual(schemaErrors('manifest', base.manifest), []);
    assert.deepEqual(schemaErrors('config', base.config), []);
    assert.equal(base.id, base.manifest.config.digest);
  });

  it('resolves by short name, full name, id, id prefix and digest reference', async () => {
    for (const ref of [
      'base:1',
      'docker.io/library/base:1',
      base.id,
      digestHex(base.id).slice(0, 12),
      `base@${base.manifestDigest}`,
    ]) {
      assert.equal((await images.resolve(ref)).id, base.id, ref);
    }
  });

  it('says which image is missing', async () => {
    await assert.rejects(
      images.resolve('nosuch'),
      (err: unknown) => err instanceof ImageNotFoundError && err.message === 'No such image: nosuch',
    );
    await assert.rejects(images.resolve('base:2'), ImageNotFoundError);
    await assert.rejects(images.resolve('Invalid Ref!'), ImageNotFoundError);
  });

  it('tags, and removes by name then by id as Docker does', async () => {
    const img = await makeImage('app:1', { 'app.txt': 'one' }, base);
    await images.tag('app:1', 'app:latest');
    await images.tag('app:1', 'registry.local:5000/team/app:v1');
    assert.deepEqual((await images.resolve('app:latest')).names.sort(), [
      'docker.io/library/app:1',
      'docker.io/library/app:latest',
      'registry.local:5000/team/app:v1',
    ]);
    assert.deepEqual(await images.remove('app:latest'), { untagged: ['docker.io/library/app:latest'], deleted: [] });
    await assert.rejects(
      images.remove(img.id),
      (err: unknown) => err instanceof ImageConflictError && /must be forced/.test(err.message),
    );
    const forced = await images.remove(img.id, { force: true });
    assert.deepEqual(forced.deleted, [img.id]);
    await assert.rejects(images.resolve('app:1'), ImageNotFoundError);
  });

  it('refuses to remove an image a container uses unless forced, and then keeps it dangling', async () => {
    const img = await makeImage('used:1', { 'u.txt': 'u' }, base);
    await assert.rejects(
      images.remove('used:1', { inUse: new Set([img.id]) }),
      /container is using its referenced image/,
    );
    const result = await images.remove('used:1', { inUse: new Set([img.id]), force: true });
    assert.deepEqual(result, { untagged: ['docker.io/library/used:1'], deleted: [] });
    assert.deepEqual((await images.resolve(img.id)).names, []);
  });

  it("removes an image's untagged build parents with it, closest first, keeping a parent another image builds on", async () => {
    // base:1 <- step1 <- step2 <- built:1, and step1 <- other:1 (a second build from the same start)
    const step1 = await makeImage(undefined, { 's1.txt': '1' }, base);
    const step2 = await makeImage(undefined, { 's2.txt': '2' }, step1);
    const built = await makeImage('built:1', { 'b.txt': 'b' }, step2);
    const other = await makeImage('other:1', { 'o.txt': 'o' }, step1);
    const kept = await images.remove('built:1', { prune: true, inUse: new Set() });
    assert.deepEqual(kept.deleted, [built.id, step2.id], 'step1 stays: other:1 was built on it');
    assert.deepEqual((await images.resolve(step1.id)).names, []);
    const removed = await images.remove('other:1', { prune: true });
    assert.deepEqual(removed.deleted, [other.id, step1.id]);
    assert.ok(await images.resolve('base:1'), 'a tagged parent is never removed');
    // without prune (rmi --no-prune), and a parent a container uses stays
    const step3 = await makeImage(undefined, { 's3.txt': '3' }, base);
    const step4 = await makeImage(undefined, { 's4.txt': '4' }, step3);
    await makeImage('again:1', { 'a.txt': 'a' }, step4);
    await makeImage('again:2', { 'a.txt': 'b' }, step4);
    assert.equal((await images.remove('again:1')).deleted.length, 1);
    assert.deepEqual(
      (await images.remove('again:2', { prune: true, inUse: new Set([step4.id]) })).deleted.length,
      1,
      'step4 is in use: it and step3 stay',
    );
    assert.deepEqual((await images.resolve(step3.id)).names, []);
  });

  it('counts shared layers in SHARED SIZE', async () => {
    const child = await makeImage('child:1', { 'c.txt': 'c' }, base);
    const summaries = await images.summaries();
    const b = summaries.find((s) => s.id === base.id);
    const c = summaries.find((s) => s.id === child.id);
    assert.ok(b && c);
    const baseLayer = base.manifest.layers[0]?.size ?? 0;
    assert.equal(b.sharedSize, baseLayer);
    assert.equal(c.sharedSize, baseLayer);
    assert.equal(c.size, child.manifest.config.size + child.manifest.layers.reduce((n, l) => n + l.size, 0));
  });

  it('makes a layer of a few hundred bytes for a step that adds one small file', async () => {
    const small = await makeImage(undefined, { 'hello.txt': 'hello\n' }, base);
    const top = small.manifest.layers.at(-1);
    assert.ok(top && top.size < 1024, `layer is ${top?.size} bytes`);
  });

  it('rejects an ambiguous id prefix', async () => {
    const all = await images.list();
    const prefixes = new Map<string, number>();
    for (const i of all)
      prefixes.set(digestHex(i.id).slice(0, 4), (prefixes.get(digestHex(i.id).slice(0, 4)) ?? 0) + 1);
    const shared = [...prefixes].find(([, n]) => n > 1)?.[0];
    if (shared) await assert.rejects(images.resolve(shared), AmbiguousImageError);
  });

  it('unpacks each layer once into a snapshot shared by every image that has it', async () => {
    const child = await makeImage('unpack:1', { 'd.txt': 'd' }, base);
    const chain = await images.unpack(child);
    assert.equal(chain.length, 2);
    assert.deepEqual(await images.unpack(base), chain.slice(0, 1));
    const lowers = await images.snapshots.lowerDirs(chain);
    assert.deepEqual(readdirSync(lowers[0] ?? ''), ['d.txt']);
    assert.deepEqual(readdirSync(lowers[1] ?? '').sort(), ['bin', 'etc']);
  });

  it('prunes dangling images and collects their blobs and snapshots', async () => {
    const dangling = await makeImage(undefined, { 'gone.txt': 'bye' }, base);
    await images.unpack(dangling);
    const top = dangling.manifest.layers.at(-1);
    assert.ok(top && (await images.content.has(top.digest)));
    const result = await images.prune();
    assert.ok(result.deleted.includes(dangling.id));
    assert.equal(await images.content.has(top.digest), false);
    assert.ok(await images.content.has(base.manifest.layers[0]?.digest ?? base.id), 'shared base layer kept');
    const chain = images.chainIds(dangling);
    assert.equal(await images.snapshots.info(chain.at(-1) ?? base.id), undefined);
    assert.ok(await images.snapshots.info(chain[0] ?? base.id));
  });
});
