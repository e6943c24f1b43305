/**
 * The network of RUN steps, as the builder's caller provides it: the engine's bridge
 * (BridgeSandboxes), Docker's default for `docker build` (a namespace of the step's own on
 * the node's bridge, NAT out, behind the bridge's walls). A role of two methods, so the
 * builder never reaches for global state and its specs can use a fake. Without one, or with
 * `--network none`, a step gets a namespace with only loopback.
 *
 * The network mode is not part of a step's cache key (Docker's is not either): what a step
 * fetches is its own business, as with `docker build`.
 */
import { rmdir, lstat, unlink } from 'node:fs/promises';
import { join } from 'node:path';

export interface StepSandbox {
  /** The network namespace the step's container joins. */
  readonly namespacePath: string;
  /** The step's /etc/hosts and /etc/resolv.conf. */
  readonly hosts: string;
  readonly resolvConf: string;
}

export interface StepNetwork {
  /** Gives step `id` a network; `isolated`: cut off from the bridge's other containers (a platform build). */
  attach(id: string, options: { hostname: string; isolated: boolean }): Promise<StepSandbox>;
  /** Removes everything `attach` made for `id`; a no-op when there is nothing. */
  detach(id: string): Promise<void>;
}

/** `paas build --network`: Docker's names; `host` is refused (the platform never shares the host's). */
export type NetworkMode = 'default' | 'none';

/** The files a sandboxed step gets bind-mounted, relative to the rootfs. */
const SANDBOX_FILES = ['etc/hosts', 'etc/resolv.conf'] as const;

/**
 * Which mount points the runtime will have to create in the rootfs (missing there now): they
 * are stubs of the step's mounts, not its work, and go before the layer is made, as BuildKit
 * removes its mount stubs. Parents first.
 */
export async function missingStubs(rootfs: string): Promise<string[]> {
  const missing: string[] = [];
  for (const rel of ['etc', ...SANDBOX_FILES]) {
    const there = await lstat(join(rootfs, rel)).then(
      () => true,
      () => false,
    );
    if (!there) missing.push(rel);
  }
  return missing;
}

/**
 * Removes the stubs the runtime made (an empty file, an empty directory), children first. The
 * step's processes are gone; a stub replaced by something else (a link, content) is kept,
 * and nothing is followed: `etc` must be a real directory of the rootfs to look inside it.
 */
export async function removeStubs(rootfs: string, stubs: readonly string[]): Promise<void> {
  const etc = await lstat(join(rootfs, 'etc')).catch(() => undefined);
  if (!etc?.isDirectory()) return;
  for (const rel of [...stubs].reverse()) {
    const path = join(rootfs, rel);
    const st = await lstat(path).catch(() => undefined);
    if (st?.isFile() && st.size === 0) await unlink(path).catch(() => undefined);
    else if (st?.isDirectory()) await rmdir(path).catch(() => undefined); // only when empty
  }
}
