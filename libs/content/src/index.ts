/**
 * @paas/content — Content store: blobs by sha256, atomic writes, GC by reachability.
 *
 * Filled in by its own issue; the project exists so that its boundaries are enforced from day one.
 */
export {};
