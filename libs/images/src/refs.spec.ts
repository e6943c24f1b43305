import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { type Descriptor, MediaType, digestOf } from '@paas/oci';
import { schemaErrors } from '@paas/oci/testing';
import { RefStore } from './refs';

const manifest = (n: string): Descriptor => ({ mediaType: MediaType.ociManifest, digest: digestOf(n), size: n.length });

describe('RefStore', () => {
  let dir: string;
  let refs: RefStore;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'paas-refs-'));
    refs = new RefStore(dir);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('starts empty and names manifests', async () => {
    assert.deepEqual(await refs.list(), []);
    await refs.set('docker.io/library/busybox:latest', manifest('a'));
    assert.deepEqual(await refs.get('docker.io/library/busybox:latest'), manifest('a'));
    assert.deepEqual(await refs.list(), [{ name: 'docker.io/library/busybox:latest', manifest: manifest('a') }]);
  });

  it('writes an OCI image index that validates against the schema', async () => {
    await refs.set('docker.io/library/busybox:latest', manifest('a'));
    await refs.addDangling(manifest('b'));
    const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as unknown;
    assert.deepEqual(schemaErrors('index', index), []);
  });

  it('leaves the old image dangling when its last name moves to a new one', async () => {
    await refs.set('docker.io/library/app:latest', manifest('v1'));
    await refs.set('docker.io/library/app:latest', manifest('v2'));
    const entries = await refs.list();
    assert.deepEqual(entries, [
      { name: 'docker.io/library/app:latest', manifest: manifest('v2') },
      { manifest: manifest('v1') },
    ]);
  });

  it('does not keep a dangling entry when the old image has another name', async () => {
    await refs.set('docker.io/library/app:latest', manifest('v1'));
    await refs.set('docker.io/library/app:v1', manifest('v1'));
    await refs.set('docker.io/library/app:latest', manifest('v2'));
    assert.equal((await refs.list()).filter((e) => e.name === undefined).length, 0);
  });

  it('replaces a dangling entry when the image gets a name again', async () => {
    await refs.addDangling(manifest('x'));
    await refs.set('docker.io/library/x:latest', manifest('x'));
    assert.deepEqual(await refs.list(), [{ name: 'docker.io/library/x:latest', manifest: manifest('x') }]);
  });

  it('deletes names and manifests', async () => {
    await refs.set('docker.io/library/a:1', manifest('a'));
    await refs.set('docker.io/library/a:2', manifest('a'));
    assert.equal(await refs.delete('docker.io/library/a:1'), true);
    assert.equal(await refs.delete('docker.io/library/a:1'), false);
    await refs.deleteManifest(manifest('a').digest);
    assert.deepEqual(await refs.list(), []);
  });

  it('keeps every update when many writers tag at once', async () => {
    await Promise.all(Array.from({ length: 20 }, (_, i) => refs.set(`docker.io/library/t:${i}`, manifest(String(i)))));
    assert.equal((await refs.list()).length, 20);
  });

  it('refuses a corrupt index instead of overwriting it', async () => {
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(dir, 'index.json'), '{"manifests": 3}');
    await assert.rejects(refs.list(), /manifests is not an array/);
    await assert.rejects(refs.set('docker.io/library/a:1', manifest('a')), /manifests is not an array/);
    assert.equal(readFileSync(join(dir, 'index.json'), 'utf8'), '{"manifests": 3}');
  });
});
