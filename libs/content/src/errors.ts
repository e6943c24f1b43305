import type { Digest } from '@paas/oci';

/** No blob with this digest in the store. */
export class BlobNotFoundError extends Error {
  readonly code = 'BLOB_UNKNOWN';
  constructor(readonly digest: Digest) {
    super(`blob ${digest} not found`);
    this.name = 'BlobNotFoundError';
  }
}

/** The written bytes do not match what the writer was told to expect; nothing was stored. */
export class BlobMismatchError extends Error {
  readonly code = 'DIGEST_INVALID';
  constructor(
    readonly expected: { digest?: Digest; size?: number },
    readonly actual: { digest: Digest; size: number },
  ) {
    const parts: string[] = [];
    if (expected.size !== undefined && expected.size !== actual.size) {
      parts.push(`size ${actual.size} != expected ${expected.size}`);
    }
    if (expected.digest !== undefined && expected.digest !== actual.digest) {
      parts.push(`digest ${actual.digest} != expected ${expected.digest}`);
    }
    super(`content mismatch: ${parts.join(', ')}`);
    this.name = 'BlobMismatchError';
  }
}
