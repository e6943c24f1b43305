/**
 * Content digests as the OCI image-spec defines them: `algorithm ":" encoded`.
 * We write sha256 and verify sha256 and sha512, the two registered algorithms.
 */
import { type BinaryLike, createHash, type Hash } from 'node:crypto';
import { PaasError } from '@paas/errors';

/** A validated digest string, e.g. `sha256:9f86d08...`. */
export type Digest = string & { readonly __digest: unique symbol };

export type DigestAlgorithm = 'sha256' | 'sha512';

const ENCODED_LENGTH: Record<DigestAlgorithm, number> = { sha256: 64, sha512: 128 };
const GRAMMAR = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

export class DigestError extends PaasError {
  constructor(
    readonly value: string,
    reason: string,
  ) {
    super('invalid_params', `invalid digest ${JSON.stringify(value)}: ${reason}`);
  }
}

/** Parses and validates a digest; only registered algorithms with well-formed hex pass. */
export function parseDigest(value: string): Digest {
  if (!GRAMMAR.test(value)) throw new DigestError(value, 'expected algorithm:hex');
  const colon = value.indexOf(':');
  const algorithm = value.slice(0, colon);
  const encoded = value.slice(colon + 1);
  if (algorithm !== 'sha256' && algorithm !== 'sha512') {
    throw new DigestError(value, `unsupported algorithm ${algorithm}`);
  }
  if (encoded.length !== ENCODED_LENGTH[algorithm] || !/^[a-f0-9]+$/.test(encoded)) {
    throw new DigestError(value, `${algorithm} needs ${ENCODED_LENGTH[algorithm]} lowercase hex characters`);
  }
  return value as Digest;
}

export function isDigest(value: unknown): value is Digest {
  if (typeof value !== 'string') return false;
  try {
    parseDigest(value);
    return true;
  } catch {
    return false;
  }
}

export function digestAlgorithm(digest: Digest): DigestAlgorithm {
  return digest.slice(0, digest.indexOf(':')) as DigestAlgorithm;
}

/** The encoded part (hex), which names the blob on disk. */
export function digestHex(digest: Digest): string {
  return digest.slice(digest.indexOf(':') + 1);
}

/** The digest of bytes in memory. */
export function digestOf(data: BinaryLike, algorithm: DigestAlgorithm = 'sha256'): Digest {
  return `${algorithm}:${createHash(algorithm).update(data).digest('hex')}` as Digest;
}

/** Incremental digest for streams: update with chunks, then `digest()` once. */
export class Digester {
  private readonly hash: Hash;
  private bytes = 0;
  constructor(readonly algorithm: DigestAlgorithm = 'sha256') {
    this.hash = createHash(algorithm);
  }
  update(chunk: Uint8Array): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
  }
  get size(): number {
    return this.bytes;
  }
  digest(): Digest {
    return `${this.algorithm}:${this.hash.digest('hex')}` as Digest;
  }
}

/** Short id as Docker shows it: the first 12 hex characters. */
export function shortId(digest: Digest): string {
  return digestHex(digest).slice(0, 12);
}
