/**
 * Safe extraction of a layer into a directory.
 *
 * Nothing is written outside `targetDir`, whatever the archive holds:
 * - names are cleaned; absolute names are taken relative to the target; a name whose `..`
 *   climbs above the target is refused (paths.ts);
 * - parent directories are resolved with symlinks followed inside the target only
 *   (chroot semantics), so a symlink to `/etc` or `../..` leads back into the target;
 * - the last component is never followed: whatever is there is removed and replaced
 *   (files are opened O_EXCL|O_NOFOLLOW), so a symlink or hardlink planted by an earlier
 *   entry cannot be written through;
 * - hardlink targets are resolved the same way, must exist and must not be directories;
 *   a hardlink to a symlink links the symlink itself (link(2) does not follow);
 * - deferred directory metadata is applied through an O_NOFOLLOW descriptor after checking
 *   that the directory is still the one that was created.
 *
 * Names keep their bytes, UTF-8 or not (names.ts): every check above applies to them alike.
 *
 * Duplicate names follow tar, Docker and containerd: a later entry replaces an earlier one
 * (a file replaces a whole directory tree), except that a directory over a directory
 * merges and takes the later metadata.
 *
 * On error the target may hold part of the layer; callers extract into a fresh directory
 * and rename it into place only on success.
 */
import {
  closeSync,
  constants,
  fstatSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  realpathSync,
  rmSync,
  type Stats,
  symlinkSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import type { Readable } from 'node:stream';
import { type Digest, Digester } from '@paas/oci';
import { type Compression, decompressed } from './compression';
import { entryError, errnoCode, LayerError } from './errors';
import { fsx } from './fsx';
import { applyToFd, applyToPath, type MetadataPolicy } from './metadata';
import { decodeName, fsPath } from './names';
import { baseOf, cleanEntryPath, parentOf, RootResolver } from './paths';
import type { TarHeader } from './tar-format';
import { type TarEntry, TarReader } from './tar-read';
import { OVERLAY_OPAQUE_XATTR, parseWhiteout, type WhiteoutName } from './whiteouts';

export interface ExtractOptions {
  /**
   * What `.wh.` entries become. 'overlay' (for snapshot dirs used as overlay lowerdirs):
   * `.wh.x` becomes a 0/0 character device `x`, `.wh..wh..opq` the xattr
   * trusted.overlay.opaque=y on its directory. 'apply' (flattening layers into one dir):
   * `.wh.x` deletes `x`, `.wh..wh..opq` deletes what the directory held before this layer.
   * Default 'apply'.
   */
  readonly whiteouts?: 'overlay' | 'apply';
  /** Create character and block devices; default: when running as root. Skipped with a warning otherwise. */
  readonly allowDevices?: boolean;
  /** Give files the archive's uid/gid; default: when running as root. */
  readonly sameOwner?: boolean;
  readonly onWarning?: (warning: LayerWarning) => void;
}

export interface LayerWarning {
  readonly entry: string;
  readonly offset: number;
  readonly message: string;
}

export interface ExtractResult {
  /** Digest of the uncompressed tar, to check against the image config's diff_ids. */
  readonly diffId: Digest;
  readonly compression: Compression;
  /** Archive members seen, whiteouts included. */
  readonly entries: number;
  /** Bytes of uncompressed tar. */
  readonly bytes: number;
  readonly warnings: readonly LayerWarning[];
}

export async function extractLayer(
  input: Readable,
  targetDir: string,
  opts: ExtractOptions = {},
): Promise<ExtractResult> {
  // Resolved once: a target that is itself a symlink is fine, everything below is checked.
  const root = realpathSync(targetDir);
  if (!lstatSync(root).isDirectory()) throw new LayerError('IO', `extraction target ${targetDir} is not a directory`);
  const asRoot = process.getuid?.() === 0;
  const unpacker = new Unpacker(root, {
    whiteouts: opts.whiteouts ?? 'apply',
    allowDevices: opts.allowDevices ?? asRoot,
    sameOwner: opts.sameOwner ?? asRoot,
    onWarning: opts.onWarning,
  });

  const { kind, stream } = await decompressed(input);
  const digester = new Digester();
  const reader = new TarReader(stream, (chunk) => digester.update(chunk));
  let entries = 0;
  try {
    for await (const entry of reader.entries()) {
      entries++;
      await unpacker.apply(entry);
    }
    unpacker.finish();
    await reader.drain();
  } catch (err) {
    await reader.close();
    input.destroy();
    throw err;
  }
  return { diffId: digester.digest(), compression: kind, entries, bytes: reader.position, warnings: unpacker.warnings };
}

interface Location {
  readonly entry: string;
  readonly offset: number;
}

interface DeferredDir extends Location {
  readonly physical: string;
  readonly ino: number;
  readonly header: TarHeader;
}

interface UnpackOptions {
  readonly whiteouts: 'overlay' | 'apply';
  readonly allowDevices: boolean;
  readonly sameOwner: boolean;
  readonly onWarning: ((warning: LayerWarning) => void) | undefined;
}

const NEW_FILE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
const OPEN_DIR = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;

/**
 * Applies entries one by one. File-system calls are synchronous: each is microseconds,
 * cheaper than a hop to libuv's pool, while decompression runs on that pool meanwhile.
 */
class Unpacker {
  readonly warnings: LayerWarning[] = [];
  private readonly resolver: RootResolver;
  private readonly policy: MetadataPolicy;
  private readonly dirs = new Map<string, DeferredDir>();
  /** Physical paths this layer wrote, and their parents: what an opaque marker keeps. */
  private readonly unpacked = new Set<string>();
  /** The entry being applied, for warnings and errors. */
  private where: Location = { entry: '', offset: 0 };

  constructor(
    root: string,
    private readonly opts: UnpackOptions,
  ) {
    this.resolver = new RootResolver(root);
    this.policy = {
      sameOwner: opts.sameOwner,
      warn: (message) => {
        const warning = { ...this.where, message };
        this.warnings.push(warning);
        this.opts.onWarning?.(warning);
      },
    };
  }

  async apply(entry: TarEntry): Promise<void> {
    this.where = { entry: entry.header.name, offset: entry.offset };
    try {
      await this.applyEntry(entry);
    } catch (err) {
      throw entryError(err, entry.header.name, entry.offset);
    }
  }

  private async applyEntry(entry: TarEntry): Promise<void> {
    const h = entry.header;
    const rel = cleanEntryPath(h.name);
    if (rel === '') {
      if (h.type !== 'dir') throw new LayerError('UNSAFE', 'entry would replace the extraction root');
      this.dirs.set('', { ...this.where, physical: '', ino: lstatSync(this.resolver.root).ino, header: h });
      return;
    }
    const base = baseOf(rel);
    const whiteout = parseWhiteout(base);
    if (whiteout) return this.whiteout(whiteout, parentOf(rel), base);

    const parent = this.resolver.resolveDir(parentOf(rel), true) ?? '';
    const physical = parent === '' ? base : `${parent}/${base}`;
    const host = this.resolver.host(physical);
    switch (h.type) {
      case 'dir':
        this.makeDir(host, physical, h);
        break;
      case 'file':
        await this.writeFile(host, h, entry);
        break;
      case 'symlink':
        this.replace(host, () => symlinkSync(fsPath(h.linkname), fsPath(host)));
        applyToPath(host, h, this.policy, true);
        break;
      case 'hardlink':
        this.link(host, physical, h);
        break;
      case 'char':
      case 'block':
      case 'fifo':
        if (!this.makeNode(host, h)) return;
        applyToPath(host, h, this.policy, false);
        break;
    }
    if (this.opts.whiteouts === 'apply') this.markUnpacked(physical);
  }

  /** Directory metadata, deepest first so that a parent's mtime is set after its children's. */
  finish(): void {
    const dirs = [...this.dirs.values()].sort((a, b) => depth(b.physical) - depth(a.physical));
    for (const dir of dirs) {
      // Skipped if a later entry replaced the directory or a directory above it.
      if (!this.stillThere(dir.physical)) continue;
      const host = this.resolver.host(dir.physical);
      let fd: number;
      try {
        fd = openSync(fsPath(host), OPEN_DIR);
      } catch {
        continue;
      }
      this.where = dir;
      try {
        if (fstatSync(fd).ino === dir.ino) applyToFd(fd, host, dir.header, this.policy);
      } catch (err) {
        throw entryError(err, dir.entry, dir.offset);
      } finally {
        closeSync(fd);
      }
    }
  }

  /** Whether `physical` still resolves to itself: no component was replaced by a symlink or a file. */
  private stillThere(physical: string): boolean {
    try {
      return this.resolver.resolveDir(physical, false) === physical;
    } catch {
      return false;
    }
  }

  private makeDir(host: string, physical: string, h: TarHeader): void {
    const path = fsPath(host);
    try {
      mkdirSync(path, 0o700);
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST') throw err;
      const st = lstatSync(path);
      if (!st.isDirectory()) {
        this.remove(host, st);
        mkdirSync(path, 0o700);
      }
    }
    this.dirs.set(physical, { ...this.where, physical, ino: lstatSync(path).ino, header: h });
  }

  private async writeFile(host: string, h: TarHeader, entry: TarEntry): Promise<void> {
    const fd = this.replace(host, () => openSync(fsPath(host), NEW_FILE, 0o600));
    try {
      for await (const chunk of entry.body()) {
        for (let done = 0; done < chunk.length;) done += writeSync(fd, chunk, done);
      }
      applyToFd(fd, host, h, this.policy);
    } finally {
      closeSync(fd);
    }
  }

  private link(host: string, physical: string, h: TarHeader): void {
    const targetRel = cleanEntryPath(h.linkname);
    const missing = (): never => {
      throw new LayerError('IO', `hardlink target ${JSON.stringify(h.linkname)} does not exist`);
    };
    if (targetRel === '') throw new LayerError('UNSAFE', 'hardlink to the extraction root');
    const targetParent = this.resolver.resolveDir(parentOf(targetRel), false) ?? missing();
    const target = targetParent === '' ? baseOf(targetRel) : `${targetParent}/${baseOf(targetRel)}`;
    const from = fsPath(this.resolver.host(target));
    const st = lstatSync(from, { throwIfNoEntry: false }) ?? missing();
    if (st.isDirectory()) throw new LayerError('UNSAFE', `hardlink to directory ${JSON.stringify(h.linkname)}`);
    if (target === physical) return; // a link to itself: the file is already there
    this.replace(host, () => linkSync(from, fsPath(host)));
  }

  /** Creates a device or fifo; false when it was skipped. */
  private makeNode(host: string, h: TarHeader): boolean {
    const type = h.type === 'char' ? constants.S_IFCHR : h.type === 'block' ? constants.S_IFBLK : constants.S_IFIFO;
    if (h.type !== 'fifo' && !this.opts.allowDevices) {
      this.policy.warn(`${h.type} device ${h.devmajor}:${h.devminor} skipped: devices are not allowed`);
      return false;
    }
    try {
      this.replace(host, () => fsx().mknod(fsPath(host), type | 0o600, h.devmajor, h.devminor));
    } catch (err) {
      if (errnoCode(err) !== 'EPERM') throw err;
      this.policy.warn(`${h.type} device ${h.devmajor}:${h.devminor} skipped: not permitted here`);
      return false;
    }
    return true;
  }

  private whiteout(whiteout: WhiteoutName, parentRel: string, base: string): void {
    if (whiteout.kind === 'aufs-meta') {
      this.policy.warn(`AUFS metadata ${base} ignored`);
      return;
    }
    const overlay = this.opts.whiteouts === 'overlay';
    const parent = this.resolver.resolveDir(parentRel, overlay || whiteout.kind === 'opaque');
    if (parent === null) return; // nothing below a missing directory to delete
    if (whiteout.kind === 'opaque') {
      if (overlay) fsx().lsetxattr(fsPath(this.resolver.host(parent)), OVERLAY_OPAQUE_XATTR, Buffer.from('y'));
      else this.clearLower(parent);
      return;
    }
    const physical = parent === '' ? whiteout.target : `${parent}/${whiteout.target}`;
    const host = this.resolver.host(physical);
    if (overlay) {
      this.replace(host, () => fsx().mknod(fsPath(host), constants.S_IFCHR, 0, 0));
      return;
    }
    const st = lstatSync(fsPath(host), { throwIfNoEntry: false });
    if (st) this.remove(host, st);
  }

  /** Removes what a directory held before this layer (an opaque marker, in 'apply' mode). */
  private clearLower(dir: string): void {
    for (const bytes of readdirSync(fsPath(this.resolver.host(dir)), { encoding: 'buffer' })) {
      const name = decodeName(bytes);
      const physical = dir === '' ? name : `${dir}/${name}`;
      const host = this.resolver.host(physical);
      const st = lstatSync(fsPath(host));
      if (!this.unpacked.has(physical)) this.remove(host, st);
      else if (st.isDirectory()) this.clearLower(physical);
    }
  }

  /** Runs `create`; if something is in the way, removes it and runs `create` again. */
  private replace<T>(host: string, create: () => T): T {
    try {
      return create();
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST') throw err;
    }
    this.remove(host, lstatSync(fsPath(host)));
    return create();
  }

  private remove(host: string, st: Stats): void {
    if (st.isDirectory()) rmSync(fsPath(host), { recursive: true, force: true });
    else unlinkSync(fsPath(host));
    // Resolutions through a removed directory or symlink are stale.
    if (st.isDirectory() || st.isSymbolicLink()) this.resolver.forget();
  }

  private markUnpacked(physical: string): void {
    for (let p = physical; p !== '' && !this.unpacked.has(p); p = parentOf(p)) this.unpacked.add(p);
  }
}

function depth(physical: string): number {
  if (physical === '') return 0;
  let n = 1;
  for (let i = physical.indexOf('/'); i !== -1; i = physical.indexOf('/', i + 1)) n++;
  return n;
}
