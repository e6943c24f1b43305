/**
 * Idmapped views of read-only layers, kept for the next mount through the same mapping.
 * Every instance of an app has one id range and one image: making a user namespace (a
 * cloned child) and an idmapped tree per lower dir for each of its containers, then closing
 * them (closing a detached tree unmounts it), cost the agent's event loop more than the
 * mount itself. Overlay clones each lower privately when it mounts, so one detached tree
 * serves any number of overlays, and dropping it later leaves them as they are.
 *
 * A tree is served again only while it still shows the directory at its path (same device
 * and inode, not removed): a layer removed and unpacked again at the same path (an image
 * removed and pulled again) gets a new tree, never the old, emptied one. Only lowers are
 * cached: a build step's idmapped upper is written to and lives as long as the step.
 *
 * Bounded (least recently used first out, its fd closed); an fd a mount is still using is
 * closed only when that mount is done with it (`IdmapLease.release`).
 */
import { closeSync, fstatSync, statSync } from 'node:fs';
import { fsx } from '@paas/layers';

/** A user namespace's ids: 0..size-1 inside are hostId.. on the host (uids and gids alike). */
export interface IdMapping {
  readonly hostId: number;
  readonly size: number;
}

/** Entries kept by default: a few hundred fds of a nofile limit of thousands. */
export const IDMAP_CACHE_ENTRIES = 256;

interface Entry {
  readonly fd: number;
  readonly hostId: number;
  /** Leases using the fd now. */
  pins: number;
  /** Out of the cache (evicted, stale or forgotten) while pinned: closed at its last release. */
  dropped: boolean;
}

/** The fds of one mount, pinned until `release`: none of them is closed while it is held. */
export interface IdmapLease {
  /** The user namespace fd of `mapping`; with `hostRootAs`, mapping the host's root to that id too. */
  userns(mapping: IdMapping, hostRootAs?: number): number;
  /** A detached tree of `dir` idmapped through `mapping`, as an fd (overlay's `/proc/self/fd/N`). */
  tree(dir: string, mapping: IdMapping): number;
  release(): void;
}

export class IdmapCache {
  /** By key, least recently used first (a Map keeps insertion order). */
  private readonly entries = new Map<string, Entry>();
  /** Namespaces and trees made, and served from the cache, since this cache was made. */
  readonly counts = { made: 0, reused: 0 };

  constructor(readonly capacity: number = IDMAP_CACHE_ENTRIES) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new Error(`idmap cache capacity must be an integer >= 1, not ${String(capacity)}`);
  }

  /** Namespaces and trees kept (one fd each; a dropped one a mount still holds is not counted). */
  get size(): number {
    return this.entries.size;
  }

  lease(): IdmapLease {
    const held: Entry[] = [];
    const take = (entry: Entry): number => {
      entry.pins++;
      held.push(entry);
      return entry.fd;
    };
    return {
      userns: (mapping, hostRootAs) => take(this.userns(mapping, hostRootAs)),
      tree: (dir, mapping) => take(this.tree(dir, mapping)),
      release: () => {
        for (const entry of held.splice(0)) {
          entry.pins--;
          if (entry.dropped && entry.pins === 0) closeSync(entry.fd);
        }
        this.trim();
      },
    };
  }

  /** Drops (and closes) every namespace and tree of host ids from `hostId`: its range went back to the pool. */
  forgetMapping(hostId: number): void {
    for (const [key, entry] of this.entries) if (entry.hostId === hostId) this.drop(key, entry);
  }

  /** Drops every entry (a process or a spec that is done with idmapped mounts). */
  clear(): void {
    for (const [key, entry] of this.entries) this.drop(key, entry);
  }

  private userns(mapping: IdMapping, hostRootAs?: number): Entry {
    const key = `userns ${mappingKey(mapping, hostRootAs)}`;
    return (
      this.hit(key) ??
      this.add(key, mapping, () =>
        hostRootAs === undefined
          ? fsx().usernsFd(mapping.hostId, mapping.hostId, mapping.size)
          : fsx().usernsFd(mapping.hostId, mapping.hostId, mapping.size, hostRootAs),
      )
    );
  }

  private tree(dir: string, mapping: IdMapping): Entry {
    const key = `tree ${mappingKey(mapping)} ${dir}`;
    const cached = this.entries.get(key);
    if (cached && !showsDir(cached.fd, dir)) this.drop(key, cached);
    const hit = this.hit(key);
    if (hit) return hit;
    // the namespace is pinned only while the tree is made: the tree keeps its own reference
    const userns = this.userns(mapping);
    userns.pins++;
    try {
      return this.add(key, mapping, () => fsx().idmapTree(dir, userns.fd, false));
    } finally {
      userns.pins--;
      if (userns.dropped && userns.pins === 0) closeSync(userns.fd);
    }
  }

  /** The entry of `key` made most recently used, or undefined. */
  private hit(key: string): Entry | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    this.entries.delete(key);
    this.entries.set(key, entry);
    this.counts.reused++;
    return entry;
  }

  private add(key: string, mapping: IdMapping, make: () => number): Entry {
    const entry: Entry = { fd: make(), hostId: mapping.hostId, pins: 0, dropped: false };
    this.counts.made++;
    this.entries.set(key, entry);
    this.trim();
    return entry;
  }

  /** Evicts the least recently used entries nobody holds until at most `capacity` are left. */
  private trim(): void {
    if (this.entries.size <= this.capacity) return;
    // the newest stays even if nothing else can go: it is about to be pinned
    const newest = [...this.entries.keys()].at(-1);
    for (const [key, entry] of this.entries) {
      if (this.entries.size <= this.capacity) return;
      if (entry.pins === 0 && key !== newest) this.drop(key, entry);
    }
  }

  private drop(key: string, entry: Entry): void {
    this.entries.delete(key);
    entry.dropped = true;
    if (entry.pins === 0) closeSync(entry.fd);
  }
}

function mappingKey(mapping: IdMapping, hostRootAs?: number): string {
  return `${mapping.hostId}:${mapping.size}${hostRootAs === undefined ? '' : `+0:${hostRootAs}`}`;
}

/** Whether the tree `fd` still shows `dir`: the same inode on the same device, not removed. */
function showsDir(fd: number, dir: string): boolean {
  try {
    const tree = fstatSync(fd, { bigint: true });
    const now = statSync(dir, { bigint: true });
    return tree.nlink > 0n && tree.dev === now.dev && tree.ino === now.ino;
  } catch {
    return false; // the dir is gone: a new tree says why (ENOENT), as without the cache
  }
}

/** This process's cache, used by mountIdmappedOverlay and mountIdmappedBind. */
export const idmapCache = new IdmapCache();
