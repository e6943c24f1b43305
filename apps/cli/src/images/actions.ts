/**
 * The image verbs. Loaded on first use (see commands/images.ts), so commands that do not touch
 * images do not load the engine libraries.
 */
import { createReadStream } from 'node:fs';
import { mkdir, rmdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { BlobMismatchError, ensureDirMode, writeStreamAtomic } from '@paas/content';
import {
  AmbiguousImageError,
  ArchiveError,
  BASE_IMAGES,
  type BaseImage,
  ImageConflictError,
  ImageNotFoundError,
  type ImageService,
  bootstrapImage,
  goArch,
  loadImages,
  saveImages,
} from '@paas/images';
import { LayerError } from '@paas/layers';
import {
  type Digest,
  InvalidReferenceError,
  type ImageConfig,
  digestHex,
  familiarString,
  parseReference,
} from '@paas/oci';
import { isMountPoint, mount, readonlyOverlayMount, unmount } from '@paas/snapshots';
import { loadCliConfig } from '../config';
import { openEngine, openImages } from '../context';
import { CliError } from '../errors';
import { confirm } from '../terminal';
import { humanSize } from '../format';
import type { CliIo } from '../io';
import { type HistoryOptions, renderHistory } from './history';
import { formatTemplate, inspectImage } from './inspect';
import { type ListOptions, renderImages } from './list';

function asCliError(err: unknown): never {
  if (err instanceof ImageNotFoundError || err instanceof AmbiguousImageError || err instanceof ImageConflictError) {
    throw new CliError(err.message);
  }
  if (err instanceof InvalidReferenceError) throw new CliError(err.message);
  throw err;
}

export async function images(io: CliIo, filter: string | undefined, options: ListOptions): Promise<void> {
  const service = await openImages(io);
  io.out(renderImages(await service.summaries(), options, filter));
}

/** The image store, and the ids of the images containers use (rmi and prune keep those). */
async function imagesAndUsers(io: CliIo): Promise<{ service: ImageService; inUse: ReadonlySet<Digest> }> {
  const engine = await openEngine(io);
  return { service: engine.images, inUse: await engine.imagesInUse() };
}

export async function rmi(io: CliIo, refs: string[], options: { force?: boolean; prune?: boolean }): Promise<void> {
  const { service, inUse } = await imagesAndUsers(io);
  let failed = 0;
  for (const ref of refs) {
    try {
      // commander's --no-prune: prune is true unless it is given
      const result = await service.remove(ref, { force: options.force ?? false, inUse, prune: options.prune ?? true });
      for (const name of result.untagged) io.out(`Untagged: ${familiar(name)}\n`);
      for (const id of result.deleted) io.out(`Deleted: ${id}\n`);
    } catch (err) {
      failed++;
      if (
        err instanceof ImageNotFoundError ||
        err instanceof ImageConflictError ||
        err instanceof AmbiguousImageError
      ) {
        io.err(`Error: ${err.message}\n`);
      } else throw err;
    }
  }
  await service.gc();
  if (failed) throw new CliError(`${failed} of ${refs.length} images could not be removed`, 1);
}

/** `docker.io/library/busybox:latest` as people write it: `busybox:latest`. */
function familiar(name: string): string {
  return familiarString(parseReference(name));
}

export async function tag(io: CliIo, source: string, target: string): Promise<void> {
  const service = await openImages(io);
  await service.tag(source, target).catch(asCliError);
}

export async function history(io: CliIo, ref: string, options: HistoryOptions): Promise<void> {
  const service = await openImages(io);
  const image = await service.resolve(ref).catch(asCliError);
  io.out(renderHistory(image, options));
}

/** `inspect`: containers first, then images, then volumes, as `docker inspect` looks them up. */
export async function inspect(io: CliIo, refs: string[], options: { format?: string; type?: string }): Promise<void> {
  const engine = await openEngine(io);
  const service = engine.images;
  const summaries = await service.summaries();
  const found: Record<string, unknown>[] = [];
  let missing = 0;
  for (const ref of refs) {
    if (options.type !== 'image') {
      const record = await engine.containers.resolve(ref).catch(() => undefined);
      if (record) {
        const { inspectContainer } = await import('../containers/actions');
        found.push(await inspectContainer(engine, record));
        continue;
      }
    }
    try {
      if (options.type === 'container' || options.type === 'volume') throw new ImageNotFoundError(ref);
      const image = await service.resolve(ref);
      const size = summaries.find((s) => s.manifestDigest === image.manifestDigest)?.size ?? 0;
      found.push(inspectImage(image, size));
    } catch (err) {
      if (!(err instanceof ImageNotFoundError || err instanceof AmbiguousImageError)) throw err;
      // then volumes, as docker inspect looks them up
      const volume =
        options.type === undefined || options.type === 'volume' ? await engine.volumes.find(ref) : undefined;
      if (volume) {
        const { inspectVolume } = await import('../volumes/actions');
        found.push(inspectVolume(volume));
        continue;
      }
      missing++;
      io.err(`Error: No such object: ${ref}\n`);
    }
  }
  if (options.format) for (const f of found) io.out(`${formatTemplate(options.format, f)}\n`);
  else io.out(`${JSON.stringify(found, null, 4)}\n`);
  if (missing) throw new CliError('', 1);
}

export async function bootstrap(io: CliIo, names: string[]): Promise<void> {
  const service = await openImages(io);
  for (const name of names.length ? names : ['busybox', 'node']) {
    if (!(BASE_IMAGES as readonly string[]).includes(name)) {
      throw new CliError(`unknown base image "${name}"; choose from ${BASE_IMAGES.join(', ')}`, 125);
    }
    const image = await bootstrapImage(service, name as BaseImage, { log: (l) => io.out(`${l}\n`) });
    io.out(`${image.names.map(familiar).join(', ')}: ${image.id}\n`);
  }
}

export async function prune(io: CliIo, options: { all?: boolean; force?: boolean }): Promise<void> {
  if (!options.force) {
    const question = options.all
      ? 'WARNING! This will remove all images without at least one container associated to them.'
      : 'WARNING! This will remove all dangling images.';
    if (!(await confirm(io, `${question}\nAre you sure you want to continue? [y/N] `))) return;
  }
  const { service, inUse } = await imagesAndUsers(io);
  const result = await service.prune({ all: options.all ?? false, inUse });
  if (result.deleted.length) io.out(`Deleted Images:\n${result.deleted.map((d) => `deleted: ${d}\n`).join('')}\n`);
  io.out(`Total reclaimed space: ${humanSize(result.reclaimedBytes)}\n`);
}

/** `image import DIR|TARBALL [REF]`: a one-layer image from a directory or a root filesystem tarball. */
export async function importImage(
  io: CliIo,
  source: string,
  ref: string | undefined,
  options: { change?: string[]; message?: string },
): Promise<void> {
  const service = await openImages(io);
  const st = await stat(source).catch(() => undefined);
  if (!st) throw new CliError(`open ${source}: no such file or directory`);
  const layer = st.isDirectory() ? await service.layerFromDirectory(source) : await service.layerFromTarball(source);
  const created = new Date().toISOString();
  const config: ImageConfig = {
    created,
    architecture: goArch(),
    os: 'linux',
    config: applyChanges(options.change ?? []),
    rootfs: { type: 'layers', diff_ids: [layer.diffId] },
    history: [
      { created, created_by: `paas image import ${source}`, ...(options.message ? { comment: options.message } : {}) },
    ],
  };
  const image = await service.commit(config, [layer.descriptor], ref).catch(asCliError);
  io.out(`${image.id}\n`);
}

/** `--change 'CMD ["sh"]'`, `ENV A=b`, `WORKDIR /x` … the metadata instructions import accepts. */
function applyChanges(changes: string[]): NonNullable<ImageConfig['config']> {
  const config: NonNullable<ImageConfig['config']> = {};
  for (const change of changes) {
    const m = /^\s*(\w+)\s+(.*)$/s.exec(change);
    if (!m) throw new CliError(`invalid --change "${change}"`, 125);
    const [, instr = '', arg = ''] = m;
    const list = (): string[] => (arg.trim().startsWith('[') ? (JSON.parse(arg) as string[]) : ['/bin/sh', '-c', arg]);
    switch (instr.toUpperCase()) {
      case 'CMD':
        config.Cmd = list();
        break;
      case 'ENTRYPOINT':
        config.Entrypoint = list();
        break;
      case 'ENV':
        config.Env = [...(config.Env ?? []), arg.includes('=') ? arg.trim() : arg.trim().replace(/\s+/, '=')];
        break;
      case 'WORKDIR':
        config.WorkingDir = arg.trim();
        break;
      case 'USER':
        config.User = arg.trim();
        break;
      case 'EXPOSE':
        config.ExposedPorts = { ...config.ExposedPorts, [arg.includes('/') ? arg.trim() : `${arg.trim()}/tcp`]: {} };
        break;
      case 'LABEL': {
        const [k = '', ...v] = arg.split('=');
        config.Labels = {
          ...config.Labels,
          [k.trim()]: v
            .join('=')
            .trim()
            .replace(/^"(.*)"$/, '$1'),
        };
        break;
      }
      case 'STOPSIGNAL':
        config.StopSignal = arg.trim();
        break;
      default:
        throw new CliError(`${instr} is not a valid change command`, 125);
    }
  }
  return config;
}

/** `save IMAGE... [-o FILE]`: to a file (atomically) or to stdout when it is not a terminal. */
export async function save(io: CliIo, refs: string[], options: { output?: string }): Promise<void> {
  const service = await openImages(io);
  for (const ref of refs) await service.resolve(ref).catch(asCliError);
  if (!options.output) {
    if (process.stdout.isTTY)
      throw new CliError('cowardly refusing to save to a terminal. Use the -o flag or redirect');
    await saveImages(service, refs, process.stdout);
    return;
  }
  await writeStreamAtomic(options.output, (out) => saveImages(service, refs, out));
}

/** `load [-i FILE]`: from a file or stdin. */
export async function load(io: CliIo, options: { input?: string; quiet?: boolean }): Promise<void> {
  const service = await openImages(io);
  let input: Readable;
  if (options.input) {
    if (!(await stat(options.input).catch(() => undefined)))
      throw new CliError(`open ${options.input}: no such file or directory`);
    input = createReadStream(options.input);
  } else {
    if (process.stdin.isTTY) throw new CliError('requested load from stdin, but stdin is empty');
    input = process.stdin;
  }
  let loaded;
  try {
    loaded = await loadImages(service, input);
  } catch (err) {
    if (err instanceof ArchiveError || err instanceof LayerError || err instanceof BlobMismatchError) {
      throw new CliError(`load: ${err.message}`);
    }
    throw err;
  }
  for (const { image, tags } of loaded) {
    if (tags.length === 0) io.out(`Loaded image ID: ${image.id}\n`);
    for (const tag of tags) io.out(`Loaded image: ${tag}\n`);
  }
}

function mountPoint(io: CliIo, id: Digest): string {
  return join(loadCliConfig(io.env).paths.run, 'mounts', digestHex(id));
}

/** `image mount IMAGE`: unpacks the image and mounts its layers read-only; prints where (as podman does). */
export async function mountImage(io: CliIo, ref: string): Promise<void> {
  const service = await openImages(io);
  const image = await service.resolve(ref).catch(asCliError);
  const lowers = await service.snapshots.lowerDirs(await service.unpack(image));
  const target = mountPoint(io, image.id);
  // root's alone, as podman's: the image's files are no other user's to read
  await ensureDirMode(dirname(target));
  await mkdir(target, { recursive: true });
  if (!(await isMountPoint(target))) await mount(readonlyOverlayMount(lowers), target);
  io.out(`${target}\n`);
}

/** `image unmount IMAGE` */
export async function unmountImage(io: CliIo, ref: string): Promise<void> {
  const service = await openImages(io);
  const image = await service.resolve(ref).catch(asCliError);
  const target = mountPoint(io, image.id);
  await unmount(target);
  await rmdir(target).catch(() => undefined);
  io.out(`${image.id}\n`);
}
