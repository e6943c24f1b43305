/**
 * The OCI bundle config for a container: the image's config merged with the run options,
 * the way `docker run` merges them, plus Docker's defaults (capabilities, masked paths,
 * seccomp). A pure function of its inputs but for the host's capability bounding set (what
 * "all capabilities" means, read once); reading the rootfs (users) happens before.
 */
import { readFileSync } from 'node:fs';
import { posix } from 'node:path';
import type { ImageConfig } from '@paas/oci';
import { type ConsoleSize, isConsoleSize } from './containers/attach';
import {
  DEFAULT_CAPABILITIES,
  MASKED_PATHS,
  PING_GROUP_RANGE,
  READONLY_PATHS,
  defaultMounts,
  defaultSeccompProfile,
} from './defaults';
import type { RuntimeSpec, SpecMount } from './runtime-spec';
import type { ResolvedUser } from './user';

export interface BindMount {
  readonly source: string;
  readonly destination: string;
  readonly readonly: boolean;
}

/**
 * A volume mounted into a container (`-v NAME:/dst`, `--mount type=volume`, an image's VOLUME).
 * In a request the name may be absent (an anonymous volume, named by the engine); a
 * container's record always carries it.
 */
export interface VolumeMount {
  readonly name?: string;
  readonly destination: string;
  readonly readonly: boolean;
  /** Made for this container alone: `rm -v` and `run --rm` remove it with the container. */
  readonly anonymous?: boolean;
}

export interface Resources {
  /** Bytes; -m. */
  readonly memory?: number;
  /** Bytes of memory + swap; --memory-swap (-1 unlimited). */
  readonly memorySwap?: number;
  /** Fractional cpus; --cpus (a CFS quota over a 100 ms period). */
  readonly cpus?: number;
  /**
   * CPU weight relative to other containers, cgroup v1's cpu.shares in [2, 262144] (1024 is
   * the kernel's default); -c/--cpu-shares. The runtime converts it to cpu.weight on v2.
   */
  readonly cpuShares?: number;
  /** CFS quota in microseconds per period (-1: none); --cpu-quota. Not with `cpus`. */
  readonly cpuQuota?: number;
  /** CFS period in microseconds, [1000, 1000000]; --cpu-period. Not with `cpus`. */
  readonly cpuPeriod?: number;
  readonly pidsLimit?: number;
}

/** What `paas run` was asked for, normalised; kept with the container. */
export interface RunOptions {
  readonly cmd?: string[];
  /** `--entrypoint X`; an empty array clears the image's entrypoint (`--entrypoint ""`). */
  readonly entrypoint?: string[];
  readonly env: string[];
  readonly workdir?: string;
  readonly user?: string;
  readonly hostname?: string;
  readonly readonlyRootfs?: boolean;
  readonly binds: BindMount[];
  /** Absent in records made before volumes existed. */
  readonly volumes?: VolumeMount[];
  readonly resources: Resources;
  readonly capAdd?: string[];
  readonly capDrop?: string[];
  readonly privileged?: boolean;
  readonly init?: boolean;
  /** `-t`: the process gets a terminal (the shim holds its master; input comes through attach). */
  readonly tty?: boolean;
  /** The terminal's size when known at create (`run -t` from a terminal); resized after attach anyway. */
  readonly consoleSize?: ConsoleSize;
}

export interface SpecContext {
  readonly rootfs: string;
  readonly user: ResolvedUser;
  readonly cgroupsPath: string;
  /** A network namespace to join (bridge mode), or 'host' to share the host's. */
  readonly network: { kind: 'none' } | { kind: 'host' } | { kind: 'path'; path: string };
  /** Files the engine prepares: /etc/hosts, /etc/resolv.conf, /etc/hostname. */
  readonly etcFiles: ReadonlyArray<{ source: string; destination: string; readonly?: boolean }>;
  /** The container's volumes as bind mounts of their data directories (the engine knows where they lie). */
  readonly volumes?: readonly BindMount[];
  /** The static init (`--init`), bind-mounted at /sbin/docker-init like Docker's. */
  readonly initBinary?: string;
  /** A user namespace (`--userns=auto`): 0..size-1 inside are hostId.. on the host. */
  readonly userns?: { readonly hostId: number; readonly size: number };
  readonly annotations?: Record<string, string>;
}

export class SpecError extends Error {
  readonly exitCode = 125;
  constructor(message: string) {
    super(message);
    this.name = 'SpecError';
  }
}

const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const CFS_PERIOD = 100_000;

/** Entrypoint + cmd as Docker combines them; `--entrypoint` resets the image's CMD. */
export function processArgs(image: ImageConfig['config'], run: Pick<RunOptions, 'cmd' | 'entrypoint'>): string[] {
  const entrypoint = run.entrypoint ?? image?.Entrypoint ?? [];
  const cmd = run.cmd?.length ? run.cmd : run.entrypoint !== undefined ? [] : (image?.Cmd ?? []);
  const args = [...entrypoint, ...cmd];
  if (args.length === 0) throw new SpecError('No command specified');
  return args;
}

/** Image env, then run env; later values win; PATH and HOSTNAME like Docker's. */
export function processEnv(
  image: ImageConfig['config'],
  run: Pick<RunOptions, 'env'>,
  hostname: string,
  home: string,
): string[] {
  const merged = new Map<string, string>();
  const put = (entry: string): void => {
    const eq = entry.indexOf('=');
    if (eq > 0) merged.set(entry.slice(0, eq), entry);
  };
  put(DEFAULT_PATH);
  put(`HOSTNAME=${hostname}`);
  for (const e of image?.Env ?? []) put(e);
  for (const e of run.env) put(e);
  if (!merged.has('HOME')) merged.set('HOME', `HOME=${home}`);
  return [...merged.values()];
}

/**
 * Binds and volumes as Docker mounts them: each destination once, a parent before what is
 * mounted below it (by depth, so `-v a:/data/sub -v b:/data` still shows `a` at /data/sub).
 */
function userMounts(binds: readonly BindMount[], volumes: readonly BindMount[]): BindMount[] {
  const seen = new Set<string>();
  const all = [...binds, ...volumes].map((m) => {
    if (!m.destination.startsWith('/'))
      throw new SpecError(`invalid mount path: '${m.destination}' mount path must be absolute`);
    const destination = cleanDestination(m.destination);
    if (seen.has(destination)) throw new SpecError(`Duplicate mount point: ${destination}`);
    seen.add(destination);
    return { ...m, destination };
  });
  const depth = (m: BindMount): number => (m.destination === '/' ? 0 : m.destination.split('/').length);
  return all.sort((a, b) => depth(a) - depth(b));
}

/** `/data/` and `/data/./x/..` are `/data`, as Docker compares mount points. */
export function cleanDestination(path: string): string {
  return posix.normalize(path).replace(/(.)\/+$/, '$1');
}

export function buildSpec(image: ImageConfig, run: RunOptions, hostname: string, ctx: SpecContext): RuntimeSpec {
  const config = image.config;
  let args = processArgs(config, run);
  const cwd = run.workdir || config?.WorkingDir || '/';
  if (!cwd.startsWith('/'))
    throw new SpecError(`the working directory '${cwd}' is invalid, it needs to be an absolute path`);

  if (run.consoleSize && !isConsoleSize(run.consoleSize)) {
    const { rows, cols } = run.consoleSize;
    throw new SpecError(`invalid console size ${rows}x${cols}: rows and columns must be integers from 1 to 65535`);
  }

  // sysfs shows the netns of its mounter, and only one whose user namespace owns that netns
  // may mount it: on the bridge (the host's user namespace) paas-runtime mounts it before
  // cloning into the new user namespace and moves it into place, so the container sees its
  // own interfaces and no host cgroup tree. runc refuses that mount; crun binds the host's /sys.
  const mounts: SpecMount[] = defaultMounts();
  for (const file of ctx.etcFiles) {
    mounts.push({
      destination: file.destination,
      type: 'bind',
      source: file.source,
      // a file shared by several containers (the bridge's /etc/hosts) must not be writable by any
      options: ['rbind', 'rprivate', ...(file.readonly ? ['ro'] : [])],
    });
  }
  for (const bind of userMounts(run.binds, ctx.volumes ?? [])) {
    mounts.push({
      destination: bind.destination,
      type: 'bind',
      source: bind.source,
      options: ['rbind', 'rprivate', bind.readonly ? 'ro' : 'rw'],
    });
  }
  if (run.init) {
    if (!ctx.initBinary) throw new SpecError('--init needs an init binary: build native/ (paas-init)');
    mounts.push({ destination: '/sbin/docker-init', type: 'bind', source: ctx.initBinary, options: ['rbind', 'ro'] });
    args = ['/sbin/docker-init', '--', ...args];
  }

  const caps = capabilities(run);
  const namespaces: RuntimeSpec['linux']['namespaces'] = [
    { type: 'pid' },
    { type: 'ipc' },
    { type: 'uts' },
    { type: 'mount' },
  ];
  if (ctx.userns) namespaces.push({ type: 'user' });
  if (ctx.network.kind === 'none') namespaces.push({ type: 'network' });
  if (ctx.network.kind === 'path') namespaces.push({ type: 'network', path: ctx.network.path });

  // Docker's device cgroup: every device denied but the defaults the runtime adds (null, zero,
  // full, random, urandom, tty, ptmx, pts), so a process with CAP_MKNOD, or a device node from
  // an image layer, cannot open the host's disks; --privileged allows them all, as Docker does.
  const resources: NonNullable<RuntimeSpec['linux']['resources']> = {
    devices: [{ allow: run.privileged === true, access: 'rwm' }],
  };
  const r = run.resources;
  if (r.memory !== undefined || r.memorySwap !== undefined) {
    resources.memory = {
      ...(r.memory !== undefined ? { limit: r.memory } : {}),
      ...(r.memorySwap !== undefined ? { swap: r.memorySwap } : r.memory !== undefined ? { swap: r.memory * 2 } : {}),
    };
  }
  if (r.cpus !== undefined || r.cpuShares !== undefined || r.cpuQuota !== undefined || r.cpuPeriod !== undefined) {
    resources.cpu = {
      ...(r.cpuShares !== undefined ? { shares: r.cpuShares } : {}),
      ...(r.cpus !== undefined
        ? { quota: Math.round(r.cpus * CFS_PERIOD), period: CFS_PERIOD }
        : {
            ...(r.cpuQuota !== undefined ? { quota: r.cpuQuota } : {}),
            ...(r.cpuPeriod !== undefined ? { period: r.cpuPeriod } : {}),
          }),
    };
  }
  if (r.pidsLimit !== undefined && r.pidsLimit > 0) resources.pids = { limit: r.pidsLimit };

  return {
    ociVersion: '1.0.2',
    process: {
      terminal: run.tty ?? false,
      ...(run.tty && run.consoleSize
        ? { consoleSize: { height: run.consoleSize.rows, width: run.consoleSize.cols } }
        : {}),
      user: {
        uid: ctx.user.uid,
        gid: ctx.user.gid,
        ...(ctx.user.additionalGids.length ? { additionalGids: ctx.user.additionalGids } : {}),
      },
      args,
      env: processEnv(config, run, hostname, ctx.user.home),
      cwd,
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024 * 16, soft: 1024 * 16 }],
      noNewPrivileges: !run.privileged,
      oomScoreAdj: 0,
    },
    root: { path: ctx.rootfs, readonly: run.readonlyRootfs ?? false },
    hostname,
    mounts,
    linux: {
      namespaces,
      ...(ctx.userns
        ? {
            uidMappings: [{ containerID: 0, hostID: ctx.userns.hostId, size: ctx.userns.size }],
            gidMappings: [{ containerID: 0, hostID: ctx.userns.hostId, size: ctx.userns.size }],
          }
        : {}),
      resources,
      cgroupsPath: ctx.cgroupsPath,
      // a network sysctl written in the host's netns would change the host: only with our own
      ...(ctx.network.kind !== 'host' ? { sysctl: networkSysctls(ctx) } : {}),
      ...(run.privileged
        ? {}
        : { maskedPaths: MASKED_PATHS, readonlyPaths: READONLY_PATHS, seccomp: defaultSeccompProfile() }),
    },
    ...(ctx.annotations ? { annotations: ctx.annotations } : {}),
  };
}

/**
 * PING_GROUP_RANGE, and in a user namespace also every port bindable (Docker's
 * ip_unprivileged_port_start=0): a port below 1024 needs CAP_NET_BIND_SERVICE over the
 * netns's owner, and the bridge's netns belongs to the host's user namespace, not the
 * container's. The runtime writes a joined netns's sysctls itself, as host root (its
 * container.c says why); gids in the range are the writer's, so the whole range is the host's.
 * A netns of the container's own (`none`) belongs to its namespace: its range is the namespace's.
 */
function networkSysctls(ctx: SpecContext): Record<string, string> {
  if (!ctx.userns) return { ...PING_GROUP_RANGE };
  if (ctx.network.kind === 'none') return { 'net.ipv4.ping_group_range': `0 ${ctx.userns.size - 1}` };
  return { ...PING_GROUP_RANGE, 'net.ipv4.ip_unprivileged_port_start': '0' };
}

/** Every capability Linux knows, at the index of its number (linux/capability.h). */
const ALL_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_DAC_READ_SEARCH',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETPCAP',
  'CAP_LINUX_IMMUTABLE',
  'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST',
  'CAP_NET_ADMIN',
  'CAP_NET_RAW',
  'CAP_IPC_LOCK',
  'CAP_IPC_OWNER',
  'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO',
  'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT',
  'CAP_SYS_NICE',
  'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG',
  'CAP_MKNOD',
  'CAP_LEASE',
  'CAP_AUDIT_WRITE',
  'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE',
  'CAP_MAC_ADMIN',
  'CAP_SYSLOG',
  'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_READ',
  'CAP_PERFMON',
  'CAP_BPF',
  'CAP_CHECKPOINT_RESTORE',
];

let available: string[] | undefined;

/**
 * What "all capabilities" means here: the ones in this process's bounding set, as Docker
 * computes it for --privileged and --cap-add ALL. A capability the host itself lacks (root in
 * some sandboxes has no CAP_SYS_RESOURCE) cannot be given, and the runtime refuses to start a
 * container it cannot give one it was asked for; one asked for by name still is.
 */
export function availableCapabilities(status = '/proc/self/status'): string[] {
  if (available && status === '/proc/self/status') return available;
  let bounding: bigint;
  try {
    const hex = /^CapBnd:\s*([0-9a-f]+)$/m.exec(readFileSync(status, 'utf8'))?.[1];
    bounding = hex === undefined ? -1n : BigInt(`0x${hex}`);
  } catch {
    bounding = -1n;
  }
  const caps = ALL_CAPABILITIES.filter((_, bit) => bounding === -1n || (bounding >> BigInt(bit)) & 1n);
  if (status === '/proc/self/status') available = caps;
  return caps;
}

function normaliseCap(name: string): string {
  const upper = name.toUpperCase();
  const cap = upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
  if (cap !== 'CAP_ALL' && !ALL_CAPABILITIES.includes(cap)) throw new SpecError(`unknown capability: "${name}"`);
  return cap;
}

function capabilities(run: RunOptions): string[] {
  if (run.privileged) return availableCapabilities();
  const drop = new Set((run.capDrop ?? []).map(normaliseCap));
  const add = (run.capAdd ?? []).map(normaliseCap);
  const base = drop.has('CAP_ALL') ? [] : DEFAULT_CAPABILITIES.filter((c) => !drop.has(c));
  const all = add.includes('CAP_ALL') ? availableCapabilities().filter((c) => !drop.has(c)) : [...base, ...add];
  return [...new Set(all)];
}
