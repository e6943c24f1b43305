/**
 * Base images without a registry, made from what the host has:
 *  - busybox: the host's static busybox with its applets as hard links (one file's bytes);
 *  - node:    the host's node and npm with the shared libraries node needs, on busybox;
 *  - python:  the host's python3 with its standard library, the extension modules' shared
 *             libraries and the wheels `python -m venv` installs pip from, on busybox (no
 *             system site-packages: an app's dependencies go in its own venv);
 *  - postgres: the host's PostgreSQL server and client tools (pg_dump/pg_restore for backups)
 *             with their modules, share files, time zones and the C.UTF-8 locale, on busybox,
 *             behaving like the official image (entrypoints.ts);
 *  - redis:   the host's redis-server and redis-cli, persisting to /data, on busybox;
 *  - debian:  a debootstrap minbase (slow; optional).
 * Layers are packed with fixed mtimes and the configs dated by the source binaries, so the
 * same host produces the same image ids every time.
 */
import { execFile } from 'node:child_process';
import {
  chmod,
  chown,
  copyFile,
  cp,
  link,
  mkdir,
  mkdtemp,
  readFile,
  readdir,
  realpath,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { ImageConfig } from '@paas/oci';
import type { Image, ImageService } from './service';
import { PaasError } from '@paas/errors';
import { LOCALE_LIST, POSTGRES_ENTRYPOINT, REDIS_ENTRYPOINT } from './entrypoints';

const run = promisify(execFile);

export const BASE_IMAGES = ['busybox', 'node', 'python', 'postgres', 'redis', 'debian'] as const;
export type BaseImage = (typeof BASE_IMAGES)[number];

export interface BootstrapOptions {
  readonly busybox?: string;
  readonly node?: string;
  readonly npmDir?: string;
  /** The host's python3 (default /usr/bin/python3). */
  readonly python?: string;
  /** The host's PostgreSQL, `/usr/lib/postgresql/N` (default: the newest there). */
  readonly postgres?: string;
  /** The host's redis-server (default /usr/bin/redis-server); redis-cli is the one beside it. */
  readonly redisServer?: string;
  /** Progress lines for the CLI. */
  readonly log?: (line: string) => void;
}

const PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const EPOCH = new Date(0);

/** The host lacks what a base image is made from (a static busybox, an interpreter). */
export class BootstrapError extends PaasError {
  constructor(message: string) {
    super('unprocessable', message);
  }
}

/**
 * Builds a base image and tags it (`busybox:latest`, `node:20` + `node:latest`, `postgres:15` +
 * `postgres:latest`, `redis:7` + `redis:latest`, `debian:bookworm`).
 */
export async function bootstrapImage(
  images: ImageService,
  which: BaseImage,
  options: BootstrapOptions = {},
): Promise<Image> {
  switch (which) {
    case 'busybox':
      return bootstrapBusybox(images, options);
    case 'node':
      return bootstrapNode(images, options);
    case 'python':
      return bootstrapPython(images, options);
    case 'postgres':
      return bootstrapPostgres(images, options);
    case 'redis':
      return bootstrapRedis(images, options);
    case 'debian':
      return bootstrapDebian(images, options);
  }
}

async function withScratch<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'paas-bootstrap-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function bootstrapBusybox(images: ImageService, options: BootstrapOptions): Promise<Image> {
  const busybox = options.busybox ?? '/bin/busybox';
  const st = await stat(busybox).catch(() => undefined);
  if (!st) throw new BootstrapError(`${busybox} not found; install it with: apt-get install busybox-static`);
  const { stdout: banner } = await run(busybox, ['--help']).catch(() => ({ stdout: '' }));
  const version = /BusyBox v(\S+)/.exec(banner)?.[1] ?? 'unknown';
  return withScratch(async (rootfs) => {
    await makeBusyboxRootfs(rootfs, busybox);
    options.log?.(`packing busybox ${version}`);
    const layer = await images.layerFromDirectory(rootfs, { fixedMtime: EPOCH });
    const created = st.mtime.toISOString();
    const config: ImageConfig = {
      created,
      architecture: goArch(),
      os: 'linux',
      config: { Env: [PATH_ENV], Cmd: ['sh'] },
      rootfs: { type: 'layers', diff_ids: [layer.diffId] },
      history: [{ created, created_by: `paas image bootstrap busybox (host busybox ${version})` }],
    };
    return images.commit(config, [layer.descriptor], 'busybox:latest');
  });
}

const BUSYBOX_PASSWD =
  'root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/bin/false\nnobody:x:65534:65534:nobody:/home:/bin/false\n';
const BUSYBOX_GROUP = 'root:x:0:\ndaemon:x:1:\nnogroup:x:65534:\n';

async function makeBusyboxRootfs(rootfs: string, busybox: string): Promise<void> {
  for (const d of [
    'bin',
    'dev',
    'etc',
    'home',
    'proc',
    'root',
    'sys',
    'tmp',
    'usr/bin',
    'usr/sbin',
    'sbin',
    'var/tmp',
    'var/log',
  ]) {
    await mkdir(join(rootfs, d), { recursive: true });
  }
  await chmod(join(rootfs, 'root'), 0o700);
  await chmod(join(rootfs, 'tmp'), 0o1777);
  await chmod(join(rootfs, 'var/tmp'), 0o1777);
  await copyFile(busybox, join(rootfs, 'bin/busybox'));
  await chmod(join(rootfs, 'bin/busybox'), 0o755);
  const { stdout } = await run(busybox, ['--list-full']);
  for (const applet of stdout.split('\n').filter(Boolean).sort()) {
    if (applet === 'bin/busybox') continue;
    const target = join(rootfs, applet);
    await mkdir(dirname(target), { recursive: true });
    await link(join(rootfs, 'bin/busybox'), target).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    });
  }
  await writeFile(join(rootfs, 'etc/passwd'), BUSYBOX_PASSWD);
  await writeFile(join(rootfs, 'etc/group'), BUSYBOX_GROUP);
  await writeFile(join(rootfs, 'etc/shadow'), 'root:*:19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\n', {
    mode: 0o600,
  });
  await writeFile(join(rootfs, 'etc/nsswitch.conf'), 'hosts: files dns\n');
}

async function bootstrapNode(images: ImageService, options: BootstrapOptions): Promise<Image> {
  const base = await images.resolve('busybox:latest').catch(() => bootstrapBusybox(images, options));
  const node = await realpath(options.node ?? '/usr/bin/node').catch(() => {
    throw new BootstrapError('node not found at /usr/bin/node');
  });
  const npmDir = options.npmDir ?? (await findNpm());
  const { stdout: version } = await run(node, ['--version']);
  const nodeVersion = version.trim().replace(/^v/, '');
  const major = nodeVersion.split('.')[0] ?? nodeVersion;
  return withScratch(async (rootfs) => {
    await mkdir(join(rootfs, 'usr/local/bin'), { recursive: true });
    await copyFile(node, join(rootfs, 'usr/local/bin/node'));
    await chmod(join(rootfs, 'usr/local/bin/node'), 0o755);
    await copyLibraries(rootfs, await sharedLibraries(node));
    if (npmDir) {
      await cp(npmDir, join(rootfs, 'usr/local/lib/node_modules/npm'), { recursive: true, verbatimSymlinks: true });
      await symlink('../lib/node_modules/npm/bin/npm-cli.js', join(rootfs, 'usr/local/bin/npm'));
      await symlink('../lib/node_modules/npm/bin/npx-cli.js', join(rootfs, 'usr/local/bin/npx'));
    }
    options.log?.(`packing node ${nodeVersion}${npmDir ? ' with npm' : ''}`);
    const layer = await images.layerFromDirectory(rootfs, { fixedMtime: EPOCH });
    const created = (await stat(node)).mtime.toISOString();
    const config: ImageConfig = {
      created,
      architecture: base.config.architecture,
      os: 'linux',
      config: { Env: [PATH_ENV, `NODE_VERSION=${nodeVersion}`], Cmd: ['node'] },
      rootfs: { type: 'layers', diff_ids: [...base.config.rootfs.diff_ids, layer.diffId] },
      history: [
        ...(base.config.history ?? []),
        { created, created_by: `paas image bootstrap node (host node ${nodeVersion}${npmDir ? ' + npm' : ''})` },
      ],
    };
    const image = await images.commit(config, [...base.manifest.layers, layer.descriptor], `node:${major}`);
    await images.tag(`node:${major}`, 'node:latest');
    return image;
  });
}

interface PythonLayout {
  readonly version: string;
  /** The standard library (`/usr/lib/python3.11`). */
  readonly stdlib: string;
  readonly dynload: string;
  /** Where Debian's ensurepip finds the pip and setuptools wheels (optional). */
  readonly wheels: string;
}

async function pythonLayout(python: string): Promise<PythonLayout> {
  const script =
    'import json,sys,sysconfig,os;p=sysconfig.get_paths();' +
    'print(json.dumps({"version":"%d.%d.%d"%sys.version_info[:3],"stdlib":p["stdlib"],' +
    '"dynload":os.path.join(p["stdlib"],"lib-dynload")}))';
  const { stdout } = await run(python, ['-I', '-c', script]).catch((err: { code?: string; stderr?: string }) => {
    throw new BootstrapError(
      err.code === 'ENOENT'
        ? `${python} not found; install it with: apt-get install python3 python3-venv`
        : `${python} cannot describe itself: ${err.stderr ?? String(err)}`,
    );
  });
  return { ...(JSON.parse(stdout) as Omit<PythonLayout, 'wheels'>), wheels: '/usr/share/python-wheels' };
}

async function bootstrapPython(images: ImageService, options: BootstrapOptions): Promise<Image> {
  const base = await images.resolve('busybox:latest').catch(() => bootstrapBusybox(images, options));
  const python = await realpath(options.python ?? '/usr/bin/python3').catch(() => {
    throw new BootstrapError(
      `${options.python ?? '/usr/bin/python3'} not found; install it with: apt-get install python3`,
    );
  });
  const layout = await pythonLayout(python);
  if (!(await stat(join(layout.stdlib, 'ensurepip')).catch(() => undefined))) {
    throw new BootstrapError(
      `${python} has no ensurepip (python -m venv could not install pip): apt-get install python3-venv`,
    );
  }
  const minor = layout.version.split('.').slice(0, 2).join('.');
  return withScratch(async (rootfs) => {
    const bin = `/usr/local/bin/python${minor}`;
    await mkdir(join(rootfs, 'usr/local/bin'), { recursive: true });
    await copyFile(python, join(rootfs, bin));
    await chmod(join(rootfs, bin), 0o755);
    for (const name of ['python3', 'python']) await symlink(`python${minor}`, join(rootfs, 'usr/local/bin', name));
    // the interpreter finds its library next to its prefix: /usr/local/bin -> /usr/local/lib
    const stdlib = join(rootfs, 'usr/local/lib', `python${minor}`);
    await cp(layout.stdlib, stdlib, {
      recursive: true,
      verbatimSymlinks: true,
      filter: (src) =>
        !/\/(test|idlelib|tkinter|turtledemo|site-packages|dist-packages)(\/|$)/.test(src.slice(layout.stdlib.length)),
    });
    await mkdir(join(stdlib, 'site-packages'), { recursive: true });
    const wheels = await stat(layout.wheels).catch(() => undefined);
    if (wheels) await cp(layout.wheels, join(rootfs, layout.wheels), { recursive: true });
    const needed = new Set(await sharedLibraries(python));
    const { stdout: modules } = await run('find', [layout.dynload, '-name', '*.so']);
    for (const module of modules.split('\n').filter(Boolean)) {
      for (const lib of await sharedLibraries(module).catch(() => [])) needed.add(lib);
    }
    await copyLibraries(rootfs, [...needed]);
    options.log?.(`packing python ${layout.version}`);
    const layer = await images.layerFromDirectory(rootfs, { fixedMtime: EPOCH });
    const created = (await stat(python)).mtime.toISOString();
    const config: ImageConfig = {
      created,
      architecture: base.config.architecture,
      os: 'linux',
      config: {
        Env: [PATH_ENV, 'LANG=C.UTF-8', `PYTHON_VERSION=${layout.version}`, 'PYTHONDONTWRITEBYTECODE=1'],
        Cmd: ['python3'],
      },
      rootfs: { type: 'layers', diff_ids: [...base.config.rootfs.diff_ids, layer.diffId] },
      history: [
        ...(base.config.history ?? []),
        { created, created_by: `paas image bootstrap python (host python ${layout.version}: stdlib, venv; no pip)` },
      ],
    };
    const image = await images.commit(config, [...base.manifest.layers, layer.descriptor], `python:${minor}`);
    await images.tag(`python:${minor}`, 'python:3');
    await images.tag(`python:${minor}`, 'python:latest');
    return image;
  });
}

/** The uid and gid of the postgres and redis users, as in the official images. */
const SERVICE_ID = 999;

/** The client tools come from another Debian package than the server. */
const POSTGRES_SERVER = ['postgres', 'initdb', 'pg_ctl'];
const POSTGRES_CLIENT = ['pg_isready', 'psql', 'pg_dump', 'pg_restore'];

/**
 * The host's PostgreSQL installations that have `bin/TOOL` (Debian's `/usr/lib/postgresql/N`),
 * newest major first: the server for this image, pg_dump/pg_restore for add-on backups.
 */
export async function postgresInstallations(tool: string): Promise<{ major: number; home: string }[]> {
  const base = '/usr/lib/postgresql';
  const versions = await readdir(base).catch(() => [] as string[]);
  const found: { major: number; home: string }[] = [];
  for (const version of versions.filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a))) {
    if (await stat(join(base, version, 'bin', tool)).catch(() => undefined)) {
      found.push({ major: Number(version), home: join(base, version) });
    }
  }
  return found;
}

/** The newest `/usr/lib/postgresql/N` with a server in it. */
async function findPostgres(): Promise<string | undefined> {
  return (await postgresInstallations('postgres'))[0]?.home;
}

async function bootstrapPostgres(images: ImageService, options: BootstrapOptions): Promise<Image> {
  const home = options.postgres ?? (await findPostgres());
  if (!home) {
    throw new BootstrapError(
      'PostgreSQL not found in /usr/lib/postgresql; install it with: apt-get install postgresql postgresql-client',
    );
  }
  const missing: string[] = [];
  for (const tool of [...POSTGRES_SERVER, ...POSTGRES_CLIENT]) {
    if (!(await stat(join(home, 'bin', tool)).catch(() => undefined))) missing.push(tool);
  }
  if (missing.length) {
    const server = missing.some((tool) => POSTGRES_SERVER.includes(tool));
    const pkg = `${server ? 'postgresql' : 'postgresql-client'}-${basename(home)}`;
    throw new BootstrapError(`${home}/bin lacks ${missing.join(', ')}; install it with: apt-get install ${pkg}`);
  }
  const postgres = join(home, 'bin/postgres');
  const { stdout: banner } = await run(postgres, ['--version']);
  const version = /\)\s+(\d+(?:\.\d+)?)/.exec(banner)?.[1] ?? basename(home);
  const major = version.split('.')[0] ?? version;
  // where this build looks for its modules and share files (Debian: /usr/lib/postgresql/N/lib,
  // /usr/share/postgresql/N): the image keeps the host's layout, which the binaries resolve
  // relative to their own directory
  const config = join(home, 'bin/pg_config');
  const [pkglibdir, sharedir] = (await stat(config).catch(() => undefined))
    ? await Promise.all(['--pkglibdir', '--sharedir'].map(async (flag) => (await run(config, [flag])).stdout.trim()))
    : [join(home, 'lib'), `/usr/share/postgresql/${basename(home)}`];
  if (!pkglibdir || !sharedir) throw new BootstrapError(`${config} names no library or share directory`);
  const base = await images.resolve('busybox:latest').catch(() => bootstrapBusybox(images, options));
  return withScratch(async (rootfs) => {
    const binaries: string[] = [];
    await mkdir(join(rootfs, home, 'bin'), { recursive: true });
    for (const tool of [...POSTGRES_SERVER, ...POSTGRES_CLIENT]) {
      const source = await realpath(join(home, 'bin', tool));
      await copyFile(source, join(rootfs, home, 'bin', tool));
      await chmod(join(rootfs, home, 'bin', tool), 0o755);
      binaries.push(source);
    }
    // the server's modules (plpgsql, the snowball dictionaries, encodings, contrib); not the JIT,
    // which would bring LLVM (~100 MB): without its provider PostgreSQL just does not compile
    await mkdir(join(rootfs, pkglibdir), { recursive: true });
    for (const name of (await readdir(pkglibdir)).sort()) {
      if (!name.endsWith('.so') || name.startsWith('llvmjit')) continue;
      await copyFile(join(pkglibdir, name), join(rootfs, pkglibdir, name));
      binaries.push(join(pkglibdir, name));
    }
    const needed: string[] = [];
    for (const binary of binaries) needed.push(...(await sharedLibraries(binary)));
    await copyLibraries(rootfs, needed);
    await cp(sharedir, join(rootfs, sharedir), { recursive: true, verbatimSymlinks: true });
    // Debian's build reads the system's time zones; the leap-second variants (right/) are
    // unused, and localtime is a link to the host's /etc
    if (!(await stat('/usr/share/zoneinfo').catch(() => undefined))) {
      throw new BootstrapError('/usr/share/zoneinfo not found; install it with: apt-get install tzdata');
    }
    await cp('/usr/share/zoneinfo', join(rootfs, 'usr/share/zoneinfo'), {
      recursive: true,
      verbatimSymlinks: true,
      filter: (src) => !/^\/usr\/share\/zoneinfo\/(right|localtime)(\/|$)/.test(src),
    });
    await copyLocale(rootfs);
    await addServiceUser(rootfs, 'postgres', '/var/lib/postgresql');
    const pgdata = '/var/lib/postgresql/data';
    await serviceDir(rootfs, pgdata, 0o700);
    await serviceDir(rootfs, '/var/run/postgresql', 0o3777);
    await writeEntrypoint(rootfs, POSTGRES_ENTRYPOINT);
    options.log?.(`packing postgres ${version}`);
    const layer = await images.layerFromDirectory(rootfs, { fixedMtime: EPOCH });
    const created = (await stat(postgres)).mtime.toISOString();
    const imageConfig: ImageConfig = {
      created,
      architecture: base.config.architecture,
      os: 'linux',
      config: {
        Env: [
          `${PATH_ENV}:${home}/bin`,
          'LANG=C.UTF-8',
          `PG_MAJOR=${major}`,
          `PG_VERSION=${version}`,
          `PGDATA=${pgdata}`,
        ],
        Entrypoint: ['docker-entrypoint.sh'],
        Cmd: ['postgres'],
        ExposedPorts: { '5432/tcp': {} },
        Volumes: { [pgdata]: {} },
        // the official image's: SIGINT is the fast shutdown (the entrypoint maps SIGTERM to it too)
        StopSignal: 'SIGINT',
      },
      rootfs: { type: 'layers', diff_ids: [...base.config.rootfs.diff_ids, layer.diffId] },
      history: [
        ...(base.config.history ?? []),
        { created, created_by: `paas image bootstrap postgres (host PostgreSQL ${version}: server, psql, pg_dump)` },
      ],
    };
    const image = await images.commit(imageConfig, [...base.manifest.layers, layer.descriptor], `postgres:${major}`);
    await images.tag(`postgres:${major}`, 'postgres:latest');
    return image;
  });
}

async function bootstrapRedis(images: ImageService, options: BootstrapOptions): Promise<Image> {
  const given = options.redisServer ?? '/usr/bin/redis-server';
  // Debian's redis-server is a link to redis-check-rdb: one binary that acts by its name
  const server = await realpath(given).catch(() => undefined);
  const cli = await realpath(join(dirname(given), 'redis-cli')).catch(() => undefined);
  if (!server || !cli) {
    throw new BootstrapError(
      `${server ? join(dirname(given), 'redis-cli') : given} not found; install it with: apt-get install redis-server`,
    );
  }
  const { stdout: banner } = await run(given, ['--version']);
  const version = /\bv=(\d+\.\d+\.\d+)/.exec(banner)?.[1];
  if (!version) throw new BootstrapError(`${given} --version printed no version: ${banner.trim()}`);
  const major = version.split('.')[0] ?? version;
  const base = await images.resolve('busybox:latest').catch(() => bootstrapBusybox(images, options));
  return withScratch(async (rootfs) => {
    const bin = join(rootfs, 'usr/local/bin');
    await mkdir(bin, { recursive: true });
    await copyFile(server, join(bin, 'redis-server'));
    await copyFile(cli, join(bin, 'redis-cli'));
    for (const name of ['redis-server', 'redis-cli']) await chmod(join(bin, name), 0o755);
    for (const name of ['redis-check-aof', 'redis-check-rdb']) await symlink('redis-server', join(bin, name));
    await copyLibraries(rootfs, [...(await sharedLibraries(server)), ...(await sharedLibraries(cli))]);
    await addServiceUser(rootfs, 'redis', '/data');
    await serviceDir(rootfs, '/data', 0o755);
    await writeEntrypoint(rootfs, REDIS_ENTRYPOINT);
    options.log?.(`packing redis ${version}`);
    const layer = await images.layerFromDirectory(rootfs, { fixedMtime: EPOCH });
    const created = (await stat(server)).mtime.toISOString();
    const config: ImageConfig = {
      created,
      architecture: base.config.architecture,
      os: 'linux',
      config: {
        Env: [PATH_ENV, `REDIS_VERSION=${version}`],
        Entrypoint: ['docker-entrypoint.sh'],
        Cmd: ['redis-server'],
        WorkingDir: '/data',
        ExposedPorts: { '6379/tcp': {} },
        Volumes: { '/data': {} },
      },
      rootfs: { type: 'layers', diff_ids: [...base.config.rootfs.diff_ids, layer.diffId] },
      history: [
        ...(base.config.history ?? []),
        { created, created_by: `paas image bootstrap redis (host redis ${version}: redis-server, redis-cli)` },
      ],
    };
    const image = await images.commit(config, [...base.manifest.layers, layer.descriptor], `redis:${major}`);
    await images.tag(`redis:${major}`, 'redis:latest');
    return image;
  });
}

/**
 * glibc's C.UTF-8 (a directory of its own in Debian), so the server gets UTF-8 character
 * classes without any other locale data, and a `locale -a` that lists it for initdb.
 */
async function copyLocale(rootfs: string): Promise<void> {
  const locale = '/usr/lib/locale/C.utf8';
  if (!(await stat(locale).catch(() => undefined))) {
    throw new BootstrapError(`${locale} not found; install it with: apt-get install libc-bin`);
  }
  await cp(locale, join(rootfs, locale), { recursive: true });
  await writeScript(join(rootfs, 'usr/bin/locale'), LOCALE_LIST);
}

/** A system user and group with the official images' id; the layer replaces busybox's files. */
async function addServiceUser(rootfs: string, name: string, home: string): Promise<void> {
  await mkdir(join(rootfs, 'etc'), { recursive: true });
  await writeFile(
    join(rootfs, 'etc/passwd'),
    `${BUSYBOX_PASSWD}${name}:x:${SERVICE_ID}:${SERVICE_ID}::${home}:/bin/sh\n`,
  );
  await writeFile(join(rootfs, 'etc/group'), `${BUSYBOX_GROUP}${name}:x:${SERVICE_ID}:\n`);
  await serviceDir(rootfs, home, 0o755);
}

/** A directory the service user owns (the image keeps the owner: the layer records it). */
async function serviceDir(rootfs: string, path: string, mode: number): Promise<void> {
  await mkdir(join(rootfs, path), { recursive: true });
  await chown(join(rootfs, path), SERVICE_ID, SERVICE_ID).catch((err: NodeJS.ErrnoException) => {
    throw err.code === 'EPERM' ? new BootstrapError(`giving ${path} to uid ${SERVICE_ID} needs root`) : err;
  });
  await chmod(join(rootfs, path), mode);
}

async function writeEntrypoint(rootfs: string, script: string): Promise<void> {
  await writeScript(join(rootfs, 'usr/local/bin/docker-entrypoint.sh'), script);
}

async function writeScript(path: string, script: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, script);
  await chmod(path, 0o755);
}

/** The host's npm package directory, if npm is installed. */
async function findNpm(): Promise<string | undefined> {
  for (const candidate of ['/usr/lib/node_modules/npm', '/usr/local/lib/node_modules/npm', '/usr/share/nodejs/npm']) {
    if (await stat(join(candidate, 'package.json')).catch(() => undefined)) return candidate;
  }
  return undefined;
}

/** Copies libraries (the files their links lead to) to the same paths under rootfs. */
async function copyLibraries(rootfs: string, libs: Iterable<string>): Promise<void> {
  for (const lib of [...new Set(libs)].sort()) {
    await mkdir(join(rootfs, dirname(lib)), { recursive: true });
    await copyFile(await realpath(lib), join(rootfs, lib));
  }
}

/** The absolute paths of the shared libraries and loader a binary needs (from ldd). */
async function sharedLibraries(binary: string): Promise<string[]> {
  const { stdout } = await run('ldd', [binary]);
  const libs = new Set<string>();
  for (const line of stdout.split('\n')) {
    const path = /=>\s*(\/\S+)/.exec(line)?.[1] ?? /^\s*(\/\S+)\s+\(/.exec(line)?.[1];
    if (path) libs.add(path);
  }
  return [...libs].sort();
}

async function bootstrapDebian(images: ImageService, options: BootstrapOptions): Promise<Image> {
  const sources = await readFile('/etc/apt/sources.list.d/debian.sources', 'utf8')
    .catch(() => readFile('/etc/apt/sources.list', 'utf8'))
    .catch(() => '');
  const mirror =
    /URIs:\s*(\S+)/.exec(sources)?.[1] ??
    /^deb\s+(\S+)\s+bookworm\s/m.exec(sources)?.[1] ??
    'http://deb.debian.org/debian';
  return withScratch(async (rootfs) => {
    options.log?.(`debootstrap --variant=minbase bookworm from ${mirror}`);
    await run('debootstrap', ['--variant=minbase', 'bookworm', rootfs, mirror], { maxBuffer: 64 * 1024 * 1024 }).catch(
      (err: { stderr?: string; code?: string }) => {
        throw new BootstrapError(
          err.code === 'ENOENT'
            ? 'debootstrap is not installed (apt-get install debootstrap)'
            : `debootstrap failed: ${err.stderr ?? err}`,
        );
      },
    );
    await rm(join(rootfs, 'var/cache/apt/archives'), { recursive: true, force: true });
    await mkdir(join(rootfs, 'var/cache/apt/archives/partial'), { recursive: true });
    const layer = await images.layerFromDirectory(rootfs, { fixedMtime: EPOCH });
    const created = new Date().toISOString();
    const config: ImageConfig = {
      created,
      architecture: goArch(),
      os: 'linux',
      config: { Env: [PATH_ENV], Cmd: ['bash'] },
      rootfs: { type: 'layers', diff_ids: [layer.diffId] },
      history: [{ created, created_by: 'paas image bootstrap debian (debootstrap minbase bookworm)' }],
    };
    return images.commit(config, [layer.descriptor], 'debian:bookworm');
  });
}

/** The OCI architecture name of this machine (Go's GOARCH names). */
export function goArch(): string {
  const map: Record<string, string> = {
    x64: 'amd64',
    arm64: 'arm64',
    arm: 'arm',
    ia32: '386',
    ppc64: 'ppc64le',
    s390x: 's390x',
  };
  return map[process.arch] ?? process.arch;
}
