/**
 * `push`: each blob of the image (layers and config, several at a time) is first asked for
 * with HEAD and skipped when the repository has it; else mounted from another repository of
 * the same registry that we know holds it; else uploaded (POST for a session, then one PUT
 * streaming the blob). The manifest goes last, byte for byte as stored, so the registry's
 * digest is ours.
 */
import type { Image, ImageService } from '@paas/images';
import { type Descriptor, type Digest, MediaType, type Reference } from '@paas/oci';
import { type RegistryClient, RegistryClientError } from './client';
import { type ProgressSink, countingStream, forEachLimit, silentProgress } from './progress';
import type { BlobSources } from './sources';

export interface PushOptions {
  readonly progress?: ProgressSink;
  readonly concurrency?: number;
  readonly sources?: BlobSources;
}

export interface PushResult {
  readonly digest: Digest;
  readonly size: number;
  readonly tag: string;
}

export async function pushImage(
  images: ImageService,
  client: RegistryClient,
  image: Image,
  ref: Reference,
  options: PushOptions = {},
): Promise<PushResult> {
  const progress = options.progress ?? silentProgress;
  const repo = ref.path;
  const scope = `repository:${repo}:pull,push`;
  const tag = ref.tag ?? 'latest';
  progress.message(`The push refers to repository [${ref.domain}/${repo}]`);
  const blobs: Descriptor[] = [...image.manifest.layers, image.manifest.config];
  for (const b of image.manifest.layers) progress.layer({ digest: b.digest, status: 'Preparing' });

  await forEachLimit(blobs, options.concurrency ?? 3, async (blob) => {
    const isLayer = blob !== image.manifest.config;
    const say = (status: string, extra: { current?: number; total?: number; done?: boolean } = {}): void => {
      if (isLayer) progress.layer({ digest: blob.digest, status, ...extra });
    };
    const head = await client.request(`/v2/${repo}/blobs/${blob.digest}`, {
      method: 'HEAD',
      scopes: [scope],
      accept: [404],
    });
    if (head.status === 200) {
      say('Layer already exists', { done: true });
      return;
    }
    for (const from of (await options.sources?.on(ref.domain, blob.digest)) ?? []) {
      if (from === repo) continue;
      const res = await client.request(
        `/v2/${repo}/blobs/uploads/?mount=${encodeURIComponent(blob.digest)}&from=${encodeURIComponent(from)}`,
        { method: 'POST', scopes: [scope, `repository:${from}:pull`], accept: [401, 403, 404] },
      );
      if (res.status === 201) {
        say(`Mounted from ${from}`, { done: true });
        return;
      }
      // 202: the registry opened an upload session instead; use it
      if (res.status === 202) {
        await upload(res.headers.get('location'), blob, say);
        return;
      }
    }
    const start = await client.request(`/v2/${repo}/blobs/uploads/`, { method: 'POST', scopes: [scope] });
    await upload(start.headers.get('location'), blob, say);
  });

  async function upload(
    location: string | null,
    blob: Descriptor,
    say: (status: string, extra?: { current?: number; total?: number; done?: boolean }) => void,
  ): Promise<void> {
    if (!location) throw new RegistryClientError(0, 'BLOB_UPLOAD_INVALID', 'upload session without Location');
    const url = new URL(location, client.baseUrl);
    url.searchParams.set('digest', blob.digest);
    const counter = countingStream((current) => say('Pushing', { current, total: blob.size }));
    const source = await images.content.createReadStream(blob.digest);
    source.on('error', (e) => counter.destroy(e));
    await client.upload(
      url.toString(),
      [scope],
      { 'Content-Type': 'application/octet-stream', 'Content-Length': String(blob.size) },
      source.pipe(counter),
    );
    say('Pushed', { done: true });
  }

  const bytes = await images.content.readBytes(image.manifestDigest);
  const res = await client.request(`/v2/${repo}/manifests/${tag}`, {
    method: 'PUT',
    scopes: [scope],
    headers: { 'Content-Type': image.manifest.mediaType ?? MediaType.ociManifest },
    body: bytes,
  });
  const digest = (res.headers.get('docker-content-digest') ?? image.manifestDigest) as Digest;
  if (digest !== image.manifestDigest) {
    throw new RegistryClientError(
      0,
      'DIGEST_INVALID',
      `registry stored manifest as ${digest}, not ${image.manifestDigest}`,
    );
  }
  await options.sources?.record(
    `${ref.domain}/${repo}`,
    blobs.map((b) => b.digest),
  );
  progress.message(`${tag}: digest: ${digest} size: ${bytes.length}`);
  return { digest, size: bytes.length, tag };
}
