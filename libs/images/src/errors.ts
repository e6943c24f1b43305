/** No image matches the reference or id (Docker: "No such image: x"). */
import { PaasError } from '@paas/errors';
export class ImageNotFoundError extends PaasError {
  constructor(readonly ref: string) {
    super('not_found', `No such image: ${ref}`);
  }
}

/** An id prefix that matches more than one image. */
export class AmbiguousImageError extends PaasError {
  constructor(readonly ref: string) {
    super('invalid_params', `image id prefix ${ref} is ambiguous`);
  }
}

/** The image is in use, or referenced in a way that needs -f. Message in Docker's words. */
export class ImageConflictError extends PaasError {
  constructor(message: string) {
    super('conflict', message);
  }
}
