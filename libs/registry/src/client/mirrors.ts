/**
 * Registry mirrors, as Docker's `registry-mirrors` (`PAAS_REGISTRY_MIRRORS`): for an image
 * on Docker Hub, and only there, each mirror is asked in order, then the origin. Docker
 * applies mirrors to docker.io alone because a mirror serves one upstream's repositories
 * under the same names; an image of another registry always comes from that registry.
 * Planning which endpoints to try is pure; trying them is the puller's.
 */
import { DEFAULT_DOMAIN } from '@paas/oci';
import { PaasError } from '@paas/errors';

export class MirrorConfigError extends PaasError {
  constructor(message: string) {
    super('invalid_params', message);
  }
}

/** Where a pull is tried: a mirror (a base URL) or the reference's own registry. */
export type PullEndpoint = { readonly kind: 'mirror'; readonly url: string } | { readonly kind: 'origin' };

/**
 * `http://127.0.0.1:5001,https://mirror.example` -> base URLs without a trailing slash.
 * Each entry must be an http(s) URL naming a host and nothing else (Docker refuses a path too).
 */
export function parseMirrors(value: string | undefined, variable = 'PAAS_REGISTRY_MIRRORS'): string[] {
  const mirrors: string[] = [];
  for (const [i, raw] of (value ?? '').split(',').entries()) {
    const entry = raw.trim();
    if (!entry) continue;
    let url: URL;
    try {
      url = new URL(entry);
    } catch {
      throw new MirrorConfigError(`${variable}: entry ${i + 1} "${entry}" is not a URL (want http://HOST[:PORT])`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new MirrorConfigError(`${variable}: entry ${i + 1} "${entry}" must start with http:// or https://`);
    }
    if ((url.pathname !== '/' && url.pathname !== '') || url.search || url.hash || url.username || url.password) {
      throw new MirrorConfigError(
        `${variable}: entry ${i + 1} "${entry}" must be a registry's base URL (http://HOST[:PORT]), without path, query or login`,
      );
    }
    if (!mirrors.includes(url.origin)) mirrors.push(url.origin);
  }
  return mirrors;
}

/** The endpoints a pull from `domain` tries, in order: the mirrors for docker.io, then the origin. */
export function pullEndpoints(domain: string, mirrors: readonly string[]): PullEndpoint[] {
  const first = domain === DEFAULT_DOMAIN ? mirrors.map((url): PullEndpoint => ({ kind: 'mirror', url })) : [];
  return [...first, { kind: 'origin' }];
}
