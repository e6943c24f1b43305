/**
 * @paas/builder — Executes Dockerfile instructions with a step cache.
 *
 * Filled in by its own issue; the project exists so that its boundaries are enforced from day one.
 */
export {};
