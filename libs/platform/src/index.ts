/**
 * @paas/platform — Platform domain model shared by api, agent and proxy: apps, releases, formation.
 *
 * Filled in by its own issue; the project exists so that its boundaries are enforced from day one.
 */
export {};
