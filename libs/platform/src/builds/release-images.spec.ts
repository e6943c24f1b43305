/**
 * Pruning release images against a real registry and image store: the tags of releases
 * beyond the newest ten go, except an image a newer release runs (a rollback), and a
 * manifest goes from the registry once no kept release uses it. The registry takes tokens as
 * under `paas up`: the builder's login pushes and prunes; a login that may only push cannot.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ImageService, imageRoots } from '@paas/images';
import {
  RegistryClient,
  RegistryClientError,
  type RunningRegistry,
  UserStore,
  ensurePlatformRegistryUsers,
  startRegistry,
} from '@paas/registry';
import type { DataSource } from 'typeorm';
import { openDatabase } from '../model/database';
import { App, Release } from '../model/entities';
import { BuildLog } from './build-log';
import { pruneReleaseImages, pushReleaseImage, releaseImageRef, removeReleaseImages } from './release-images';

/** A BuildLog that keeps lines in memory (no Redis needed). */
const quietLog = (): BuildLog => new BuildLog({ xadd: async () => '0' } as never, 'test');

describe('pruneReleaseImages', () => {
  const dir = mkdtempSync(join(tmpdir(), 'paas-prune-'));
  let registry: RunningRegistry;
  let images: ImageService;
  let client: RegistryClient;
  let db: DataSource;
  const appId = randomUUID();

  before(async () => {
    const { builder } = await ensurePlatformRegistryUsers(join(dir, 'registry'), join(dir, 'platform'));
    registry = await startRegistry({
      root: join(dir, 'registry'),
      listen: { host: '127.0.0.1', port: 0 },
      auth: 'token',
    });
    images = await ImageService.open(imageRoots(join(dir, 'root')));
    client = new RegistryClient(registry.host, { credentials: builder });
    db = await openDatabase({ url: `sqlite://${join(dir, 'paas.db')}`, platformDir: dir });
    await db.manager.insert(App, { id: appId, name: 'shop' });
    mkdirSync(join(dir, 'layer'));
    writeFileSync(join(dir, 'layer', 'hello.txt'), 'hello\n');
    const layer = await images.layerFromDirectory(join(dir, 'layer'));
    // v1..v12, each its own image (the env differs), pushed as shop:vN; v13 rolls back to v1
    for (let version = 1; version <= 12; version++) {
      const ref = releaseImageRef(registry.host, 'shop', version);
      const image = await images.commit(
        {
          architecture: 'amd64',
          os: 'linux',
          config: { Env: [`VERSION=${version}`] },
          rootfs: { type: 'layers', diff_ids: [layer.diffId] },
        },
        [layer.descriptor],
        ref,
      );
      await pushReleaseImage(images, client, ref, quietLog());
      await db.manager.insert(Release, release(version, ref, image.manifestDigest));
    }
    const v1 = await db.manager.findOneByOrFail(Release, { appId, version: 1 });
    await db.manager.insert(Release, release(13, v1.imageRef, v1.imageDigest));
  });

  function release(version: number, imageRef: string | null, imageDigest: string | null): Partial<Release> {
    return {
      id: randomUUID(),
      appId,
      version,
      status: version === 13 ? 'live' : 'superseded',
      description: `v${version}`,
      imageRef,
      imageDigest,
      config: {},
      processTypes: { web: 'x' },
    };
  }

  after(async () => {
    await db?.destroy();
    await registry?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('needs the delete right: a login that may only push prunes nothing', async () => {
    await new UserStore(join(dir, 'registry')).set('pusher', 'pw', 'push');
    const pusher = new RegistryClient(registry.host, { credentials: { username: 'pusher', password: 'pw' } });
    await assert.rejects(
      pruneReleaseImages(db, images, pusher, appId, 10),
      (err: unknown) => err instanceof RegistryClientError && err.status === 403 && err.registryCode === 'DENIED',
    );
    const listed = await client.request('/v2/shop/tags/list', { scopes: ['repository:shop:pull'] });
    assert.equal(((await listed.json()) as { tags: string[] }).tags.length, 12);
  });

  it('removes the images of releases older than the newest ten, keeping what a newer release runs', async () => {
    const removed = await pruneReleaseImages(db, images, client, appId, 10);
    assert.deepEqual(removed, [releaseImageRef(registry.host, 'shop', 3), releaseImageRef(registry.host, 'shop', 2)]);
    const listed = await client.request('/v2/shop/tags/list', { scopes: ['repository:shop:pull'] });
    const tags = (await listed.json()) as { tags: string[] };
    assert.deepEqual(
      tags.tags.sort((a, b) => Number(a.slice(1)) - Number(b.slice(1))),
      ['v1', 'v4', 'v5', 'v6', 'v7', 'v8', 'v9', 'v10', 'v11', 'v12'],
    );
    const v2 = await db.manager.findOneByOrFail(Release, { appId, version: 2 });
    const manifest = await client.request(`/v2/shop/manifests/${v2.imageDigest}`, {
      method: 'HEAD',
      scopes: ['repository:shop:pull'],
      accept: [404],
    });
    assert.equal(manifest.status, 404, 'the manifest no kept release uses is gone too');
    const local = (await images.refs.list()).map((r) => r.name).filter((n) => n?.includes('/shop:'));
    assert.equal(local.length, 10);
    assert.ok(!local.includes(releaseImageRef(registry.host, 'shop', 2)));
    assert.ok(local.includes(releaseImageRef(registry.host, 'shop', 1)));
    // a second run finds nothing more to do
    assert.deepEqual(await pruneReleaseImages(db, images, client, appId, 10), []);
  });

  it("removes every image of a destroyed app, tags and manifests, and only the platform registry's", async () => {
    const releases = await db.manager.find(Release, { where: { appId }, order: { version: 'ASC' } });
    const elsewhere = { imageRef: 'registry.example:5000/shop:v1', imageDigest: releases[0]?.imageDigest ?? null };
    // renamed away from `shop`, this app's v99 tag is now a new `shop`'s, naming another image
    const taken = releaseImageRef(registry.host, 'shop', 99);
    const layer = await images.layerFromDirectory(join(dir, 'layer'));
    const theirs = await images.commit(
      {
        architecture: 'amd64',
        os: 'linux',
        config: { Env: ['VERSION=theirs'] },
        rootfs: { type: 'layers', diff_ids: [layer.diffId] },
      },
      [layer.descriptor],
      taken,
    );
    await pushReleaseImage(images, client, taken, quietLog());
    const ours = { imageRef: taken, imageDigest: releases[0]?.imageDigest ?? null };
    const removed = await removeReleaseImages(images, client, [
      ...releases,
      elsewhere,
      ours,
      { imageRef: null, imageDigest: null },
    ]);
    assert.equal(removed.length, 10, removed.join(' '));
    const kept = await client.request(`/v2/shop/manifests/v99`, {
      method: 'HEAD',
      scopes: ['repository:shop:pull'],
      accept: [404],
    });
    assert.equal(kept.headers.get('docker-content-digest'), theirs.manifestDigest, "the new shop's tag stays");
    assert.equal((await images.refs.get(taken))?.digest, theirs.manifestDigest, 'and its local ref');
    await removeReleaseImages(images, client, [{ imageRef: taken, imageDigest: theirs.manifestDigest }]);
    const listed = await client.request('/v2/shop/tags/list', { scopes: ['repository:shop:pull'], accept: [404] });
    const tags = listed.status === 404 ? [] : (((await listed.json()) as { tags: string[] | null }).tags ?? []);
    assert.deepEqual(tags, []);
    for (const release of releases) {
      const manifest = await client.request(`/v2/shop/manifests/${release.imageDigest}`, {
        method: 'HEAD',
        scopes: ['repository:shop:pull'],
        accept: [404],
      });
      assert.equal(manifest.status, 404, `v${release.version}'s manifest is gone`);
    }
    assert.deepEqual(
      (await images.refs.list()).map((r) => r.name).filter((n) => n?.includes('/shop:')),
      [],
    );
    assert.deepEqual(await removeReleaseImages(images, client, releases), [], 'nothing left to remove');
  });
});
