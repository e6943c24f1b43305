/**
 * Containers on disk: `<root>/<id>/container.json` holds what the container was made from
 * (image, run options, name, network); the shim owns `<root>/<id>/shim/` (status.json,
 * exit.json, container.log). Every change to a record is made under the container's lock
 * and lands by atomic rename, so CLI processes running side by side never corrupt it.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { withLock, writeFileAtomic } from '@paas/content';
import type { Digest } from '@paas/oci';
import type { PortBinding } from '../network/ports';
import type { RunOptions } from '../spec';
import { PaasError } from '@paas/errors';

export type NetworkMode = 'none' | 'host' | 'bridge';

/** A published port as asked for; hostPort 0 is chosen at start (the lease holds the real one). */
export type PortMapping = PortBinding;

export type RestartPolicy = 'no' | 'always' | 'unless-stopped' | `on-failure${'' | `:${number}`}`;

export interface ContainerRecord {
  readonly id: string;
  readonly name: string;
  readonly created: string;
  /** The image as the user named it, and what it resolved to. */
  readonly image: string;
  readonly imageId: Digest;
  readonly chainIds: Digest[];
  readonly args: string[];
  readonly run: RunOptions;
  readonly hostname: string;
  readonly labels: Record<string, string>;
  /** The mode and the ports asked for; the address and chosen ports live in the bridge lease. */
  readonly network: { mode: NetworkMode; ports: PortMapping[] };
  readonly restart: RestartPolicy;
  readonly stopSignal: string;
  readonly stopTimeout: number;
  readonly autoRemove: boolean;
  readonly interactive: boolean;
}

export class ContainerNotFoundError extends PaasError {
  constructor(readonly ref: string) {
    super('not_found', `No such container: ${ref}`);
  }
}

/** A name taken or not allowed, a container in a state that refuses the request: Docker's 409s and 400s. */
export class ContainerConflictError extends PaasError {
  constructor(message: string, code: 'conflict' | 'invalid_params' = 'conflict') {
    super(code, message);
  }
}

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export function validateName(name: string): void {
  if (!NAME.test(name) || name.length > 128) {
    throw new ContainerConflictError(
      `Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`,
      'invalid_params',
    );
  }
}

export function newContainerId(): string {
  return randomBytes(32).toString('hex');
}

export class ContainerStore {
  constructor(readonly root: string) {}

  dir(id: string): string {
    return join(this.root, id);
  }

  async list(): Promise<ContainerRecord[]> {
    let names: string[];
    try {
      names = await readdir(this.root);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const records: ContainerRecord[] = [];
    // read in parallel: with a thousand containers, one read after another is seconds
    const read = await Promise.all(names.filter((n) => /^[a-f0-9]{64}$/.test(n)).map((id) => this.read(id)));
    for (const record of read) if (record) records.push(record);
    return records.sort((a, b) => (a.created < b.created ? 1 : -1));
  }

  async read(id: string): Promise<ContainerRecord | undefined> {
    try {
      return JSON.parse(await readFile(join(this.dir(id), 'container.json'), 'utf8')) as ContainerRecord;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || err instanceof SyntaxError) return undefined;
      throw err;
    }
  }

  /** By full id, unique id prefix or name, as Docker resolves container references. */
  async resolve(ref: string): Promise<ContainerRecord> {
    const all = await this.list();
    const exact = all.find((c) => c.id === ref || c.name === ref.replace(/^\//, ''));
    if (exact) return exact;
    if (/^[a-f0-9]{1,64}$/.test(ref)) {
      const matches = all.filter((c) => c.id.startsWith(ref));
      if (matches.length === 1 && matches[0]) return matches[0];
      if (matches.length > 1)
        throw new ContainerConflictError(`multiple containers found with provided prefix: ${ref}`);
    }
    throw new ContainerNotFoundError(ref);
  }

  /**
   * Creates the record if its name is free (checked and claimed under one lock). A generated
   * name that is taken is replaced by another from `rename`, as Docker retries random names.
   */
  async create(record: ContainerRecord, rename?: () => string): Promise<ContainerRecord> {
    await mkdir(this.root, { recursive: true });
    return withLock(join(this.root, 'names.lock'), async () => {
      const taken = new Set((await this.list()).map((c) => c.name));
      let named = record;
      for (let attempt = 0; rename && taken.has(named.name) && attempt < 100; attempt++) {
        named = { ...record, name: attempt < 10 ? rename() : `${rename()}${attempt}` };
      }
      if (taken.has(named.name)) {
        const clash = (await this.list()).find((c) => c.name === named.name);
        throw new ContainerConflictError(
          `Conflict. The container name "/${named.name}" is already in use by container "${clash?.id ?? ''}". You have to remove (or rename) that container to be able to reuse that name.`,
        );
      }
      await mkdir(this.dir(named.id), { recursive: true, mode: 0o711 });
      await writeFileAtomic(join(this.dir(named.id), 'container.json'), JSON.stringify(named, null, 2));
      return named;
    });
  }

  /** `rename`: the new name must be free; checked and changed under the names lock. */
  async rename(id: string, name: string): Promise<ContainerRecord> {
    validateName(name);
    return withLock(join(this.root, 'names.lock'), async () => {
      const clash = (await this.list()).find((c) => c.name === name && c.id !== id);
      if (clash) {
        throw new ContainerConflictError(
          `Conflict. The container name "/${name}" is already in use by container "${clash.id}". You have to remove (or rename) that container to be able to reuse that name.`,
        );
      }
      return this.update(id, (r) => ({ ...r, name }));
    });
  }

  async update(id: string, change: (r: ContainerRecord) => ContainerRecord): Promise<ContainerRecord> {
    return this.locked(id, async () => {
      const current = await this.read(id);
      if (!current) throw new ContainerNotFoundError(id);
      const next = change(current);
      await writeFileAtomic(join(this.dir(id), 'container.json'), JSON.stringify(next, null, 2));
      return next;
    });
  }

  /** Runs `fn` holding the container's lock (start, stop, rm never interleave). */
  locked<T>(id: string, fn: () => Promise<T>): Promise<T> {
    return withLock(join(this.dir(id), 'lock'), fn, { timeoutMs: 60_000 });
  }
}
