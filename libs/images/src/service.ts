/**
 * Images over the content store, the snapshots and the refs: resolve names and ids, tag,
 * remove, commit new images, unpack them for containers, history, prune and GC.
 *
 * An image's id is its config digest, as Docker shows it; its manifest digest is the
 * "RepoDigest". Everything an image is (manifest, config, layers) lives in the content
 * store; the refs only point at manifests.
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { finished } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { type BlobInfo, ContentStore, collectGarbage, ensureDirMode } from '@paas/content';
import { tarDirectory } from '@paas/layers';
import {
  type Descriptor,
  type Digest,
  Digester,
  type History,
  type ImageConfig,
  type ImageManifest,
  MediaType,
  type Reference,
  digestHex,
  formatReference,
  isIndexType,
  isManifestType,
  parseNormalizedReference,
} from '@paas/oci';
import { type LayerSource, SnapshotStore, chainIds } from '@paas/snapshots';
import { AmbiguousImageError, ImageConflictError, ImageNotFoundError } from './errors';
import { type RefEntry, RefStore } from './refs';
import { isParentOf } from './lineage';

/** One image as the store knows it, with every name that points at it. */
export interface Image {
  readonly id: Digest;
  readonly manifestDigest: Digest;
  readonly manifest: ImageManifest;
  readonly config: ImageConfig;
  /** Full references pointing at it, e.g. `docker.io/library/busybox:latest`. */
  readonly names: string[];
}

export interface ImageSummary extends Image {
  /** Sum of the compressed layer sizes + config + manifest (what `images` shows as SIZE). */
  readonly size: number;
  /** Part of `size` in layers that other images also use. */
  readonly sharedSize: number;
  readonly created: string | undefined;
}

export interface RemoveResult {
  readonly untagged: string[];
  readonly deleted: Digest[];
}

export interface PaasImageRoots {
  readonly content: string;
  readonly snapshots: string;
  readonly images: string;
}

/** The standard layout under PAAS_ROOT (DESIGN.md "On disk"). */
export function imageRoots(paasRoot: string): PaasImageRoots {
  return {
    content: join(paasRoot, 'content'),
    snapshots: join(paasRoot, 'snapshots'),
    images: join(paasRoot, 'images'),
  };
}

export interface RemoveOptions {
  readonly force?: boolean;
  /** Ids of images that containers use; such images are not deleted without force. */
  readonly inUse?: ReadonlySet<Digest>;
  /**
   * The untagged parents it was built on go with it, closest first, as long as no other image
   * was built on them and no container uses them (Docker's rmi without --no-prune).
   */
  readonly prune?: boolean;
}

/**
 * Manifests and configs this process parsed, by digest. A blob's digest fixes its bytes, so an
 * entry is right as long as the blob is still there (asked each time: a stat, where reading,
 * verifying and parsing it again made every `resolve`, three per instance an agent starts,
 * cost a read of every image on the node). Frozen: every caller shares them. At most
 * BLOB_CACHE entries, the oldest dropped first.
 */
const BLOB_CACHE = 512;

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

export class ImageService {
  private readonly parsed = new Map<Digest, unknown>();

  private constructor(
    readonly content: ContentStore,
    readonly snapshots: SnapshotStore,
    readonly refs: RefStore,
  ) {}

  static async open(roots: PaasImageRoots): Promise<ImageService> {
    await ensureDirMode(roots.images);
    const [content, snapshots] = await Promise.all([
      ContentStore.open(roots.content),
      SnapshotStore.open(roots.snapshots),
    ]);
    return new ImageService(content, snapshots, new RefStore(roots.images));
  }

  /** Every image, once each, with its names. */
  async list(): Promise<Image[]> {
    const byManifest = new Map<Digest, RefEntry[]>();
    for (const entry of await this.refs.list()) {
      byManifest.set(entry.manifest.digest, [...(byManifest.get(entry.manifest.digest) ?? []), entry]);
    }
    const images: Image[] = [];
    for (const [digest, entries] of byManifest) {
      const image = await this.load(
        digest,
        entries.flatMap((e) => (e.name ? [e.name] : [])),
      );
      if (image) images.push(image);
    }
    return images;
  }

  /** `images`: each image with SIZE and SHARED SIZE as Docker computes them. */
  async summaries(): Promise<ImageSummary[]> {
    const images = await this.list();
    const users = new Map<Digest, number>();
    for (const image of images)
      for (const l of new Set(image.manifest.layers.map((x) => x.digest))) users.set(l, (users.get(l) ?? 0) + 1);
    return images.map((image) => {
      let size = image.manifest.config.size;
      let sharedSize = 0;
      for (const layer of image.manifest.layers) {
        size += layer.size;
        if ((users.get(layer.digest) ?? 0) > 1) sharedSize += layer.size;
      }
      return { ...image, size, sharedSize, created: image.config.created };
    });
  }

  /**
   * Finds an image by name (`busybox`, `busybox:1.36`, `host:5000/a@sha256:...`), by full id
   * (`sha256:<hex>`) or by an id prefix of at least 4 hex digits, as Docker does.
   */
  async resolve(nameOrId: string): Promise<Image> {
    const hex = nameOrId.startsWith('sha256:') ? nameOrId.slice(7) : nameOrId;
    if (/^[a-f0-9]{4,64}$/.test(hex)) {
      const matches = (await this.list()).filter(
        (i) => digestHex(i.id).startsWith(hex) || digestHex(i.manifestDigest) === hex,
      );
      if (matches.length > 1 && !matches.every((m) => m.id === matches[0]?.id)) throw new AmbiguousImageError(nameOrId);
      if (matches[0]) return matches[0];
    }
    let ref: Reference;
    try {
      ref = parseNormalizedReference(nameOrId);
    } catch {
      throw new ImageNotFoundError(nameOrId);
    }
    // A name or digest is looked up in the refs and only its image is read: an agent resolves
    // each instance's image a few times per start, and reading every image each time was a
    // measurable part of a 1,000-instance scale-up.
    const entries = await this.refs.list();
    const name = ref.digest ? undefined : formatReference(ref);
    const digest = entries.find((e) => (ref.digest ? e.manifest.digest === ref.digest : e.name === name))?.manifest
      .digest;
    const found =
      digest &&
      (await this.load(
        digest,
        entries.flatMap((e) => (e.manifest.digest === digest && e.name ? [e.name] : [])),
      ));
    if (!found) throw new ImageNotFoundError(nameOrId);
    return found;
  }

  /** `tag SOURCE TARGET` */
  async tag(source: string, target: string): Promise<void> {
    const image = await this.resolve(source);
    const ref = parseNormalizedReference(target);
    if (ref.digest) throw new ImageConflictError(`refusing to create a tag with a digest reference: ${target}`);
    await this.refs.set(formatReference(ref), await this.manifestDescriptor(image));
  }

  /**
   * `rmi`: by name, removes that name and deletes the image when it was the last one; by id,
   * deletes the image and all its names (refusing, without force, when it has several names
   * or when a container uses it).
   */
  async remove(nameOrId: string, options: RemoveOptions = {}): Promise<RemoveResult> {
    const image = await this.resolve(nameOrId);
    const inUse = options.inUse?.has(image.id) ?? false;
    const byName = image.names.find((n) => n === formatReferenceOrUndefined(nameOrId));
    const untagged: string[] = [];
    if (byName && image.names.length > 1) {
      await this.refs.delete(byName);
      return { untagged: [byName], deleted: [] };
    }
    if (!byName && image.names.length > 1 && !options.force) {
      throw new ImageConflictError(
        `unable to delete ${digestHex(image.id).slice(0, 12)} (must be forced) - image is referenced in multiple repositories`,
      );
    }
    if (inUse && !options.force) {
      throw new ImageConflictError(
        `unable to remove repository reference "${nameOrId}" (must force) - container is using its referenced image ${digestHex(image.id).slice(0, 12)}`,
      );
    }
    untagged.push(...image.names);
    if (inUse) {
      // forced while in use: Docker untags but keeps the image for the container
      for (const name of image.names) await this.refs.delete(name);
      await this.refs.addDangling(await this.manifestDescriptor(image));
      return { untagged, deleted: [] };
    }
    await this.refs.deleteManifest(image.manifestDigest);
    const deleted: Digest[] = [image.id];
    if (options.prune) deleted.push(...(await this.removeParents(image, options.inUse)));
    return { untagged, deleted };
  }

  /** The untagged parents of a removed image that nothing else builds on, closest first; their ids. */
  private async removeParents(removed: Image, inUse?: ReadonlySet<Digest>): Promise<Digest[]> {
    let left = await this.list();
    const steps = (image: Image): number => image.config.history?.length ?? 0;
    const parents = left
      .filter((p) => p.names.length === 0 && isParentOf(p, removed) && !inUse?.has(p.id))
      .sort((a, b) => steps(b) - steps(a));
    const deleted: Digest[] = [];
    for (const parent of parents) {
      // another image built on it keeps it, and everything it was built on
      if (left.some((other) => isParentOf(parent, other))) break;
      await this.refs.deleteManifest(parent.manifestDigest);
      deleted.push(parent.id);
      left = left.filter((image) => image.id !== parent.id);
    }
    return deleted;
  }

  /** Stores a config and a manifest for layers already in the content store; names it if asked. */
  async commit(config: ImageConfig, layers: Descriptor[], name?: string): Promise<Image> {
    const configBlob = await this.content.writeBytes(JSON.stringify(config));
    const manifest: ImageManifest = {
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: { mediaType: MediaType.ociConfig, ...configBlob },
      layers,
    };
    const manifestBlob = await this.content.writeBytes(JSON.stringify(manifest));
    const descriptor: Descriptor = { mediaType: MediaType.ociManifest, ...manifestBlob };
    if (name) await this.refs.set(formatReference(parseNormalizedReference(name)), descriptor);
    else await this.refs.addDangling(descriptor);
    const image = await this.load(manifestBlob.digest, name ? [formatReference(parseNormalizedReference(name))] : []);
    if (!image) throw new Error(`committed image ${manifestBlob.digest} cannot be read back`);
    return image;
  }

  /** Packs a directory into one layer in the content store (gzip), e.g. a base image's rootfs. */
  async layerFromDirectory(
    dir: string,
    options: { fixedMtime?: Date } = {},
  ): Promise<{ descriptor: Descriptor; diffId: Digest }> {
    const pipe = new PassThrough();
    const [layer, blob] = await Promise.all([
      tarDirectory(dir, pipe, { compression: 'gzip', ...options }),
      this.content.write(pipe),
    ]);
    if (layer.digest !== blob.digest) throw new Error(`layer digest ${layer.digest} != stored ${blob.digest}`);
    return { descriptor: { mediaType: layer.mediaType, digest: blob.digest, size: blob.size }, diffId: layer.diffId };
  }

  /**
   * Stores a root filesystem tarball (plain or gzip) as a gzip layer, computing its diff id.
   * Its entries are checked when the layer is unpacked, like any layer's.
   */
  async layerFromTarball(path: string): Promise<{ descriptor: Descriptor; diffId: Digest }> {
    const head = Buffer.alloc(2);
    const fh = await open(path, 'r');
    try {
      await fh.read(head, 0, 2, 0);
    } finally {
      await fh.close();
    }
    const gzipped = head[0] === 0x1f && head[1] === 0x8b;
    const diff = new Digester();
    const raw = createReadStream(path);
    const plain = gzipped ? raw.pipe(createGunzip()) : raw;
    plain.on('data', (chunk: Buffer) => diff.update(chunk));
    const blob = gzipped
      ? await Promise.all([this.content.write(createReadStream(path)), finished(plain)]).then(([b]) => b)
      : await this.content.write(plain.pipe(createGzip({ level: 6 })));
    return {
      descriptor: { mediaType: MediaType.ociLayerGzip, digest: blob.digest, size: blob.size },
      diffId: diff.digest(),
    };
  }

  /** Unpacks the image's layers into snapshots (once each) and returns its chain ids. */
  async unpack(image: Image): Promise<Digest[]> {
    const diffIds = image.config.rootfs.diff_ids;
    if (diffIds.length !== image.manifest.layers.length) {
      throw new Error(`image ${image.id}: ${diffIds.length} diff ids for ${image.manifest.layers.length} layers`);
    }
    const sources: LayerSource[] = image.manifest.layers.map((layer, i) => ({
      diffId: diffIds[i] as Digest,
      open: () => this.content.createReadStream(layer.digest),
    }));
    return this.snapshots.unpack(sources);
  }

  /** The chain ids of an image's layers, without unpacking anything. */
  chainIds(image: Image): Digest[] {
    return chainIds(image.config.rootfs.diff_ids);
  }

  history(image: Image): History[] {
    return image.config.history ?? [];
  }

  /**
   * `image prune`: removes dangling images (all unused images with `all`), then collects
   * blobs and snapshots nothing references any more.
   */
  async prune(
    options: { all?: boolean; inUse?: ReadonlySet<Digest> } = {},
  ): Promise<{ deleted: Digest[]; reclaimedBytes: number }> {
    const deleted: Digest[] = [];
    for (const image of await this.list()) {
      if (options.inUse?.has(image.id)) continue;
      if (image.names.length === 0 || options.all) {
        await this.refs.deleteManifest(image.manifestDigest);
        deleted.push(image.id);
      }
    }
    const { reclaimedBytes } = await this.gc();
    return { deleted, reclaimedBytes };
  }

  /**
   * Removes blobs and snapshots that no ref reaches. Images that containers use are always
   * reachable: `remove` keeps them as dangling entries while in use.
   */
  async gc(): Promise<{ removed: BlobInfo[]; reclaimedBytes: number; snapshots: Digest[] }> {
    const entries = await this.refs.list();
    const roots = entries.map((e) => e.manifest);
    const images = await this.list();
    const { removed, reclaimedBytes } = await collectGarbage(this.content, roots);
    const keep = new Set<Digest>();
    for (const image of images) for (const id of this.chainIds(image)) keep.add(id);
    const snapshots = await this.snapshots.prune(keep);
    return { removed, reclaimedBytes, snapshots };
  }

  async manifestDescriptor(image: Image): Promise<Descriptor> {
    const info = await this.content.info(image.manifestDigest);
    if (!info) throw new ImageNotFoundError(image.manifestDigest);
    return {
      mediaType: image.manifest.mediaType ?? MediaType.ociManifest,
      digest: image.manifestDigest,
      size: info.size,
    };
  }

  /** Reads an image by manifest digest; undefined when its blobs are gone (a broken ref). */
  async load(manifestDigest: Digest, names: string[] = []): Promise<Image | undefined> {
    try {
      const manifest = await this.readJson<ImageManifest>(manifestDigest);
      if (isIndexType(manifest.mediaType) || !Array.isArray(manifest.layers)) return undefined;
      if (manifest.mediaType !== undefined && !isManifestType(manifest.mediaType)) return undefined;
      const config = await this.readJson<ImageConfig>(manifest.config.digest);
      return { id: manifest.config.digest, manifestDigest, manifest, config, names };
    } catch {
      return undefined;
    }
  }

  /** A JSON blob, parsed once per process (see BLOB_CACHE); the object is frozen. */
  private async readJson<T>(digest: Digest): Promise<T> {
    const hit = this.parsed.get(digest);
    if (hit !== undefined && (await this.content.has(digest))) return hit as T;
    const value = deepFreeze(await this.content.readJson<T>(digest));
    this.parsed.set(digest, value);
    if (this.parsed.size > BLOB_CACHE) this.parsed.delete(this.parsed.keys().next().value as Digest);
    return value;
  }
}

function formatReferenceOrUndefined(value: string): string | undefined {
  try {
    return formatReference(parseNormalizedReference(value));
  } catch {
    return undefined;
  }
}
