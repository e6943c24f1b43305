/** No image matches the reference or id (Docker: "No such image: x"). */
export class ImageNotFoundError extends Error {
  readonly code = 'IMAGE_UNKNOWN';
  constructor(readonly ref: string) {
    super(`No such image: ${ref}`);
    this.name = 'ImageNotFoundError';
  }
}

/** An id prefix that matches more than one image. */
export class AmbiguousImageError extends Error {
  constructor(readonly ref: string) {
    super(`image id prefix ${ref} is ambiguous`);
    this.name = 'AmbiguousImageError';
  }
}

/** The image is in use, or referenced in a way that needs -f. Message in Docker's words. */
export class ImageConflictError extends Error {
  readonly code = 'CONFLICT';
  constructor(message: string) {
    super(message);
    this.name = 'ImageConflictError';
  }
}
