/**
 * Release images in the registry: `REGISTRY/APP:vN`, N the release's version, so the tag a
 * release names is fixed the moment the release row exists and a retried job pushes the same
 * tag again. Images of releases older than the last ten are pruned from the registry and
 * from the local store, except those a newer release still runs (a rollback reuses an image);
 * a destroyed app's go all at once.
 */
import type { ImageService } from '@paas/images';
import { type Digest, formatReference, parseNormalizedReference } from '@paas/oci';
import { type RegistryClient, deleteManifest, pushImage } from '@paas/registry';
import type { DataSource } from 'typeorm';
import { Release } from '../model/entities';
import { currentRelease, liveRelease } from '../release-lifecycle';
import type { BuildLog } from './build-log';

export const KEEP_RELEASE_IMAGES = 10;

export function releaseImageRef(registry: string, app: string, version: number): string {
  return `${registry}/${app}:v${version}`;
}

/** Pushes a local image under `ref`, reporting each layer as `docker push` does. */
export async function pushReleaseImage(
  images: ImageService,
  client: RegistryClient,
  ref: string,
  log: BuildLog,
): Promise<Digest> {
  const image = await images.resolve(ref);
  const result = await pushImage(images, client, image, parseNormalizedReference(ref), {
    progress: {
      message: (text) => log.info(text),
      layer: (event) => {
        if (event.done) log.info(`${event.digest.replace(/^sha256:/, '').slice(0, 12)}: ${event.status}`);
      },
    },
  });
  return result.digest;
}

/**
 * Deletes the release tags of an app beyond the newest `keep` releases (looking a window of
 * `keep` further back, which earlier builds have not pruned yet). Returns the refs it removed.
 */
export async function pruneReleaseImages(
  dataSource: DataSource,
  images: ImageService,
  client: RegistryClient,
  appId: string,
  keep = KEEP_RELEASE_IMAGES,
): Promise<string[]> {
  const releases = await dataSource.manager.find(Release, {
    where: { appId },
    order: { version: 'DESC' },
    take: keep * 2,
  });
  // what is deploying, and what serves until it is up
  const current = [await currentRelease(dataSource.manager, appId), await liveRelease(dataSource.manager, appId)];
  const kept = new Set([...releases.slice(0, keep), ...current].map((r) => r?.imageRef ?? null));
  const keptDigests = new Set([...releases.slice(0, keep), ...current].map((r) => r?.imageDigest ?? null));
  const removed: string[] = [];
  const seen = new Set<string>();
  for (const release of releases.slice(keep)) {
    const ref = release.imageRef;
    if (!ref || kept.has(ref) || seen.has(ref)) continue;
    seen.add(ref);
    // the manifest itself too, once no kept release runs it
    const dropManifest = release.imageDigest !== null && !keptDigests.has(release.imageDigest);
    if (await dropReleaseImage(images, client, ref, release.imageDigest, dropManifest)) removed.push(ref);
  }
  return removed;
}

/** A release's image, as its row names it. */
export interface ReleaseImage {
  readonly imageRef: string | null;
  readonly imageDigest: string | null;
}

/**
 * Every release image of a destroyed app, from the registry (tags and manifests) and from this
 * node's store: nothing of the app is left behind (the images of other nodes' stores go with
 * their own image prune). Returns the refs it removed.
 */
export async function removeReleaseImages(
  images: ImageService,
  client: RegistryClient,
  releases: readonly ReleaseImage[],
): Promise<string[]> {
  const removed: string[] = [];
  const seen = new Set<string>();
  for (const { imageRef, imageDigest } of releases) {
    if (!imageRef || seen.has(imageRef)) continue;
    seen.add(imageRef);
    if (await dropReleaseImage(images, client, imageRef, imageDigest)) removed.push(imageRef);
  }
  return removed;
}

/**
 * Deletes one release tag of the platform registry, its manifest with `dropManifest`, and the
 * local ref; whether there was any of them (a ref of another registry is left alone). With the
 * release's `digest` known, a tag or local ref that names another image is left: the tag is the
 * app's name at build time, so after a rename a new app of that name owns it now.
 */
async function dropReleaseImage(
  images: ImageService,
  client: RegistryClient,
  ref: string,
  digest: string | null,
  dropManifest = true,
): Promise<boolean> {
  const parsed = parseNormalizedReference(ref);
  if (parsed.domain !== client.host || !parsed.tag) return false;
  const tagIsOurs = digest === null || (await tagDigest(client, parsed.path, parsed.tag)) === digest;
  const tagged = tagIsOurs && (await deleteManifest(client, parsed.path, parsed.tag));
  if (digest && dropManifest) await deleteManifest(client, parsed.path, digest);
  const name = formatReference(parsed);
  const localIsOurs = digest === null || (await images.refs.get(name))?.digest === digest;
  const local =
    localIsOurs &&
    (await images.remove(name).then(
      () => true,
      () => false, // pruned before, or never pulled here
    ));
  return tagged || local;
}

/** The digest a registry tag names now; null when there is no such tag. */
async function tagDigest(client: RegistryClient, repository: string, tag: string): Promise<string | null> {
  const res = await client.request(`/v2/${repository}/manifests/${tag}`, {
    method: 'HEAD',
    accept: [404],
    scopes: [`repository:${repository}:pull`],
  });
  await res.body?.cancel();
  return res.status === 404 ? null : res.headers.get('docker-content-digest');
}
