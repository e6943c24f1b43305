/**
 * `save` and `load`: image archives in the two formats people exchange.
 *
 * `save` writes one tar that is both an OCI image layout (oci-layout, index.json, blobs/) and
 * a docker-archive (manifest.json pointing at the same blobs), as Docker 25+ does, so
 * `docker load`, `skopeo ... docker-archive:` and `oci-archive:` all read it. Blobs are stored
 * as they are in the content store, so digests survive the round trip.
 *
 * `load` reads either format (and the older docker-archive with `<id>/layer.tar` and
 * `<id>.json`), plain or gzipped, in one streaming pass: blob entries go straight into the
 * content store, verified against the digest in their name; small JSON files are kept in
 * memory; nothing is ever written to the filesystem under a name taken from the archive.
 * Names are attached only after every image is complete, so a truncated or hostile archive
 * leaves no ref behind.
 */
import { once } from 'node:events';
import type { Readable, Writable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { TarReader, type TarHeader, TarWriter } from '@paas/layers';
import {
  Annotation,
  type Descriptor,
  type Digest,
  type ImageConfig,
  type ImageIndex,
  type ImageManifest,
  MediaType,
  digestHex,
  familiarString,
  isIndexType,
  parseDigest,
  parseNormalizedReference,
  parseReference,
} from '@paas/oci';
import type { Image, ImageService } from './service';
import { PaasError } from '@paas/errors';

export class ArchiveError extends PaasError {
  constructor(message: string) {
    super('invalid_params', message);
  }
}

/** Largest JSON member we keep in memory (manifests and configs are kilobytes). */
const MAX_JSON = 4 * 1024 * 1024;
const BLOB_PATH = /^blobs\/(sha256|sha512)\/([a-f0-9]+)$/;

interface DockerManifestEntry {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

// --- save -----------------------------------------------------------------------------

export async function saveImages(service: ImageService, refs: readonly string[], out: Writable): Promise<void> {
  const images: Array<{ image: Image; tags: string[] }> = [];
  for (const ref of refs) {
    const image = await service.resolve(ref);
    const named = image.names.find((n) => n === tryNormalize(ref));
    const tags = named ? [named] : ref.startsWith('sha256:') || /^[a-f0-9]{4,64}$/.test(ref) ? [] : image.names;
    const existing = images.find((i) => i.image.manifestDigest === image.manifestDigest);
    if (existing) existing.tags.push(...tags.filter((t) => !existing.tags.includes(t)));
    else images.push({ image, tags: [...tags] });
  }

  const writer = new TarWriter(async (chunk) => {
    if (!out.write(chunk)) await once(out, 'drain');
  });
  const dir = (name: string): Promise<void> => writer.add(header(name, 'dir', 0));
  const file = (name: string, data: Buffer): Promise<void> => writer.add(header(name, 'file', data.length), [data]);

  await dir('blobs/');
  await dir('blobs/sha256/');
  const written = new Set<Digest>();
  for (const { image } of images) {
    const manifest = await service.manifestDescriptor(image);
    for (const d of [manifest, image.manifest.config, ...image.manifest.layers]) {
      if (written.has(d.digest)) continue;
      written.add(d.digest);
      const info = await service.content.info(d.digest);
      if (!info) throw new ArchiveError(`blob ${d.digest} of ${image.id} is missing from the content store`);
      await writer.add(
        header(`blobs/sha256/${digestHex(d.digest)}`, 'file', info.size),
        await service.content.createReadStream(d.digest),
      );
    }
  }

  const index: ImageIndex = { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [] };
  const dockerManifest: DockerManifestEntry[] = [];
  for (const { image, tags } of images) {
    const manifest = await service.manifestDescriptor(image);
    const names = tags.length ? tags : [undefined];
    for (const name of names) {
      index.manifests.push({
        ...manifest,
        ...(name
          ? {
              annotations: { [Annotation.imageName]: name, [Annotation.refName]: parseReference(name).tag ?? 'latest' },
            }
          : {}),
      });
    }
    dockerManifest.push({
      Config: `blobs/sha256/${digestHex(image.manifest.config.digest)}`,
      RepoTags: tags.map((t) => familiarString(parseReference(t))),
      Layers: image.manifest.layers.map((l) => `blobs/sha256/${digestHex(l.digest)}`),
    });
  }
  await file('index.json', Buffer.from(JSON.stringify(index)));
  await file('manifest.json', Buffer.from(JSON.stringify(dockerManifest)));
  await file('oci-layout', Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' })));
  await writer.finish();
}

function header(name: string, type: 'file' | 'dir', size: number): TarHeader {
  return {
    name,
    type,
    mode: type === 'dir' ? 0o755 : 0o644,
    uid: 0,
    gid: 0,
    size,
    mtime: 0,
    linkname: '',
    devmajor: 0,
    devminor: 0,
    xattrs: new Map(),
  };
}

function tryNormalize(ref: string): string | undefined {
  try {
    const r = parseNormalizedReference(ref);
    return `${r.domain}/${r.path}${r.tag ? `:${r.tag}` : ''}`;
  } catch {
    return undefined;
  }
}

// --- load -----------------------------------------------------------------------------

export interface LoadedImage {
  readonly image: Image;
  /** Familiar names given to it (`busybox:latest`); empty for an untagged image. */
  readonly tags: string[];
}

export async function loadImages(service: ImageService, input: Readable): Promise<LoadedImage[]> {
  const lease = await service.content.lease();
  try {
    const members = await readArchive(service, await decompressed(input), (root) => lease.add(root));
    const images =
      members.json.has('manifest.json') && !members.json.has('index.json')
        ? await fromDockerArchive(service, members)
        : members.json.has('index.json')
          ? await fromOciLayout(service, members)
          : [];
    if (images.length === 0)
      throw new ArchiveError('no manifest.json or index.json in the archive: not an image archive');
    const loaded: LoadedImage[] = [];
    for (const { manifest, names } of images) {
      const descriptor: Descriptor = { mediaType: manifest.mediaType, digest: manifest.digest, size: manifest.size };
      for (const name of names) await service.refs.set(name, descriptor);
      if (names.length === 0) await service.refs.addDangling(descriptor);
      const image = await service.load(manifest.digest, names);
      if (!image) throw new ArchiveError(`image ${manifest.digest} cannot be read back`);
      loaded.push({ image, tags: names.map((n) => familiarString(parseReference(n))) });
    }
    return loaded;
  } finally {
    await lease.release();
  }
}

interface Members {
  /** Blob digest of each member stored in the content store, by member path. */
  readonly blobs: Map<string, Digest>;
  readonly json: Map<string, Buffer>;
  /** Symlinks between members (old docker-archives link duplicate layers). */
  readonly links: Map<string, string>;
}

async function decompressed(input: Readable): Promise<AsyncIterable<Buffer>> {
  const iterator = input[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const first = await iterator.next();
  if (first.done) throw new ArchiveError('the archive is empty');
  async function* replay(): AsyncGenerator<Buffer> {
    yield first.value;
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield next.value;
  }
  if (first.value[0] === 0x1f && first.value[1] === 0x8b) {
    const gunzip = createGunzip();
    void (async () => {
      try {
        for await (const chunk of replay()) if (!gunzip.write(chunk)) await once(gunzip, 'drain');
        gunzip.end();
      } catch (err) {
        gunzip.destroy(err as Error);
      }
    })();
    return gunzip;
  }
  return replay();
}

async function readArchive(
  service: ImageService,
  source: AsyncIterable<Buffer>,
  protect: (root: { digest: Digest; mediaType: string }) => Promise<void>,
): Promise<Members> {
  const members: Members = { blobs: new Map(), json: new Map(), links: new Map() };
  const reader = new TarReader(source);
  for await (const entry of reader.entries()) {
    const name = entry.header.name.replace(/^(\.\/)+/, '').replace(/\/+$/, '');
    if (entry.header.type === 'symlink' || entry.header.type === 'hardlink') {
      members.links.set(name, entry.header.linkname);
      continue;
    }
    if (entry.header.type !== 'file') continue;
    const blob = BLOB_PATH.exec(name);
    if (blob) {
      const digest = parseDigest(`${blob[1]}:${blob[2]}`);
      await service.content.write(entry.body(), { digest, size: entry.header.size });
      await protect({ digest, mediaType: 'application/octet-stream' });
      members.blobs.set(name, digest);
    } else if (name.endsWith('.tar')) {
      const stored = await service.content.write(entry.body(), { size: entry.header.size });
      await protect({ digest: stored.digest, mediaType: MediaType.ociLayer });
      members.blobs.set(name, stored.digest);
    } else if (/^(manifest\.json|index\.json|oci-layout|repositories|[^/]+\.json)$/.test(name)) {
      if (entry.header.size > MAX_JSON)
        throw new ArchiveError(`${name} is ${entry.header.size} bytes; refusing more than ${MAX_JSON}`);
      const chunks: Buffer[] = [];
      for await (const chunk of entry.body()) chunks.push(chunk);
      members.json.set(name, Buffer.concat(chunks));
    }
  }
  return members;
}

function parseJson<T>(members: Members, name: string): T {
  const data = members.json.get(name);
  if (!data) throw new ArchiveError(`${name} is missing from the archive`);
  try {
    return JSON.parse(data.toString('utf8')) as T;
  } catch (err) {
    throw new ArchiveError(`${name} is not valid JSON: ${(err as Error).message}`);
  }
}

interface Resolved {
  readonly manifest: Descriptor;
  /** Full references to attach. */
  readonly names: string[];
}

async function fromOciLayout(service: ImageService, members: Members): Promise<Resolved[]> {
  const index = parseJson<ImageIndex>(members, 'index.json');
  if (!Array.isArray(index.manifests)) throw new ArchiveError('index.json: manifests is not an array');
  const byDigest = new Map<Digest, Resolved>();
  for (const entry of index.manifests) {
    let descriptor = { ...entry, digest: parseDigest(entry.digest) };
    if (isIndexType(descriptor.mediaType)) descriptor = await pickPlatform(service, descriptor);
    await checkComplete(service, descriptor.digest);
    const name = entry.annotations?.[Annotation.imageName] ?? fullName(entry.annotations?.[Annotation.refName]);
    const resolved = byDigest.get(descriptor.digest) ?? { manifest: descriptor, names: [] };
    if (name && !resolved.names.includes(name)) resolved.names.push(name);
    byDigest.set(descriptor.digest, resolved);
  }
  return [...byDigest.values()];
}

/** A ref.name that is a whole reference names the image; a bare tag ("latest") does not. */
function fullName(refName: string | undefined): string | undefined {
  if (!refName || !/[/:]/.test(refName)) return undefined;
  const n = tryNormalize(refName);
  return n;
}

async function pickPlatform(service: ImageService, index: Descriptor): Promise<Descriptor> {
  const doc = await service.content.readJson<ImageIndex>(index.digest);
  const arch = process.arch === 'x64' ? 'amd64' : process.arch;
  const match =
    doc.manifests.find((m) => m.platform?.os === 'linux' && m.platform.architecture === arch) ?? doc.manifests[0];
  if (!match) throw new ArchiveError(`index ${index.digest} lists no manifests`);
  return match;
}

async function checkComplete(service: ImageService, manifestDigest: Digest): Promise<void> {
  if (!(await service.content.has(manifestDigest)))
    throw new ArchiveError(`manifest ${manifestDigest} is missing from the archive`);
  const manifest = await service.content.readJson<ImageManifest>(manifestDigest);
  if (!manifest.config?.digest || !Array.isArray(manifest.layers))
    throw new ArchiveError(`manifest ${manifestDigest} is not an image manifest`);
  for (const d of [manifest.config, ...manifest.layers]) {
    if (!(await service.content.has(parseDigest(d.digest))))
      throw new ArchiveError(`blob ${d.digest} is missing from the archive`);
  }
  const config = await service.content.readJson<ImageConfig>(manifest.config.digest);
  if (config.rootfs?.diff_ids?.length !== manifest.layers.length) {
    throw new ArchiveError(
      `image ${manifest.config.digest}: ${config.rootfs?.diff_ids?.length ?? 0} diff ids for ${manifest.layers.length} layers`,
    );
  }
}

async function fromDockerArchive(service: ImageService, members: Members): Promise<Resolved[]> {
  const entries = parseJson<DockerManifestEntry[]>(members, 'manifest.json');
  if (!Array.isArray(entries)) throw new ArchiveError('manifest.json is not a list');
  const resolved: Resolved[] = [];
  for (const [i, entry] of entries.entries()) {
    if (typeof entry.Config !== 'string' || !Array.isArray(entry.Layers)) {
      throw new ArchiveError(`manifest.json[${i}]: needs Config and Layers`);
    }
    const configBlob =
      members.blobs.get(entry.Config) ??
      (members.json.has(entry.Config)
        ? (await service.content.writeBytes(members.json.get(entry.Config) as Buffer)).digest
        : undefined);
    if (!configBlob) throw new ArchiveError(`manifest.json[${i}]: config ${entry.Config} is missing from the archive`);
    const layers: Descriptor[] = [];
    for (const path of entry.Layers) {
      const digest = members.blobs.get(path) ?? members.blobs.get(resolveLink(members, path));
      if (!digest) throw new ArchiveError(`manifest.json[${i}]: layer ${path} is missing from the archive`);
      const info = await service.content.info(digest);
      layers.push({ mediaType: await layerMediaType(service, digest), digest, size: info?.size ?? 0 });
    }
    const configInfo = await service.content.info(configBlob);
    const manifest: ImageManifest = {
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: { mediaType: MediaType.ociConfig, digest: configBlob, size: configInfo?.size ?? 0 },
      layers,
    };
    const stored = await service.content.writeBytes(JSON.stringify(manifest));
    await checkComplete(service, stored.digest);
    const names = (entry.RepoTags ?? []).map((t) => {
      const n = tryNormalize(t);
      if (!n) throw new ArchiveError(`manifest.json[${i}]: invalid tag ${JSON.stringify(t)}`);
      return n;
    });
    resolved.push({ manifest: { mediaType: MediaType.ociManifest, ...stored }, names });
  }
  return resolved;
}

function resolveLink(members: Members, path: string): string {
  const target = members.links.get(path);
  if (!target) return path;
  const base = path.split('/').slice(0, -1);
  for (const part of target.split('/')) {
    if (part === '..') base.pop();
    else if (part !== '.' && part !== '') base.push(part);
  }
  return base.join('/');
}

async function layerMediaType(service: ImageService, digest: Digest): Promise<string> {
  const stream = await service.content.createReadStream(digest, { start: 0, end: 1 });
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  const head = Buffer.concat(chunks);
  if (head[0] === 0x1f && head[1] === 0x8b) return MediaType.ociLayerGzip;
  if (head[0] === 0x28 && head[1] === 0xb5) return MediaType.ociLayerZstd;
  return MediaType.ociLayer;
}
