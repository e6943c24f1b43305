/**
 * @paas/images — Image refs and tags, import, export, history, prune.
 *
 * Filled in by its own issue; the project exists so that its boundaries are enforced from day one.
 */
export {};
