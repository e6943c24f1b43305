/**
 * @paas/engine — Containers: bundle generation, networking, lifecycle, state, logs.
 *
 * Filled in by its own issue; the project exists so that its boundaries are enforced from day one.
 */
export {};
