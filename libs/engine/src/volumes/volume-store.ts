/**
 * Named volumes, laid out as Docker's local driver lays them out:
 *
 *   <PAAS_ROOT>/volumes/<name>/_data          what containers see (bind-mounted)
 *                             /volume.json    name, creation time, labels
 *
 * A volume appears whole or not at all: it is built under a temporary name (`.tmp-*`, never
 * a valid volume name) and renamed into place, so two processes creating one name at once
 * both end with the same volume, the first one's. Which containers use a volume is theirs to
 * say (their records list their volumes): the store asks `usersOf`, and refuses to remove a
 * volume in use; `rm` and `prune` check and delete under the store's lock, which the engine
 * also holds while it records a new container's volumes, so neither can slip between.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureDirMode, withLock, writeFileAtomic } from '@paas/content';
import { diskUsage } from '../disk-usage';
import { PaasError } from '@paas/errors';

/** The label Docker (23+) puts on anonymous volumes: `volume prune` removes only those unless `--all`. */
export const ANONYMOUS_VOLUME_LABEL = 'com.docker.volume.anonymous';

/** Docker's rule for a local volume's name (at least two characters). */
const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

export interface Volume {
  readonly name: string;
  readonly driver: 'local';
  /** The directory containers mount: `<name>/_data`. */
  readonly mountpoint: string;
  readonly createdAt: string;
  readonly labels: Record<string, string>;
  readonly scope: 'local';
}

/** What is kept in volume.json; the rest follows from where it lies. */
interface VolumeMeta {
  readonly name: string;
  readonly createdAt: string;
  readonly labels: Record<string, string>;
}

export class VolumeNotFoundError extends PaasError {
  constructor(readonly volume: string) {
    super('not_found', `No such volume: ${volume}`);
  }
}

/** Docker's "volume is in use - [ids]": the containers, running or not, that use it. */
export class VolumeInUseError extends PaasError {
  constructor(
    readonly volume: string,
    readonly containers: readonly string[],
  ) {
    super('conflict', `remove ${volume}: volume is in use - [${containers.join(', ')}]`);
  }
}

/** A bad name, or a volume.json that cannot be read: names what and where. */
export class VolumeError extends PaasError {
  constructor(message: string, code: 'invalid_params' | 'data_loss' = 'invalid_params') {
    super(code, message);
  }
}

export function validateVolumeName(name: string): void {
  if (!NAME.test(name) || name.length > 255) {
    throw new VolumeError(
      `create ${name}: "${name}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`,
    );
  }
}

/** A name for an anonymous volume: 64 hex digits, as Docker makes them. */
export function anonymousVolumeName(): string {
  return randomBytes(32).toString('hex');
}

export interface VolumeFilters {
  /** Substring of the name, as Docker's `name=` (any of them). */
  readonly name?: readonly string[];
  /** `key` or `key=value`; every one must match. */
  readonly label?: readonly string[];
  /** true: only volumes no container uses; false: only used ones. */
  readonly dangling?: boolean;
}

export interface VolumeStoreOptions {
  /** `$PAAS_ROOT/volumes`. */
  readonly root: string;
  /** The ids of the containers (running or not) whose records use the volume. */
  readonly usersOf: (name: string) => Promise<string[]>;
}

export class VolumeStore {
  readonly root: string;
  private readonly usersOf: (name: string) => Promise<string[]>;

  constructor(options: VolumeStoreOptions) {
    this.root = options.root;
    this.usersOf = options.usersOf;
  }

  dir(name: string): string {
    return join(this.root, name);
  }

  mountpoint(name: string): string {
    return join(this.root, name, '_data');
  }

  /**
   * `volume create`: makes the volume, or returns the one of that name as it is (Docker's
   * create is idempotent; the labels of the first create stay). No name: an anonymous one.
   */
  async create(name?: string, options: { labels?: Record<string, string> } = {}): Promise<Volume> {
    const anonymous = name === undefined;
    const wanted = name ?? anonymousVolumeName();
    validateVolumeName(wanted);
    const existing = await this.find(wanted);
    if (existing) return existing;
    // root's alone: a volume's files have the ids they have inside (a setuid file root made
    // in one is host root's), and a container in a user namespace mounts its idmapped view
    await ensureDirMode(this.root);
    const temp = join(this.root, `.tmp-${randomBytes(8).toString('hex')}`);
    const meta: VolumeMeta = {
      name: wanted,
      createdAt: new Date().toISOString(),
      labels: { ...(options.labels ?? {}), ...(anonymous ? { [ANONYMOUS_VOLUME_LABEL]: '' } : {}) },
    };
    try {
      // _data is 0755 root:root, as Docker's: copy-up or the container's own chown changes it
      await mkdir(join(temp, '_data'), { recursive: true, mode: 0o755 });
      await writeFileAtomic(join(temp, 'volume.json'), JSON.stringify(meta, null, 2));
      await rename(temp, this.dir(wanted));
    } catch (err) {
      await rm(temp, { recursive: true, force: true });
      const code = (err as NodeJS.ErrnoException).code;
      // another process created it first: theirs is the volume
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
      const theirs = await this.find(wanted);
      if (!theirs) throw err;
      return theirs;
    }
    return this.volumeOf(meta);
  }

  /** `volume inspect`: the volume, or VolumeNotFoundError. */
  async get(name: string): Promise<Volume> {
    const volume = await this.find(name);
    if (!volume) throw new VolumeNotFoundError(name);
    return volume;
  }

  /** The volume, undefined when there is none of that name; a corrupt volume.json is an error naming the file. */
  async find(name: string): Promise<Volume | undefined> {
    if (!NAME.test(name)) return undefined;
    const file = join(this.dir(name), 'volume.json');
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      throw err;
    }
    let meta: Partial<VolumeMeta>;
    try {
      meta = JSON.parse(text) as Partial<VolumeMeta>;
    } catch (err) {
      throw new VolumeError(`volume ${name}: cannot read ${file}: ${(err as Error).message}`, 'data_loss');
    }
    if (meta?.name !== name || typeof meta.createdAt !== 'string' || typeof meta.labels !== 'object') {
      throw new VolumeError(`volume ${name}: cannot read ${file}: not a volume's metadata`, 'data_loss');
    }
    return this.volumeOf(meta as VolumeMeta);
  }

  /** `volume ls`: every volume matching the filters, by name. */
  async list(filters: VolumeFilters = {}): Promise<Volume[]> {
    let names: string[];
    try {
      names = (await readdir(this.root)).filter((n) => NAME.test(n)).sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const volumes: Volume[] = [];
    for (const name of names) {
      const volume = await this.find(name);
      if (!volume || !matchesLabels(volume, filters.label ?? [])) continue;
      if (filters.name?.length && !filters.name.some((n) => name.includes(n))) continue;
      if (filters.dangling !== undefined && ((await this.usersOf(name)).length === 0) !== filters.dangling) continue;
      volumes.push(volume);
    }
    return volumes;
  }

  /**
   * `volume rm`: refused while a container uses it (VolumeInUseError, even with force, as
   * Docker); a missing volume is VolumeNotFoundError unless `force`.
   */
  async remove(name: string, options: { force?: boolean } = {}): Promise<void> {
    await this.locked(async () => {
      // a volume.json that cannot be read still names a volume: rm is how it goes
      const exists = await this.find(name).then(
        (v) => v !== undefined,
        (err: unknown) => err instanceof VolumeError,
      );
      if (!exists) {
        if (options.force) return;
        throw new VolumeNotFoundError(name);
      }
      const users = await this.usersOf(name);
      if (users.length) throw new VolumeInUseError(name, users);
      await this.delete(name);
    });
  }

  /**
   * `volume prune`: removes the volumes no container uses, only anonymous ones unless `all`
   * (Docker 23+); their names and the bytes their data held.
   */
  async prune(options: { all?: boolean; label?: readonly string[] } = {}): Promise<{
    removed: string[];
    reclaimedBytes: number;
  }> {
    return this.locked(async () => {
      const removed: string[] = [];
      let reclaimedBytes = 0;
      for (const volume of await this.list({ dangling: true, label: options.label ?? [] })) {
        if (!options.all && volume.labels[ANONYMOUS_VOLUME_LABEL] === undefined) continue;
        reclaimedBytes += await diskUsage(volume.mountpoint);
        await this.delete(volume.name);
        removed.push(volume.name);
      }
      return { removed, reclaimedBytes };
    });
  }

  /**
   * Runs `fn` holding the store's lock: removals check their users under it, and the engine
   * records a container's volumes under it.
   */
  locked<T>(fn: () => Promise<T>): Promise<T> {
    return withLock(join(this.root, '.lock'), fn, { timeoutMs: 60_000 });
  }

  /**
   * Runs `fn` holding the volume's own lock: containers created at once over one empty volume
   * copy the image's content into it one after the other (the later ones find it full).
   */
  lockedVolume<T>(name: string, fn: () => Promise<T>): Promise<T> {
    return withLock(join(this.dir(name), 'lock'), fn, { timeoutMs: 60_000 });
  }

  /** Out of sight first (a rename), then deleted: a crash midway leaves a `.tmp-*`, not half a volume. */
  private async delete(name: string): Promise<void> {
    const doomed = join(this.root, `.tmp-rm-${randomBytes(8).toString('hex')}`);
    await rename(this.dir(name), doomed);
    await rm(doomed, { recursive: true, force: true });
  }

  private volumeOf(meta: VolumeMeta): Volume {
    return {
      name: meta.name,
      driver: 'local',
      mountpoint: this.mountpoint(meta.name),
      createdAt: meta.createdAt,
      labels: meta.labels,
      scope: 'local',
    };
  }
}

function matchesLabels(volume: Volume, filters: readonly string[]): boolean {
  return filters.every((f) => {
    const eq = f.indexOf('=');
    if (eq < 0) return volume.labels[f] !== undefined;
    return volume.labels[f.slice(0, eq)] === f.slice(eq + 1);
  });
}
