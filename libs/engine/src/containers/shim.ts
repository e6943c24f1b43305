/**
 * The engine's side of the paas-shim contract (native/runtime/src/shim/README.md): start a
 * shim for a container, read its state directory, find it again after the CLI that started
 * it is gone, and ask it to stop.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { isProcessAlive } from '@paas/content';
import { DirectoryWaiter } from './watch';
import { PaasError } from '@paas/errors';
import { execProgram } from '../exec';

export interface ShimBinaries {
  readonly shim: string;
  readonly runtime: string;
  /** The runtime's own state root (`--root`). */
  readonly runtimeRoot: string;
  /** paas-proxy, for loopback-published ports; default: next to the shim. */
  readonly proxy?: string;
}

export interface ShimStart {
  readonly id: string;
  readonly bundle: string;
  readonly stateDir: string;
  readonly restart: string;
  readonly stopSignal: string;
  readonly stopTimeout: number;
  readonly stdin: boolean;
  /** The bundle's process has a terminal: the shim serves STATE/attach.sock (not with `stdin`). */
  readonly tty?: boolean;
  /** The json log; default STATE/container.log. Appended to, so it may hold earlier runs. */
  readonly log?: string;
  readonly logMaxSize?: string;
  readonly logMaxFiles?: number;
  /** `tcp:LISTEN_IP:PORT:TARGET_IP:PORT`: served by a paas-proxy the shim runs for the container's life. */
  readonly publish?: readonly string[];
}

export interface ShimStatus {
  status: 'starting' | 'running' | 'stopping' | 'restarting' | 'exited' | 'failed';
  shimPid: number;
  pid: number;
  restartCount: number;
  restartPolicy: string;
  stoppedByUser: boolean;
  startedAt?: string;
  finishedAt?: string;
  exitCode?: number;
  error?: string;
}

export interface ShimExit {
  exitCode: number;
  signal?: string;
  oomKilled: boolean;
  startedAt?: string;
  exitedAt?: string;
  restartCount: number;
  status: 'restarting' | 'exited';
  stoppedByUser: boolean;
  error?: string;
}

export class ShimStartError extends PaasError {
  constructor(message: string) {
    super('internal', message);
  }
}

/** Starts the shim; resolves once the container runs, with its init pid. */
export async function startShim(bin: ShimBinaries, opts: ShimStart): Promise<number> {
  const args = [
    '--runtime',
    bin.runtime,
    '--runtime-root',
    bin.runtimeRoot,
    '--bundle',
    opts.bundle,
    '--id',
    opts.id,
    '--state-dir',
    opts.stateDir,
    '--restart',
    opts.restart,
    '--stop-signal',
    opts.stopSignal,
    '--stop-timeout',
    String(opts.stopTimeout),
    ...(opts.log ? ['--log', opts.log] : []),
    ...(opts.logMaxSize ? ['--log-max-size', opts.logMaxSize] : []),
    ...(opts.logMaxFiles ? ['--log-max-files', String(opts.logMaxFiles)] : []),
    ...(opts.stdin ? ['--stdin'] : []),
    ...(opts.tty ? ['--tty'] : []),
    ...(opts.publish?.length
      ? [...(bin.proxy ? ['--proxy', bin.proxy] : []), ...opts.publish.flatMap((p) => ['--publish', p])]
      : []),
  ];
  try {
    const { stdout } = await execProgram(bin.shim, args, { timeoutMs: 120_000 });
    const pid = /started pid (\d+)/.exec(stdout)?.[1];
    if (!pid) throw new ShimStartError(`paas-shim said ${JSON.stringify(stdout.trim())}`);
    return Number(pid);
  } catch (err) {
    if (err instanceof ShimStartError) throw err;
    const stderr = (err as { stderr?: string }).stderr?.trim();
    throw new ShimStartError(stderr ? stderr.replace(/^paas-shim: /, '') : String(err));
  }
}

/**
 * Clears a state directory for the next shim of the same container, but keeps the log and its
 * rotations (`LOG`, `LOG.1`, ...): as with Docker's json-file, a container's log holds every run
 * until the container is removed. The next shim appends to it and carries on its rotation
 * (it takes the size of the file it opens). `log` must lie in `stateDir`.
 */
export async function resetStateDir(stateDir: string, log: string): Promise<void> {
  if (dirname(log) !== stateDir) throw new Error(`log ${log} is not in the shim's state directory ${stateDir}`);
  const name = basename(log);
  const entries = await readdir(stateDir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [];
    throw err;
  });
  await Promise.all(
    entries
      .filter((e) => e !== name && !(e.startsWith(`${name}.`) && /^\d+$/.test(e.slice(name.length + 1))))
      .map((e) => rm(join(stateDir, e), { recursive: true, force: true })),
  );
}

/*
 * The state files are read synchronously: a few hundred bytes each, four per container, and
 * `ps` reads them for every container. Through fs/promises each read is four thread-pool
 * round trips and a FileHandle; with 300 containers `ps` took 0.7-1.0 s against 0.25-0.37 s
 * read this way (node's own start-up is 0.2 s). Each read blocks the loop for microseconds.
 */
async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

export const readStatus = (stateDir: string): Promise<ShimStatus | undefined> =>
  readJson(join(stateDir, 'status.json'));
export const readExit = (stateDir: string): Promise<ShimExit | undefined> => readJson(join(stateDir, 'exit.json'));

/** The shim's pid when it is alive (not a zombie) and is the shim of this state dir (pids get reused). */
export async function liveShimPid(stateDir: string): Promise<number | undefined> {
  let pid: number;
  try {
    pid = Number.parseInt(readFileSync(join(stateDir, 'shim.pid'), 'utf8'), 10);
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 0 || !isProcessAlive(pid)) return undefined;
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    const at = cmdline.indexOf('--state-dir');
    const given = at < 0 ? undefined : cmdline[at + 1];
    if (given === undefined) return undefined; // a reused pid
    // the shim of a terminal was given a short alias of its directory (Engine's ttyAlias)
    if (given !== stateDir && !sameDir(given, stateDir)) return undefined;
  } catch {
    return undefined;
  }
  return pid;
}

function sameDir(a: string, b: string): boolean {
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return false;
  }
}

/** Asks the shim to stop the container (SIGTERM: stop signal, then SIGKILL after its timeout). */
export async function stopShim(stateDir: string, timeoutMs: number): Promise<boolean> {
  const pid = await liveShimPid(stateDir);
  if (pid === undefined) return false;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isProcessAlive(pid) || (await liveShimPid(stateDir)) === undefined) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return false;
}

/** Waits until the shim has recorded a final exit (no restart coming) and is gone. */
export async function waitExit(stateDir: string): Promise<ShimExit | undefined> {
  const changes = new DirectoryWaiter(stateDir);
  try {
    for (;;) {
      const shim = await liveShimPid(stateDir);
      const exit = await readExit(stateDir);
      if (shim === undefined) return exit;
      if (exit?.status === 'exited') {
        const status = await readStatus(stateDir);
        if (status?.status === 'exited' || status?.status === 'failed') return exit;
      }
      await changes.next();
    }
  } finally {
    changes.close();
  }
}
