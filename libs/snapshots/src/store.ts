/**
 * Unpacked layers, one directory per chain id: `<root>/<hex>/fs` holds the layer's own
 * files in overlay form (whiteouts as 0/0 character devices, opaque dirs by xattr), and
 * `<root>/<hex>/meta.json` its parent and sizes. Every image that has the same first n
 * layers shares the first n snapshots; a container or build step stacks them as overlay
 * lowerdirs under an upper dir of its own.
 *
 * A layer is extracted into `<root>/tmp-<pid>-<random>/` and renamed into place once whole
 * and verified against its diff id, so a snapshot under a final name is always complete.
 * Concurrent unpackers of the same layer both extract; the first rename wins, the other
 * discards its copy. Temp dirs of dead processes are removed on open.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { ensureDirMode, isProcessAlive } from '@paas/content';
import { extractLayer } from '@paas/layers';
import { type Digest, digestHex, parseDigest } from '@paas/oci';
import { chainIds } from './chain';
import { PaasError } from '@paas/errors';

export interface LayerSource {
  readonly diffId: Digest;
  /** The layer blob as stored (compressed or not; extraction detects which). */
  open(): Promise<Readable>;
}

export interface SnapshotInfo {
  readonly chainId: Digest;
  readonly parent?: Digest;
  readonly diffId: Digest;
  /** Bytes of file content in this layer alone. */
  readonly size: number;
  readonly createdAt: string;
}

/** A snapshot that is missing, or whose content does not match its diff id. */
export class SnapshotError extends PaasError {
  constructor(message: string, code: 'not_found' | 'data_loss' = 'not_found') {
    super(code, message);
  }
}

export class SnapshotStore {
  private constructor(readonly root: string) {}

  static async open(root: string): Promise<SnapshotStore> {
    // only the engine's root processes read layers: a container sees its own through its
    // mount, and an escaped process of its range must neither read others' nor run their
    // setuid-root files on the host side
    await ensureDirMode(root);
    const store = new SnapshotStore(root);
    await store.removeAbandonedTemps();
    return store;
  }

  /** The directory the layer's files live in (a lowerdir). */
  fsPath(chainId: Digest): string {
    return join(this.root, digestHex(chainId), 'fs');
  }

  async info(chainId: Digest): Promise<SnapshotInfo | undefined> {
    try {
      return JSON.parse(await readFile(join(this.root, digestHex(chainId), 'meta.json'), 'utf8')) as SnapshotInfo;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  /**
   * Makes sure every layer is unpacked, bottom up, and returns their chain ids. Layers already
   * present are not read at all.
   */
  async unpack(layers: readonly LayerSource[]): Promise<Digest[]> {
    const ids = chainIds(layers.map((l) => l.diffId));
    for (const [i, layer] of layers.entries()) {
      const chainId = ids[i] as Digest;
      if (await this.info(chainId)) continue;
      await this.extractOne(layer, chainId, i > 0 ? ids[i - 1] : undefined);
    }
    return ids;
  }

  /**
   * Unpacks layer `index` of the chain `diffIds` from `open` (a stream being downloaded, say),
   * unless it is there already. Each layer is a directory of its own (the parent is only named
   * in its metadata), so the layers of one image can be unpacked in any order, and at once.
   */
  async unpackOne(diffIds: readonly Digest[], index: number, open: () => Promise<Readable>): Promise<Digest> {
    const ids = chainIds(diffIds.slice(0, index + 1));
    const chainId = ids[index] as Digest;
    if (!(await this.info(chainId))) {
      await this.extractOne(
        { diffId: diffIds[index] as Digest, open },
        chainId,
        index > 0 ? ids[index - 1] : undefined,
      );
    }
    return chainId;
  }

  /** The overlay lowerdirs of a chain, top layer first, as overlayfs wants them. */
  async lowerDirs(chain: readonly Digest[]): Promise<string[]> {
    const dirs: string[] = [];
    for (const chainId of [...chain].reverse()) {
      if (!(await this.info(chainId))) throw new SnapshotError(`snapshot ${chainId} is not unpacked`);
      dirs.push(this.fsPath(chainId));
    }
    return dirs;
  }

  async *list(): AsyncIterable<SnapshotInfo> {
    for (const name of await readdir(this.root)) {
      if (name.startsWith('tmp-')) continue;
      let chainId: Digest;
      try {
        chainId = parseDigest(`sha256:${name}`);
      } catch {
        continue;
      }
      const info = await this.info(chainId);
      if (info) yield info;
    }
  }

  /** Removes every snapshot not in `keep`; returns the chain ids removed. */
  async prune(keep: ReadonlySet<Digest>): Promise<Digest[]> {
    const removed: Digest[] = [];
    for await (const info of this.list()) {
      if (keep.has(info.chainId)) continue;
      await this.remove(info.chainId);
      removed.push(info.chainId);
    }
    return removed;
  }

  /** Removes one snapshot: renamed out of sight first, so no reader ever sees half of it. */
  async remove(chainId: Digest): Promise<void> {
    const doomed = join(this.root, `tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
    try {
      await rename(join(this.root, digestHex(chainId)), doomed);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    await rm(doomed, { recursive: true, force: true });
  }

  private async extractOne(layer: LayerSource, chainId: Digest, parent: Digest | undefined): Promise<void> {
    const temp = join(this.root, `tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
    await mkdir(join(temp, 'fs'), { recursive: true });
    try {
      const result = await extractLayer(await layer.open(), join(temp, 'fs'), { whiteouts: 'overlay' });
      if (result.diffId !== layer.diffId) {
        throw new SnapshotError(
          `layer content does not match its diff id: got ${result.diffId}, want ${layer.diffId}`,
          'data_loss',
        );
      }
      const info: SnapshotInfo = {
        chainId,
        ...(parent ? { parent } : {}),
        diffId: layer.diffId,
        size: result.bytes,
        createdAt: new Date().toISOString(),
      };
      await writeFile(join(temp, 'meta.json'), JSON.stringify(info));
      try {
        await rename(temp, join(this.root, digestHex(chainId)));
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
        // another process unpacked the same layer first; ours is discarded below
      }
    } finally {
      await rm(temp, { recursive: true, force: true });
    }
  }

  private async removeAbandonedTemps(): Promise<void> {
    for (const name of await readdir(this.root)) {
      const pid = /^tmp-(\d+)-/.exec(name)?.[1];
      if (pid !== undefined && !isProcessAlive(Number(pid))) {
        await rm(join(this.root, name), { recursive: true, force: true });
      }
    }
  }
}
