/**
 * `RUN --mount` executed, as BuildKit does for the types a builder without sessions can offer:
 *
 * - cache: a directory per (scope, id) kept per node under `$PAAS_ROOT/builder/cache-mounts/`,
 *   bind-mounted writable at the target. Its content is not part of the layer (the step's
 *   upper dir never sees it) nor of the step's cache key, exactly as BuildKit's. The directory
 *   name is a hash of the scope and the id, so no id (`../../x`, `/etc`) names a host path,
 *   and a scope (the platform passes the app) keeps one app from reading another's cache.
 *   Sharing: `shared` (default) is one directory for all; `locked` holds a lock file for the
 *   step's whole run, so a second step waits; `private` takes the first instance nobody holds.
 * - bind: read-only files of the build context (resolved inside it with BuildContext and its
 *   .dockerignore, never the host), copied into the step's own dir; their content is part of
 *   the step's cache key. A writable bind or one `from` a stage/image is refused, by name.
 * - tmpfs: a tmpfs at the target (nosuid, nodev; `size` honoured).
 * - secret and ssh need a client session this builder does not have: refused with the type.
 *
 * A step marks every cache directory it uses for as long as it runs, so `builder prune`
 * (prune.ts) keeps it; while a prune runs, a step waits for it before taking a directory.
 *
 * The target is resolved against WORKDIR; the runtime then resolves it inside the rootfs
 * (RESOLVE_IN_ROOT), so a symlink in the image cannot point a mount at the host.
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmod, chown, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { LockTimeoutError, isProcessAlive, withLock } from '@paas/content';
import type { RunMount } from '@paas/dockerfile';
import type { SpecMount } from '@paas/engine';
import type { BuildContext, SourceMatch } from './build-context';
import { BuildError } from './errors';

/** Where cache mounts live, below the builder's root. */
export const CACHE_MOUNTS_DIR = 'cache-mounts';
/** Held by `builder prune` (prune.ts) while it removes cache directories. */
export const PRUNE_LOCK = '.prune.lock';
/** A step's mark on a cache directory it uses: `<dir>.use.<pid>.<random>`. */
export const USE_MARK = /^([0-9a-f]{64}(?:\.\d+)?)\.use\.(\d+)\.[0-9a-f]+$/;

/** How long a `sharing=locked` step waits for the step holding the cache. */
const LOCKED_WAIT_MS = 60 * 60 * 1000;
/** `sharing=private`: instances tried before giving up (each one held by a running step). */
const PRIVATE_INSTANCES = 64;

export interface RunMountContext {
  /** `$PAAS_ROOT/builder`. */
  readonly builderRoot: string;
  /** Separates caches of different owners (an app); '' for a plain `paas build`. */
  readonly scope: string;
  readonly context: BuildContext;
  /** The step's WORKDIR, for relative targets. */
  readonly workdir: string | undefined;
}

/** A bind mount of context files: what it names, checked before the step's key is computed. */
interface ContextBind {
  readonly mount: RunMount;
  readonly match: SourceMatch;
}

/** Checks every mount of a RUN; fails with a clear error naming the mount that cannot be had. */
export function checkRunMounts(mounts: readonly RunMount[], context: BuildContext): ContextBind[] {
  const binds: ContextBind[] = [];
  for (const mount of mounts) {
    const what = `--mount=type=${mount.type}`;
    if (mount.type === 'secret' || mount.type === 'ssh') {
      throw new BuildError(
        `RUN ${what}: ${mount.type} mounts are not supported by this builder (it has no client session to take them from)`,
      );
    }
    if (mount.type === 'cache' && mount.from !== undefined) {
      throw new BuildError(
        `RUN ${what},from=${mount.from}: a cache mount seeded from a stage or image is not supported`,
      );
    }
    if (mount.type === 'bind') {
      if (mount.from !== undefined) {
        throw new BuildError(
          `RUN ${what},from=${mount.from}: bind mounts from a stage or image are not supported; COPY --from=${mount.from} instead`,
        );
      }
      if (!mount.readOnly) {
        throw new BuildError(
          `RUN ${what},rw: writable bind mounts are not supported; mount read-only (the default) or use type=cache`,
        );
      }
      const [match] = context.resolve([mount.source ?? '.'], `RUN ${what},source=${mount.source ?? '.'}`);
      if (match) binds.push({ mount, match });
    }
  }
  return binds;
}

/** The content hash of the context files a RUN's bind mounts show, for the step's key. */
export function bindChecksum(binds: readonly ContextBind[], context: BuildContext): string | undefined {
  return binds.length === 0 ? undefined : context.checksum(binds.map((b) => b.match));
}

/** The cache directory of an id in a scope: a hash, so no id can name another path. */
export function cacheMountDir(builderRoot: string, scope: string, id: string, instance = 0): string {
  const hash = createHash('sha256')
    .update(JSON.stringify([scope, id]))
    .digest('hex');
  return join(builderRoot, CACHE_MOUNTS_DIR, instance === 0 ? hash : `${hash}.${instance}`);
}

function mountTarget(mount: RunMount, workdir: string | undefined): string {
  return posix.resolve(workdir || '/', mount.target ?? '');
}

/**
 * Runs `fn` with the spec mounts of a RUN's --mount flags: cache dirs made (and locked for
 * `locked`), context binds copied by `stage(match)` into the step's dir, tmpfs described.
 */
export async function withRunMounts<T>(
  mounts: readonly RunMount[],
  ctx: RunMountContext,
  stage: (match: SourceMatch, index: number) => Promise<string>,
  fn: (mounts: SpecMount[]) => Promise<T>,
): Promise<T> {
  const binds = checkRunMounts(mounts, ctx.context);
  const marks: string[] = [];
  try {
    return await withMountsMarked(mounts, ctx, binds, marks, stage, fn);
  } finally {
    await Promise.all(marks.map((m) => rm(m, { force: true })));
  }
}

async function withMountsMarked<T>(
  mounts: readonly RunMount[],
  ctx: RunMountContext,
  binds: readonly ContextBind[],
  marks: string[],
  stage: (match: SourceMatch, index: number) => Promise<string>,
  fn: (mounts: SpecMount[]) => Promise<T>,
): Promise<T> {
  const spec: SpecMount[] = [];
  const held: Array<{ spec: SpecMount; id: string; mount: RunMount }> = [];
  let bindIndex = 0;
  for (const mount of mounts) {
    const destination = mountTarget(mount, ctx.workdir);
    if (mount.type === 'tmpfs') {
      const size = mount.size !== undefined ? [`size=${mount.size}`] : [];
      spec.push({ destination, type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777', ...size] });
    } else if (mount.type === 'bind') {
      const bind = binds[bindIndex];
      if (!bind) throw new Error('internal: a bind mount was not checked');
      spec.push({
        destination,
        type: 'bind',
        source: await stage(bind.match, bindIndex++),
        options: ['rbind', 'rprivate', 'ro'],
      });
    } else if (mount.type === 'cache') {
      const id = mount.id ?? destination;
      const entry: SpecMount = {
        destination,
        type: 'bind',
        source: '',
        options: ['rbind', 'rprivate', mount.readOnly ? 'ro' : 'rw'],
      };
      spec.push(entry);
      if (mount.sharing === 'locked' || mount.sharing === 'private') held.push({ spec: entry, id, mount });
      else entry.source = await makeCacheDir(ctx, id, 0, mount, marks);
    }
  }
  // locks are taken in mount order; `private` moves on to the next instance instead of waiting
  const lockFrom = async (i: number): Promise<T> => {
    const entry = held[i];
    if (entry === undefined) return fn(spec);
    const wait = entry.mount.sharing === 'locked';
    for (let instance = 0; ; instance++) {
      const dir = await makeCacheDir(ctx, entry.id, instance, entry.mount, marks);
      let acquired = false;
      try {
        return await withLock(
          `${dir}.lock`,
          () => {
            acquired = true;
            entry.spec.source = dir;
            return lockFrom(i + 1);
          },
          { timeoutMs: wait ? LOCKED_WAIT_MS : 0 },
        );
      } catch (err) {
        if (acquired || !(err instanceof LockTimeoutError) || wait || instance + 1 >= PRIVATE_INSTANCES) throw err;
      }
    }
  };
  return lockFrom(0);
}

/**
 * Makes a cache directory on first use with the mount's owner and mode (BuildKit's 0:0 0755),
 * after marking it used (the mark's path is pushed on `marks`) and waiting out a prune.
 */
async function makeCacheDir(
  ctx: RunMountContext,
  id: string,
  instance: number,
  mount: RunMount,
  marks: string[],
): Promise<string> {
  const dir = cacheMountDir(ctx.builderRoot, ctx.scope, id, instance);
  // the cache root is the platform's: only root may walk into what steps left there
  await mkdir(join(ctx.builderRoot, CACHE_MOUNTS_DIR), { recursive: true, mode: 0o700 });
  // the mark first, then the look for a prune: prune.ts takes its lock, then reads the marks
  const mark = `${dir}.use.${process.pid}.${randomBytes(6).toString('hex')}`;
  await writeFile(mark, '', { flag: 'wx' });
  marks.push(mark);
  await pruneFinished(join(ctx.builderRoot, CACHE_MOUNTS_DIR, PRUNE_LOCK));
  if (await stat(dir).catch(() => undefined)) return dir;
  await mkdir(dir, { mode: 0o700 });
  await chown(dir, mount.uid ?? 0, mount.gid ?? 0);
  await chmod(dir, mount.mode ?? 0o755);
  return dir;
}

/** Waits while a live process holds the prune lock (a prune takes seconds, not minutes). */
async function pruneFinished(lock: string): Promise<void> {
  for (let delay = 5; ; delay = Math.min(delay * 2, 100)) {
    const pid = Number.parseInt((await readFile(lock, 'utf8').catch(() => '')).trim(), 10);
    if (!(Number.isInteger(pid) && pid > 0 && isProcessAlive(pid))) return;
    await new Promise((r) => setTimeout(r, delay));
  }
}
