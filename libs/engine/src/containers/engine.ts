/**
 * Containers from images, daemonless like podman: every CLI process uses this library
 * directly; a container lives on under its paas-shim after the CLI exits, and any later
 * process finds it again from its directory.
 *
 *   <PAAS_ROOT>/containers/<id>/container.json   what it was made from
 *                               config.json      the OCI bundle config (bundle = this dir)
 *                               rootfs/          overlay mount point (image layers + upper)
 *                               upper/ work/     the container's own changes
 *                               etc/             hosts, hostname, resolv.conf it gets
 *                               shim/            the shim's state dir and the log
 *                               volumes/<n>      idmapped views of its volumes (--userns=auto)
 *   <PAAS_ROOT>/volumes/<name>/                   named volumes (volume-store.ts), bind-mounted
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { isIPv4 } from 'node:net';
import { constants as osConstants } from 'node:os';
import { chmod, chown, mkdir, readFile, readdir, rm, symlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ensureDirMode, isProcessAlive, writeFileAtomic } from '@paas/content';
import type { Image, ImageService } from '@paas/images';
import type { Digest } from '@paas/oci';
import {
  IdmapRefusedError,
  isMountPoint,
  mount,
  mountIdmappedBind,
  mountIdmappedOverlay,
  overlayMount,
  unmount,
} from '@paas/snapshots';
import { RootResolver } from '@paas/layers';
import {
  type BridgeSettings,
  BridgeNetwork,
  BridgeSandboxes,
  IpamError,
  type Lease,
  type PortRange,
  isLoopbackIp,
  ownHosts,
  proxySpecs,
  publishedPorts,
  readContainerResolvConf,
  type ServiceEndpoint,
} from '../network';
import { type RunOptions, SpecError, type VolumeMount, buildSpec, cleanDestination, processArgs } from '../spec';
import { resolveUser } from '../user';
import { copyTree, copyUp } from '../volumes/copy-up';
import { VolumeInUseError, VolumeNotFoundError, VolumeStore, validateVolumeName } from '../volumes/volume-store';
import { type TerminalAttachment, connectTerminal } from './attach';
import { randomName } from './names';
import {
  type ContainerRecord,
  ContainerConflictError,
  ContainerNotFoundError,
  CONTAINER_DIR_MODE,
  ContainerStore,
  type NetworkMode,
  type PortMapping,
  type RestartPolicy,
  newContainerId,
  validateName,
} from './record';
import {
  type ShimBinaries,
  type ShimExit,
  type ShimStatus,
  liveShimPid,
  readExit,
  readStatus,
  resetStateDir,
  startShim,
  stopShim,
  waitExit,
} from './shim';
import { type ErrorCode, PaasError } from '@paas/errors';
import { execProgram } from '../exec';
import {
  type PoolSettings,
  type UsernsMode,
  UsernsError,
  UsernsPool,
  ensureSearchable,
  poolSettings,
  SUBID_FILES,
  type SubidFiles,
  subordinateRanges,
} from '../userns/pool';
import { diskUsage } from '../disk-usage';

export interface CreateOptions {
  readonly name?: string;
  readonly run: RunOptions;
  readonly hostname?: string;
  readonly labels?: Record<string, string>;
  readonly network?: NetworkMode;
  readonly ports?: PortMapping[];
  /** `-P`: publish every port the image exposes on a free host port. */
  readonly publishAll?: boolean;
  /**
   * The add-on endpoints (service address, port in PAAS_ADDON_PORTS) the container may open
   * connections to; every other add-on port is closed to it (network/rules.ts). Bridge only.
   */
  readonly reach?: readonly ServiceEndpoint[];
  readonly restart?: RestartPolicy;
  readonly stopSignal?: string;
  readonly stopTimeout?: number;
  readonly autoRemove?: boolean;
  readonly interactive?: boolean;
  /**
   * `--userns`: `host` (the default, as Docker's) or `auto`, a user namespace with a range of
   * the pool; containers given the same `key` share one range (the platform: one per app).
   */
  readonly userns?: { readonly mode: UsernsMode; readonly key?: string };
}

export type ContainerStatus = 'created' | 'running' | 'restarting' | 'exited' | 'dead';

export interface ContainerState {
  readonly status: ContainerStatus;
  readonly running: boolean;
  readonly pid: number;
  readonly exitCode: number;
  readonly oomKilled: boolean;
  readonly startedAt?: string;
  readonly finishedAt?: string;
  readonly restartCount: number;
  readonly error?: string;
}

/**
 * The label of a platform container (an app's instance, one-off run or release phase):
 * such a container is isolated on the bridge, from every other container and from every
 * other one's published ports; the host (the router) still reaches it. Unlabelled
 * containers keep Docker's default (icc: they talk to each other).
 */
export const APP_LABEL = 'paas.app';

export interface EngineOptions {
  readonly root: string;
  readonly images: ImageService;
  readonly binaries: ShimBinaries;
  /** A static init bind-mounted for `--init` (native/runtime/build/paas-init). */
  readonly initBinary?: string;
  /** Bridge networking: the bridge and `$PAAS_RUN/network`. Without it only `none` and `host` work. */
  readonly network?: { readonly bridge: BridgeSettings; readonly runDir: string };
  /**
   * `$PAAS_RUN`: where a container with a terminal gets a short alias of its shim's directory
   * (`tty/<id prefix>`), since the shim's sockets there must fit a unix socket path (107 bytes),
   * and `<root>/containers/<id>/shim/console.sock` does not under most roots. Without it the
   * shim gets the directory itself.
   */
  readonly runDir?: string;
  /** `PAAS_USERNS_POOL` (`START:COUNT`), read when a container first asks for `--userns=auto`. */
  readonly usernsPool?: string;
  /** Where the pool is checked against other users' subordinate ids and reserved: /etc/subuid and /etc/subgid. */
  readonly subidFiles?: SubidFiles;
}

export class EngineError extends PaasError {
  constructor(
    message: string,
    /** Docker's exit codes: 125 the engine failed, 126 cannot execute, 127 not found. */
    readonly exitCode = 125,
    code: ErrorCode = exitCode === 127 ? 'not_found' : exitCode === 126 ? 'unprocessable' : 'internal',
  ) {
    super(code, message);
  }
}

export class Engine {
  readonly containers: ContainerStore;
  readonly volumes: VolumeStore;
  readonly network: BridgeNetwork | undefined;
  /** The bridge for processes that are not containers of the store (a build's RUN steps). */
  readonly sandboxes: BridgeSandboxes | undefined;
  private pool: UsernsPool | undefined;
  /** initForUserns: the copy of the init under the root, once per process. */
  private initCopy: Promise<string> | undefined;
  /** ensureTrees, once per process. */
  private trees: Promise<void> | undefined;

  constructor(private readonly options: EngineOptions) {
    this.containers = new ContainerStore(join(options.root, 'containers'));
    this.volumes = new VolumeStore({
      root: join(options.root, 'volumes'),
      usersOf: async (name) =>
        (await this.containers.list()).filter((c) => c.run.volumes?.some((v) => v.name === name)).map((c) => c.id),
    });
    this.network = options.network
      ? new BridgeNetwork({
          bridge: options.network.bridge,
          runDir: options.network.runDir,
          inUse: async (id) => {
            const record = await this.containers.read(id);
            const state = record ? await this.state(record) : undefined;
            return state !== undefined && (state.running || state.status === 'restarting');
          },
        })
      : undefined;
    this.sandboxes = this.network ? new BridgeSandboxes(this.network) : undefined;
  }

  /** The user namespace pool; its setting is read when a range is first handed out (a bad one fails only `--userns=auto`). */
  usernsPool(): UsernsPool {
    let settings: PoolSettings | undefined;
    const files = this.options.subidFiles ?? SUBID_FILES;
    this.pool ??= new UsernsPool(
      join(this.options.root, 'userns'),
      () => (settings ??= poolSettings(this.options.usernsPool, subordinateRanges(files))),
      async () => this.holdersAlive(),
      // an operator's pool may lie where useradd hands out ids: reserved so that it steers clear
      this.options.usernsPool ? files : null,
    );
    return this.pool;
  }

  /**
   * Who may hold a range: the store's containers, and whatever the runtime still has a
   * container of (a build's RUN step, `build-*`, which the store does not know). A step whose
   * builder died keeps its range until its container is gone (removeAbandoned kills it,
   * then releases), so no other key gets the ids it may still run with.
   */
  private async holdersAlive(): Promise<Set<string>> {
    const held = await readdir(this.options.binaries.runtimeRoot).catch(() => [] as string[]);
    return new Set([...(await this.containers.ids()), ...held]);
  }

  get images(): ImageService {
    return this.options.images;
  }

  private paths(id: string): {
    dir: string;
    rootfs: string;
    upper: string;
    work: string;
    etc: string;
    shim: string;
    log: string;
    volumes: string;
  } {
    const dir = this.containers.dir(id);
    return {
      dir,
      rootfs: join(dir, 'rootfs'),
      upper: join(dir, 'upper'),
      work: join(dir, 'work'),
      etc: join(dir, 'etc'),
      shim: join(dir, 'shim'),
      log: join(dir, 'shim', 'container.log'),
      volumes: join(dir, 'volumes'),
    };
  }

  private ownHostsFile(record: ContainerRecord): string {
    return join(this.paths(record.id).etc, 'hosts');
  }

  logPath(record: ContainerRecord): string {
    return this.paths(record.id).log;
  }

  /** `create`: everything but starting. On any failure nothing is left behind. */
  async create(imageRef: string, opts: CreateOptions): Promise<ContainerRecord> {
    const image = await this.images.resolve(imageRef);
    const name = opts.name ?? randomName();
    validateName(name);
    const id = newContainerId();
    const p = this.paths(id);
    const hostname = opts.hostname ?? id.slice(0, 12);
    const network = opts.network ?? (this.network ? 'bridge' : 'none');
    if (network === 'bridge' && !this.network) throw new EngineError('network bridge not found', 125, 'not_found');
    // Docker discards published ports outside the bridge (the CLI warns about it)
    const ports =
      network === 'bridge'
        ? publishedPorts(opts.ports ?? [], opts.publishAll ?? false, image.config.config?.ExposedPorts)
        : [];
    const loopbackUdp = ports.find((p) => p.protocol === 'udp' && isLoopbackIp(p.hostIp));
    if (loopbackUdp) {
      throw new EngineError(
        `invalid publish ${loopbackUdp.hostIp}:${loopbackUdp.hostPort}:${loopbackUdp.containerPort}/udp: ` +
          'udp on a loopback host address is not supported (the loopback proxy is tcp only); publish on 0.0.0.0 or a host address',
        125,
        'unsupported',
      );
    }
    if (ports.length) await this.network?.checkPorts(id, ports).catch((err: unknown) => networkError(name, err));
    const reach = checkReach(network, opts.reach ?? [], this.network?.settings.addonPorts);
    const usernsMode = opts.userns?.mode ?? 'host';
    if (usernsMode !== 'host' && usernsMode !== 'auto')
      throw new UsernsError(`invalid --userns "${String(usernsMode)}": use "auto" or "host"`);
    if (usernsMode === 'auto' && network === 'host')
      throw new UsernsError('--userns=auto cannot share the host network (--network=host): use --userns=host');
    if (usernsMode === 'auto' && opts.run.privileged)
      throw new UsernsError('--privileged needs the host user namespace: use --userns=host');
    // on the bridge the runtime mounts the container's own sysfs before the user namespace;
    // runc refuses the sysfs there and crun binds the host's /sys (every interface, the host's
    // cgroup tree): only paas-runtime keeps another app's instances out of sight
    if (usernsMode === 'auto' && network === 'bridge' && basename(this.options.binaries.runtime) !== 'paas-runtime')
      throw new UsernsError(
        `--userns=auto on the bridge needs paas-runtime, not ${basename(this.options.binaries.runtime)} (PAAS_RUNTIME): use --userns=host or --network none`,
      );
    const chainIds = await this.images.unpack(image);
    const args = processArgs(image.config.config, opts.run);
    const volumeRequests = volumesOf(opts.run, image.config.config?.Volumes);
    const wanted: ContainerRecord = {
      id,
      name,
      created: new Date().toISOString(),
      image: imageRef,
      imageId: image.id,
      chainIds,
      args,
      run: opts.run,
      hostname,
      labels: { ...(image.config.config?.Labels ?? {}), ...(opts.labels ?? {}) },
      network: { mode: network, ports, ...(reach.length ? { reach } : {}) },
      restart: opts.restart ?? 'no',
      stopSignal: opts.stopSignal ?? image.config.config?.StopSignal ?? 'SIGTERM',
      stopTimeout: opts.stopTimeout ?? 10,
      autoRemove: opts.autoRemove ?? false,
      interactive: opts.interactive ?? false,
    };
    await this.ensureTrees();
    // the range first, so that a pool exhausted leaves nothing behind; released if create fails
    const userns = usernsMode === 'auto' ? await this.usernsPool().acquire(opts.userns?.key ?? id, id) : undefined;
    let record: ContainerRecord;
    try {
      record = await this.createRecord(
        userns ? { ...wanted, userns } : wanted,
        volumeRequests,
        opts.name === undefined,
      );
    } catch (err) {
      if (userns) await this.usernsPool().release(id);
      throw err;
    }
    try {
      await Promise.all([p.upper, p.work, p.rootfs, p.etc].map((d) => mkdir(d, { recursive: true })));
      await this.mountRootfs(record);
      // Docker's copy-up, at create as Docker does it: the image's files into each empty volume
      for (const { name = '', destination } of record.run.volumes ?? []) {
        await this.volumes.lockedVolume(name, async () =>
          copyUp(p.rootfs, destination, this.volumes.mountpoint(name), record.userns),
        );
      }
      await this.writeBundle(record, image);
      return record;
    } catch (err) {
      await this.destroy(record);
      await this.removeAnonymousVolumes(record);
      throw err;
    }
  }

  /**
   * The record, with its volumes made (a missing named one is created, as Docker does on
   * first use; an anonymous one gets a generated name), under the volume store's lock: a
   * `volume rm` sees either no container or one that uses the volume, never a gap between.
   */
  private async createRecord(
    wanted: ContainerRecord,
    requests: VolumeMount[],
    generatedName: boolean,
  ): Promise<ContainerRecord> {
    const rename = generatedName ? randomName : undefined;
    // most containers have no volume: they never queue on the store's lock (an agent creates hundreds at once)
    if (requests.length === 0) return this.containers.create(wanted, rename);
    const made: VolumeMount[] = [];
    try {
      return await this.volumes.locked(async () => {
        for (const request of requests) {
          const volume = await this.volumes.create(request.name);
          made.push({ ...request, name: volume.name, anonymous: request.name === undefined });
        }
        const run = { ...wanted.run, volumes: made };
        return this.containers.create({ ...wanted, run }, rename);
      });
    } catch (err) {
      await this.removeAnonymousVolumes({ run: { ...wanted.run, volumes: made } });
      throw err;
    }
  }

  /** `rm -v`, `run --rm`: the container's anonymous volumes go with it (unless another uses one). */
  private async removeAnonymousVolumes(record: Pick<ContainerRecord, 'run'>): Promise<void> {
    for (const v of record.run.volumes ?? []) {
      if (!v.anonymous || v.name === undefined) continue;
      await this.volumes.remove(v.name).catch((err: unknown) => {
        if (!(err instanceof VolumeInUseError || err instanceof VolumeNotFoundError)) throw err;
      });
    }
  }

  private async mountRootfs(record: ContainerRecord): Promise<void> {
    const p = this.paths(record.id);
    if (record.userns) await this.mountVolumeViews(record);
    if (await isMountPoint(p.rootfs)) return;
    const lowers = await this.images.snapshots.lowerDirs(record.chainIds);
    if (!record.userns) return mount(overlayMount(lowers, p.upper, p.work), p.rootfs);
    const { hostId, size } = record.userns;
    await this.dirAccess(record);
    // the upper's root is the merged root: the namespace's root must own it to write at the top
    await chown(p.upper, hostId, hostId);
    try {
      await mountIdmappedOverlay(lowers, p.upper, p.work, p.rootfs, { hostId, size });
    } catch (err) {
      if (!(err instanceof IdmapRefusedError)) throw err;
      await mount(overlayMount(await this.shiftedLowers(record, lowers, err), p.upper, p.work), p.rootfs);
    }
  }

  /**
   * Where the kernel or the layers' file system refuses idmapped mounts: the container's own
   * copy of its image's layers (`lowers/<n>`), owned by its range, made once (a restart
   * reuses it). It costs the image's size in disk and time: measured, and said once a process.
   */
  private async shiftedLowers(record: ContainerRecord, lowers: readonly string[], why: Error): Promise<string[]> {
    const { hostId, size } = record.userns ?? { hostId: 0, size: 0 };
    const dir = join(this.paths(record.id).dir, 'lowers');
    const done = join(dir, 'complete');
    const copies = lowers.map((_, i) => join(dir, String(i)));
    if (existsSync(done)) return copies;
    const started = performance.now();
    await rm(dir, { recursive: true, force: true });
    for (const [i, lower] of lowers.entries()) {
      const copy = copies[i] ?? '';
      await mkdir(copy, { recursive: true });
      await copyTree(lower, copy, (id) => (id < BigInt(size) ? Number(id) + hostId : Number(id)), true);
    }
    await writeFileAtomic(done, '');
    if (!warnedCopy) {
      warnedCopy = true;
      process.emitWarning(
        `${why.message}: container ${record.id.slice(0, 12)} got a chowned copy of its ${lowers.length} ` +
          `layers instead (${Math.round(performance.now() - started)} ms); later ones are not reported`,
        'UsernsWarning',
      );
    }
    return copies;
  }

  private ownRoots(): string[] {
    return [this.options.root, ...(this.options.runDir ? [this.options.runDir] : [])];
  }

  /**
   * The init a container in a user namespace binds: a copy under the engine's root. Its root
   * reaches a bind's source through every parent directory, and the init of the build (the
   * repository's, under /root when it was cloned there: 0700) is not ours to open up. Copied
   * when it differs (a rebuilt init), once per process.
   */
  private initForUserns(): Promise<string> {
    this.initCopy ??= (async () => {
      const source = this.options.initBinary ?? '';
      const target = join(this.options.root, 'bin', 'paas-init');
      const [want, have] = await Promise.all([readFile(source), readFile(target).catch(() => null)]);
      if (!have?.equals(want)) {
        await mkdir(dirname(target), { recursive: true, mode: 0o711 });
        await writeFileAtomic(target, want, 0o755);
      }
      return target;
    })().catch((err: unknown) => {
      this.initCopy = undefined;
      throw err;
    });
    return this.initCopy;
  }

  /**
   * What the runtime opens as the container's root, made reachable to it: its bundle, the
   * bridge's shared hosts file, the init. At start, when the bridge's directory exists.
   */
  private async reachableInUserns(record: ContainerRecord): Promise<void> {
    await this.dirAccess(record);
    if (!record.userns) return;
    const paths: string[] = [];
    const bridge = this.bridgeOf(record);
    if (bridge && !isolated(record)) paths.push(dirname(bridge.hostsFile));
    if (this.options.initBinary && record.run.init) paths.push(dirname(await this.initForUserns()));
    for (const path of paths) await ensureSearchable(path, this.ownRoots());
  }

  /**
   * The container's directory (its bundle, upper, volume views, log) and the engine's trees
   * beside it, no more open than their users need: an escaped process runs on the host as a
   * uid of its container's range. The directory is 0700, but for a container in a user
   * namespace: its runtime opens the bundle as the container's root (hostId), so it is
   * root:hostId 0710 (the range's root group may pass, no other uid, not another range).
   * Set at every start: older installs made them 0711.
   */
  private async dirAccess(record: ContainerRecord): Promise<void> {
    await this.ensureTrees();
    const { dir } = this.paths(record.id);
    if (!record.userns) return chmod(dir, CONTAINER_DIR_MODE);
    await ensureSearchable(dirname(dir), this.ownRoots());
    await chown(dir, -1, record.userns.hostId);
    await chmod(dir, 0o710);
  }

  /**
   * The engine's own trees: containers/ searchable only (a container's root passes through
   * it), volumes/ and userns/ root's alone (a volume's files are owned by the ids inside: a
   * setuid file root made in one is host root's; a container reaches its volumes through
   * their idmapped views in its own directory). Once a process; tightens older installs.
   */
  private ensureTrees(): Promise<void> {
    this.trees ??= Promise.all([
      this.containers.ensureRoot(),
      ensureDirMode(this.volumes.root),
      ensureDirMode(join(this.options.root, 'userns')),
    ]).then(
      () => undefined,
      (err: unknown) => {
        this.trees = undefined;
        throw err;
      },
    );
    return this.trees;
  }

  /**
   * The volumes of a container in a user namespace, each as an idmapped bind under its
   * directory (what its spec mounts): a volume's files keep the ids they have inside (root's
   * are 0 on disk), so a volume reads the same to any range and to `--userns=host`
   * containers, and no chown is needed when an app's range changes. Bind mounts of host
   * paths stay plain: a host file is owned by a host id the namespace does not map.
   */
  private async mountVolumeViews(record: ContainerRecord): Promise<void> {
    if (!record.userns) return;
    const volumes = record.run.volumes ?? [];
    for (const [i, v] of volumes.entries()) {
      const view = join(this.paths(record.id).volumes, String(i));
      await mkdir(view, { recursive: true });
      if (await isMountPoint(view)) continue;
      await mountIdmappedBind(this.volumes.mountpoint(v.name ?? ''), view, record.userns);
    }
  }

  /** What a container mounts for its volume `name`: the volume's data, or its idmapped view. */
  private volumeSource(record: ContainerRecord, name: string): string {
    const i = (record.run.volumes ?? []).findIndex((v) => v.name === name);
    return record.userns && i >= 0 ? join(this.paths(record.id).volumes, String(i)) : this.volumes.mountpoint(name);
  }

  /** Unmounts the rootfs and the idmapped volume views. */
  private async unmountAll(record: ContainerRecord): Promise<void> {
    const p = this.paths(record.id);
    await unmount(p.rootfs);
    const views = await readdir(p.volumes).catch(() => [] as string[]);
    for (const view of views) await unmount(join(p.volumes, view));
  }

  private async writeBundle(record: ContainerRecord, image: Image): Promise<void> {
    const p = this.paths(record.id);
    const user = resolveUser(p.rootfs, record.run.user ?? image.config.config?.User);
    const cwd = record.run.workdir || image.config.config?.WorkingDir;
    if (cwd) new RootResolver(p.rootfs).resolveDir(cwd.replace(/^\/+/, ''), true); // Docker creates a missing WORKDIR
    // on the bridge, /etc/hosts is the bridge's shared file, rewritten as containers come and
    // go; an isolated container's is its own (hosts.ts says why), given its address at start
    const bridge = record.network.mode === 'bridge' ? this.network : undefined;
    const shared = bridge !== undefined && !isolated(record);
    const hostsFile = shared ? bridge.hostsFile : this.ownHostsFile(record);
    // the container's own files land whole (temp, fsync, rename): a crash mid-create leaves no
    // half-written config.json for a later start; the bridge's shared file is rewritten in place
    if (!shared) await writeFileAtomic(hostsFile, ownHosts([record.hostname]));
    await writeFileAtomic(join(p.etc, 'hostname'), `${record.hostname}\n`);
    const resolv =
      record.network.mode === 'host'
        ? await readFile('/etc/resolv.conf', 'utf8').catch(() => '')
        : bridge
          ? await readContainerResolvConf()
          : '';
    await writeFileAtomic(join(p.etc, 'resolv.conf'), resolv);
    if (record.userns) {
      // its own files are its root's to change, as a host-root container's are
      const own = ['hostname', 'resolv.conf', ...(shared ? [] : ['hosts'])];
      for (const f of own) await chown(join(p.etc, f), record.userns.hostId, record.userns.hostId);
    }
    const spec = buildSpec(image.config, record.run, record.hostname, {
      rootfs: p.rootfs,
      user,
      cgroupsPath: `/paas/${record.id}`,
      network: bridge
        ? { kind: 'path', path: bridge.namespacePath(record.id) }
        : record.network.mode === 'host'
          ? { kind: 'host' }
          : { kind: 'none' },
      etcFiles: [
        { source: hostsFile, destination: '/etc/hosts', readonly: shared },
        { source: join(p.etc, 'hostname'), destination: '/etc/hostname' },
        { source: join(p.etc, 'resolv.conf'), destination: '/etc/resolv.conf' },
      ],
      volumes: (record.run.volumes ?? []).map((v) => ({
        source: this.volumeSource(record, v.name ?? ''),
        destination: v.destination,
        readonly: v.readonly,
      })),
      annotations: { 'io.paas.container.name': record.name },
      ...(record.userns ? { userns: { hostId: record.userns.hostId, size: record.userns.size } } : {}),
      ...(this.options.initBinary
        ? { initBinary: record.userns && record.run.init ? await this.initForUserns() : this.options.initBinary }
        : {}),
    });
    // 0600: it holds the environment (config vars, add-on passwords); the runtime reads it as host
    // root before any user namespace, and another app's escaped process must not
    await writeFileAtomic(join(p.dir, 'config.json'), JSON.stringify(spec, null, 2), 0o600);
  }

  /** `start`: mounts the rootfs if needed and hands the container to a new shim. */
  async start(record: ContainerRecord): Promise<number> {
    return this.containers.locked(record.id, async () => {
      const state = await this.state(record);
      if (state.running) return state.pid;
      const p = this.paths(record.id);
      await this.mountRootfs(record);
      if (state.status === 'dead') await this.deleteFromRuntime(record); // its shim crashed: the runtime still lists it
      await resetStateDir(p.shim, p.log); // the log stays: `logs` shows every run, as Docker's does
      const bridge = this.bridgeOf(record);
      // the record as it is now: setReach may have changed it since the caller read it
      const reach = bridge ? (await this.containers.read(record.id))?.network.reach : undefined;
      const lease = await bridge
        ?.attach({
          id: record.id,
          name: record.name,
          hostname: record.hostname,
          ports: record.network.ports,
          isolated: isolated(record),
          ...(reach ? { reach } : {}),
        })
        .catch((err: unknown) => networkError(record.name, err));
      try {
        // before the runtime bind-mounts it: a rename now is seen by this start
        if (lease?.isolated) {
          await writeFileAtomic(this.ownHostsFile(record), ownHosts([record.hostname, record.name], lease.ip));
          if (record.userns) await chown(this.ownHostsFile(record), record.userns.hostId, record.userns.hostId);
        }
        await this.reachableInUserns(record);
        return await startShim(this.options.binaries, {
          id: record.id,
          bundle: p.dir,
          stateDir: await this.shimDir(record),
          log: p.log,
          restart: record.restart,
          stopSignal: record.stopSignal.replace(/^SIG/, ''),
          stopTimeout: record.stopTimeout,
          // a terminal's input comes through its attach socket, not the stdin fifo
          stdin: record.interactive && !record.run.tty,
          tty: record.run.tty === true,
          logMaxSize: '20m',
          logMaxFiles: 3,
          publish: lease && bridge ? proxySpecs(lease, bridge.settings.addonPorts) : [],
        });
      } catch (err) {
        await bridge?.detach(record.id);
        const message = (err as Error).message;
        throw new EngineError(message, startFailureCode(message));
      }
    });
  }

  /**
   * Which add-on endpoints the container may connect to from now on (an add-on attached to or
   * detached from its app), checked as at create: a container with a network lease (running)
   * has its entries in the bridge's reach set changed at once, without a restart; one without
   * gets them from its record when it starts. The entries change before the record does: a
   * crash in between leaves a record that still differs, and the next call mends both.
   */
  async setReach(ref: string, reach: readonly ServiceEndpoint[]): Promise<ContainerRecord> {
    const found = await this.containers.resolve(ref);
    const wanted = checkReach(found.network.mode, reach, this.network?.settings.addonPorts);
    return this.containers.locked(found.id, async () => {
      const record = await this.containers.read(found.id);
      if (!record) throw new ContainerNotFoundError(ref);
      await this.bridgeOf(record)?.setReach(record.id, wanted);
      const { reach: _old, ...network } = record.network;
      const next = { ...record, network: { ...network, ...(wanted.length ? { reach: wanted } : {}) } };
      return this.containers.write(next);
    });
  }

  /** The container's state from its shim's files, and whether the shim still runs. */
  async state(record: ContainerRecord): Promise<ContainerState> {
    const p = this.paths(record.id);
    const [status, exit, shimPid] = await Promise.all([readStatus(p.shim), readExit(p.shim), liveShimPid(p.shim)]);
    return deriveState(status, exit, shimPid !== undefined);
  }

  /** `stop`: the stop signal, then SIGKILL after the timeout (the shim does both); unmounts. */
  async stop(record: ContainerRecord, timeoutSeconds?: number): Promise<void> {
    await this.containers.locked(record.id, async () => {
      await this.terminate(record, (timeoutSeconds ?? record.stopTimeout) * 1000);
      await this.bridgeOf(record)?.detach(record.id);
      await this.unmountAll(record);
    });
  }

  /**
   * Gives back the network of a container that stopped by itself (no daemon saw it exit):
   * its address, ports and veth. A no-op while it runs or restarts.
   */
  async release(record: ContainerRecord): Promise<void> {
    const bridge = this.bridgeOf(record);
    if (!bridge) return;
    await this.containers.locked(record.id, async () => {
      const state = await this.state(record);
      if (!state.running && state.status !== 'restarting') await bridge.detach(record.id);
    });
  }

  /** The bridge lease of each container that has one: its address and published ports. */
  async networkLeases(): Promise<Record<string, Lease>> {
    return (await this.network?.list()) ?? {};
  }

  private bridgeOf(record: ContainerRecord): BridgeNetwork | undefined {
    return record.network.mode === 'bridge' ? this.network : undefined;
  }

  /** `kill -s SIG`: the signal to the container's init. */
  async kill(record: ContainerRecord, signal: NodeJS.Signals | number = 'SIGKILL'): Promise<void> {
    const state = await this.state(record);
    if (!state.running || state.pid <= 0) {
      throw new ContainerConflictError(
        `Cannot kill container: ${record.id.slice(0, 12)}: Container ${record.id} is not running`,
      );
    }
    process.kill(state.pid, signal);
  }

  /**
   * `exec`: runs a process in the running container (the runtime joins its namespaces and
   * cgroup). Resolves to the process's exit code (128+N for a signal).
   */
  async exec(
    record: ContainerRecord,
    args: string[],
    opts: { env?: string[]; user?: string; workdir?: string; stdin?: boolean } = {},
  ): Promise<number> {
    const state = await this.state(record);
    if (!state.running) throw new ContainerConflictError(`Container ${record.id} is not running`);
    const p = this.paths(record.id);
    const flags: string[] = [];
    for (const e of opts.env ?? []) flags.push('--env', e);
    if (opts.workdir) flags.push('--cwd', opts.workdir);
    if (opts.user) {
      const u = resolveUser(p.rootfs, opts.user);
      flags.push('--user', `${u.uid}:${u.gid}`);
    }
    const { runtime, runtimeRoot } = this.options.binaries;
    const child = spawn(runtime, ['--root', runtimeRoot, 'exec', ...flags, record.id, '--', ...args], {
      stdio: [opts.stdin ? 'inherit' : 'ignore', 'inherit', 'pipe'],
    });
    // stderr passes through, its end kept: the runtime's own failure (exit 1 and its one line
    // "exec in container `ID`: exec `CMD`: reason") becomes Docker's 126/127 as for `run`.
    let tail = '';
    child.stderr.on('data', (chunk: Buffer) => {
      process.stderr.write(chunk);
      tail = (tail + chunk.toString('utf8')).slice(-2048);
    });
    return new Promise((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code, signal) => {
        if (code === 1) resolve(execFailureCode(tail, record.id) ?? 1);
        else resolve(code ?? 128 + (signal ? osConstants.signals[signal] : 0));
      });
    });
  }

  /**
   * `attach`: a client of the running container's terminal (`run -t`); the container runs on
   * when it disconnects. A container without a terminal has only its log to follow.
   */
  async attach(record: ContainerRecord): Promise<TerminalAttachment> {
    if (!record.run.tty)
      throw new ContainerConflictError(`container ${record.name} has no terminal: it was created without -t`);
    const state = await this.state(record);
    if (!state.running) throw new ContainerConflictError('You cannot attach to a stopped container, start it first');
    return connectTerminal(this.attachSocket(record)).catch((err: NodeJS.ErrnoException) => {
      // the run ended between the state read and the connect
      throw new ContainerConflictError(
        `You cannot attach to a stopped container, start it first (${err.code ?? err.message})`,
      );
    });
  }

  /**
   * `run -it`, `start -ai`: starts a container that has a terminal with a client attached as
   * early as the shim allows. Its attach socket is listening before the runtime creates the
   * container, and the shim takes a client that connected by then before it starts the
   * process (monitor.c run_container), so it misses nothing; one that connects later misses
   * what was printed before (the log has it). Docker attaches before the start too.
   */
  async startAttached(record: ContainerRecord): Promise<{ pid: number; terminal: TerminalAttachment }> {
    if (!record.run.tty)
      throw new ContainerConflictError(`container ${record.name} has no terminal: it was created without -t`);
    const socketPath = this.attachSocket(record);
    let starting = true;
    const early = (async (): Promise<TerminalAttachment | undefined> => {
      while (starting) {
        // a socket left by a killed shim refuses the connection until start replaces it
        if (existsSync(socketPath)) {
          const terminal = await connectTerminal(socketPath).catch(() => undefined);
          if (terminal) return terminal;
        }
        await new Promise((r) => setTimeout(r, 5));
      }
      return undefined;
    })();
    let pid: number;
    try {
      pid = await this.start(record);
    } catch (err) {
      starting = false;
      (await early)?.close();
      throw err;
    }
    starting = false;
    const terminal = (await early) ?? (await this.attach(record));
    return { pid, terminal };
  }

  private attachSocket(record: ContainerRecord): string {
    return join(this.ttyAlias(record) ?? this.paths(record.id).shim, 'attach.sock');
  }

  /** The short alias of a terminal container's shim directory (EngineOptions.runDir says why). */
  private ttyAlias(record: Pick<ContainerRecord, 'id' | 'run'>): string | undefined {
    const { runDir } = this.options;
    // 128 random bits of the id name it as surely as all 256, in half the bytes
    return record.run.tty && runDir ? join(runDir, 'tty', record.id.slice(0, 32)) : undefined;
  }

  /** The directory the shim is given: its own, or for a terminal the alias made now (its target must exist). */
  private async shimDir(record: ContainerRecord): Promise<string> {
    const real = this.paths(record.id).shim;
    const alias = this.ttyAlias(record);
    if (!alias) return real;
    await mkdir(real, { recursive: true, mode: 0o700 });
    await mkdir(dirname(alias), { recursive: true, mode: 0o700 });
    await rm(alias, { force: true });
    await symlink(real, alias);
    return alias;
  }

  /** Waits for the container to stop for good; its exit code. */
  async wait(record: ContainerRecord): Promise<ShimExit | undefined> {
    return waitExit(this.paths(record.id).shim);
  }

  /**
   * `rm`: refuses a running container unless forced; then removes everything it had, and with
   * `volumes` (`rm -v`) its anonymous volumes.
   */
  async remove(record: ContainerRecord, options: { force?: boolean; volumes?: boolean } = {}): Promise<void> {
    const state = await this.state(record);
    if ((state.running || state.status === 'restarting') && !options.force) {
      throw new ContainerConflictError(
        `You cannot remove a running container ${record.id}. Stop the container before attempting removal or force remove`,
      );
    }
    // also for a stopped one: a shim that died may have left the runtime's state and cgroup
    await this.terminate(record, 0);
    await this.destroy(record);
    if (options.volumes) await this.removeAnonymousVolumes(record);
  }

  /**
   * Takes containers down for good, side by side, as `docker compose down` does: each stopped
   * (`graceful`: its stop signal, SIGKILL after its stop timeout; otherwise SIGKILL at once),
   * then removed with everything it held (shim, cgroup, mounts, netns, veth, lease, anonymous
   * volumes); then the bridge, when no container is left on it. The one home of `paas up`'s stop, `paas down` and
   * the agent's `cleanup`. A container that cannot be removed is reported, not thrown, so the
   * others still go.
   */
  async takeDown(
    records: readonly ContainerRecord[],
    options: { graceful: boolean; onRemoved?: (record: ContainerRecord) => void },
  ): Promise<{ failed: Array<{ record: ContainerRecord; error: Error }>; bridgeRemoved: boolean }> {
    const failed: Array<{ record: ContainerRecord; error: Error }> = [];
    await Promise.all(
      records.map(async (record) => {
        try {
          if (options.graceful) await this.stop(record);
          await this.remove(record, { force: true, volumes: true });
          options.onRemoved?.(record);
        } catch (err) {
          failed.push({ record, error: err as Error });
        }
      }),
    );
    const pruned = await this.network?.prune();
    return { failed, bridgeRemoved: pruned?.bridgeRemoved ?? false };
  }

  /**
   * Stops the container for good: through its shim when it has one (a stop request, so no
   * policy restarts it), or directly when the shim was killed and the container outlived it.
   */
  private async terminate(record: ContainerRecord, graceMs: number): Promise<void> {
    const p = this.paths(record.id);
    const status = await readStatus(p.shim);
    const signal = (graceMs > 0 ? record.stopSignal : 'SIGKILL') as NodeJS.Signals;
    const shim = await liveShimPid(p.shim);
    if (shim !== undefined) {
      // SIGTERM asks the shim to stop (stop signal, no restart); `stop -t` may be shorter
      // than the timeout the shim was started with, so the grace period is enforced here.
      signalPid(shim, 'SIGTERM');
      const deadline = Date.now() + graceMs;
      while (Date.now() < deadline && (await liveShimPid(p.shim)) !== undefined)
        await new Promise((r) => setTimeout(r, 20));
      if (status?.pid && isProcessAlive(status.pid)) signalPid(status.pid, 'SIGKILL');
      await stopShim(p.shim, 15_000);
      return;
    }
    if (!status) return; // never started: the runtime has nothing of it
    if (status.pid && isProcessAlive(status.pid)) {
      signalPid(status.pid, signal.startsWith('SIG') ? signal : (`SIG${signal}` as NodeJS.Signals));
      const deadline = Date.now() + graceMs;
      while (isProcessAlive(status.pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      signalPid(status.pid, 'SIGKILL');
    }
    await this.deleteFromRuntime(record);
  }

  /** The shim died without deleting the container: its cgroup and runtime state are ours to remove. */
  private async deleteFromRuntime(record: Pick<ContainerRecord, 'id'>): Promise<void> {
    const { runtime, runtimeRoot } = this.options.binaries;
    if (!existsSync(join(runtimeRoot, record.id))) return;
    await execProgram(runtime, ['--root', runtimeRoot, 'delete', '--force', record.id]).catch(() => undefined);
  }

  private async destroy(record: ContainerRecord): Promise<void> {
    const p = this.paths(record.id);
    try {
      const alias = this.ttyAlias(record);
      if (alias) await rm(alias, { force: true });
      await this.bridgeOf(record)?.detach(record.id);
      await this.unmountAll(record);
      await rm(p.dir, { recursive: true, force: true });
      await this.containers.forget(record);
    } finally {
      // the range goes back with the record and only then: a record a failure above left could
      // be started again under it (the pool's dropStale takes back one whose record a crash removed)
      if (record.userns && !existsSync(p.dir)) await this.usernsPool().release(record.id);
    }
  }

  /** `rename`: the record under the names lock, then the name on the bridge. */
  async rename(record: ContainerRecord, name: string): Promise<ContainerRecord> {
    const renamed = await this.containers.rename(record.id, name);
    await this.network?.rename(record.id, name);
    return renamed;
  }

  /**
   * `container prune`: removes every container that is not running, and whatever the runtime
   * still holds for containers whose directory is gone (a crash that lost them); their ids.
   */
  async prune(): Promise<{ removed: string[]; reclaimedBytes: number }> {
    const removed: string[] = [];
    let reclaimedBytes = 0;
    const records = await this.containers.list();
    const known = new Set(records.map((c) => c.id));
    const { runtimeRoot } = this.options.binaries;
    const held = await readdir(runtimeRoot).catch(() => [] as string[]);
    for (const id of held.filter((n) => /^[a-f0-9]{64}$/.test(n) && !known.has(n))) {
      await this.deleteFromRuntime({ id });
    }
    for (const record of records) {
      const state = await this.state(record);
      if (state.running || state.status === 'restarting') continue;
      reclaimedBytes += await diskUsage(this.paths(record.id).upper); // its writable layer, as Docker counts
      await this.remove(record);
      removed.push(record.id);
    }
    return { removed, reclaimedBytes };
  }

  /** Ids of images that containers use (for rmi and prune). */
  async imagesInUse(): Promise<Set<Digest>> {
    return new Set((await this.containers.list()).map((c) => c.imageId));
  }
}

/**
 * The volumes a container asks for: the run's (`-v`, `--mount`), then an anonymous one for
 * each of the image's VOLUME paths that no bind or volume of the run covers, as Docker does.
 * Names are checked here, before anything is made.
 */
export function volumesOf(run: RunOptions, imageVolumes: Record<string, unknown> | null | undefined): VolumeMount[] {
  const requests = (run.volumes ?? []).map((v) => {
    if (v.name !== undefined) validateVolumeName(v.name);
    const destination = cleanDestination(v.destination);
    if (destination === '/')
      throw new SpecError(`invalid mount config: ${v.name ?? 'volume'}: destination can't be '/'`);
    return { ...v, destination };
  });
  const taken = new Set([
    ...run.binds.map((b) => cleanDestination(b.destination)),
    ...requests.map((v) => v.destination),
  ]);
  for (const path of Object.keys(imageVolumes ?? {})) {
    const destination = cleanDestination(path.startsWith('/') ? path : `/${path}`);
    if (taken.has(destination)) continue;
    taken.add(destination);
    requests.push({ destination, readonly: false });
  }
  return requests;
}

/**
 * The endpoints of `reach` (each once), refused unless each is an IPv4 address and a port of
 * the bridge's add-on range (`range`, undefined without a bridge): what create and setReach take.
 */
export function checkReach(
  network: NetworkMode,
  reach: readonly ServiceEndpoint[],
  range: PortRange | undefined,
): ServiceEndpoint[] {
  if (reach.length === 0) return [];
  if (network !== 'bridge' || !range) {
    throw new EngineError(
      `invalid reach: add-on endpoints need the bridge network, not ${network}`,
      125,
      'invalid_params',
    );
  }
  const seen = new Map<string, ServiceEndpoint>();
  for (const { address, port } of reach) {
    const where = `${address}:${port}`;
    if (!isIPv4(address)) throw new EngineError(`invalid reach ${where}: not an IPv4 address`, 125, 'invalid_params');
    if (!Number.isInteger(port) || port < range.first || port > range.last) {
      throw new EngineError(
        `invalid reach ${where}: port outside the add-on ports ${range.first}-${range.last} (PAAS_ADDON_PORTS)`,
        125,
        'invalid_params',
      );
    }
    seen.set(where, { address, port });
  }
  return [...seen.values()];
}

/** Whether this process has said that a user namespace got copied layers (said once). */
let warnedCopy = false;

/** A platform container: cut off from the other containers of the bridge, and no name on it. */
const isolated = (record: ContainerRecord): boolean => record.labels[APP_LABEL] !== undefined;

function deriveState(status: ShimStatus | undefined, exit: ShimExit | undefined, shimAlive: boolean): ContainerState {
  const common = {
    pid: 0,
    exitCode: exit?.exitCode ?? status?.exitCode ?? 0,
    oomKilled: exit?.oomKilled ?? false,
    restartCount: status?.restartCount ?? exit?.restartCount ?? 0,
    ...(status?.startedAt ? { startedAt: status.startedAt } : {}),
    ...(exit?.exitedAt ? { finishedAt: exit.exitedAt } : {}),
    ...(status?.error ? { error: status.error } : {}),
  };
  if (!status) return { ...common, status: 'created', running: false };
  if (status.status === 'failed') return { ...common, status: 'created', running: false, exitCode: 128 };
  if (shimAlive) {
    if (status.status === 'restarting') return { ...common, status: 'restarting', running: false };
    if (status.status === 'exited') return { ...common, status: 'exited', running: false };
    return { ...common, status: 'running', running: true, pid: status.pid };
  }
  if (status.pid > 0 && status.status === 'running' && isProcessAlive(status.pid)) {
    // the shim was killed but the container runs on: still manageable (rm -f, stop)
    return { ...common, status: 'running', running: true, pid: status.pid };
  }
  return { ...common, status: exit ? 'exited' : 'dead', running: false };
}

/** Docker's wording for a network that could not be set up; a port clash reads as its own error. */
function networkError(name: string, err: unknown): never {
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof IpamError) {
    throw new EngineError(`driver failed programming external connectivity on endpoint ${name}: ${message}`);
  }
  throw new EngineError(`failed to set up the network of container ${name}: ${message}`);
}

function signalPid(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/**
 * Docker's exit code for a container that failed to start: 127/126 when the command itself
 * cannot be found or executed (the runtime's "exec `CMD`: ..."), 125 for everything else,
 * such as a security setting the runtime refused to skip, even when its errno reads
 * "Permission denied" or "No such file".
 */
export function startFailureCode(message: string): number {
  const command = /exec `[^`]*`: (.*)$/m.exec(message)?.[1] ?? '';
  if (/no such file|not found/i.test(command)) return 127;
  if (/permission denied|exec format/i.test(command)) return 126;
  return 125;
}

/**
 * The code of an `exec` whose runtime failed before the command ran (its last stderr line
 * "exec in container `ID`: ...": 127/126 for the command, 125 for the rest), or undefined
 * when the command ran and exited 1 itself.
 */
export function execFailureCode(stderrTail: string, id: string): number | undefined {
  const last = stderrTail.trimEnd().split('\n').pop() ?? '';
  return last.includes(`: exec in container \`${id}\`: `) ? startFailureCode(last) : undefined;
}
