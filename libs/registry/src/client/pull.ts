/**
 * `pull`: manifest (an index resolves to the host's platform, linux/amd64 here), then the
 * config and layers, several at a time, each streamed into the content store with its
 * expected digest and size — a blob that does not hash right is never stored. Blobs already
 * in the store are not fetched again. The image is named with the reference the user typed
 * only once every blob is in. With `unpack`, each layer is also unpacked as it downloads.
 */
import { PassThrough, type Readable } from 'node:stream';
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

/**
 * Chunks (of the socket's size, ~64 KiB) each reader of a download may fall behind the other
 * by before the download waits. Object mode hands the socket's buffers on as they are: a byte
 * stream would concatenate what it holds on every read, copying each layer once more.
 */
const TEE_CHUNKS = 16;

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
  /**
   * Unpack each layer into its snapshot while it downloads (the config first, for the diff
   * ids), for a pull a container is about to run: the unpack, which would otherwise read every
   * blob back after the pull, overlaps the download. The blob and the snapshot each land
   * whole or not at all (the snapshot checked against its diff id).
   */
  readonly unpack?: boolean;
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
    const scopes = [`repository:${ref.path}:pull`];
    const fetchBlob = async (blob: Descriptor, unpackInto?: (stream: Readable) => Promise<unknown>): Promise<void> => {
      const isLayer = blob !== manifest.config;
      if (await images.content.has(blob.digest)) {
        if (isLayer) progress.layer({ digest: blob.digest, status: 'Already exists', done: true });
        return;
      }
      // a HEAD settles authentication; the body then streams over node:http
      await client.request(`/v2/${ref.path}/blobs/${blob.digest}`, { method: 'HEAD', scopes });
      const source = await client.download(`/v2/${ref.path}/blobs/${blob.digest}`, scopes);
      const counter = countingStream((current) => {
        if (isLayer) progress.layer({ digest: blob.digest, status: 'Downloading', current, total: blob.size });
      });
      const branches: PassThrough[] = [];
      const store = (): Readable => {
        if (!unpackInto) return counter;
        // one download, two readers: the content store and the unpack (pipe waits for the slower)
        const [toStore, toUnpack] = [
          new PassThrough({ objectMode: true, highWaterMark: TEE_CHUNKS }),
          new PassThrough({ objectMode: true, highWaterMark: TEE_CHUNKS }),
        ];
        branches.push(toStore, toUnpack);
        counter.pipe(toStore);
        counter.pipe(toUnpack);
        return toStore;
      };
      const stored = store();
      await Promise.all([
        pipeline(source, counter),
        images.content.write(stored, { digest: blob.digest, size: blob.size }),
        ...(unpackInto && branches[1] ? [unpackInto(branches[1])] : []),
      ]).catch((err: unknown) => {
        source.destroy();
        for (const b of branches) b.destroy();
        throw err;
      });
      if (isLayer) progress.layer({ digest: blob.digest, status: 'Pull complete', done: true });
    };
    let diffIds: Digest[] | undefined;
    if (options.unpack) {
      await fetchBlob(manifest.config);
      const config = await images.content.readJson<{ rootfs?: { diff_ids?: Digest[] } }>(manifest.config.digest);
      const ids = config.rootfs?.diff_ids;
      // a config that does not match its layers is refused later, by the unpack of the image
      if (ids?.length === manifest.layers.length) diffIds = ids;
    }
    const pending = diffIds
      ? manifest.layers.map((layer, i) => ({ layer, i }))
      : blobs.map((layer) => ({ layer, i: -1 }));
    await forEachLimit(pending, options.concurrency ?? 3, async ({ layer, i }) => {
      const ids = diffIds;
      await fetchBlob(
        layer,
        ids && i >= 0 ? (stream) => images.snapshots.unpackOne(ids, i, () => Promise.resolve(stream)) : undefined,
      );
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
