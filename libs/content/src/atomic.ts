/**
 * Small durable-file helpers every store shares: atomic replacement of a file and an
 * exclusive lock between processes (CLI invocations run side by side, daemonless).
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream, readFileSync } from 'node:fs';
import { type FileHandle, link, mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { PaasError } from '@paas/errors';

export interface AtomicWriteOptions {
  /**
   * false: no fsync of the file or its directory, only the rename. For a file that dies with
   * the machine anyway (under PAAS_RUN: it describes processes and kernel objects that a
   * reboot ends), where a process crash is all there is to survive, and a rename is enough.
   */
  readonly durable?: boolean;
}

/** Writes `data` to `path` through a temp file, fsync and rename: readers see old or new, never half. */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  mode = 0o644,
  options: AtomicWriteOptions = {},
): Promise<void> {
  await replaceAtomically(path, mode, (fh) => fh.writeFile(data), undefined, options.durable ?? true);
}

/**
 * Tells one version of a file from another, where every write replaces the file whole (a
 * rename brings a new inode and change time): null when there is no file. A store that keeps
 * its parsed state in memory parses the file again only when the stamp moved, whoever wrote it.
 */
export async function fileStamp(path: string): Promise<string | null> {
  try {
    const st = await stat(path, { bigint: true });
    return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/**
 * Creates `path` with `data` unless it exists, all at once: the temp file is written and
 * fsynced first, then hard-linked to `path`, which fails if another process made it first.
 * True when this call created it; false when it was there (its content untouched). What the
 * first writer of a key or a secret needs: never half a file, never two different ones.
 */
export async function createFileAtomic(path: string, data: string | Uint8Array, mode = 0o644): Promise<boolean> {
  let created = true;
  await replaceAtomically(
    path,
    mode,
    (fh) => fh.writeFile(data),
    async (temp) => {
      try {
        await link(temp, path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        created = false;
      }
      await unlink(temp);
    },
  );
  return created;
}

/**
 * `writeFileAtomic` for output too large to hold: `produce` writes a stream into the temp
 * file (ending it is optional); a failure of `produce` leaves `path` as it was.
 */
export async function writeStreamAtomic(
  path: string,
  produce: (out: Writable) => Promise<unknown>,
  mode = 0o644,
): Promise<void> {
  await replaceAtomically(path, mode, async (fh) => {
    // over the bare descriptor, never destroyed (that closes it): the handle stays ours to
    // sync and close; a stream of the FileHandle itself would hold close() until destroyed
    const out = createWriteStream('', { fd: fh.fd, autoClose: false });
    const produced = await produce(out).then(
      () => ({ ok: true as const }),
      (err: unknown) => ({ ok: false as const, err }),
    );
    if (!out.writableEnded) out.end();
    const flushed = await finished(out).then(
      () => ({ ok: true as const }),
      (err: unknown) => ({ ok: false as const, err }),
    );
    if (!produced.ok) throw produced.err;
    if (!flushed.ok) throw flushed.err;
  });
}

/**
 * The one atomic replacement: `fill` writes a temp file beside `path`, which is then fsynced,
 * given exactly `mode` (whatever the umask: a 0600 secret, a 0755 hook), renamed over `path`,
 * and the rename made durable by an fsync of the directory. On failure the temp file is
 * removed and `path` is as it was.
 */
async function replaceAtomically(
  path: string,
  mode: number,
  fill: (fh: FileHandle) => Promise<unknown>,
  place: (temp: string) => Promise<void> = (temp) => rename(temp, path),
  durable = true,
): Promise<void> {
  const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  const fh = await open(temp, 'wx', mode & 0o777);
  try {
    await fh.chmod(mode);
    await fill(fh);
    if (durable) await fh.sync();
  } catch (err) {
    await fh.close();
    await unlink(temp).catch(() => undefined);
    throw err;
  }
  await fh.close();
  try {
    await place(temp);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw err;
  }
  if (durable) await syncDir(dirname(path));
}

/** fsync of a directory: makes a rename or a new entry in it durable. */
export async function syncDir(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export class LockTimeoutError extends PaasError {
  constructor(
    readonly path: string,
    readonly owner: number | undefined,
  ) {
    super('timeout', `timed out waiting for the lock ${path}${owner ? ` held by pid ${owner}` : ''}`);
  }
}

export interface LockOptions {
  readonly timeoutMs?: number;
}

/** This process's waiters for each lock path, in arrival order (see withLock). */
const waiting = new Map<string, Promise<void>>();

/**
 * Runs `fn` holding an exclusive lock file `path` (created O_EXCL with our pid). A lock left
 * by a dead process is taken over: it is renamed away first, so only one waiter wins it.
 *
 * Callers in one process queue for a path in the order they came, and only the first of them
 * polls the file: hundreds of waiters in one process (an agent starting a thousand instances
 * at once) would otherwise race each other's back-off, and the unlucky ones time out while
 * the lock changes hands all the time. The timeout covers the whole wait, in the queue too:
 * a caller that only tries (`timeoutMs: 0`) still gives up at once while this process holds it.
 */
export async function withLock<T>(path: string, fn: () => Promise<T>, options: LockOptions = {}): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  const before = waiting.get(path) ?? Promise.resolve();
  let done = (): void => undefined;
  const turn = new Promise<void>((resolve) => (done = resolve));
  // the next caller waits for this one's turn to end, whether it ran or gave up
  const last = before.then(() => turn);
  waiting.set(path, last);
  try {
    await untilOrDeadline(before, deadline, path);
    return await withFileLock(path, fn, deadline);
  } finally {
    done();
    if (waiting.get(path) === last) waiting.delete(path);
  }
}

/** Resolves with `ahead`, or fails with LockTimeoutError (this process holds it) at `deadline`. */
async function untilOrDeadline(ahead: Promise<void>, deadline: number, path: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), Math.max(0, deadline - Date.now()));
  });
  try {
    const first = await Promise.race([ahead.then(() => 'ours' as const), late]);
    if (first === 'late') throw new LockTimeoutError(path, process.pid);
  } finally {
    clearTimeout(timer);
  }
}

async function withFileLock<T>(path: string, fn: () => Promise<T>, deadline: number): Promise<T> {
  await mkdir(dirname(path), { recursive: true });
  let delay = 2;
  for (;;) {
    try {
      const fh = await open(path, 'wx', 0o644);
      await fh.writeFile(`${process.pid}\n`);
      await fh.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner = await readOwner(path);
    if (owner !== undefined ? !isProcessAlive(owner) : await olderThan(path, ORPHAN_LOCK_MS)) {
      const stale = `${path}.stale.${randomBytes(4).toString('hex')}`;
      if (
        await rename(path, stale).then(
          () => true,
          () => false,
        )
      ) {
        await unlink(stale).catch(() => undefined);
      }
      continue;
    }
    if (Date.now() > deadline) throw new LockTimeoutError(path, owner);
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 50);
  }
  try {
    return await fn();
  } finally {
    await unlink(path).catch(() => undefined);
  }
}

async function readOwner(path: string): Promise<number | undefined> {
  try {
    const pid = Number.parseInt((await readFile(path, 'utf8')).trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** A lock file without a readable pid is a crash between create and write once it is this old. */
const ORPHAN_LOCK_MS = 5_000;

async function olderThan(path: string, ms: number): Promise<boolean> {
  const st = await stat(path).catch(() => undefined);
  return st !== undefined && Date.now() - st.mtimeMs > ms;
}

/**
 * Whether a process with this pid exists and has not exited (EPERM means it exists, owned
 * by someone else). A zombie has exited: it only waits for its parent to reap it.
 */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.charAt(stat.lastIndexOf(')') + 2) !== 'Z';
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ENOENT'; // gone since; without /proc, trust kill(0)
  }
}
