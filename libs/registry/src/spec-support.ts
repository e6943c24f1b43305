/** Helpers for the registry specs: a server on a temporary root and port 0, and small requests. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Digest, MediaType, digestOf } from '@paas/oci';
import { type RegistryServerOptions, type RunningRegistry, startRegistry } from './server/start';

export interface TestRegistry extends RunningRegistry {
  readonly root: string;
  dispose(): Promise<void>;
}

export async function testRegistry(options: Partial<RegistryServerOptions> = {}): Promise<TestRegistry> {
  const root = options.root ?? (await mkdtemp(join(tmpdir(), 'paas-registry-')));
  const registry = await startRegistry({ listen: { host: '127.0.0.1', port: 0 }, ...options, root });
  return {
    ...registry,
    root,
    dispose: async () => {
      await registry.close();
      if (!options.root) await rm(root, { recursive: true, force: true });
    },
  };
}

export async function errorCode(res: Response): Promise<string | undefined> {
  const body = (await res.json()) as { errors?: Array<{ code: string }> };
  return body.errors?.[0]?.code;
}

/** Pushes a blob monolithically; resolves to its digest. */
export async function putBlob(
  url: string,
  name: string,
  data: Buffer,
  headers: Record<string, string> = {},
): Promise<Digest> {
  const digest = digestOf(data);
  const res = await fetch(`${url}/v2/${name}/blobs/uploads/?digest=${digest}`, { method: 'POST', body: data, headers });
  if (res.status !== 201) throw new Error(`push blob: ${res.status} ${await res.text()}`);
  return digest;
}

/** A small image (config + one layer) pushed to `name`; resolves to the manifest and its bytes. */
export async function putImage(
  url: string,
  name: string,
  tag: string,
  extra: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Promise<{ digest: Digest; bytes: Buffer; config: Digest; layer: Digest }> {
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }),
  );
  const layer = Buffer.from(`layer of ${name}:${tag}`);
  const configDigest = await putBlob(url, name, config, headers);
  const layerDigest = await putBlob(url, name, layer, headers);
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: { mediaType: MediaType.ociConfig, digest: configDigest, size: config.length },
    layers: [{ mediaType: MediaType.ociLayerGzip, digest: layerDigest, size: layer.length }],
    ...extra,
  };
  const bytes = Buffer.from(JSON.stringify(manifest));
  const res = await fetch(`${url}/v2/${name}/manifests/${tag}`, {
    method: 'PUT',
    body: bytes,
    headers: { 'Content-Type': MediaType.ociManifest, ...headers },
  });
  if (res.status !== 201) throw new Error(`push manifest: ${res.status} ${await res.text()}`);
  return { digest: digestOf(bytes), bytes, config: configDigest, layer: layerDigest };
}
