/**
 * Base images a build does not have: FROM IMAGE and COPY --from=IMAGE pull them through a
 * puller the caller gives (a role: the CLI's is the registry client with mirrors and saved
 * logins; the builder knows nothing of registries), as `docker build --pull` policies say.
 * The caller's image policy (BuildOptions.mayUse) is asked about the name before anything is
 * fetched, so an image a build may not use locally cannot be had by pulling it either.
 */
import type { Image } from '@paas/images';
import { formatReference, parseNormalizedReference } from '@paas/oci';

/** `always`: pull even when present; `missing` (default): pull when absent; `never`: local only. */
export type PullPolicy = 'always' | 'missing' | 'never';

export interface ImagePuller {
  /**
   * Pulls `reference` (normalised: `docker.io/library/busybox:1.36`) into the image store,
   * printing Docker's pull lines (`1.36: Pulling from library/busybox` ... `Status: ...`) through
   * `line`; rejects with a message naming the image and the registry tried.
   */
  pull(reference: string, line: (text: string) => void): Promise<Image>;
}

/**
 * The full name a build would pull for `name`, or undefined when it is no pullable name: an
 * image id (Docker refuses 64-hex repository names for this reason) or not a reference.
 */
export function pullableName(name: string): string | undefined {
  if (/^(sha256:)?[a-f0-9]{64}$/.test(name)) return undefined;
  try {
    return formatReference(parseNormalizedReference(name));
  } catch {
    return undefined;
  }
}
