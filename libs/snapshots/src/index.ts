/**
 * @paas/snapshots — Unpacked layers keyed by chain id; overlay mount specs for containers and builds.
 *
 * Filled in by its own issue; the project exists so that its boundaries are enforced from day one.
 */
export {};
