/**
 * `pull`: manifest (an index resolves to the host's platform, linux/amd64 here), then the
 * config and layers, several at a time, each streamed into the content store with its
 * expected digest and size — a blob that does not hash right is never stored. Blobs already
 * in the store are not fetched again. The image is named with the reference the user typed
 * only once every blob is in.
 */
import { pipeline } from 'node:stream/promises';
import type { Root } from '@paas/content';
import { type Image, type ImageService, goArch } from '@paas/images';
import {
  type Descriptor,
  type Digest,
  type ImageIndex,
  type ImageManifest,
  MediaType,
  type Reference,
  digestAlgorithm,
  digestOf,
  formatReference,
  isIndexType,
  isManifestType,
} from '@paas/oci';
import { type RegistryClient, RegistryClientError } from './client';
import { type ProgressSink, countingStream, forEachLimit, silentProgress } from './progress';
import type { BlobSources } from './sources';

export const MANIFEST_ACCEPT = [
  MediaType.ociIndex,
  MediaType.ociManifest,
  MediaType.dockerManifestList,
  MediaType.dockerManifest,
].join(', ');

export interface PullOptions {
  readonly progress?: ProgressSink;
  readonly concurrency?: number;
  readonly sources?: BlobSources;
  readonly platform?: { os: string; architecture: string };
}

export interface PullResult {
  readonly image: Image;
  /** The digest the registry names the reference by (the index's when it was an index). */
  readonly digest: Digest;
  /** The image was already there under this name. */
  readonly upToDate: boolean;
}

export async function fetchManifest(
  client: RegistryClient,
  repository: string,
  reference: string,
): Promise<{ bytes: Buffer; mediaType: string; digest: Digest }> {
  const res = await client.request(`/v2/${repository}/manifests/${reference}`, {
    headers: { Accept: MANIFEST_ACCEPT },
    scopes: [`repository:${repository}:pull`],
  });
  const bytes = Buffer.from(await res.arrayBuffer());
  const header = res.headers.get('docker-content-digest');
  const byDigest = reference.includes(':');
  const digest = digestOf(bytes, byDigest ? digestAlgorithm(reference as Digest) : 'sha256');
  if ((byDigest && digest !== reference) || (header?.startsWith('sha256:') && !byDigest && header !== digest)) {
    throw new RegistryClientError(0, 'DIGEST_INVALID', `manifest ${reference}: content does not match its digest`);
  }
  const body = JSON.parse(bytes.toString('utf8')) as { mediaType?: string; manifests?: unknown };
  const mediaType =
    body.mediaType ??
    res.headers.get('content-type')?.split(';')[0] ??
    (body.manifests ? MediaType.ociIndex : MediaType.ociManifest);
  return { bytes, mediaType, digest };
}

export async function pullImage(
  images: ImageService,
  client: RegistryClient,
  ref: Reference,
  options: PullOptions = {},
): Promise<PullResult> {
  const progress = options.progress ?? silentProgress;
  const platform = options.platform ?? { os: 'linux', architecture: goArch() };
  const reference = ref.digest ?? ref.tag ?? 'latest';
  progress.message(`${ref.tag ?? reference}: Pulling from ${ref.path}`);

  let top = await fetchManifest(client, ref.path, reference);
  const digest = top.digest;
  const kept: Array<{ bytes: Buffer; digest: Digest }> = [];
  if (isIndexType(top.mediaType)) {
    const index = JSON.parse(top.bytes.toString('utf8')) as ImageIndex;
    const match = index.manifests.find(
      (m) =>
        isManifestType(m.mediaType) &&
        m.platform?.os === platform.os &&
        m.platform.architecture === platform.architecture,
    );
    if (!match) {
      throw new RegistryClientError(
        0,
        'MANIFEST_UNKNOWN',
        `no matching manifest for ${platform.os}/${platform.architecture} in the manifest list entries`,
      );
    }
    top = await fetchManifest(client, ref.path, match.digest);
  }
  if (!isManifestType(top.mediaType)) {
    throw new RegistryClientError(0, 'MANIFEST_INVALID', `unsupported manifest type ${top.mediaType}`);
  }
  kept.push({ bytes: top.bytes, digest: top.digest });
  const manifest = JSON.parse(top.bytes.toString('utf8')) as ImageManifest;

  const name =
    ref.tag !== undefined ? formatReference({ domain: ref.domain, path: ref.path, tag: ref.tag }) : undefined;
  const existing = name ? await images.refs.get(name) : undefined;
  const lease = await images.content.lease();
  try {
    const blobs: Descriptor[] = [manifest.config, ...manifest.layers];
    await lease.add(...blobs.map((b): Root => ({ digest: b.digest, mediaType: b.mediaType })));
    for (const layer of manifest.layers) progress.layer({ digest: layer.digest, status: 'Waiting' });
    await forEachLimit(blobs, options.concurrency ?? 3, async (blob) => {
      const isLayer = blob !== manifest.config;
      if (await images.content.has(blob.digest)) {
        if (isLayer) progress.layer({ digest: blob.digest, status: 'Already exists', done: true });
        return;
      }
      const scopes = [`repository:${ref.path}:pull`];
      // a HEAD settles authentication; the body then streams over node:http
      await client.request(`/v2/${ref.path}/blobs/${blob.digest}`, { method: 'HEAD', scopes });
      const source = await client.download(`/v2/${ref.path}/blobs/${blob.digest}`, scopes);
      const counter = countingStream((current) => {
        if (isLayer) progress.layer({ digest: blob.digest, status: 'Downloading', current, total: blob.size });
      });
      await Promise.all([
        pipeline(source, counter),
        images.content.write(counter, { digest: blob.digest, size: blob.size }),
      ]).catch((err: unknown) => {
        source.destroy();
        throw err;
      });
      if (isLayer) progress.layer({ digest: blob.digest, status: 'Pull complete', done: true });
    });
    for (const k of kept) await images.content.writeBytes(k.bytes, { digest: k.digest });
    const descriptor: Descriptor = {
      mediaType: top.mediaType,
      digest: top.digest,
      size: top.bytes.length,
    };
    if (name) await images.refs.set(name, descriptor);
    else await images.refs.addDangling(descriptor);
    await options.sources?.record(
      `${ref.domain}/${ref.path}`,
      blobs.map((b) => b.digest),
    );
  } finally {
    await lease.release();
  }
  const image = await images.load(top.digest, name ? [name] : []);
  if (!image) throw new Error(`pulled image ${top.digest} cannot be read back`);
  progress.message(`Digest: ${digest}`);
  return { image, digest, upToDate: existing?.digest === top.digest };
}
