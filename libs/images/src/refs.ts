/**
 * Image refs: `<root>/index.json`, an OCI image index whose manifest descriptors carry the
 * full reference in `org.opencontainers.image.ref.name` (`docker.io/library/busybox:latest`).
 * A descriptor without a name is a dangling image (Docker's `<none>:<none>`): an image that
 * lost its last tag to a newer one and is kept until pruned.
 *
 * Every change is read-modify-write under `<root>/index.lock` and lands by atomic rename,
 * so two CLI processes tagging at once both take effect and readers never see half a file.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { withLock, writeFileAtomic } from '@paas/content';
import { Annotation, type Descriptor, type Digest, type ImageIndex, MediaType } from '@paas/oci';

export interface RefEntry {
  /** Full reference, or undefined for a dangling image. */
  readonly name?: string;
  readonly manifest: Descriptor;
}

export class RefStore {
  private readonly indexPath: string;
  private readonly lockPath: string;

  constructor(readonly root: string) {
    this.indexPath = join(root, 'index.json');
    this.lockPath = join(root, 'index.lock');
  }

  async list(): Promise<RefEntry[]> {
    return (await this.read()).manifests.map(toEntry);
  }

  /** The manifest a full reference points at. */
  async get(name: string): Promise<Descriptor | undefined> {
    return (await this.list()).find((e) => e.name === name)?.manifest;
  }

  /**
   * Points `name` at `manifest`. The image it pointed at before becomes dangling if no
   * other name is left on it (as `docker tag` and `docker build -t` do).
   */
  async set(name: string, manifest: Descriptor): Promise<void> {
    await this.update((entries) => {
      const previous = entries.find((e) => e.name === name);
      let next = entries.filter(
        (e) => e.name !== name && !(e.name === undefined && e.manifest.digest === manifest.digest),
      );
      next.push({ name, manifest: strip(manifest) });
      if (
        previous &&
        previous.manifest.digest !== manifest.digest &&
        !next.some((e) => e.manifest.digest === previous.manifest.digest)
      ) {
        next = [...next, { manifest: previous.manifest }];
      }
      return next;
    });
  }

  /** Keeps an image without a name (a build's result without -t, a loaded untagged image). */
  async addDangling(manifest: Descriptor): Promise<void> {
    await this.update((entries) =>
      entries.some((e) => e.manifest.digest === manifest.digest)
        ? entries
        : [...entries, { manifest: strip(manifest) }],
    );
  }

  /** Removes a name; resolves to whether it existed. */
  async delete(name: string): Promise<boolean> {
    let found = false;
    await this.update((entries) => {
      found = entries.some((e) => e.name === name);
      return entries.filter((e) => e.name !== name);
    });
    return found;
  }

  /** Removes every entry (names and dangling) of a manifest. */
  async deleteManifest(digest: Digest): Promise<void> {
    await this.update((entries) => entries.filter((e) => e.manifest.digest !== digest));
  }

  private async update(change: (entries: RefEntry[]) => RefEntry[]): Promise<void> {
    await withLock(this.lockPath, async () => {
      const index = await this.read();
      const entries = change(index.manifests.map(toEntry));
      const next: ImageIndex = {
        schemaVersion: 2,
        mediaType: MediaType.ociIndex,
        manifests: entries.map(toDescriptor),
      };
      await writeFileAtomic(this.indexPath, `${JSON.stringify(next, null, 2)}\n`);
    });
  }

  private async read(): Promise<ImageIndex> {
    try {
      const index = JSON.parse(await readFile(this.indexPath, 'utf8')) as ImageIndex;
      if (!Array.isArray(index.manifests)) throw new Error(`${this.indexPath}: manifests is not an array`);
      return index;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        return { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [] };
      }
      throw err;
    }
  }
}

function toEntry(d: Descriptor): RefEntry {
  const name = d.annotations?.[Annotation.refName];
  const manifest = strip(d);
  return name === undefined ? { manifest } : { name, manifest };
}

function toDescriptor(e: RefEntry): Descriptor {
  return e.name === undefined ? e.manifest : { ...e.manifest, annotations: { [Annotation.refName]: e.name } };
}

function strip(d: Descriptor): Descriptor {
  return { mediaType: d.mediaType, digest: d.digest, size: d.size, ...(d.platform ? { platform: d.platform } : {}) };
}
