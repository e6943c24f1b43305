/**
 * Garbage collection by reachability: everything reachable from the roots (image refs,
 * images of live containers) through indexes and manifests is kept; the rest is removed.
 *
 * Operations in flight protect the blobs they wrote but have not referenced yet with a
 * lease (lease.ts); the store adds the blobs of live leases to the roots. As a second guard,
 * blobs modified after the collection started (or within `graceMs` before) are never swept.
 */
import { type Digest, type ImageIndex, type ImageManifest, isIndexType, isManifestType } from '@paas/oci';
import { BlobNotFoundError } from './errors';
import { type Root, liveLeaseRoots } from './lease';
import type { BlobInfo, ContentStore } from './store';

export interface GcResult {
  readonly removed: BlobInfo[];
  readonly reclaimedBytes: number;
}

export interface GcOptions {
  /** Blobs modified less than this long before the collection started are kept. */
  readonly graceMs?: number;
  /** Report what would be removed without removing it. */
  readonly dryRun?: boolean;
}

/** Every digest reachable from the roots; missing children are skipped (a partial pull). */
async function reachable(store: ContentStore, roots: Iterable<Root>): Promise<Set<Digest>> {
  const seen = new Set<Digest>();
  const queue: Root[] = [...roots];
  for (let next = queue.pop(); next !== undefined; next = queue.pop()) {
    if (seen.has(next.digest)) continue;
    seen.add(next.digest);
    if (!isManifestType(next.mediaType) && !isIndexType(next.mediaType)) continue;
    let doc: Partial<ImageManifest & ImageIndex>;
    try {
      doc = await store.readJson(next.digest);
    } catch (err) {
      if (err instanceof BlobNotFoundError) continue;
      throw err;
    }
    for (const child of [doc.config, ...(doc.layers ?? []), ...(doc.manifests ?? []), doc.subject]) {
      if (child?.digest) queue.push(child);
    }
  }
  return seen;
}

export async function collectGarbage(
  store: ContentStore,
  roots: Iterable<Root>,
  options: GcOptions = {},
): Promise<GcResult> {
  // the blobs' own clock, not Date.now(): see fileClock
  const startedAt = await store.fileClock();
  const keep = await reachable(store, [...roots, ...(await liveLeaseRoots(store.leasesDir))]);
  const cutoff = startedAt - (options.graceMs ?? 0);
  const removed: BlobInfo[] = [];
  let reclaimedBytes = 0;
  for await (const blob of store.list()) {
    if (keep.has(blob.digest) || blob.mtimeMs >= cutoff) continue;
    if (options.dryRun || (await store.delete(blob.digest))) {
      removed.push({ digest: blob.digest, size: blob.size });
      reclaimedBytes += blob.size;
    }
  }
  return { removed, reclaimedBytes };
}
