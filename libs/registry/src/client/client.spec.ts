/**
 * The client side against our server: challenge parsing, the token flow, and push/pull of a
 * real image between two image stores (HEAD-skip, cross-repository mount, digest checks).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { type AddressInfo } from 'node:net';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ImageService, imageRoots } from '@paas/images';
import { type Digest, type ImageConfig, digestOf, parseNormalizedReference } from '@paas/oci';
import { chainIds } from '@paas/snapshots';
import { gzipSync } from 'node:zlib';
import { UserStore } from '../auth/users';
import { type TestRegistry, testRegistry } from '../spec-support';
import { parseChallenge } from './challenge';
import { RegistryClient, RegistryClientError, isLoopback } from './client';
import { deleteManifest } from './delete';
import { type LayerEvent, type ProgressSink } from './progress';
import { pullImage } from './pull';
import { pushImage } from './push';
import { BlobSources } from './sources';

function recorder(): ProgressSink & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    message: (text) => lines.push(text),
    layer: (e: LayerEvent) => {
      if (e.done) lines.push(`${e.digest.slice(7, 19)}: ${e.status}`);
    },
  };
}

describe('challenges', () => {
  it('parses Bearer and Basic challenges with quoted commas', () => {
    assert.deepEqual(
      parseChallenge(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:a/b:pull,push"',
      ),
      {
        scheme: 'bearer',
        params: {
          realm: 'https://auth.docker.io/token',
          service: 'registry.docker.io',
          scope: 'repository:a/b:pull,push',
        },
      },
    );
    assert.deepEqual(parseChallenge('Basic realm="x \\"y\\""'), { scheme: 'basic', params: { realm: 'x "y"' } });
    assert.equal(parseChallenge(''), undefined);
  });

  it('speaks HTTP to loopback registries only', () => {
    assert.ok(isLoopback('127.0.0.1:5000') && isLoopback('localhost:5000') && isLoopback('[::1]:5000'));
    assert.equal(new RegistryClient('registry.example.com').baseUrl, 'https://registry.example.com');
    assert.equal(new RegistryClient('docker.io').baseUrl, 'https://registry-1.docker.io');
    assert.equal(new RegistryClient('10.0.0.1:5000', { insecure: ['10.0.0.1:5000'] }).baseUrl, 'http://10.0.0.1:5000');
  });
});

describe('kept-alive connections', () => {
  it('sends a request again on a fresh connection when the server closed the reused one under it', async () => {
    // a server that serves one request per connection and drops the connection on the next
    // one without answering, as a server closing an idle connection just as it is reused
    const served = new WeakMap<object, number>();
    const connections = new Set<object>();
    const server = createServer((req, res) => {
      connections.add(req.socket);
      const count = served.get(req.socket) ?? 0;
      served.set(req.socket, count + 1);
      if (count > 0) return void req.socket.destroy();
      res.writeHead(200, { 'Content-Type': 'application/json', 'Docker-Distribution-Api-Version': 'registry/2.0' });
      res.end('{}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const client = new RegistryClient(`127.0.0.1:${port}`);
      for (const method of ['GET', 'HEAD', 'GET']) {
        const res = await client.request('/v2/', { method });
        assert.equal(res.status, 200, method);
        await res.arrayBuffer();
        // the answered connection goes back to the agent's pool before the next request
        await new Promise((r) => setImmediate(r));
      }
      assert.ok(connections.size >= 2, 'the dropped connection was replaced by a fresh one');
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});

describe('push and pull', () => {
  let reg: TestRegistry;
  let base = '';
  let source: ImageService;
  let target: ImageService;
  before(async () => {
    base = await mkdtemp(join(tmpdir(), 'paas-registry-client-'));
    reg = await testRegistry({ auth: 'token' });
    await new UserStore(reg.root).set('alice', 'pw');
    await new UserStore(reg.root).set('bob', 'pw', 'pull');
    await new UserStore(reg.root).set('carol', 'pw', 'delete');
    source = await ImageService.open(imageRoots(join(base, 'a')));
    target = await ImageService.open(imageRoots(join(base, 'b')));
  });
  after(async () => {
    await reg.dispose();
    await rm(base, { recursive: true, force: true });
  });

  async function makeImage(name: string): Promise<void> {
    const layer = await source.content.writeBytes(Buffer.from(`fake layer of ${name}`));
    const config: ImageConfig = {
      architecture: 'amd64',
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: [layer.digest] },
    };
    await source.commit(config, [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layer }], name);
  }

  it('pushes through the token flow, skips what exists, mounts across repositories, and pulls back', async () => {
    const ref = parseNormalizedReference(`${reg.host}/team/app:v1`);
    await makeImage(`${reg.host}/team/app:v1`);
    const image = await source.resolve(`${reg.host}/team/app:v1`);
    const sources = new BlobSources(join(base, 'a', 'sources.json'));
    const client = new RegistryClient(reg.host, { credentials: { username: 'alice', password: 'pw' } });
    const first = recorder();
    const pushed = await pushImage(source, client, image, ref, { progress: first, sources });
    assert.equal(pushed.digest, image.manifestDigest);
    const layerId = image.manifest.layers[0]?.digest.slice(7, 19);
    assert.deepEqual(first.lines, [
      `The push refers to repository [${reg.host}/team/app]`,
      `${layerId}: Pushed`,
      `v1: digest: ${image.manifestDigest} size: ${pushed.size}`,
    ]);
    const again = recorder();
    await pushImage(source, client, image, ref, { progress: again, sources });
    assert.equal(again.lines[1], `${layerId}: Layer already exists`);
    const mounted = recorder();
    await pushImage(source, client, image, parseNormalizedReference(`${reg.host}/team/copy:v1`), {
      progress: mounted,
      sources,
    });
    assert.equal(mounted.lines[1], `${layerId}: Mounted from team/app`);

    const puller = new RegistryClient(reg.host, { credentials: { username: 'bob', password: 'pw' } });
    const pulled = await pullImage(target, puller, parseNormalizedReference(`${reg.host}/team/copy:v1`));
    assert.equal(pulled.image.manifestDigest, image.manifestDigest);
    assert.equal(pulled.upToDate, false);
    assert.deepEqual(pulled.image.names, [`${reg.host}/team/copy:v1`]);
    const second = await pullImage(target, puller, parseNormalizedReference(`${reg.host}/team/copy:v1`));
    assert.equal(second.upToDate, true);
  });

  it('reports a pull-only user trying to push as denied', async () => {
    await makeImage(`${reg.host}/team/denied:v1`);
    const image = await source.resolve(`${reg.host}/team/denied:v1`);
    const client = new RegistryClient(reg.host, { credentials: { username: 'bob', password: 'pw' } });
    await assert.rejects(
      pushImage(source, client, image, parseNormalizedReference(`${reg.host}/team/denied:v1`)),
      (err: unknown) =>
        err instanceof RegistryClientError && err.registryCode === 'DENIED' && /denied/.test(err.message),
    );
  });

  it('deletes a tag, then its manifest, through the token flow; a pusher may not', async () => {
    const ref = parseNormalizedReference(`${reg.host}/team/old:v1`);
    await makeImage(`${reg.host}/team/old:v1`);
    const image = await source.resolve(`${reg.host}/team/old:v1`);
    const pusher = new RegistryClient(reg.host, { credentials: { username: 'alice', password: 'pw' } });
    await pushImage(source, pusher, image, ref);
    await assert.rejects(
      deleteManifest(pusher, 'team/old', 'v1'),
      (err: unknown) => err instanceof RegistryClientError && err.registryCode === 'DENIED',
    );
    const janitor = new RegistryClient(reg.host, { credentials: { username: 'carol', password: 'pw' } });
    assert.equal(await deleteManifest(janitor, 'team/old', 'v1'), true);
    assert.equal(await deleteManifest(janitor, 'team/old', 'v1'), false, 'a tag already gone');
    const byDigest = await janitor.request(`/v2/team/old/manifests/${image.manifestDigest}`, {
      method: 'HEAD',
      accept: [404],
      scopes: ['repository:team/old:pull'],
    });
    assert.equal(byDigest.status, 200, 'deleting the tag leaves the manifest');
    assert.equal(await deleteManifest(janitor, 'team/old', image.manifestDigest), true);
    const gone = await janitor.request(`/v2/team/old/manifests/${image.manifestDigest}`, {
      method: 'HEAD',
      accept: [404],
      scopes: ['repository:team/old:pull'],
    });
    assert.equal(gone.status, 404);
  });

  it('fails with UNAUTHORIZED on a wrong password', async () => {
    const client = new RegistryClient(reg.host, { credentials: { username: 'alice', password: 'nope' } });
    await assert.rejects(
      client.request('/v2/'),
      (err: unknown) => err instanceof RegistryClientError && err.status === 401,
    );
  });
});

describe('pull with unpack', () => {
  let reg: TestRegistry;
  let base = '';
  let source: ImageService;
  before(async () => {
    base = await mkdtemp(join(tmpdir(), 'paas-registry-unpack-'));
    reg = await testRegistry();
    source = await ImageService.open(imageRoots(join(base, 'a')));
  });
  after(async () => {
    await reg.dispose();
    await rm(base, { recursive: true, force: true });
  });

  /** A real tar.gz layer of one file, pushed as `name` with `diffId` (its own when undefined). */
  async function pushLayerImage(name: string, text: string, diffId?: Digest): Promise<Digest> {
    const dir = join(base, 'ctx', name.replace(/\W/g, '_'));
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'hello.txt'), text);
    const tar = execFileSync('tar', ['--sort=name', '-C', dir, '-cf', '-', 'hello.txt']);
    const layer = await source.content.writeBytes(gzipSync(tar));
    const own = digestOf(tar);
    const config: ImageConfig = {
      architecture: 'amd64',
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: [diffId ?? own] },
    };
    const image = await source.commit(
      config,
      [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layer }],
      name,
    );
    await pushImage(source, new RegistryClient(reg.host), image, parseNormalizedReference(name));
    return own;
  }

  it('unpacks each layer into its snapshot as it downloads', async () => {
    const diffId = await pushLayerImage(`${reg.host}/unpack/ok:1`, 'hello from the layer\n');
    const target = await ImageService.open(imageRoots(join(base, 'b')));
    const pulled = await pullImage(
      target,
      new RegistryClient(reg.host),
      parseNormalizedReference(`${reg.host}/unpack/ok:1`),
      {
        unpack: true,
      },
    );
    const [chainId] = chainIds([diffId]);
    assert.ok(chainId && (await target.snapshots.info(chainId)), 'the layer was unpacked by the pull');
    assert.equal(await readFile(join(target.snapshots.fsPath(chainId), 'hello.txt'), 'utf8'), 'hello from the layer\n');
    const [layer] = pulled.image.manifest.layers;
    assert.ok(layer && (await target.content.has(layer.digest)));
    assert.deepEqual(await target.unpack(pulled.image), [chainId]);
  });

  it('keeps no snapshot of a layer that does not match its diff id', async () => {
    const wrong = digestOf(Buffer.from('not this layer'));
    await pushLayerImage(`${reg.host}/unpack/lying:1`, 'lying layer\n', wrong);
    const target = await ImageService.open(imageRoots(join(base, 'c')));
    await assert.rejects(
      pullImage(target, new RegistryClient(reg.host), parseNormalizedReference(`${reg.host}/unpack/lying:1`), {
        unpack: true,
      }),
      /does not match its diff id/,
    );
    const left = (await readdir(imageRoots(join(base, 'c')).snapshots)).filter((n) => n !== 'lock');
    assert.deepEqual(left, []);
  });
});
