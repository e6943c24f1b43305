/**
 * Repository names, tags and digests as they arrive in request paths. Everything here is
 * checked against the spec's grammar before it can reach a file name, so `..`, `/` tricks,
 * percent-encoding and upper case never touch the filesystem.
 */
import { type Digest, parseDigest } from '@paas/oci';
import { RegistryError } from './errors';

/** distribution-spec: `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*` */
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
const NAME_MAX = 255;

export function isRepositoryName(name: string): boolean {
  return name.length > 0 && name.length <= NAME_MAX && name.split('/').every((c) => COMPONENT.test(c));
}

export function checkName(name: string): string {
  if (!isRepositoryName(name)) throw new RegistryError('NAME_INVALID', 'invalid repository name', { name });
  return name;
}

function isTag(value: string): boolean {
  return TAG.test(value);
}

export function checkDigest(value: string | null | undefined): Digest {
  try {
    return parseDigest(value ?? '');
  } catch {
    throw new RegistryError('DIGEST_INVALID', 'provided digest did not match uploaded content', {
      digest: value ?? null,
    });
  }
}

/** A manifest reference from a path: a tag or a digest (anything with a colon is a digest). */
export function parseManifestReference(value: string): { tag: string } | { digest: Digest } {
  if (value.includes(':')) return { digest: checkDigest(value) };
  if (!isTag(value)) throw new RegistryError('TAG_INVALID', 'manifest tag did not match URI', { tag: value });
  return { tag: value };
}
