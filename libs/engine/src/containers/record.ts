/**
 * Containers on disk: `<root>/<id>/container.json` holds what the container was made from
 * (image, run options, name, network); the shim owns `<root>/<id>/shim/` (status.json,
 * exit.json, container.log). Every change to a record is made under the container's lock
 * and lands by atomic rename, so CLI processes running side by side never corrupt it.
 *
 * Names are a table, `<root>/names/<name>` holding the id, changed only under `names.lock`:
 * a create, rename or name lookup reads one entry instead of every record (1,000 containers).
 * The record stays the truth: an entry counts only while its container's record carries that
 * name, so whatever a crash leaves between the two (an entry claimed before its record was
 * written, a rename or removal cut short) reads as a free name and is overwritten.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, readFile, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureDirMode, withLock, writeFileAtomic } from '@paas/content';
import type { Digest } from '@paas/oci';
import type { PortBinding, ServiceEndpoint } from '../network/ports';
import type { RunOptions } from '../spec';
import type { UsernsRange } from '../userns/pool';
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
  /**
   * The mode and the ports asked for (the address and chosen ports live in the bridge lease),
   * and the add-on endpoints it may connect to (absent: none).
   */
  readonly network: { mode: NetworkMode; ports: PortMapping[]; reach?: ServiceEndpoint[] };
  readonly restart: RestartPolicy;
  readonly stopSignal: string;
  readonly stopTimeout: number;
  readonly autoRemove: boolean;
  readonly interactive: boolean;
  /** `--userns=auto`: the container's user namespace range (absent: the host's, `--userns=host`). */
  readonly userns?: UsernsRange;
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

function nameInUse(name: string, id: string): ContainerConflictError {
  return new ContainerConflictError(
    `Conflict. The container name "/${name}" is already in use by container "${id}". You have to remove (or rename) that container to be able to reuse that name.`,
  );
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

export function newContainerId(): string {
  return randomBytes(32).toString('hex');
}

const ID = /^[a-f0-9]{64}$/;

/** A record holds the environment (config vars, add-on passwords): host root's alone. */
const RECORD_MODE = 0o600;

/**
 * The store's root: searchable (a container's root in a user namespace passes through it to
 * its own directory), not listable. A container's directory is 0700, and the engine opens
 * one in a user namespace to its range's root group alone (Engine.dirAccess).
 */
export const CONTAINERS_ROOT_MODE = 0o711;
export const CONTAINER_DIR_MODE = 0o700;

export class ContainerStore {
  private readonly names: string;
  private readonly namesLock: string;
  /** Whether this process has seen the names table exist (it is made once per root). */
  private indexed = false;
  private rooted: Promise<void> | undefined;

  constructor(readonly root: string) {
    this.names = join(root, 'names');
    this.namesLock = join(root, 'names.lock');
  }

  dir(id: string): string {
    return join(this.root, id);
  }

  /** The root and the names table with their modes (an older install's are tightened), once a process. */
  ensureRoot(): Promise<void> {
    this.rooted ??= (async () => {
      await ensureDirMode(this.root, CONTAINERS_ROOT_MODE);
      // names say which containers exist: root's alone, as the records
      if (await exists(this.names)) await ensureDirMode(this.names);
    })().catch((err: unknown) => {
      this.rooted = undefined;
      throw err;
    });
    return this.rooted;
  }

  /** The ids of every container, from the directory alone (no record is read). */
  async ids(): Promise<string[]> {
    try {
      return (await readdir(this.root)).filter((n) => ID.test(n));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }

  async list(): Promise<ContainerRecord[]> {
    const records: ContainerRecord[] = [];
    const read = await Promise.all((await this.ids()).map((id) => this.read(id)));
    for (const record of read) if (record) records.push(record);
    return records.sort((a, b) => (a.created < b.created ? 1 : -1));
  }

  async read(id: string): Promise<ContainerRecord | undefined> {
    try {
      // synchronously, as the shim's state files (shim.ts says why: `ps` reads every record)
      return JSON.parse(readFileSync(join(this.dir(id), 'container.json'), 'utf8')) as ContainerRecord;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || err instanceof SyntaxError) return undefined;
      throw err;
    }
  }

  /**
   * By full id, name or unique id prefix, as Docker resolves container references: one
   * record read for an id or a name; a prefix lists the directory, not the records.
   */
  async resolve(ref: string): Promise<ContainerRecord> {
    if (ID.test(ref)) {
      const byId = await this.read(ref);
      if (byId) return byId;
    }
    const name = ref.replace(/^\//, '');
    if (NAME.test(name)) {
      await this.ensureIndex();
      const owner = await this.owner(name);
      if (owner) return owner;
    }
    if (/^[a-f0-9]{1,64}$/.test(ref)) {
      const matches = (await this.ids()).filter((id) => id.startsWith(ref));
      if (matches.length > 1)
        throw new ContainerConflictError(`multiple containers found with provided prefix: ${ref}`);
      const match = matches[0] !== undefined ? await this.read(matches[0]) : undefined;
      if (match) return match;
    }
    throw new ContainerNotFoundError(ref);
  }

  /**
   * Creates the record if its name is free (checked and claimed under one lock). A generated
   * name that is taken is replaced by another from `rename`, as Docker retries random names.
   */
  async create(record: ContainerRecord, rename?: () => string): Promise<ContainerRecord> {
    await this.ensureRoot();
    return this.namesLocked(async () => {
      let named = record;
      let clash = await this.owner(named.name);
      for (let attempt = 0; rename && clash && attempt < 100; attempt++) {
        named = { ...record, name: attempt < 10 ? rename() : `${rename()}${attempt}` };
        clash = await this.owner(named.name);
      }
      if (clash) throw nameInUse(named.name, clash.id);
      // the entry first: a crash before the record leaves an entry that owns nothing
      await writeFileAtomic(join(this.names, named.name), named.id);
      await mkdir(this.dir(named.id), { mode: CONTAINER_DIR_MODE });
      await writeFileAtomic(join(this.dir(named.id), 'container.json'), JSON.stringify(named, null, 2), RECORD_MODE);
      return named;
    });
  }

  /** `rename`: the new name must be free; checked and changed under the names lock. */
  async rename(id: string, name: string): Promise<ContainerRecord> {
    validateName(name);
    return this.namesLocked(async () => {
      const clash = await this.owner(name);
      if (clash && clash.id !== id) throw nameInUse(name, clash.id);
      await writeFileAtomic(join(this.names, name), id);
      let old: string | undefined;
      const renamed = await this.update(id, (r) => {
        old = r.name;
        return { ...r, name };
      });
      if (old !== undefined && old !== name) await this.unclaim(old, id);
      return renamed;
    });
  }

  /** Gives the name of a removed container back (after its directory is gone). */
  async forget(record: Pick<ContainerRecord, 'id' | 'name'>): Promise<void> {
    await this.namesLocked(() => this.unclaim(record.name, record.id));
  }

  /** The container that holds `name`: its entry's id, if that record still carries the name. */
  private async owner(name: string): Promise<ContainerRecord | undefined> {
    let id: string;
    try {
      id = (await readFile(join(this.names, name), 'utf8')).trim();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    const record = ID.test(id) ? await this.read(id) : undefined;
    return record?.name === name ? record : undefined;
  }

  /** Removes `name`'s entry if it still points at `id` (call under the names lock). */
  private async unclaim(name: string, id: string): Promise<void> {
    const path = join(this.names, name);
    const held = await readFile(path, 'utf8').catch(() => undefined);
    if (held?.trim() === id) await unlink(path).catch(() => undefined);
  }

  /** Runs `fn` holding the names lock, with the names table made. */
  private async namesLocked<T>(fn: () => Promise<T>): Promise<T> {
    await this.ensureIndex();
    return withLock(this.namesLock, fn);
  }

  /**
   * Makes the names table of a root that has none (made before the table existed) from the
   * records, once: built aside and renamed into place, under the names lock.
   */
  private async ensureIndex(): Promise<void> {
    if (this.indexed) return;
    if (await exists(this.names)) {
      this.indexed = true;
      return;
    }
    await this.ensureRoot();
    await withLock(this.namesLock, async () => {
      if (await exists(this.names)) return;
      const building = `${this.names}.building`;
      await rm(building, { recursive: true, force: true });
      await mkdir(building, { mode: 0o700 });
      for (const r of await this.list()) await writeFileAtomic(join(building, r.name), r.id);
      await rename(building, this.names);
    });
    this.indexed = true;
  }

  async update(id: string, change: (r: ContainerRecord) => ContainerRecord): Promise<ContainerRecord> {
    return this.locked(id, async () => {
      const current = await this.read(id);
      if (!current) throw new ContainerNotFoundError(id);
      return this.write(change(current));
    });
  }

  /** Replaces an existing record; call it holding the container's lock (`locked`), as `update` does. */
  async write(record: ContainerRecord): Promise<ContainerRecord> {
    await writeFileAtomic(join(this.dir(record.id), 'container.json'), JSON.stringify(record, null, 2), RECORD_MODE);
    return record;
  }

  /** Runs `fn` holding the container's lock (start, stop, rm never interleave). */
  locked<T>(id: string, fn: () => Promise<T>): Promise<T> {
    return withLock(join(this.dir(id), 'lock'), fn, { timeoutMs: 60_000 });
  }
}
