/**
 * The volume verbs, loaded on first use: output, messages and exit codes as Docker's (1 for
 * any failure; each name of `rm` and `inspect` tried, the failures said one by one).
 */
import { type Volume, type VolumeFilters, VolumeError, VolumeInUseError, VolumeNotFoundError } from '@paas/engine';
import { parseLabels } from '../containers/options';
import { openEngine } from '../context';
import { CliError } from '../errors';
import { humanSize, table } from '../format';
import { formatTemplate } from '../images/inspect';
import type { CliIo } from '../io';
import { confirm } from '../terminal';

/** The store's refusals as the CLI reports them; anything else is a bug and keeps its stack. */
function volumeError(err: unknown): CliError {
  if (err instanceof VolumeError || err instanceof VolumeNotFoundError || err instanceof VolumeInUseError)
    return new CliError(err.message, 1);
  throw err;
}

function checkDriver(driver: string | undefined): void {
  if (driver !== undefined && driver !== 'local')
    throw new CliError(`plugin "${driver}" not found: only the local volume driver exists`, 1);
}

export async function create(
  io: CliIo,
  name: string | undefined,
  opts: { driver?: string; label?: string[] },
): Promise<void> {
  checkDriver(opts.driver);
  const engine = await openEngine(io);
  const volume = await engine.volumes.create(name, { labels: parseLabels(opts.label ?? []) }).catch((err: unknown) => {
    throw volumeError(err);
  });
  io.out(`${volume.name}\n`);
}

/** `--filter` values as the store takes them; an unknown key is Docker's error. */
export function parseVolumeFilters(entries: readonly string[]): VolumeFilters & { driver?: string[] } {
  const name: string[] = [];
  const label: string[] = [];
  const driver: string[] = [];
  let dangling: boolean | undefined;
  for (const entry of entries) {
    const eq = entry.indexOf('=');
    const key = eq < 0 ? entry : entry.slice(0, eq);
    const value = eq < 0 ? '' : entry.slice(eq + 1);
    switch (key) {
      case 'name':
        name.push(value);
        break;
      case 'label':
        label.push(value);
        break;
      case 'driver':
        driver.push(value);
        break;
      case 'dangling':
        if (!['true', '1', 'false', '0'].includes(value.toLowerCase()))
          throw new CliError(`invalid filter 'dangling=${value}'`, 1);
        dangling = value === 'true' || value === '1';
        break;
      default:
        throw new CliError(`invalid filter '${key}'`, 1);
    }
  }
  return {
    ...(name.length ? { name } : {}),
    ...(label.length ? { label } : {}),
    ...(driver.length ? { driver } : {}),
    ...(dangling !== undefined ? { dangling } : {}),
  };
}

export async function ls(io: CliIo, opts: { quiet?: boolean; filter?: string[]; format?: string }): Promise<void> {
  const filters = parseVolumeFilters(opts.filter ?? []);
  const engine = await openEngine(io);
  const volumes = filters.driver?.some((d) => d !== 'local')
    ? []
    : await engine.volumes.list(filters).catch((err: unknown) => {
        throw volumeError(err);
      });
  if (opts.quiet) io.out(volumes.map((v) => `${v.name}\n`).join(''));
  else if (opts.format)
    io.out(
      volumes.map((v) => `${formatTemplate(opts.format ?? '', { ...inspectVolume(v), Driver: v.driver })}\n`).join(''),
    );
  else
    io.out(
      table(
        ['DRIVER', 'VOLUME NAME'],
        volumes.map((v) => [v.driver, v.name]),
      ),
    );
}

/** Docker's `volume inspect` object. */
export function inspectVolume(v: Volume): Record<string, unknown> {
  return {
    CreatedAt: v.createdAt,
    Driver: v.driver,
    Labels: v.labels,
    Mountpoint: v.mountpoint,
    Name: v.name,
    Options: null,
    Scope: v.scope,
  };
}

export async function inspect(io: CliIo, names: string[], opts: { format?: string }): Promise<void> {
  const engine = await openEngine(io);
  const found: Record<string, unknown>[] = [];
  let failed = 0;
  for (const name of names) {
    try {
      found.push(inspectVolume(await engine.volumes.get(name)));
    } catch (err) {
      failed++;
      io.err(`Error: ${volumeError(err).message}\n`);
    }
  }
  if (opts.format) for (const f of found) io.out(`${formatTemplate(opts.format, f)}\n`);
  else io.out(`${JSON.stringify(found, null, 4)}\n`);
  if (failed) throw new CliError('', 1);
}

export async function rm(io: CliIo, names: string[], opts: { force?: boolean }): Promise<void> {
  const engine = await openEngine(io);
  let failed = 0;
  for (const name of names) {
    try {
      await engine.volumes.remove(name, { force: opts.force ?? false });
      io.out(`${name}\n`);
    } catch (err) {
      failed++;
      // Docker's wording for a volume rm cannot find: "get NAME: no such volume"
      const message = err instanceof VolumeNotFoundError ? `get ${name}: no such volume` : volumeError(err).message;
      io.err(`Error response from daemon: ${message}\n`);
    }
  }
  if (failed) throw new CliError('', 1);
}

export async function prune(io: CliIo, opts: { all?: boolean; force?: boolean; filter?: string[] }): Promise<void> {
  const filters = parseVolumeFilters(opts.filter ?? []);
  if (filters.name || filters.dangling !== undefined || filters.driver)
    throw new CliError('invalid filter for volume prune: only label=... is supported', 1);
  if (!opts.force) {
    const question = opts.all
      ? 'WARNING! This will remove all local volumes not used by at least one container.'
      : 'WARNING! This will remove anonymous local volumes not used by at least one container.';
    if (!(await confirm(io, `${question}\nAre you sure you want to continue? [y/N] `))) return;
  }
  const engine = await openEngine(io);
  const { removed, reclaimedBytes } = await engine.volumes
    .prune({ all: opts.all ?? false, label: filters.label ?? [] })
    .catch((err: unknown) => {
      throw volumeError(err);
    });
  if (removed.length) io.out(`Deleted Volumes:\n${removed.join('\n')}\n\n`);
  io.out(`Total reclaimed space: ${humanSize(reclaimedBytes)}\n`);
}
