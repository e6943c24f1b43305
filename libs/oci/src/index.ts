/**
 * @paas/oci — OCI/Docker media types, digests, image config and manifest types, references.
 *
 * Filled in by its own issue; the project exists so that its boundaries are enforced from day one.
 */
export {};
