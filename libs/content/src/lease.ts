/**
 * Leases protect blobs that a running operation (a pull, a build, a load) has written but not
 * yet referenced from an image ref. A lease is a file `<root>/leases/<id>.json` naming its
 * owner's pid and the blobs it holds; GC treats the blobs of every live lease as roots and
 * removes leases whose owner has died.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Descriptor } from '@paas/oci';
import { isProcessAlive, writeFileAtomic } from './atomic';

/** A GC root: a blob kept with everything it references (a lease's blobs are roots too). */
export type Root = Pick<Descriptor, 'digest' | 'mediaType'>;

interface LeaseFile {
  pid: number;
  roots: Root[];
}

export class Lease {
  private readonly roots: Root[] = [];
  private released = false;

  private constructor(
    private readonly path: string,
    private readonly pid: number,
  ) {}

  /** Creates a lease owned by this process (or `pid`). */
  static async create(leasesDir: string, pid = process.pid): Promise<Lease> {
    await mkdir(leasesDir, { recursive: true });
    const lease = new Lease(join(leasesDir, `${randomBytes(8).toString('hex')}.json`), pid);
    await lease.save();
    return lease;
  }

  /** Adds blobs to the lease; they survive GC until the lease is released or its owner dies. */
  async add(...roots: Root[]): Promise<void> {
    if (this.released) throw new Error('lease already released');
    this.roots.push(...roots);
    await this.save();
  }

  async release(): Promise<void> {
    this.released = true;
    await rm(this.path, { force: true });
  }

  private async save(): Promise<void> {
    const body: LeaseFile = { pid: this.pid, roots: this.roots };
    await writeFileAtomic(this.path, JSON.stringify(body));
  }
}

/** The roots held by live leases; leases of dead owners and unreadable leftovers are removed. */
export async function liveLeaseRoots(leasesDir: string): Promise<Root[]> {
  let names: string[];
  try {
    names = await readdir(leasesDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const roots: Root[] = [];
  for (const name of names) {
    const path = join(leasesDir, name);
    if (!name.endsWith('.json')) {
      await rm(path, { force: true }); // a temp file of a crashed save
      continue;
    }
    try {
      const lease = JSON.parse(await readFile(path, 'utf8')) as LeaseFile;
      if (isProcessAlive(lease.pid)) roots.push(...lease.roots);
      else await rm(path, { force: true });
    } catch {
      await rm(path, { force: true });
    }
  }
  return roots;
}
