import { PaasError } from '@paas/errors';
import type { Digest } from '@paas/oci';

/** No blob with this digest in the store. */
export class BlobNotFoundError extends PaasError {
  constructor(readonly digest: Digest) {
    super('not_found', `blob ${digest} not found`);
  }
}

/** The written bytes do not match what the writer was told to expect; nothing was stored. */
export class BlobMismatchError extends PaasError {
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
    super('data_loss', `content mismatch: ${parts.join(', ')}`);
  }
}
