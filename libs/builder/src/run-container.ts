/**
 * RUN: the step's command in a container on the step's overlay rootfs, through the OCI
 * runtime's foreground `run` (paas-runtime, or crun/runc by PAAS_RUNTIME). The bundle comes
 * from the engine's `buildSpec`, so a build step gets the same isolation as `paas run`
 * (namespaces, capabilities, seccomp). With a StepNetwork the step joins a namespace of its
 * own on the bridge (attached before, detached after, whatever happens), else loopback only.
 *
 * In a user namespace (`userns`), the rootfs is the step's idmapped overlay (step-dir.ts):
 * the bundle must be reachable by the namespace's root (an unprivileged host id, and no other:
 * StepDir.openTo), and what
 * the builder makes in the rootfs itself (a missing WORKDIR) is given to it.
 *
 * The runtime gets its own process group, so a Ctrl-C meant for the CLI does not reach it
 * half-way; on abort the container is killed and deleted by id, and `run` is awaited.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { lchown, lstat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import {
  type Resources,
  type RunOptions,
  type SpecMount,
  buildSpec,
  ensureSearchable,
  resolveUser,
} from '@paas/engine';
import { RootResolver } from '@paas/layers';
import type { ImageConfig } from '@paas/oci';
import type { IdMapping } from '@paas/snapshots';
import { BuildAbortedError, BuildError } from './errors';
import { type StepNetwork, type StepSandbox, missingStubs, removeStubs } from './step-network';
import type { StepDir } from './step-dir';

const exec = promisify(execFile);

export interface RuntimeBinaries {
  /** The OCI runtime binary. */
  readonly runtime: string;
  /** The runtime's state root (`--root`). */
  readonly runtimeRoot: string;
}

export interface RunStep {
  readonly step: StepDir;
  readonly config: ImageConfig;
  readonly argv: readonly string[];
  /** KEY=VALUE entries over the image's Env (build args not shadowed by ENV). */
  readonly env: readonly string[];
  /** The step container's limits (memory, pids, cpus); none when absent. */
  readonly resources?: Resources;
  /** The step's `RUN --mount`s (run-mounts.ts), after the engine's own. */
  readonly mounts?: readonly SpecMount[];
  readonly signal?: AbortSignal;
  readonly onOutput: (chunk: Buffer) => void;
  /** The step's network; without one the step has loopback only (`--network none`). */
  readonly network?: StepNetwork;
  /** Cut off from the bridge's other containers: a platform build's step, as an app's instance. */
  readonly isolated?: boolean;
  /** The step's user namespace; its rootfs must be mounted for it (StepDir.withRootfs). */
  readonly userns?: IdMapping;
  /** The builder's own root (PAAS_ROOT): directories under it may be made searchable for `userns`. */
  readonly ownRoot?: string;
}

/**
 * Kills and deletes a runtime container by id; a container that is gone already is fine.
 * Whether it is gone now: the runtime keeps its state until the container is dead and deleted.
 */
export async function killContainer(bin: RuntimeBinaries, id: string): Promise<boolean> {
  await exec(bin.runtime, ['--root', bin.runtimeRoot, 'kill', id, 'KILL']).catch(() => undefined);
  await exec(bin.runtime, ['--root', bin.runtimeRoot, 'delete', '--force', id]).catch(() => undefined);
  return !existsSync(join(bin.runtimeRoot, id));
}

/** Runs the command; resolves to its exit code. The rootfs must be mounted. */
export async function runInContainer(bin: RuntimeBinaries, opts: RunStep): Promise<number> {
  const { network, step } = opts;
  if (!network) return runStep(bin, opts, undefined);
  const sandbox = await network.attach(step.id, { hostname: step.id.slice(0, 12), isolated: opts.isolated ?? false });
  try {
    return await runStep(bin, opts, sandbox);
  } finally {
    await network.detach(step.id);
  }
}

async function runStep(bin: RuntimeBinaries, opts: RunStep, sandbox: StepSandbox | undefined): Promise<number> {
  const { step, config } = opts;
  const rootfs = step.rootfs;
  const image = config.config ?? {};
  const user = resolveUser(rootfs, image.User);
  const workdir = image.WorkingDir || '/';
  // Docker creates a missing WORKDIR for RUN; it then belongs to the step's layer.
  const made = new RootResolver(realpathSync(rootfs)).resolveDir(workdir.replace(/^\/+|\/+$/g, ''), true);
  if (opts.userns) {
    if (made) await giveToNamespaceRoot(rootfs, made, opts.userns);
    await ensureSearchable(dirname(step.dir), opts.ownRoot ? [opts.ownRoot] : []);
    await step.openTo(opts.userns);
  }
  const run: RunOptions = {
    entrypoint: [...opts.argv],
    cmd: [],
    env: [...opts.env],
    binds: [],
    resources: opts.resources ?? {},
  };
  const hostname = step.id.slice(0, 12);
  const spec = buildSpec(config, run, hostname, {
    rootfs,
    user,
    cgroupsPath: `/paas/${step.containerId}`,
    network: sandbox ? { kind: 'path', path: sandbox.namespacePath } : { kind: 'none' },
    etcFiles: sandbox ? await sandboxFiles(step.dir, sandbox) : [],
    annotations: { 'io.paas.build.step': step.id },
    ...(opts.userns ? { userns: { hostId: opts.userns.hostId, size: opts.userns.size } } : {}),
  });
  spec.mounts.push(...(opts.mounts ?? []));
  // 0600 as the engine's bundles: it holds the step's environment, build args included
  await writeFile(join(step.dir, 'config.json'), JSON.stringify(spec), { mode: 0o600 });
  const stubs = sandbox ? await missingStubs(rootfs) : [];

  if (opts.signal?.aborted) throw new BuildAbortedError();
  const child = spawn(bin.runtime, ['--root', bin.runtimeRoot, 'run', '--bundle', step.dir, step.containerId], {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  child.stdout.on('data', opts.onOutput);
  child.stderr.on('data', opts.onOutput);
  let aborted = false;
  const onAbort = (): void => {
    aborted = true;
    void killContainer(bin, step.containerId);
  };
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const code = await new Promise<number>((resolve, reject) => {
      child.once('error', (err) => reject(new BuildError(`cannot start ${bin.runtime}: ${err.message}`)));
      child.once('close', (status, signal) => resolve(status ?? (signal ? 128 : 1)));
    });
    if (aborted) throw new BuildAbortedError();
    return code;
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    // `run` deletes its container when it ends; one left behind (killed runtime) goes now.
    if (aborted || existsSync(join(bin.runtimeRoot, step.containerId))) await killContainer(bin, step.containerId);
    await removeStubs(rootfs, stubs);
  }
}

/**
 * The directories along `rel` that the builder made (host root's, which the namespace does
 * not map: its root could not write there), given to the namespace's root.
 */
async function giveToNamespaceRoot(rootfs: string, rel: string, userns: IdMapping): Promise<void> {
  let path = rootfs;
  for (const part of rel.split('/')) {
    path = join(path, part);
    const st = await lstat(path);
    if (st.uid === 0 || st.gid === 0)
      await lchown(path, st.uid === 0 ? userns.hostId : st.uid, st.gid === 0 ? userns.hostId : st.gid);
  }
}

/** The sandbox's hosts and resolv.conf, written beside the bundle, as the step's etc files. */
async function sandboxFiles(dir: string, sandbox: StepSandbox): Promise<{ source: string; destination: string }[]> {
  const hosts = join(dir, 'hosts');
  const resolv = join(dir, 'resolv.conf');
  await Promise.all([writeFile(hosts, sandbox.hosts), writeFile(resolv, sandbox.resolvConf)]);
  return [
    { source: hosts, destination: '/etc/hosts' },
    { source: resolv, destination: '/etc/resolv.conf' },
  ];
}
